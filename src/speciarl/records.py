"""The one record schema that flows through predict → verify → report (and training logs).

A record is one JSON object per line. Stages add fields; unknown fields are kept untouched so a
user's own columns survive every stage. This module is the only place that reads or writes record
files: append + flush while a stage runs (so a kill loses at most the line being written), an atomic
rewrite where a file is produced whole, and resume by key.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .categories import Category, parse_category
from .errors import SpeciarlError

# Fields every record has, from the first stage on.
BASE_FIELDS = ("sample_id", "dataset", "ground_truth")
# Fields a graded record must carry (what `speciarl report` needs).
GRADED_FIELDS = (*BASE_FIELDS, "answer", "category")


class RecordError(SpeciarlError, ValueError):
    """A bad record: says which file, line and field, and what to do."""

    def __init__(self, path: str | os.PathLike[str], line: int, field_name: str | None, message: str):
        self.path, self.line, self.field = str(path), line, field_name
        where = f"{self.path}:{line}" + (f": field {field_name!r}" if field_name else "")
        super().__init__(f"{where}: {message}")


@dataclass
class Record:
    """One prediction of one sample, growing as it passes through the stages.

    `category` None means a parse failure in a graded record; `graded` tells whether the record has
    been through a judge at all (i.e. the `category` key was present).
    """

    sample_id: str
    dataset: str
    ground_truth: str
    split: str = "test"
    prediction_index: int = 0
    completion: str | None = None
    prompt_name: str | None = None
    prompt_hash: str | None = None
    model: str | None = None
    answer: str | None = None
    answer_normalized: str | None = None
    ground_truth_normalized: str | None = None
    category: Category | None = None
    judge: str | None = None
    graded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """Resume / dedup key: a stable sample id plus which of its N predictions this is."""
        return (self.sample_id, self.prediction_index)

    @property
    def parse_failure(self) -> bool:
        return self.graded and self.category is None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra", "graded"):
                continue
            value = getattr(self, f.name)
            if f.name == "category":
                if not self.graded:
                    continue
                value = None if value is None else value.value
            elif value is None and f.name not in ("answer",):
                continue
            out[f.name] = value
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        path: str | os.PathLike[str] = "<memory>",
        line: int = 0,
        required: Iterable[str] = BASE_FIELDS,
    ) -> Record:
        if not isinstance(data, dict):
            raise RecordError(path, line, None, f"expected a JSON object, got {type(data).__name__}")
        for name in required:
            if name not in data:
                raise RecordError(path, line, name, "missing required field")
        known = {f.name for f in fields(cls)} - {"extra", "graded"}
        kwargs: dict[str, Any] = {"extra": {k: v for k, v in data.items() if k not in known}}
        for name in known & data.keys():
            kwargs[name] = data[name]
        for name in ("sample_id", "dataset", "ground_truth", "split"):
            if name in kwargs and not isinstance(kwargs[name], (str, int)):
                raise RecordError(path, line, name, f"expected a string, got {type(kwargs[name]).__name__}")
            if name in kwargs:
                kwargs[name] = str(kwargs[name])
        index = kwargs.get("prediction_index", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise RecordError(path, line, "prediction_index", f"expected an integer >= 0, got {index!r}")
        for name in ("answer", "completion"):
            if kwargs.get(name) is not None and not isinstance(kwargs[name], str):
                raise RecordError(path, line, name, f"expected a string or null, got {type(kwargs[name]).__name__}")
        if "category" in data:
            kwargs["graded"] = True
            label = data["category"]
            if label is not None:
                if not isinstance(label, str):
                    raise RecordError(path, line, "category", f"expected a label string or null, got {label!r}")
                try:
                    kwargs["category"] = parse_category(label)
                except ValueError as exc:
                    raise RecordError(path, line, "category", str(exc)) from None
        return cls(**kwargs)


def iter_json_objects(path: str | os.PathLike[str], *, allow_partial_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file; a line that is not UTF-8 JSON
    or not an object is a RecordError naming file and line.

    With `allow_partial_tail`, a last line without its newline (a write cut by a kill) is skipped
    instead of being an error: that is how a resumed stage reads its own output.
    """
    with open(path, "rb") as fh:
        raw_lines = fh.read().split(b"\n")
    last = len(raw_lines)
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if allow_partial_tail and number == last:
                return
            raise RecordError(path, number, None, f"not a valid UTF-8 JSON line ({exc})") from None
        if not isinstance(data, dict):
            raise RecordError(path, number, None, f"expected a JSON object, got {type(data).__name__}")
        yield number, data


def iter_records(
    path: str | os.PathLike[str], *, required: Iterable[str] = BASE_FIELDS, allow_partial_tail: bool = False
) -> Iterator[Record]:
    """Records of a JSONL file, validated; errors name file, line and field (see iter_json_objects)."""
    required = tuple(required)
    for number, data in iter_json_objects(path, allow_partial_tail=allow_partial_tail):
        yield Record.from_dict(data, path=path, line=number, required=required)


def read_records(path: str | os.PathLike[str], **kwargs: Any) -> list[Record]:
    return list(iter_records(path, **kwargs))


def check_unique(records: Iterable[Record], path: str | os.PathLike[str]) -> None:
    """A duplicated (sample_id, prediction_index) is an error: it would double-count in every metric."""
    seen: dict[tuple[str, int], int] = {}
    for position, record in enumerate(records, start=1):
        if record.key in seen:
            raise RecordError(
                path, position, "sample_id",
                f"duplicate record for sample {record.sample_id!r} prediction_index {record.prediction_index}",
            )
        seen[record.key] = position


def dumps(record: Record | dict[str, Any]) -> str:
    data = record.to_dict() if isinstance(record, Record) else record
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _trim_partial_tail(path: Path) -> None:
    """Drop an unterminated last line (a write interrupted by a kill) so appends start clean."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # find the last newline
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)


class RecordWriter:
    """Append-and-flush JSONL writer for stages that produce records one by one (resumable)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _trim_partial_tail(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, record: Record | dict[str, Any]) -> None:
        self._fh.write(dumps(record) + "\n")
        self._fh.flush()

    def write_many(self, records: Iterable[Record | dict[str, Any]]) -> None:
        self._fh.writelines(dumps(r) + "\n" for r in records)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def completed_keys(path: str | os.PathLike[str], *, required: Iterable[str] = BASE_FIELDS) -> set[tuple[str, int]]:
    """Keys already present in an output file, for resume; a missing file means nothing is done."""
    if not Path(path).exists():
        return set()
    return {r.key for r in iter_records(path, required=required, allow_partial_tail=True)}


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write a whole file via a temp file + rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(text, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if isinstance(text, bytes) else {"encoding": "utf-8"})) as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_records_atomic(path: str | os.PathLike[str], records: Iterable[Record | dict[str, Any]]) -> None:
    write_atomic(path, "".join(dumps(r) + "\n" for r in records))
