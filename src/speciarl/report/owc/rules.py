"""The per-pair rules of the lmms-owc metrics: the reference's, and our stricter variants beside them.

The reference (lmms-owc, Conti et al.) scores a (ground truth, prediction) pair on the raw text it was
given; these functions do the same, with no model in sight, so they can be tested one rule at a time:

- `text_inclusion`: the lower-cased, stripped ground truth is a substring of the lower-cased, stripped
  prediction ("cat" counts in "catfish", "sunflower" in "sunflowers"; an empty truth is in anything);
- `clean_concept` / `collect_concepts`: how spaCy's noun chunks and named entities become concepts
  (lower-cased, one leading article or possessive dropped, a skip list, the whole prediction always
  appended as one more concept, so concept similarity is never below semantic similarity);
- `inclusion_prompt` / `inclusion_score`: the LLM-inclusion question and the scoring of its reply
  (exactly "1" is 1; "0" and anything else is 0, and stays in the mean).

Our stricter variants keep their own names: `text_inclusion_words` (whole words of the normalised
text, dashes read as spaces). docs/evaluation.md sets them side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from string import Template

from ...answers import normalize
from ...judges.fastpaths import loose

# One of these, followed by a space, is dropped from the front of a concept (the first that matches).
CONCEPT_PREFIXES = ("a", "an", "the", "his", "her", "its", "their")

# Concepts (after the prefix is dropped) that say nothing about the object: the reference's skip list.
CONCEPT_SKIP = frozenset(
    [str(n) for n in range(1, 11)]
    + "one two three four five six seven eight nine ten".split()
    + ["*", "a", "the"]
    + ["image", "object", "photo", "type", "this photo"]
    + ["it", "they", "them", "that", "this", "those"]
    + "which who whom whose where when what why how".split()
    + ["some"]
)


def text_inclusion(ground_truth: str, prediction: str) -> bool:
    """lmms-owc's textual inclusion: the truth, lower-cased and stripped, is a substring of the prediction."""
    return ground_truth.lower().strip() in prediction.lower().strip()


def text_inclusion_words(ground_truth: str, prediction: str) -> bool:
    """Ours, stricter: the normalised truth occurs as whole words of the normalised prediction, dashes
    read as spaces ("black-footed albatross" includes "Black footed Albatross"; "cat" is not in "catfish")."""
    truth, text = (loose(normalize(t)) for t in (ground_truth, prediction))
    return bool(truth) and f" {truth} " in f" {text} "


def clean_concept(span_text: str) -> str | None:
    """A noun chunk or entity as a concept: lower-cased, one leading article/possessive dropped;
    None when what is left is on the skip list."""
    concept = span_text.lower()
    for prefix in CONCEPT_PREFIXES:
        if concept.startswith(prefix + " "):
            concept = concept[len(prefix) + 1:]
            break
    return None if concept in CONCEPT_SKIP else concept


def collect_concepts(noun_chunks: Iterable[str], entities: Iterable[str], prediction: str) -> list[str]:
    """The prediction's concepts in the reference's order: every kept noun chunk (repeats kept), then
    each kept entity not already listed, then the whole prediction as it was given (not lower-cased)."""
    concepts = [c for c in map(clean_concept, noun_chunks) if c is not None]
    for concept in map(clean_concept, entities):
        if concept is not None and concept not in concepts:
            concepts.append(concept)
    return [*concepts, prediction]


@cache
def _inclusion_template() -> Template:
    text = resources.files("speciarl.report.owc").joinpath("inclusion_prompt.txt").read_text(encoding="utf-8")
    return Template(text.removesuffix("\n"))


def inclusion_prompt(ground_truth: str, prediction: str) -> str:
    """The one user message the reference's LLM inclusion sends for a pair (no system message)."""
    return _inclusion_template().substitute(answer=prediction, target=ground_truth)


def inclusion_score(reply: str) -> int:
    """The reference's reading of the model's reply: exactly "1" is 1; "0" and any other reply
    (" 1", "Yes", "1.") is 0, and is kept in the mean."""
    return 1 if reply == "1" else 0


__all__ = ["CONCEPT_PREFIXES", "CONCEPT_SKIP", "clean_concept", "collect_concepts", "inclusion_prompt",
           "inclusion_score", "text_inclusion", "text_inclusion_words"]
