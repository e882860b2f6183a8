"""The shipped judge gold set: parses, covers every domain and category, never contradicts itself,
reproduces from its generator, and its generated items agree with the taxonomy judge built from the
same hierarchies."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from speciarl.categories import LABELS
from speciarl.judges import FastPaths, Taxonomy, TaxonomyJudge
from speciarl.judges.gold import DOMAINS, GoldError, default_gold_path, gold_checksum, load_gold
from speciarl.judges.gold.generate import CAPS, gold_text, handwritten_items, merge
from speciarl.judges.gold.generate import _facts as facts
from speciarl.judges.hierarchy import LESS_SPECIFIC_LEVELS, aircraft_tree, cars_tree, key, pets_tree

ITEMS = load_gold()


def test_every_category_has_at_least_50_items_and_every_domain_is_covered():
    counts = Counter(i.category for i in ITEMS)
    assert set(counts) == set(LABELS)
    assert min(counts.values()) >= 50, counts
    assert {i.domain for i in ITEMS} == set(DOMAINS)
    by_domain = Counter(i.domain for i in ITEMS)
    assert min(by_domain.values()) >= 50, by_domain


def test_no_pair_appears_twice_and_none_with_two_labels():
    seen: dict[tuple[str, str], str] = {}
    for item in ITEMS:
        pair = (key(item.ground_truth), key(item.prediction))
        assert pair not in seen, f"{item} repeats a pair labelled {seen[pair]}"
        seen[pair] = item.category


def test_every_item_has_a_reason_and_a_source():
    assert all(i.reason.strip() for i in ITEMS)
    sources = Counter(i.source.split(":")[0] for i in ITEMS)
    assert set(sources) == {"rule", "hand"}
    assert {i.source.removeprefix("rule:") for i in ITEMS if i.source != "hand"} <= set(CAPS)


def test_hard_cases_are_present():
    pairs = {(i.ground_truth, i.prediction): i.category for i in ITEMS}
    assert pairs[("Black footed Albatross", "Laysan Albatross")] == "wrong"  # siblings sharing words
    assert pairs[("Black footed Albatross", "Phoebastria nigripes")] == "specific"  # scientific name
    assert pairs[("Boeing 737", "737-800")] == "more specific"  # family vs variant
    assert pairs[("mexican petunia", "petunia")] == "wrong"  # a parent that does not contain the truth
    assert pairs[("daffodil", "daffodils")] == "specific"  # plural
    sources = Counter(i.reason for i in ITEMS if i.source == "hand")
    for kind in ("several options", "prompt injection", "prose past"):
        assert sum(n for reason, n in sources.items() if reason.startswith(kind)) >= 5, kind


def test_the_generator_reproduces_the_shipped_file():
    assert gold_text() == default_gold_path().read_text(encoding="utf-8")
    assert gold_checksum(default_gold_path()).startswith("sha256:")


def test_generated_items_match_the_taxonomy_judge_on_the_same_hierarchies():
    trees = {
        "aircraft": ("fgvc_aircraft", aircraft_tree((v, f, m) for v, f, m, _ in facts("fgvc_aircraft.tsv"))),
        "cars": ("stanford_cars", cars_tree((n, m) for n, m in facts("stanford_cars.tsv"))),
        "pets": ("oxford_pets", pets_tree((b, s) for b, s in facts("oxford_pets.tsv"))),
    }
    off = FastPaths(length_cap=0, exact=False, refusals=False, options=False)
    for domain, (bench, tree) in trees.items():
        judge = TaxonomyJudge(taxonomy=Taxonomy(tree), less_specific_levels=LESS_SPECIFIC_LEVELS[bench], fast_paths=off)
        items = [i for i in ITEMS if i.domain == domain and i.source.startswith("rule:")]
        assert len(items) > 50
        verdicts = judge.grade([(i.ground_truth, i.prediction) for i in items])
        wrong = [(i.ground_truth, i.prediction, i.category, v.category and v.category.value)
                 for i, v in zip(items, verdicts) if not v.ok or v.category.value != i.category]
        assert not wrong, wrong[:10]


def test_a_contradiction_stops_the_generator(tmp_path):
    path = tmp_path / "hand.tsv"
    path.write_text("pets\tgeneric\tsamoyed\tdog\tspecies\npets\twrong\tSamoyed\tDog\toops\n", encoding="utf-8")
    with pytest.raises(GoldError, match="'generic' by hand and 'wrong' by hand"):
        merge(handwritten_items(path))


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    (json.dumps({"id": "x"}), "expected the fields"),
    (json.dumps({"id": "x", "domain": "pets", "ground_truth": "a", "prediction": "b", "category": "correct",
                 "source": "hand", "reason": "r"}), "category 'correct'"),
    (json.dumps({**json.loads(ITEMS[0].to_json()), "id": "other", "category": "wrong"
                 if ITEMS[0].category != "wrong" else "specific"}), "is '(wrong|specific)' here and"),
])
def test_a_bad_gold_file_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(ITEMS[0].to_json() + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match=f"gold.jsonl:2: .*{message}"):
        load_gold(path)
