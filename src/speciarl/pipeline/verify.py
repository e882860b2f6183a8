"""The verify stage: prediction records in, graded records out (`speciarl verify`, and `speciarl eval`).

Resumable and loss-averse: records already in the output are skipped, graded records are appended
and flushed in small chunks as they finish (a kill loses at most the pairs in flight), and a pair
the judge could not grade is listed and left out of the output, never written with a made-up grade.

Streaming, so memory stays flat however large the file (best-of-64 over six benchmarks is ~3.4 M
records): a first pass checks every line (fields, duplicates, an answer or completion to grade)
before anything is graded, keeping only compact keys (`records.KeySet`); a second pass reads the
records again and keeps at most WINDOW chunks in the judge's hands at a time. (An input of at most
KEEP_BYTES is kept from the first pass instead of read again.)
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..answers import extract_answer, normalize
from ..categories import LABELS
from ..errors import SpeciarlError
from ..records import (
    BASE_FIELDS, KeySet, RecordError, RecordWriter, completed_keyset, graded_dict, iter_json_lines, key_fields,
)

# Records graded and written together. A chunk is written when its last pair is graded, so a kill loses the
# pairs in flight plus at most CHUNK - 1 finished neighbours per chunk.
CHUNK = 8
# Chunks submitted to the judge and not yet written: bounds memory (records in flight) while keeping far
# more pairs in the judge's hands than its concurrency (default 64).
WINDOW = 512
# Chunks per judge call (`judge.submit_each`): one trip to the judge's I/O loop and one cache lookup for up
# to 1,024 records, each chunk still handed back (and written) as soon as it is graded.
GROUP = 128
# Inputs up to this size are read once and kept decoded (~10x their size in memory at worst: short records);
# larger ones are read twice, so memory stays flat.
KEEP_BYTES = 8 << 20


@dataclass
class VerifyResult:
    """What one run did; `ok` is False when some pairs could not be graded (they are in `errors`)."""

    input_records: int = 0
    skipped: int = 0  # already in the output before this run
    written: int = 0
    parse_failures: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {label: 0 for label in LABELS})
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (sample_id, prediction_index, message)
    judge: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_line(self) -> str:
        """One line: categories over the records written, then the judge's work over distinct pairs."""
        cats = ", ".join(f"{label} {n}" for label, n in self.counts.items())
        s = self.stats
        return (f"graded {self.written} of {self.input_records} records ({self.skipped} already done) in "
                f"{self.seconds:.1f} s: {cats}, parse failures {self.parse_failures} | judge: {s.get('pairs', 0)} "
                f"answers, {s.get('duplicate', 0)} repeats folded, cache hits {s.get('cache', 0)}, fast paths "
                f"{s.get('fast_path', 0)} (exact {s.get('exact', 0)}, refusal {s.get('refusal', 0)}, cap "
                f"{s.get('cap', 0)}), LLM calls {s.get('llm', 0)}, taxonomy {s.get('taxonomy', 0)} | "
                f"not graded {len(self.errors)}")


def record_answer(data: dict[str, Any], path: str | os.PathLike[str], line: int) -> str | None:
    """The answer to grade: the record's `answer`, else extracted from its `completion`; None = parse failure.
    `data` is a record as read (it passed `key_fields`)."""
    answer = data.get("answer")
    if answer is not None:
        return answer.strip() or None
    completion = data.get("completion")
    if completion is not None:
        return extract_answer(completion)
    which = f"record {str(data['sample_id'])!r} #{data.get('prediction_index', 0)}"
    raise RecordError(path, line, "completion", f"{which} has neither a 'completion' nor an 'answer'")


def run_verify(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    judge_config: dict[str, Any] | Any,
    *,
    concurrency: int | None = None,
    progress: bool = True,
    chunk_size: int = CHUNK,
) -> VerifyResult:
    """Grade every record of `in_path` not yet in `out_path`, appending graded records to `out_path`.

    `judge_config` is a `build_judge` dict or a ready judge object. Raises `RecordError` (naming
    file, line and field) before grading anything if the input is malformed. Returns counts; the
    caller decides what to do when `result.ok` is False (the CLI exits 1).
    """
    from ..judges import build_judge

    started = time.perf_counter()
    if not os.path.isfile(in_path):
        raise SpeciarlError(f"{in_path}: no such file (prediction records, JSONL)")
    if os.path.exists(out_path) and os.path.samefile(in_path, out_path):
        raise SpeciarlError(f"{out_path}: the output must be another file than the input")
    done = completed_keyset(out_path)
    # A small input is kept from pass 1 (no second read, and every chunk can go to the judge at once).
    total, todo, kept = _check_input(in_path, done, keep=os.path.getsize(in_path) <= KEEP_BYTES)
    result = VerifyResult(input_records=total, skipped=total - todo)

    if isinstance(judge_config, dict):
        config = dict(judge_config)
        if concurrency is not None and config.get("type") == "openai":
            config["concurrency"] = concurrency
        judge = build_judge(config)
    else:
        judge = judge_config
    result.judge = judge.identity
    before = judge.stats.to_dict()

    from tqdm import tqdm

    with RecordWriter(out_path) as writer, tqdm(total=todo, desc="verify", unit="rec",
                                                disable=None if progress else True) as bar:
        try:
            _Grader(judge, writer, bar, result, chunk_size).run(_pending(in_path, done) if kept is None else kept)
        finally:
            if judge is not judge_config:
                judge.close()
    after = judge.stats.to_dict()
    result.stats = {k: (after[k] - before[k]) if isinstance(after[k], int) else after[k] for k in after}
    result.seconds = time.perf_counter() - started
    return result


def _check_input(path: str | os.PathLike[str], done: KeySet,
                 keep: bool = False) -> tuple[int, int, list[tuple[dict[str, Any], str | None]] | None]:
    """Pass 1: every line valid, no duplicate key, something to grade; (records, records not in `done`,
    and with `keep` those records with their answers, as `_pending` yields them, else None).
    Without `keep` only the keys are kept (compactly): no more memory for 3.4 M records than for 3."""
    seen = KeySet()
    required = frozenset(BASE_FIELDS)
    total = todo = 0
    kept: list[tuple[dict[str, Any], str | None]] | None = [] if keep else None
    nothing_done = not done
    for line, data in iter_json_lines(path):
        sample_id, _, index, _ = key_fields(data, path, line, BASE_FIELDS, required)
        if not seen.add((sample_id, index)):
            raise RecordError(path, line, "sample_id",
                              f"duplicate record for sample {sample_id!r} prediction_index {index}")
        if data.get("answer") is None and data.get("completion") is None:
            raise RecordError(path, line, "completion",
                              f"record {sample_id!r} #{index} has neither a 'completion' nor an 'answer'")
        total += 1
        if nothing_done or (sample_id, index) not in done:
            todo += 1
            if kept is not None:
                kept.append((data, record_answer(data, path, line)))
    return total, todo, kept


def _pending(path: str | os.PathLike[str], done: KeySet) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Pass 2: the records not yet in the output, as read, with the answer to grade (None = parse failure)."""
    required = frozenset(BASE_FIELDS)
    for line, data in iter_json_lines(path):
        sample_id, _, index, _ = key_fields(data, path, line, BASE_FIELDS, required)
        if (sample_id, index) not in done:
            yield data, record_answer(data, path, line)


class _Grader:
    """Pass 2's work: chunks of records to the judge, graded records to the output.

    Records go to the judge in chunks of `chunk_size`, GROUP chunks per call (`judge.submit_each`:
    one trip to its I/O loop), at most WINDOW chunks in its hands. The judge hands each chunk back, on
    its own thread, as soon as the chunk is graded; this thread writes every chunk handed back so far
    in one write and one flush. Parse failures need no judge: they are written every `chunk_size`.
    A judge without `submit_each` (any object with `submit`) gets one call per chunk."""

    def __init__(self, judge: Any, writer: RecordWriter, bar: Any, result: VerifyResult, chunk_size: int):
        self.judge, self.writer, self.bar, self.result, self.chunk_size = judge, writer, bar, result, chunk_size
        self.identity: str = judge.identity
        self.norm = getattr(judge, "normalize", normalize)  # BaseJudge memoises it
        # lists of (chunk id, verdicts), or (-1, a judge call that failed as a whole)
        self.handed: queue.SimpleQueue[list[tuple[int, Any]]] = queue.SimpleQueue()
        self.in_judge: dict[int, list[tuple[dict[str, Any], str, str]]] = {}  # chunk id -> (record, truth, answer)
        self.calls: list[concurrent.futures.Future[Any]] = []
        self.next_id = 0
        self.counts: Counter[str] = Counter()

    def run(self, pending: Iterable[tuple[dict[str, Any], str | None]]) -> None:
        group_size = max(1, min(GROUP, WINDOW))
        chunk: list[tuple[dict[str, Any], str, str]] = []
        group: list[list[tuple[dict[str, Any], str, str]]] = []
        failures: list[dict[str, Any]] = []
        try:
            for data, answer in pending:
                truth = data["ground_truth"]
                truth = truth if type(truth) is str else str(truth)
                if answer is None:
                    failures.append(graded_dict(data, None, None, self.norm(truth), None, self.identity))
                    if len(failures) >= self.chunk_size:
                        self._write_failures(failures)
                    continue
                chunk.append((data, truth, answer))
                if len(chunk) == self.chunk_size:
                    group.append(chunk)
                    chunk = []
                    if len(group) == group_size:
                        self._submit(group)
                        group = []
                        self._write_handed(block=False)
            self._write_failures(failures)
            if chunk:
                group.append(chunk)
            if group:
                self._submit(group)
            while self.in_judge:
                self._write_handed(block=True)
        finally:
            for call in self.calls:
                call.cancel()
        for label, n in self.counts.items():
            self.result.counts[label] += n

    def _submit(self, group: list[list[tuple[dict[str, Any], str, str]]]) -> None:
        """Hand a group of chunks to the judge, once the window has room for it."""
        while self.in_judge and len(self.in_judge) + len(group) > WINDOW:
            self._write_handed(block=True)
        first = self.next_id
        self.next_id += len(group)
        for offset, chunk in enumerate(group):
            self.in_judge[first + offset] = chunk
        self.calls = [call for call in self.calls if not call.done()]
        handed = self.handed
        pairs = [[(truth, answer) for _, truth, answer in chunk] for chunk in group]
        submit_each = getattr(self.judge, "submit_each", None)
        if submit_each is not None:
            call = submit_each(pairs, lambda done: handed.put([(first + index, verdicts) for index, verdicts in done]))
            self.calls.append(call)
            call.add_done_callback(lambda f: None if f.cancelled() or f.exception() is None else handed.put([(-1, f)]))
            return
        for offset, chunk_pairs in enumerate(pairs):
            call = self.judge.submit(chunk_pairs)
            self.calls.append(call)
            call.add_done_callback(lambda f, i=first + offset: f.cancelled() or handed.put(
                [(i, f.result()) if f.exception() is None else (-1, f)]))

    def _write_handed(self, *, block: bool) -> None:
        """Write every chunk the judge has handed back (waiting for one if `block`), in one flush."""
        handed = self.handed.get() if block else []
        while True:
            try:
                handed += self.handed.get_nowait()
            except queue.Empty:
                break
        identity, norm, counts, errors = self.identity, self.norm, self.counts, self.result.errors
        chunks = [(self.in_judge.pop(chunk_id), verdicts) for chunk_id, verdicts in handed if chunk_id >= 0]
        failed = [call for chunk_id, call in handed if chunk_id < 0]  # a judge call that failed as a whole
        out: list[dict[str, Any]] = []
        for chunk, verdicts in chunks:
            for (data, truth, answer), verdict in zip(chunk, verdicts, strict=True):
                if verdict.ok:
                    label = verdict.category.value
                    counts[label] += 1
                    out.append(graded_dict(data, answer, norm(answer), norm(truth), label, identity))
                else:
                    errors.append((str(data["sample_id"]), data.get("prediction_index", 0),
                                   verdict.error or "no category"))
        self.writer.write_many(out)
        self.result.written += len(out)
        self.bar.update(sum(len(chunk) for chunk, _ in chunks))
        for call in failed:  # after writing what was graded
            call.result()

    def _write_failures(self, failures: list[dict[str, Any]]) -> None:
        self.writer.write_many(failures)
        self.result.parse_failures += len(failures)
        self.result.written += len(failures)
        self.bar.update(len(failures))
        failures.clear()


def freeze_imports(judge_config: dict[str, Any]) -> None:
    """For a one-shot process (`speciarl verify`): import what grading will import, then `gc.freeze()`.

    The cycle collector then never walks the ~40 k objects the imports built (they live as long as the
    process anyway): one full collection over them was ~20 ms of a 2,560-answer rerun, most of its
    cost beyond a one-answer run. Not for long-lived processes (frozen objects are never collected)."""
    import gc

    import tqdm  # noqa: F401

    from ..judges import build_judge  # noqa: F401

    if judge_config.get("type") == "openai":
        import aiohttp  # noqa: F401 - the judge's HTTP session imports it on first use

    gc.freeze()


def judge_config_from_args(args: Any) -> dict[str, Any]:
    """A `build_judge` dict from `speciarl verify` flags (over an optional --judge-config YAML)."""
    from ..errors import ConfigError

    config: dict[str, Any] = {}
    if getattr(args, "judge_config", None):
        from ..judges import load_judge_config

        config.update(load_judge_config(args.judge_config))
    if args.judge:
        config["type"] = args.judge
    if "type" not in config:
        raise ConfigError("choose a judge: --judge openai|taxonomy (or --judge-config FILE)")
    flags = {"base_url": args.base_url, "model": args.model, "taxonomy": args.taxonomy, "cache": args.cache,
             "concurrency": args.concurrency, "timeout": args.timeout,
             "max_retries": getattr(args, "max_retries", None), "choice_field": args.choice_field,
             "api_key_env": args.api_key_env, "length_cap": args.length_cap}
    if config["type"] == "taxonomy":  # server options mean nothing to it
        flags = {k: flags[k] for k in ("taxonomy", "cache", "length_cap")}
        flags["less_specific_levels"] = getattr(args, "less_specific_levels", None)
    config.update({k: v for k, v in flags.items() if v is not None})
    if args.prompt and config["type"] == "openai":
        key = "prompt" if args.prompt in ("single", "main_subject", "binary") else "prompt_file"
        config[key] = args.prompt
    if config["type"] == "openai" and not (config.get("base_url") and config.get("model")):
        raise ConfigError("--judge openai needs --base-url and --model")
    if config["type"] == "taxonomy" and not config.get("taxonomy"):
        raise ConfigError("--judge taxonomy needs --taxonomy FILE")
    return config
