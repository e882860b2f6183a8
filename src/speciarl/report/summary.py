"""Turn graded records of one run into the numbers `speciarl report` writes (summary.json)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Optional

import msgspec

from ..metrics import (
    GROUP_ORDER, DuplicatePrediction, RunTally, Summary, best_counts_of_vectors, best_of_k_counts_of_vectors,
    canonical_vectors, counts_of_vectors,
    group_of, macro_average, summarize_counts,
)
from ..records import (
    BITSET_LIMIT, CATEGORY_CODES, GRADED_FIELDS, SKIPPED_LINE, Record, RecordError, iter_line_batches, json_loaders,
    key_fields, rejected_line,
)
from .per_class import MAX_DISTINCT

WRONG_CODE, LESS_SPECIFIC_CODE = CATEGORY_CODES["wrong"], CATEGORY_CODES["less specific"]
LABEL_OF_CODE = {code: label for label, code in CATEGORY_CODES.items()}


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


def tally_file(path: str | os.PathLike[str], classes: Any = None, workers: int | None = None,
               meanwhile: Callable[[], object] | None = None) -> RunTally:
    """A graded record file, read and validated line by line (errors name file, line and field),
    duplicates rejected, memory bounded by the number of distinct samples. With `classes` (a
    `per_class.ClassAccumulator`), the same pass feeds the per-class numbers: one parse per line.

    Large files are split into byte ranges read by `workers` processes (default: the CPUs this
    process may use, at most 8), whose tallies are merged: the same numbers, in a fraction of the wall
    time on a multi-core machine. `meanwhile` is called in this process while the workers read (the
    report imports matplotlib then); not at all when the file is read here."""
    workers = default_workers() if workers is None else workers
    if workers > 1 and os.path.getsize(path) >= PARALLEL_MIN_BYTES:
        return _tally_parallel(path, classes, workers, meanwhile)
    return _tally_range(path, 0, None, classes)


_INT64_MAX = (1 << 63) - 1


class _GradedLine(msgspec.Struct, gc=False):
    """The fields of a graded record that report reads, with the types `records.key_fields` accepts
    without conversion: msgspec checks them while it decodes (in C, skipping every other field's
    value), so a line that decodes into this needs no check in Python. Any other line (other types,
    a missing field, not JSON for msgspec) goes the general way: orjson / json and `key_fields`.
    msgspec accepts no line that way would reject, given the checks around it: invalid UTF-8 in a
    skipped value (checked before), numbers beyond orjson's integers (`le`), nesting deeper than the
    others allow (msgspec gives up first); tests/report/test_streaming.py holds such lines."""

    sample_id: str
    dataset: str
    ground_truth: str
    answer: Optional[str]  # noqa: UP007 - msgspec reads the annotation at run time
    category: Optional[str]  # noqa: UP007
    prediction_index: Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)] = 0  # larger: orjson's float
    split: str = ""
    completion: Optional[str] = None  # noqa: UP007


def _tally_range(path: str | os.PathLike[str], start: int, end: int | None, classes: Any) -> RunTally:
    """The tally of the lines starting in [start, end); line numbers in errors count from start.

    The hot loop of `speciarl report`, written out in one function (no call per line but the decoder):
    a line msgspec decodes into `_GradedLine` with a known category is counted inline; any other goes
    through `_GeneralLines.read` (orjson / json and `records.key_fields`: every check of `Record.from_dict`,
    its errors). The ground truth is kept once per sample (in the tally's state); per-class counts are
    the samples' count vectors summed per class at the end, plus a correction for the rare prediction
    whose ground truth differs from its sample's first one."""
    tally = RunTally()
    find, new_state, split_state = tally.samples.get, tally.new_state, tally.split_state
    decode = msgspec.json.Decoder(_GradedLine).decode
    general = _GeneralLines(path)
    slots = {label: 2 + code for label, code in CATEGORY_CODES.items()}  # label -> its count's place in a state
    odd_truth: dict[tuple[str, str, int], int] = {}  # (dataset, ground truth, slot) -> correction
    answers: dict[tuple[str, str, int], dict[str, int]] = {}  # wrong / less specific answers per class
    truth_at = RunTally.TRUTH
    # per slot: keep the answer text? (wrong and less specific ones, for the per-class confusions)
    keep = tuple(classes is not None and slot - 2 in (WRONG_CODE, LESS_SPECIFIC_CODE) for slot in range(9))
    errors = (msgspec.MsgspecError, ValueError, KeyError, RecursionError)
    first = 1
    for lines in iter_line_batches(path, start, end):
        check_utf8 = not all(map(bytes.isascii, lines))  # msgspec does not check the values it skips; orjson does
        for number, raw in enumerate(lines, first):
            try:
                if check_utf8:
                    raw.decode()
                line = decode(raw)
                slot = slots[line.category]
            except errors:  # anything unusual (or an unknown label): the general way, with its errors
                line = general.read(raw, number)
                if line is None:
                    continue
                slot = slots[line.category]
            sample_id = line.sample_id
            state = find(sample_id)
            if state is None:
                state = new_state(sample_id, line.dataset, line.ground_truth)
            index = line.prediction_index
            if index < BITSET_LIMIT:
                bits, bit = state[1], 1 << index
                if bits & bit:
                    raise RecordError(path, number, "sample_id", str(DuplicatePrediction(sample_id, index)))
                state[1] = bits | bit
            else:
                try:
                    tally.mark_large(sample_id, index)
                except DuplicatePrediction as exc:
                    raise RecordError(path, number, "sample_id", str(exc)) from None
            if state[0] != line.dataset:
                state = split_state(sample_id, line.dataset, line.ground_truth)
            state[slot] += 1
            if state[truth_at] != line.ground_truth:
                key = (state[0], state[truth_at], slot)
                odd_truth[key] = odd_truth.get(key, 0) - 1
                key = (line.dataset, line.ground_truth, slot)
                odd_truth[key] = odd_truth.get(key, 0) + 1
            if keep[slot] and line.answer:
                text = line.answer.strip()
                if text:
                    key = (line.dataset, line.ground_truth, slot)
                    counter = answers.get(key)
                    if counter is None:
                        counter = answers[key] = {}
                    if text in counter:
                        counter[text] += 1
                    elif len(counter) < MAX_DISTINCT:
                        counter[text] = 1
        first += len(lines)
    tally.predictions = sum(sum(state[2:9]) for state in tally.states())
    if classes is not None:
        _feed_classes(tally, odd_truth, answers, classes)
    return tally


class _GeneralLines:
    """Lines off the fast path: decoded as `records.iter_json_lines` does (orjson, json on what it
    rejects, blank lines skipped) and checked by `records.key_fields` (raises RecordError)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = path
        self.loads, self.exact = json_loaders()
        self.required = frozenset(GRADED_FIELDS)

    def read(self, raw: bytes, number: int) -> _GradedLine | None:
        """The line's fields as `_GradedLine` (converted as `key_fields` converts), or None for a blank line."""
        try:
            data = self.loads(raw)
        except ValueError:
            data = rejected_line(self.path, number, raw, self.exact)
            if data is SKIPPED_LINE:
                return None
        sample_id, dataset, index, code = key_fields(data, self.path, number, GRADED_FIELDS, self.required)
        return _GradedLine(sample_id, dataset, str(data["ground_truth"]), data.get("answer"), LABEL_OF_CODE[code],
                           index)


def _feed_classes(tally: RunTally, odd_truth: dict[tuple[str, str, int], int],
                  answers: dict[tuple[str, str, int], dict[str, int]], classes: Any) -> None:
    """Per-class counts from the samples' count vectors (+ corrections), and the answers, into `classes`
    (keys hold a state's slot: 2 + category code)."""
    from .per_class import CATEGORY_OF_CODE

    by_class = odd_truth
    for state in tally.states():
        truth = state[RunTally.TRUTH]
        for slot in range(2, 9):
            count = state[slot]
            if count:
                key = (state[0], truth, slot)
                by_class[key] = by_class.get(key, 0) + count
    for (dataset, truth, slot), count in by_class.items():
        if count:
            classes.add_count(dataset, truth, CATEGORY_OF_CODE[slot - 2], count)
    for (dataset, truth, slot), counter in answers.items():
        classes.add_answer_counts(dataset, truth, CATEGORY_OF_CODE[slot - 2], counter)


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


def _tally_parallel(path: str | os.PathLike[str], classes: Any, workers: int,
                    meanwhile: Callable[[], object] | None = None) -> RunTally:
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
        results = pool.map(_tally_part, jobs)  # every job submitted, the workers started
        if meanwhile is not None:
            meanwhile()
        parts = list(results)
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
    by_dataset = {dataset: canonical_vectors(vectors) for dataset, vectors in tally.vectors().items()}  # sorted once
    sizes = [sum(vector) for vectors in by_dataset.values() for vector, _ in vectors]
    samples = sum(times for vectors in by_dataset.values() for _, times in vectors)
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
