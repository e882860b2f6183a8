"""The numbers of SPEC §6: category shares, correctness, specificity, HM, average score, best-of-N.

Everything is computed from (possibly fractional) category counts, so the same code serves plain
predictions, best-of-N and the unbiased best-of-k estimate (expected counts).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .categories import CORRECT, LABELS, SPECIFIC_OR_FINER, Category, order
from .records import Record

PARSE_FAILURE = "parse failure"
SHARE_KEYS: tuple[str, ...] = (*LABELS, PARSE_FAILURE)

# The reference report's average score; a parse failure scores like a wrong answer.
AVERAGE_SCORE_WEIGHTS: dict[str, float] = {
    "more specific": 1.0, "specific": 1.0, "less specific": 0.6, "generic": 0.2,
    "abstain": 0.0, "wrong": -1.0, PARSE_FAILURE: -1.0,
}

# The paper's dataset groups; any other dataset is reported under "other".
PAPER_GROUPS: dict[str, str] = {
    "cub200": "in-domain",
    "flowers102": "fine-grained",
    "food101": "fine-grained",
    "oxford_pets": "fine-grained",
    "stanford_cars": "very fine-grained",
    "fgvc_aircraft": "very fine-grained",
}
GROUP_ORDER = ("in-domain", "fine-grained", "very fine-grained", "other")


def group_of(dataset: str) -> str:
    return PAPER_GROUPS.get(dataset, "other")


def _key(category: Category | None) -> str:
    return PARSE_FAILURE if category is None else category.value


def harmonic_mean(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


@dataclass
class Summary:
    """Metrics over a set of predictions. With count 0 every metric is None (undefined).

    specificity is the share of specific/more specific among the *correct* predictions; with no
    correct prediction it is 0 (nothing specific was said), so HM is 0 too.
    """

    count: float
    shares: dict[str, float] = field(default_factory=dict)
    correctness: float | None = None
    specificity: float | None = None
    hm: float | None = None
    average_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "shares": dict(self.shares),
            "correctness": self.correctness,
            "specificity": self.specificity,
            "hm": self.hm,
            "average_score": self.average_score,
        }


def summarize_counts(counts: Mapping[str, float]) -> Summary:
    """Summary from counts keyed by label (and "parse failure"); counts may be fractional."""
    unknown = set(counts) - set(SHARE_KEYS)
    if unknown:
        raise ValueError(f"unknown category keys {sorted(unknown)}")
    total = float(sum(counts.values()))
    if total == 0:
        return Summary(count=0, shares={k: None for k in SHARE_KEYS})  # type: ignore[misc]
    shares = {k: counts.get(k, 0.0) / total for k in SHARE_KEYS}
    correct = sum(shares[c.value] for c in CORRECT)
    specific = sum(shares[c.value] for c in SPECIFIC_OR_FINER)
    specificity = specific / correct if correct > 0 else 0.0
    return Summary(
        count=total,
        shares=shares,
        correctness=correct,
        specificity=specificity,
        hm=harmonic_mean(correct, specificity),
        average_score=sum(AVERAGE_SCORE_WEIGHTS[k] * s for k, s in shares.items()),
    )


def category_counts(categories: Iterable[Category | None]) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for category in categories:
        counts[_key(category)] += 1
    return dict(counts)


def summarize(categories: Iterable[Category | None]) -> Summary:
    """Shares, correctness, specificity, HM and average score of graded predictions (None = parse failure)."""
    return summarize_counts(category_counts(categories))


def best_category(categories: Sequence[Category | None]) -> Category | None:
    """The best of one sample's predictions (ties towards the finer label; parse failure lowest)."""
    if not categories:
        raise ValueError("a sample needs at least one prediction")
    return max(categories, key=order)


def best_of_n(groups: Iterable[Sequence[Category | None]]) -> Summary:
    """Per sample the best of its N predictions, then the usual metrics."""
    return summarize(best_category(g) for g in groups)


def best_of_k_counts(groups: Iterable[Sequence[Category | None]], k: int) -> dict[str, float]:
    """Expected category counts of the best of k predictions drawn without replacement.

    For a sample with n >= k predictions sorted worst to best, the i-th (0-based) is the best of a
    random k-subset with probability C(i, k-1) / C(n, k) — the combinatorics of unbiased pass@k,
    generalised from "any correct" to "which category is best". Unbiased for every k <= n.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    counts: dict[str, float] = defaultdict(float)
    for group in groups:
        n = len(group)
        if n < k:
            raise ValueError(f"best-of-{k} needs at least {k} predictions per sample, one sample has {n}")
        ranked = sorted(group, key=order)
        total = math.comb(n, k)
        for i in range(k - 1, n):
            counts[_key(ranked[i])] += math.comb(i, k - 1) / total
    return dict(counts)


def unbiased_best_of_k(groups: Iterable[Sequence[Category | None]], k: int) -> Summary:
    """Metrics of best-of-k estimated without bias from n >= k samples per image."""
    return summarize_counts(best_of_k_counts(groups, k))


def macro_average(summaries: Sequence[Summary]) -> Summary:
    """The paper's table rows: the mean of each dataset's shares, correctness and specificity;
    HM of the averaged correctness and specificity. Datasets with no predictions are left out."""
    present = [s for s in summaries if s.count]
    if not present:
        return Summary(count=0, shares={k: None for k in SHARE_KEYS})  # type: ignore[misc]
    n = len(present)
    mean = lambda values: sum(values) / n  # noqa: E731
    correctness = mean(s.correctness for s in present)
    specificity = mean(s.specificity for s in present)
    return Summary(
        count=sum(s.count for s in present),
        shares={k: mean(s.shares[k] for s in present) for k in SHARE_KEYS},
        correctness=correctness,
        specificity=specificity,
        hm=harmonic_mean(correctness, specificity),
        average_score=mean(s.average_score for s in present),
    )


def predictions_by_sample(records: Iterable[Record]) -> dict[str, dict[str, list[Category | None]]]:
    """dataset → sample_id → categories of its predictions, in prediction_index order."""
    grouped: dict[str, dict[str, list[tuple[int, Category | None]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record.dataset][record.sample_id].append((record.prediction_index, record.category))
    return {
        dataset: {sid: [c for _, c in sorted(preds, key=lambda p: p[0])] for sid, preds in samples.items()}
        for dataset, samples in grouped.items()
    }


def per_class_counts(
    labelled: Iterable[tuple[str, str, Category | None]],
) -> dict[tuple[str, str], dict[str, float]]:
    """(dataset, ground truth) → category counts, from (dataset, ground truth, category) triples.

    Streams: a caller passes one triple per prediction (or per sample's best-of-N category) and
    keeps nothing else; `summarize_counts` of each value is that class's Summary.
    """
    counts: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for dataset, ground_truth, category in labelled:
        counts[(dataset, ground_truth)][_key(category)] += 1
    return {key: dict(value) for key, value in counts.items()}


def per_class_summaries(labelled: Iterable[tuple[str, str, Category | None]]) -> dict[tuple[str, str], Summary]:
    """Per class (dataset, ground truth): the same metrics as `summarize` on that class's predictions."""
    return {key: summarize_counts(value) for key, value in per_class_counts(labelled).items()}
