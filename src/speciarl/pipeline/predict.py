"""The predict stage: benchmark samples → prediction records, resumable at (sample, index) level.

Why a stage module: the backends only turn requests into completions; everything about files lives
here. Each completion is appended and flushed the moment it exists, so a kill loses at most one
line; a rerun asks the backend only for the (sample, index) keys that are missing. Unreadable images
are written to `skipped_images.jsonl` with their path and reason, counted in the summary, and not
retried on the next run unless the file changed (size or mtime), so a resume never reloads a 7B model
just to fail on the same three broken files. `--shard i/n` picks a stable subset (by a hash of the
sample id) and writes its own file, so jobs on several GPUs never write to the same file.
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpeciarlError
from ..records import KeySet, Record, RecordWriter, completed_keyset, iter_records

PREDICTIONS = "predictions.jsonl"
SKIPPED = "skipped_images.jsonl"


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path`: a second job writing the same file would duplicate keys."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpeciarlError(f"another process is writing {path}; wait for it, or give each job its own "
                                "--shard i/n") from None
        yield


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' → (i, n) with 0 <= i < n; None stays None."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text}: need 0 <= i < n")
    return i, n


def in_shard(sample_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable assignment of a sample to a shard, independent of sample order."""
    return shard is None or zlib.crc32(sample_id.encode("utf-8")) % shard[1] == shard[0]


def shard_file(run_dir: Path, shard: tuple[int, int] | None) -> Path:
    return run_dir / (PREDICTIONS if shard is None else f"predictions.shard-{shard[0]}-of-{shard[1]}.jsonl")


def prediction_files(run_dir: Path) -> list[Path]:
    """The merged file and every shard file present."""
    files = [run_dir / PREDICTIONS] if (run_dir / PREDICTIONS).exists() else []
    return files + sorted(run_dir.glob("predictions.shard-*-of-*.jsonl"))


def done_keys(run_dir: Path) -> KeySet:
    """Keys predicted so far in every prediction file of the run (compact: one bitset per sample)."""
    keys = KeySet()
    for path in prediction_files(run_dir):
        completed_keyset(path, into=keys)
    return keys


def _stamp(path: Any) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
        return st.st_size, int(st.st_mtime)
    except (OSError, TypeError):
        return None


def known_bad_images(run_dir: Path) -> dict[str, Record]:
    """Samples whose image failed before and has not changed since (so it would fail again)."""
    path = run_dir / SKIPPED
    if not path.exists():
        return {}
    bad: dict[str, Record] = {}
    for rec in iter_records(path, allow_partial_tail=True):
        image = rec.extra.get("image")
        if image is None or list(_stamp(image) or []) == rec.extra.get("stamp"):
            bad[rec.sample_id] = rec
    return bad


@dataclass
class PredictSummary:
    """What the stage did; goes into eval_summary.json and the closing lines in the terminal."""

    requested: int = 0  # predictions wanted in this run (this shard)
    already_done: int = 0
    written: int = 0
    skipped_images: list[dict[str, Any]] = field(default_factory=list)
    backend_failures: int = 0
    first_failure: str | None = None
    seconds: float = 0.0
    ran: bool = False  # False: nothing was missing, no model was loaded

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.requested, "already_done": self.already_done, "written": self.written,
                "skipped_images": len(self.skipped_images), "skipped": self.skipped_images,
                "backend_failures": self.backend_failures, "first_failure": self.first_failure,
                "seconds": round(self.seconds, 3)}


def make_record(completion: Any, *, model: str, sampling: dict[str, Any], backend: str) -> Record:
    """The prediction record: the core schema plus the raw completion, prompt, model and sampling."""
    request = completion.request
    sample, prompt = request.sample, request.prompt
    return Record(
        sample_id=sample.sample_id, dataset=sample.dataset, ground_truth=sample.ground_truth,
        split=sample.split, prediction_index=completion.prediction_index, completion=completion.text,
        prompt_name=prompt.name, prompt_hash=prompt.hash, model=model,
        extra={"sampling": sampling, "backend": backend,
               **({"image": str(sample.image_path)} if getattr(sample, "image_path", None) else {})},
    )


def run_predict(
    samples: Sequence[Any],
    prompt: Any,
    sampling: Any,
    model_config: dict[str, Any] | Callable[[], dict[str, Any]] | Any,
    run_dir: str | os.PathLike[str],
    *,
    shard: tuple[int, int] | None = None,
    progress: bool = True,
) -> PredictSummary:
    """Predict every missing (sample, index) of `samples` (this shard's part) into the run directory.

    `model_config` is a `model:` config section, a callable returning one (called only when something
    is missing: a complete run never builds or loads a model), or a ready `Predictor` (not closed here).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(shard_file(run_dir, shard)):
        return _predict_missing(samples, prompt, sampling, model_config, run_dir, shard, progress)


def _predict_missing(samples: Sequence[Any], prompt: Any, sampling: Any, model_config: Any, run_dir: Path,
                     shard: tuple[int, int] | None, progress: bool) -> PredictSummary:
    from tqdm import tqdm

    from ..predict import build_predictor
    from ..predict.base import PredictRequest

    summary = PredictSummary()
    started = time.perf_counter()
    mine = [s for s in samples if in_shard(s.sample_id, shard)]
    n = sampling.n
    summary.requested = len(mine) * n
    done = done_keys(run_dir)
    bad = known_bad_images(run_dir)
    todo: list[PredictRequest] = []
    for s in mine:
        missing = tuple(i for i in range(n) if (s.sample_id, i) not in done)
        summary.already_done += n - len(missing)
        if not missing:
            continue
        if s.sample_id in bad:
            rec = bad[s.sample_id]
            summary.skipped_images.append({"sample_id": s.sample_id, "path": str(rec.extra.get("image")),
                                           "reason": str(rec.extra.get("reason")), "predictions": len(missing)})
            continue
        todo.append(PredictRequest(sample=s, prompt=prompt, indices=missing))
    if not todo:
        summary.seconds = time.perf_counter() - started
        return summary

    summary.ran = True
    if hasattr(model_config, "predict"):  # a ready predictor (benchmarks, notebooks)
        predictor, backend = model_config, type(model_config).__name__
    else:
        config = dict(model_config() if callable(model_config) else model_config)
        config.pop("tiny", None)  # resolved by the caller into `path`
        backend = config.get("backend", "transformers")
        predictor = build_predictor(config)
    sampling_dict = sampling.to_dict()
    reported: set[str] = set()
    total = sum(len(r.indices) for r in todo)
    try:
        with RecordWriter(shard_file(run_dir, shard)) as out, RecordWriter(run_dir / SKIPPED) as skipped, \
                tqdm(total=total, desc="predict", unit="pred", disable=not progress, dynamic_ncols=True) as bar:
            for completion in predictor.predict(todo, sampling):
                bar.update(1)
                if completion.error is None:
                    out.write(make_record(completion, model=predictor.model_name, sampling=sampling_dict,
                                          backend=backend))
                    summary.written += 1
                    continue
                sample = completion.request.sample
                if completion.error_kind != "image":
                    summary.backend_failures += 1
                    summary.first_failure = summary.first_failure or f"{sample.sample_id}: {completion.error}"
                    continue
                if sample.sample_id in reported:
                    continue
                reported.add(sample.sample_id)
                image = getattr(sample, "image_path", None)
                reason = completion.error.removeprefix(f"{image}: ")
                tqdm.write(f"skipping {sample.sample_id}: {completion.error}")
                summary.skipped_images.append({"sample_id": sample.sample_id, "path": str(image),
                                               "reason": reason,
                                               "predictions": len(completion.request.indices)})
                skipped.write(Record(sample_id=sample.sample_id, dataset=sample.dataset,
                                     ground_truth=sample.ground_truth, split=sample.split,
                                     extra={"image": str(image) if image else None, "reason": reason,
                                            "stamp": list(_stamp(image) or [])}))
    finally:
        if predictor is not model_config:
            predictor.close()
    summary.seconds = time.perf_counter() - started
    return summary


def merge_shards(run_dir: Path, expected: Iterable[tuple[str, int]]) -> Path:
    """Fold shard files into predictions.jsonl once every expected key is present; return its path.
    Streams: the merged file is written record by record (first copy of each key wins), keys are kept
    compactly, so a 3.4 M-prediction run is merged in flat memory."""
    from ..records import write_records_atomic

    shards = sorted(run_dir.glob("predictions.shard-*-of-*.jsonl"))
    merged = run_dir / PREDICTIONS
    if not shards:
        return merged
    sources = ([merged] if merged.exists() else []) + shards
    seen = KeySet()
    for path in sources:
        completed_keyset(path, into=seen)
    missing = [key for key in expected if key not in seen]
    if missing:
        raise SpeciarlError(
            f"{run_dir}: {len(missing)} predictions still missing across the shard files "
            f"(e.g. {sorted(missing)[0]}); finish every shard before verify"
        )
    written = KeySet()
    write_records_atomic(merged, (rec for path in sources for rec in iter_records(path, allow_partial_tail=True)
                                  if written.add(rec.key)))
    for path in shards:
        path.unlink()
    return merged
