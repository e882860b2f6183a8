"""Fast paths: decide what needs no judge, and never misfire on real benchmark labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from speciarl.answers import normalize
from speciarl.categories import Category
from speciarl.judges import FastPaths, lists_options

DATA = Path(__file__).resolve().parent / "data"


def label_lists() -> dict[str, list[str]]:
    """Real class names of the six benchmarks (tests/judges/data/*.txt)."""
    return {p.stem: [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
            for p in sorted(DATA.glob("*.txt"))}


def check(gt: str, answer: str, fast: FastPaths | None = None):
    return (fast or FastPaths()).check(normalize(gt), normalize(answer), answer)


@pytest.mark.parametrize("dataset", sorted(label_lists()))
def test_real_labels_never_trigger_refusal_cap_or_options(dataset):
    labels = label_lists()[dataset]
    assert len(labels) >= 30
    fast = FastPaths()
    for gt in labels:
        # the label itself (any case / punctuation) is an exact match
        verdict = check(gt, gt.upper().replace(" ", "  "), fast)
        assert verdict is not None and (verdict.category, verdict.source) == (Category.SPECIFIC, "exact"), gt
    for gt in labels[:25]:
        for answer in labels:
            if normalize(answer) != normalize(gt):
                assert check(gt, answer, fast) is None, (dataset, gt, answer)


def test_named_tricky_labels_reach_the_judge():
    for gt, answer in [("F/A-18", "F-16A/B"), ("DC-10", "MD-11"), ("Boeing 717", "F/A-18"),
                       ("Chevrolet Silverado 2500HD Regular Cab 2012", "Ram C/V Cargo Van Minivan 2012"),
                       ("bird of paradise", "love in the mist"), ("sweet william", "fish and chips"),
                       ("Black and white Warbler", "Chuck will Widow")]:
        assert check(gt, answer) is None, (gt, answer)


@pytest.mark.parametrize("answer", ["None", "none.", "Unknown", "I don't know", "i dont know", "Cannot tell",
                                    "can't tell", "Not sure", "I'm not sure.", "N/A", "cannot be determined"])
def test_refusals_abstain(answer):
    verdict = check("samoyed", answer)
    assert (verdict.category, verdict.source) == (Category.ABSTAIN, "refusal")


def test_refusal_words_inside_a_label_are_not_refusals():
    assert check("samoyed", "unknown warbler") is None
    assert check("samoyed", "none dog") is None


@pytest.mark.parametrize("answer", ["robin or cardinal", "Either a robin or a cardinal", "robin, cardinal or jay",
                                    "robin and/or cardinal", "robin/cardinal", "Boeing 737 or Airbus A320"])
def test_several_options_are_wrong(answer):
    verdict = check("American Crow", answer)
    assert (verdict.category, verdict.source) == (Category.WRONG, "cap")


def test_parenthesised_synonym_is_not_an_option_list():
    assert check("lion", "Panthera leo (or lion)") is None
    assert lists_options("robin or cardinal") and not lists_options("Ram C/V Cargo Van Minivan 2012")


def test_a_ground_truth_that_contains_or_lets_the_judge_decide():
    assert check("rock or roll flower", "rock or roll") is None


def test_length_cap_is_configurable():
    long = "a large white fluffy dog with a curled tail sitting on the grass near a house"
    assert len(long.split()) > 12
    assert check("samoyed", long).category is Category.WRONG
    assert check("samoyed", long, FastPaths(length_cap=40)) is None
    assert check("samoyed", long, FastPaths(length_cap=0)) is None
    # exactly at the cap is allowed
    assert check("samoyed", " ".join(["dog"] * 12)) is None
    assert check("samoyed", " ".join(["dog"] * 13)).category is Category.WRONG


def test_punctuation_only_answer_is_malformed_and_rules_can_be_switched_off():
    assert check("samoyed", "?!").category is Category.WRONG
    off = FastPaths(exact=False, refusals=False, options=False, length_cap=None)
    assert check("samoyed", "samoyed", off) is None
    assert check("samoyed", "none", off) is None
    assert check("samoyed", "robin or cardinal", off) is None


def test_dashes_and_spaces_are_the_same_label():
    verdict = check("Golden winged Warbler", "golden-winged warbler")
    assert (verdict.category, verdict.source) == (Category.SPECIFIC, "exact")
    assert check("737-800", "737 800").category is Category.SPECIFIC
    assert check("737-800", "737-8000") is None
