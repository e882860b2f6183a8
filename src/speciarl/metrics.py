"""The numbers of docs/method.md#metrics: category shares, correctness, specificity, HM, average score, best-of-N.

Everything is computed from (possibly fractional) category counts, so the same code serves plain
predictions, best-of-N and the unbiased best-of-k estimate (expected counts).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .categories import CORRECT, LABELS, SPECIFIC_OR_FINER, Category, order
from .records import BITSET_LIMIT, Record

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


# Summed in label order, not in a frozenset's: a set of enum members iterates in an order that depends
# on the process's string hash seed, which changed the last digits of summary.json from run to run.
_CORRECT_LABELS = tuple(c.value for c in Category if c in CORRECT)
_SPECIFIC_LABELS = tuple(c.value for c in Category if c in SPECIFIC_OR_FINER)


def summarize_counts(counts: Mapping[str, float]) -> Summary:
    """Summary from counts keyed by label (and "parse failure"); counts may be fractional."""
    unknown = set(counts) - set(SHARE_KEYS)
    if unknown:
        raise ValueError(f"unknown category keys {sorted(unknown)}")
    total = float(sum(counts.values()))
    if total == 0:
        return Summary(count=0, shares={k: None for k in SHARE_KEYS})  # type: ignore[misc]
    shares = {k: counts.get(k, 0.0) / total for k in SHARE_KEYS}
    correct = sum(shares[label] for label in _CORRECT_LABELS)
    specific = sum(shares[label] for label in _SPECIFIC_LABELS)
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

# Category codes of the streaming path (records.CATEGORY_CODES): 0 = parse failure, then worst to best,
# so a sample's best prediction is simply its highest code with a non-zero count.
CODE_KEYS: tuple[str, ...] = (PARSE_FAILURE, *(c.value for c in Category))


class DuplicatePrediction(ValueError):
    """The same (sample_id, prediction_index) was added twice (it would double-count)."""

    def __init__(self, sample_id: str, index: int):
        self.sample_id, self.index = sample_id, index
        super().__init__(f"duplicate record for sample {sample_id!r} prediction_index {index}")


class RunTally:
    """One streaming pass over a run's graded predictions, with per-sample state only as small as
    best-of-N / best-of-k need: per sample its dataset, a bitset of the prediction indexes seen (the
    duplicate check; indexes from `records.BITSET_LIMIT` up go to the set `large`), a count per category
    (7 small ints) and the ground truth of its first prediction (per-class numbers), never the records
    themselves. Memory grows with the number of distinct samples
    (~0.2 kB each), not with N or the file size.

    `add` takes the compact form `records.iter_keys` yields; `add_record` takes a `Record`. A hot loop may
    update `samples` in place (report/summary.py does, to save a call per line): its layout is
    sample_id -> [dataset, seen-bits, count of code 0, …, count of code 6, ground truth or None], created
    by `new_state`; a prediction whose dataset differs from its sample's goes through `split_state`.
    Not thread-safe (feed it from one thread).
    """

    TRUTH = 9  # index of the ground truth in a state

    def __init__(self) -> None:
        self.samples: dict[str, list[Any]] = {}
        # (dataset, sample_id) -> state, only for a sample id reused across datasets (rare)
        self._split: dict[tuple[str, str], list[Any]] = {}
        self._names: dict[str, str] = {}
        self.large: set[tuple[str, int]] = set()  # (sample_id, index) seen, for indexes >= BITSET_LIMIT
        self.predictions = 0

    def new_state(self, sample_id: str, dataset: str, truth: str | None = None) -> list[Any]:
        """The (empty) state of a sample seen for the first time."""
        state = self.samples[sample_id] = [self._names.setdefault(dataset, dataset), 0, 0, 0, 0, 0, 0, 0, 0, truth]
        return state

    def split_state(self, sample_id: str, dataset: str, truth: str | None = None) -> list[Any]:
        """The counts of a sample id's predictions in another dataset than its first one."""
        key = (dataset, sample_id)
        state = self._split.get(key)
        if state is None:
            state = self._split[key] = [dataset, 0, 0, 0, 0, 0, 0, 0, 0, truth]
        return state

    def add(self, sample_id: str, dataset: str, index: int, code: int) -> None:
        """Count one prediction; raises DuplicatePrediction for a (sample_id, index) seen before."""
        state = self.samples.get(sample_id)
        if state is None:
            state = self.new_state(sample_id, dataset)
        if index < BITSET_LIMIT:
            bit = 1 << index
            if state[1] & bit:
                raise DuplicatePrediction(sample_id, index)
            state[1] |= bit
        else:
            self.mark_large(sample_id, index)
        if state[0] != dataset:
            state = self.split_state(sample_id, dataset)
        state[2 + code] += 1
        self.predictions += 1

    def mark_large(self, sample_id: str, index: int) -> None:
        """The duplicate check for an index from BITSET_LIMIT up (kept in a set, not as a bit)."""
        key = (sample_id, index)
        if key in self.large:
            raise DuplicatePrediction(sample_id, index)
        self.large.add(key)

    def merge(self, other: RunTally) -> None:
        """Fold in a tally of another part of the same run (parallel reading); a key present in both is
        a DuplicatePrediction (its index is the lowest shared one)."""
        for sample_id, theirs in other.samples.items():
            mine = self.samples.get(sample_id)
            if mine is None:
                self.samples[sample_id] = theirs
                continue
            shared = mine[1] & theirs[1]
            if shared:
                raise DuplicatePrediction(sample_id, (shared & -shared).bit_length() - 1)
            mine[1] |= theirs[1]
            if mine[0] != theirs[0]:
                mine = self.split_state(sample_id, theirs[0], theirs[self.TRUTH])
            for i in range(2, 9):
                mine[i] += theirs[i]
        for (dataset, sample_id), theirs in other._split.items():
            mine = self.split_state(sample_id, dataset, theirs[self.TRUTH])
            for i in range(2, 9):
                mine[i] += theirs[i]
        shared_large = self.large & other.large
        if shared_large:
            raise DuplicatePrediction(*min(shared_large, key=lambda key: key[1]))
        self.large |= other.large
        self.predictions += other.predictions

    def add_record(self, record: Record) -> None:
        self.add(record.sample_id, record.dataset, record.prediction_index, order(record.category) + 1)

    def states(self) -> Iterable[list[Any]]:
        """Every non-empty state (see the class docstring for the layout)."""
        for state in self.samples.values():
            if any(state[2:9]):  # all of a split sample's predictions may live in _split
                yield state
        yield from self._split.values()

    def vectors(self) -> dict[str, Counter[tuple[int, ...]]]:
        """dataset -> how many samples have each category-count vector (indexed by code), datasets sorted
        (macro averages then sum in the same order whatever the order of the lines)."""
        out: dict[str, Counter[tuple[int, ...]]] = defaultdict(Counter)
        for state in self.states():
            out[state[0]][tuple(state[2:9])] += 1
        return dict(sorted(out.items()))


def canonical_vectors(vectors: Mapping[tuple[int, ...], int]) -> list[tuple[tuple[int, ...], int]]:
    """Distinct vectors in a fixed order: float sums then do not depend on the order of the file's lines
    (verify writes chunks as they finish), so two gradings of one run give bit-identical numbers. The
    `*_of_vectors` functions take this list too (sorted once for many calls)."""
    return sorted(vectors.items())


def _canonical(vectors: Mapping[tuple[int, ...], int] | list[tuple[tuple[int, ...], int]]
               ) -> list[tuple[tuple[int, ...], int]]:
    return vectors if isinstance(vectors, list) else canonical_vectors(vectors)


def _vector_counts(vector: Sequence[int]) -> dict[str, float]:
    return {CODE_KEYS[code]: float(n) for code, n in enumerate(vector) if n}


def _add_scaled(total: dict[str, float], counts: Mapping[str, float], times: int) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0.0) + value * times


def counts_of_vectors(vectors: Mapping[tuple[int, ...], int] | list[tuple[tuple[int, ...], int]]) -> dict[str, float]:
    """Category counts over every prediction of samples given as {count vector: number of samples}."""
    total: dict[str, float] = {}
    for vector, times in _canonical(vectors):
        _add_scaled(total, _vector_counts(vector), times)
    return total


def best_counts_of_vectors(vectors: Mapping[tuple[int, ...], int] | list[tuple[tuple[int, ...], int]]
                           ) -> dict[str, float]:
    """Best-of-N category counts: per sample its highest-ranked code (codes are in `order`)."""
    total: dict[str, float] = {}
    for vector, times in _canonical(vectors):
        best = max(code for code, n in enumerate(vector) if n)
        total[CODE_KEYS[best]] = total.get(CODE_KEYS[best], 0.0) + times
    return total


def best_of_k_counts_of_vectors(vectors: Mapping[tuple[int, ...], int] | list[tuple[tuple[int, ...], int]],
                                k: int) -> dict[str, float]:
    """`best_of_k_counts` for samples given as {count vector: number of samples}.

    Summing C(i, k-1) over the positions i of one category's predictions in the ranked list telescopes
    (hockey-stick identity) to C(above, k) - C(below, k), where below/above count the predictions
    ranked under the category / under or in it: seven terms per sample instead of N.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    total: dict[int, float] = {}  # by code, in first-touched order (the order its values are summed in later)
    get = total.get
    comb: list[int] = []
    for vector, times in _canonical(vectors):
        n = sum(vector)
        if n < k:
            raise ValueError(f"best-of-{k} needs at least {k} predictions per sample, one sample has {n}")
        if len(comb) <= n:
            comb.extend(math.comb(i, k) for i in range(len(comb), n + 1))
        below, whole = 0, comb[n]
        for code, count in enumerate(vector):
            if count:
                above = below + count
                share = (comb[above] - comb[below]) / whole
                if share:
                    total[code] = get(code, 0.0) + share * times
                below = above
    return {CODE_KEYS[code]: value for code, value in total.items()}
