"""Turn graded records of one run into the numbers `speciarl report` writes (summary.json)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..metrics import (
    GROUP_ORDER, DuplicatePrediction, RunTally, Summary, best_counts_of_vectors, best_of_k_counts_of_vectors, counts_of_vectors,
    group_of, macro_average, summarize_counts,
)
from ..records import CATEGORY_CODES, GRADED_FIELDS, Record, RecordError, iter_json_lines, key_fields

WRONG_CODE, LESS_SPECIFIC_CODE = CATEGORY_CODES["wrong"], CATEGORY_CODES["less specific"]


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


def summarize_run(records: Iterable[Record]) -> dict[str, Any]:
    """All numbers of one run from Record objects (see `summarize_tally`)."""
    tally = RunTally()
    for record in records:
        tally.add_record(record)
    return summarize_tally(tally)


# Files at least this large are read by several processes (one byte range each), when CPUs allow.
PARALLEL_MIN_BYTES = 128 << 20


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def tally_file(path: str | os.PathLike[str], classes: Any = None, workers: int | None = None) -> RunTally:
    """A graded record file, read and validated line by line (errors name file, line and field),
    duplicates rejected, memory bounded by the number of distinct samples. With `classes` (a
    `per_class.ClassAccumulator`), the same pass feeds the per-class numbers: one parse per line.

    Large files are split into byte ranges read by `workers` processes (default: the CPUs this
    process may use, at most 8), whose tallies are merged: the same numbers, in a fraction of the wall
    time on a multi-core machine."""
    workers = default_workers() if workers is None else workers
    if workers > 1 and os.path.getsize(path) >= PARALLEL_MIN_BYTES:
        return _tally_parallel(path, classes, workers)
    return _tally_range(path, 0, None, classes)


def _tally_range(path: str | os.PathLike[str], start: int, end: int | None, classes: Any) -> RunTally:
    """The tally of the lines starting in [start, end); line numbers in errors count from start."""
    from .per_class import CATEGORY_OF_CODE

    tally = RunTally()
    add = tally.add
    by_class: dict[tuple[str, str, int], int] = {}  # (dataset, ground truth, code) -> predictions
    required = frozenset(GRADED_FIELDS)
    line = 0
    try:
        for line, data in iter_json_lines(path, start=start, end=end):
            sample_id, dataset, index, code = key_fields(data, path, line, GRADED_FIELDS, required)
            add(sample_id, dataset, index, code)
            if classes is not None:
                truth = data["ground_truth"]
                key = (dataset, truth if type(truth) is str else str(truth), code)
                by_class[key] = by_class.get(key, 0) + 1
                if code == WRONG_CODE or code == LESS_SPECIFIC_CODE:
                    classes.add_answer(key[0], key[1], CATEGORY_OF_CODE[code], data.get("answer"))
    except DuplicatePrediction as exc:
        raise RecordError(path, line, "sample_id", str(exc)) from None
    for (dataset, truth, code), count in by_class.items():
        classes.add_count(dataset, truth, CATEGORY_OF_CODE[code], count)
    return tally


def _tally_part(job: tuple[str, int, int, bool]) -> tuple[Any, ...]:
    """Worker: one byte range; a RecordError comes back as data (its line is relative to the range)."""
    from .per_class import ClassAccumulator

    path, start, end, with_classes = job
    classes = ClassAccumulator() if with_classes else None
    try:
        tally = _tally_range(path, start, end, classes)
    except RecordError as exc:
        return ("error", exc.line, exc.field, exc.reason)
    return ("ok", tally, classes)


def _tally_parallel(path: str | os.PathLike[str], classes: Any, workers: int) -> RunTally:
    import concurrent.futures
    import multiprocessing

    from ..records import line_ranges

    jobs = [(str(path), start, end, classes is not None) for start, end in line_ranges(path, workers * 4)]
    import threading

    # fork is cheapest, but not under live threads (eval's judge I/O loop, say): a lock held there
    # would stay held in the child. Then forkserver (or spawn) starts clean workers instead.
    methods = multiprocessing.get_all_start_methods()
    method = ("fork" if "fork" in methods and threading.active_count() == 1
              else "forkserver" if "forkserver" in methods else "spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = list(pool.map(_tally_part, jobs))
    tally = RunTally()
    for (_, start, _, _), part in zip(jobs, parts):  # in file order: the first bad line is the one reported
        if part[0] == "error":
            _, line, field_name, reason = part
            raise RecordError(path, _lines_before(path, start) + line, field_name, reason)
        _, their_tally, their_classes = part
        try:
            tally.merge(their_tally)
        except DuplicatePrediction:  # its second copy is in a later range: one serial pass names its line
            _tally_range(path, 0, None, None)
            raise
        if classes is not None:
            classes.merge(their_classes)
    return tally


def _lines_before(path: str | os.PathLike[str], offset: int) -> int:
    """Newlines in the first `offset` bytes (ranges start at line starts: the lines before the range)."""
    count = 0
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 1 << 24))
            if not block:
                break
            count += block.count(b"\n")
            offset -= len(block)
    return count


def summarize_tally(tally: RunTally) -> dict[str, Any]:
    """All numbers of one run. With N > 1 predictions per sample, the main numbers are over all
    predictions (the expected single-sample quality) and best-of-N / best-of-k are added."""
    by_dataset = tally.vectors()
    sizes = [sum(vector) for vectors in by_dataset.values() for vector in vectors]
    samples = sum(times for vectors in by_dataset.values() for times in vectors.values())
    n_min, n_max = (min(sizes), max(sizes)) if sizes else (0, 0)
    per_dataset = {dataset: summarize_counts(counts_of_vectors(vectors)) for dataset, vectors in by_dataset.items()}
    out: dict[str, Any] = {
        "predictions": tally.predictions,
        "samples": samples,
        "predictions_per_sample": {"min": n_min, "max": n_max},
        **_levels(per_dataset),
    }
    if n_max > 1:
        best = {dataset: summarize_counts(best_counts_of_vectors(vectors)) for dataset, vectors in by_dataset.items()}
        out["best_of_n"] = {"n": n_max, **_levels(best)}
        # the unbiased estimate needs k <= n for every sample: use the smallest N
        out["best_of_k"] = {
            str(k): macro_average(
                [summarize_counts(best_of_k_counts_of_vectors(vectors, k)) for vectors in by_dataset.values()]
            ).to_dict()
            for k in k_values(n_min)
        }
    return out
