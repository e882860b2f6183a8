"""TaxonomyJudge: deterministic grades from a label hierarchy file."""

from __future__ import annotations

import json

import pytest

from speciarl.categories import Category
from speciarl.errors import ConfigError
from speciarl.judges import TaxonomyJudge, build_judge

TREE = """
name: animal
children:
  - name: bird
    children:
      - name: warbler
        synonyms: [wood-warbler, Parulidae]
        children:
          - name: Golden winged Warbler
            synonyms: [Vermivora chrysoptera]
          - name: Blue winged Warbler
  - name: dog
    synonyms: [domestic dog]
    children:
      - name: spitz
        children:
          - name: samoyed
"""


@pytest.fixture
def tree(tmp_path):
    path = tmp_path / "tree.yaml"
    path.write_text(TREE)
    return path


def grades(judge, pairs):
    verdicts = judge.grade(pairs)
    assert all(v.ok for v in verdicts), [v.error for v in verdicts]
    return [v.category.value for v in verdicts]


def test_every_relation(tree):
    judge = TaxonomyJudge(tree, less_specific_levels=1)
    pairs = [
        ("Golden winged Warbler", "Golden-winged warbler"),  # exact after normalisation
        ("Golden winged Warbler", "Vermivora chrysoptera"),  # synonym
        ("Golden winged Warbler", "warbler"),  # parent
        ("Golden winged Warbler", "Parulidae"),  # parent by synonym
        ("Golden winged Warbler", "bird"),  # two levels up: generic with levels=1
        ("Golden winged Warbler", "animal"),
        ("warbler", "Golden winged Warbler"),  # descendant
        ("dog", "samoyed"),  # two levels down is still more specific
        ("Golden winged Warbler", "Blue winged Warbler"),  # sibling
        ("samoyed", "cat"),  # unknown answer
        ("samoyed", "I don't know"),
    ]
    assert grades(judge, pairs) == ["specific", "specific", "less specific", "less specific", "generic", "generic",
                                    "more specific", "more specific", "wrong", "wrong", "abstain"]
    assert judge.stats.exact == 1 and judge.stats.refusal == 1 and judge.stats.taxonomy == 9


def test_levels_are_configurable_and_part_of_identity(tree):
    two = TaxonomyJudge(tree, less_specific_levels=2)
    one = TaxonomyJudge(tree, less_specific_levels=1)
    assert grades(two, [("samoyed", "dog")]) == ["less specific"]
    assert grades(one, [("samoyed", "dog")]) == ["generic"]
    assert one.identity != two.identity and one.identity == TaxonomyJudge(tree, less_specific_levels=1).identity


def test_json_file_and_list_of_roots(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"name": "cat", "children": [{"name": "Persian"}]}, {"name": "car"}]))
    judge = build_judge({"type": "taxonomy", "taxonomy": str(path)})
    assert grades(judge, [("Persian", "cat"), ("car", "cat"), ("cat", "persian")]) == \
        ["less specific", "wrong", "more specific"]


def test_a_name_in_two_places_takes_the_best_relation(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("- name: plant\n  children: [{name: lily, children: [{name: fire lily}]}]\n"
                    "- name: flower\n  children: [{name: lily}]\n")
    graded = grades(TaxonomyJudge(path), [("fire lily", "lily"), ("lily", "flower")])
    assert graded == ["less specific", "less specific"]


def test_ground_truth_missing_from_the_taxonomy_is_an_error_not_a_grade(tree):
    judge = TaxonomyJudge(tree)
    verdicts = judge.grade([("okapi", "giraffe"), ("samoyed", "dog")])
    assert verdicts[0].category is None and "okapi" in verdicts[0].error
    assert verdicts[1].category is Category.LESS_SPECIFIC
    assert judge.stats.errors == 1


@pytest.mark.parametrize("text, message", [
    ("name: a\nchildren: {name: b}\n", "'children' must be a list"),
    ("- name: a\n  synonyms: b\n", "'synonyms' must be a list"),
    ("- children: []\n", "missing or empty 'name'"),
    ("- name: a\n  kids: []\n", "unknown keys"),
    ("[unclosed", "not valid YAML"),
    ("", "expected a node"),
])
def test_bad_taxonomy_files_are_clear_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        TaxonomyJudge(path)
    assert "bad.yaml" in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        build_judge({"type": "taxonomy", "taxonomy": str(tmp_path / "nope.yaml")})
