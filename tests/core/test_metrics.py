import itertools
import math
import random

import pytest

from speciarl.categories import Category as C
from speciarl.categories import order
from speciarl.metrics import (
    PARSE_FAILURE, best_of_k_counts, best_of_n, category_counts, macro_average, summarize, summarize_counts,
    unbiased_best_of_k,
)

W, A, G, L, S, M = C.WRONG, C.ABSTAIN, C.GENERIC, C.LESS_SPECIFIC, C.SPECIFIC, C.MORE_SPECIFIC


def test_summary_numbers():
    s = summarize([S, M, L, G, W, A, None, S])
    assert s.count == 8
    assert s.shares["specific"] == 2 / 8 and s.shares[PARSE_FAILURE] == 1 / 8
    assert s.correctness == pytest.approx(5 / 8)
    assert s.specificity == pytest.approx(3 / 5)
    assert s.hm == pytest.approx(2 * (5 / 8) * (3 / 5) / (5 / 8 + 3 / 5))
    assert s.average_score == pytest.approx((3 * 1 + 0.6 + 0.2 + 0 - 1 - 1) / 8)
    assert sum(s.shares.values()) == pytest.approx(1.0)


def test_summary_edge_cases():
    empty = summarize([])
    assert empty.count == 0 and empty.correctness is None and empty.hm is None
    fails = summarize([None, None])
    assert fails.correctness == 0 and fails.specificity == 0 and fails.hm == 0 and fails.average_score == -1
    assert fails.shares[PARSE_FAILURE] == 1
    generic_only = summarize([G, G])
    assert generic_only.correctness == 1 and generic_only.specificity == 0 and generic_only.hm == 0
    with pytest.raises(ValueError):
        summarize_counts({"bogus": 1})


def test_best_of_n_picks_the_best_per_sample():
    s = best_of_n([[W, L, None], [None, None], [G, M, S]])
    assert s.shares["less specific"] == pytest.approx(1 / 3)
    assert s.shares[PARSE_FAILURE] == pytest.approx(1 / 3)
    assert s.shares["more specific"] == pytest.approx(1 / 3)


def _brute_force(groups, k):
    counts = {}
    for group in groups:
        subsets = list(itertools.combinations(range(len(group)), k))
        for subset in subsets:
            best = max((group[i] for i in subset), key=order)
            key = PARSE_FAILURE if best is None else best.value
            counts[key] = counts.get(key, 0.0) + 1 / len(subsets)
    return counts


def test_unbiased_best_of_k_matches_enumeration():
    rng = random.Random(3)
    pool = [W, A, G, L, S, M, None]
    groups = [[rng.choice(pool) for _ in range(rng.randint(5, 8))] for _ in range(25)]
    for k in range(1, 6):
        expected = _brute_force(groups, k)
        got = best_of_k_counts(groups, k)
        assert set(k_ for k_, v in got.items() if v > 1e-12) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value)
    # k = 1 is the plain mean over all predictions; k = n is best-of-n
    flat = [c for g in groups for c in g]
    one = unbiased_best_of_k(groups, 1)
    assert one.count == len(groups)
    same_n = [g[:5] for g in groups]
    assert unbiased_best_of_k(same_n, 5).shares == pytest.approx(best_of_n(same_n).shares)
    assert math.isclose(sum(category_counts(flat).values()), len(flat))


def test_best_of_k_needs_enough_samples():
    with pytest.raises(ValueError, match="at least 3"):
        best_of_k_counts([[S, G]], 3)
    with pytest.raises(ValueError):
        best_of_k_counts([[S]], 0)


def test_macro_average_is_the_papers_rule():
    a = summarize([S, S, G, W])   # corr .75 spec 2/3
    b = summarize([L, W])          # corr .5 spec 0
    macro = macro_average([a, b, summarize([])])
    assert macro.correctness == pytest.approx((0.75 + 0.5) / 2)
    assert macro.specificity == pytest.approx((2 / 3 + 0) / 2)
    hm = 2 * macro.correctness * macro.specificity / (macro.correctness + macro.specificity)
    assert macro.hm == pytest.approx(hm)
    assert macro.count == 6
    assert macro_average([]).count == 0
