"""The six verifier categories, their reward rank and what counts as correct (docs/method.md#categories)."""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    """A verifier verdict; the value is the exact label string the judge emits."""

    WRONG = "wrong"
    ABSTAIN = "abstain"
    GENERIC = "generic"
    LESS_SPECIFIC = "less specific"
    SPECIFIC = "specific"
    MORE_SPECIFIC = "more specific"

    def __str__(self) -> str:  # so f-strings and JSON show the label, not the member name
        return self.value


LABELS: tuple[str, ...] = tuple(c.value for c in Category)

# Reward rank, best highest: specific and more specific are tied (docs/method.md#categories).
_RANK = {
    Category.WRONG: 0,
    Category.ABSTAIN: 1,
    Category.GENERIC: 2,
    Category.LESS_SPECIFIC: 3,
    Category.SPECIFIC: 4,
    Category.MORE_SPECIFIC: 4,
}
# A strict total order for picking one "best" prediction (ties broken towards the finer label);
# a parse failure (None) sits below everything.
_ORDER = {c: i for i, c in enumerate(Category)}

CORRECT = frozenset({Category.GENERIC, Category.LESS_SPECIFIC, Category.SPECIFIC, Category.MORE_SPECIFIC})
SPECIFIC_OR_FINER = frozenset({Category.SPECIFIC, Category.MORE_SPECIFIC})


def rank(category: Category) -> int:
    """Reward rank: 0 (wrong) .. 4 (specific / more specific)."""
    return _RANK[category]


def order(category: Category | None) -> int:
    """Strict total order used to pick a single best prediction; parse failure is -1."""
    return -1 if category is None else _ORDER[category]


def is_correct(category: Category | None) -> bool:
    """`generic` or better; a parse failure is not correct."""
    return category in CORRECT


def is_specific(category: Category | None) -> bool:
    return category in SPECIFIC_OR_FINER


def parse_category(label: str) -> Category:
    """The category whose label is exactly `label`; anything else is a ValueError naming the labels."""
    try:
        return Category(label)
    except ValueError:
        raise ValueError(f"unknown category {label!r}; expected one of {', '.join(map(repr, LABELS))}") from None
