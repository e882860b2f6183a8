"""The verify stage: prediction records in, graded records out (`speciarl verify`, and `speciarl eval`).

Resumable and loss-averse: records already in the output are skipped, graded records are appended
and flushed in small chunks as they finish (a kill loses at most the pairs in flight), and a pair
the judge could not grade is listed and left out of the output, never written with a made-up grade.

Streaming, so memory stays flat however large the file (best-of-64 over six benchmarks is ~3.4 M
records): a first pass checks every line (fields, duplicates, an answer or completion to grade)
before anything is graded, keeping only compact keys (`records.KeySet`); a second pass reads the
records again and keeps at most WINDOW chunks in the judge's hands at a time.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..answers import extract_answer, normalize
from ..categories import LABELS
from ..errors import SpeciarlError
from ..records import (
    BASE_FIELDS, KeySet, Record, RecordError, RecordWriter, completed_keyset, iter_json_lines, key_fields,
)

# Records per judge call. A chunk is written when its last pair is graded, so a kill loses the pairs in
# flight plus at most CHUNK - 1 finished neighbours per chunk; 8 measured as fast as 32 (1 was ~40 % slower).
CHUNK = 8
# Chunks submitted to the judge and not yet written: bounds memory (records in flight) while keeping far
# more pairs in the judge's hands than its concurrency (default 64).
WINDOW = 512


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


def record_answer(record: Record, path: str | os.PathLike[str], line: int) -> str | None:
    """The answer to grade: the record's `answer`, else extracted from its `completion`; None = parse failure."""
    if record.answer is not None:
        return record.answer.strip() or None
    if record.completion is not None:
        return extract_answer(record.completion)
    which = f"record {record.sample_id!r} #{record.prediction_index}"
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
    total, todo = _check_input(in_path, done)
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
        chunks = _chunks(_pending(in_path, done), writer, bar, result, judge.identity, chunk_size)
        _grade_all(judge, chunks, writer, bar, result, close=judge is not judge_config)
    after = judge.stats.to_dict()
    result.stats = {k: (after[k] - before[k]) if isinstance(after[k], int) else after[k] for k in after}
    result.seconds = time.perf_counter() - started
    return result


def _graded(record: Record, answer: str | None, category: Any, identity: str, norm: Any = normalize) -> Record:
    return dataclasses.replace(
        record,
        answer=answer,
        answer_normalized=None if answer is None else norm(answer),
        ground_truth_normalized=norm(record.ground_truth),
        category=category,
        judge=identity,
        graded=True,
    )


def _check_input(path: str | os.PathLike[str], done: KeySet) -> tuple[int, int]:
    """Pass 1: every line valid, no duplicate key, something to grade; (records, records not in `done`).
    Only the keys are kept (compactly), so this costs no more memory for 3.4 M records than for 3."""
    seen = KeySet()
    required = frozenset(BASE_FIELDS)
    total = todo = 0
    for line, data in iter_json_lines(path):
        sample_id, _, index, _ = key_fields(data, path, line, BASE_FIELDS, required)
        if not seen.add((sample_id, index)):
            raise RecordError(path, line, "sample_id",
                              f"duplicate record for sample {sample_id!r} prediction_index {index}")
        if data.get("answer") is None and data.get("completion") is None:
            raise RecordError(path, line, "completion",
                              f"record {sample_id!r} #{index} has neither a 'completion' nor an 'answer'")
        total += 1
        todo += (sample_id, index) not in done
    return total, todo


def _pending(path: str | os.PathLike[str], done: KeySet) -> Iterator[tuple[Record, str | None]]:
    """Pass 2: the records not yet in the output, with the answer to grade (None = parse failure)."""
    for line, data in iter_json_lines(path):
        record = Record.from_dict(data, path=path, line=line)
        if record.key not in done:
            yield record, record_answer(record, path, line)


def _chunks(pending: Iterable[tuple[Record, str | None]], writer: RecordWriter, bar: Any, result: VerifyResult,
            identity: str, chunk_size: int) -> Iterator[list[tuple[Record, str]]]:
    """Chunks of gradeable records; parse failures are written on the way (they need no judge)."""
    chunk: list[tuple[Record, str]] = []
    failures: list[Record] = []
    for record, answer in pending:
        if answer is None:
            failures.append(_graded(record, None, None, identity))
            if len(failures) >= chunk_size:
                _write_failures(failures, writer, bar, result)
            continue
        chunk.append((record, answer))
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    _write_failures(failures, writer, bar, result)
    if chunk:
        yield chunk


def _write_failures(failures: list[Record], writer: RecordWriter, bar: Any, result: VerifyResult) -> None:
    writer.write_many(failures)
    result.parse_failures += len(failures)
    result.written += len(failures)
    bar.update(len(failures))
    failures.clear()


def _grade_all(judge: Any, chunks: Iterable[list[tuple[Record, str]]], writer: RecordWriter, bar: Any,
               result: VerifyResult, *, close: bool, window: int | None = None) -> None:
    """Submit chunks to the judge (it grades on its own I/O loop, merging identical pairs across
    chunks), at most `window` at a time, and write each chunk from this thread as soon as all its
    pairs are graded."""
    window = window or WINDOW
    counts: Counter[str] = Counter()
    norm = getattr(judge, "normalize", normalize)  # BaseJudge memoises it
    futures: dict[concurrent.futures.Future[Any], list[tuple[Record, str]]] = {}

    def write(finished: Iterable[concurrent.futures.Future[Any]]) -> None:
        for done in finished:
            chunk, verdicts = futures.pop(done), done.result()
            out = []
            for (record, answer), verdict in zip(chunk, verdicts, strict=True):
                if verdict.ok:
                    out.append(_graded(record, answer, verdict.category, judge.identity, norm))
                    counts[verdict.category.value] += 1
                else:
                    result.errors.append((record.sample_id, record.prediction_index, verdict.error or "no category"))
            writer.write_many(out)
            result.written += len(out)
            bar.update(len(chunk))

    try:
        for chunk in chunks:
            futures[judge.submit([(r.ground_truth, a) for r, a in chunk])] = chunk
            if len(futures) >= window:
                finished, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
                write(finished)
        write(concurrent.futures.as_completed(futures))
    finally:
        for fut in futures:
            fut.cancel()
        if close:
            judge.close()
    for label, n in counts.items():
        result.counts[label] += n


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
