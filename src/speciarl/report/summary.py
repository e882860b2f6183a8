"""Turn graded records of one run into the numbers `speciarl report` writes (summary.json)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..metrics import (
    GROUP_ORDER, Summary, best_of_n, group_of, macro_average, predictions_by_sample, summarize,
    unbiased_best_of_k,
)
from ..records import Record


def _levels(per_dataset: dict[str, Summary]) -> dict[str, Any]:
    """Per dataset, per paper group (macro), overall (macro over datasets)."""
    groups: dict[str, list[Summary]] = {}
    for dataset, summary in per_dataset.items():
        groups.setdefault(group_of(dataset), []).append(summary)
    return {
        "datasets": {d: s.to_dict() for d, s in sorted(per_dataset.items())},
        "groups": {g: macro_average(groups[g]).to_dict() for g in GROUP_ORDER if g in groups},
        "overall": macro_average(list(per_dataset.values())).to_dict(),
    }


def k_values(n: int) -> list[int]:
    """1, 2, 4, … up to n, and n itself."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def summarize_run(records: Sequence[Record]) -> dict[str, Any]:
    """All numbers of one run. With N > 1 predictions per sample, the main numbers are over all
    predictions (the expected single-sample quality) and best-of-N / best-of-k are added."""
    by_sample = predictions_by_sample(records)
    sizes = [len(preds) for samples in by_sample.values() for preds in samples.values()]
    n_min, n_max = (min(sizes), max(sizes)) if sizes else (0, 0)
    per_dataset = {
        dataset: summarize(c for preds in samples.values() for c in preds) for dataset, samples in by_sample.items()
    }
    out: dict[str, Any] = {
        "predictions": len(records),
        "samples": len(sizes),
        "predictions_per_sample": {"min": n_min, "max": n_max},
        **_levels(per_dataset),
    }
    if n_max > 1:
        best = {dataset: best_of_n(samples.values()) for dataset, samples in by_sample.items()}
        out["best_of_n"] = {"n": n_max, **_levels(best)}
        # the unbiased estimate needs k <= n for every sample: use the smallest N
        out["best_of_k"] = {
            str(k): macro_average(
                [unbiased_best_of_k(list(samples.values()), k) for samples in by_sample.values()]
            ).to_dict()
            for k in k_values(n_min)
        }
    return out
