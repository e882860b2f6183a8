"""The one record schema that flows through predict → verify → report (and training logs).

A record is one JSON object per line. Stages add fields; unknown fields are kept untouched so a
user's own columns survive every stage. This module is the only place that reads or writes record
files: append + flush while a stage runs (so a kill loses at most the line being written), an atomic
rewrite where a file is produced whole, and resume by key.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
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
        self.path, self.line, self.field, self.reason = str(path), line, field_name, message
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
        for name in _OUTPUT_FIELDS:
            value = getattr(self, name)
            if name == "category":
                if not self.graded:
                    continue
                value = None if value is None else value.value
            elif value is None and name != "answer":
                continue
            out[name] = value
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
        key_fields(data, path, line, required)  # every check, with file/line/field errors
        known = _KNOWN_FIELDS
        kwargs: dict[str, Any] = {"extra": {k: v for k, v in data.items() if k not in known}}
        for name in known & data.keys():
            kwargs[name] = data[name]
        for name in _STRING_FIELDS:
            if name in kwargs:
                kwargs[name] = str(kwargs[name])
        if "category" in data:
            kwargs["graded"] = True
            label = data["category"]
            if label is not None:
                kwargs["category"] = _CATEGORY_BY_LABEL[label]
        return cls(**kwargs)


_KNOWN_FIELDS = frozenset(f.name for f in fields(Record)) - {"extra", "graded"}
# The written fields in declaration order (to_dict is on every hot path: no dataclasses.fields() per call).
_OUTPUT_FIELDS = tuple(f.name for f in fields(Record) if f.name not in ("extra", "graded"))
_STRING_FIELDS = ("sample_id", "dataset", "ground_truth", "split")
_CATEGORY_BY_LABEL: dict[str, Category] = {c.value: c for c in Category}
# Compact category codes for streaming aggregation: 0 = parse failure, then the labels worst to best.
CATEGORY_CODES: dict[str | None, int] = {None: 0, **{c.value: i for i, c in enumerate(Category, start=1)}}
_MISSING = object()


def graded_dict(data: dict[str, Any], answer: str | None, answer_normalized: str | None,
                ground_truth_normalized: str, category: str | None, judge: str) -> dict[str, Any]:
    """`Record.from_dict(data)` with its grade set (`category` a label, None = parse failure), back
    through `to_dict()`: the same keys, values and order, without building a Record (a judge's hot path).

    `data` must have passed `key_fields`; when its key fields are all strings (the common case) the
    dict is built directly, otherwise through Record (which converts them)."""
    get = data.get
    if not (type(data["sample_id"]) is str and type(data["dataset"]) is str and type(data["ground_truth"]) is str
            and type(get("split", "")) is str):
        record = Record.from_dict(data)
        record.answer, record.answer_normalized = answer, answer_normalized
        record.ground_truth_normalized, record.judge, record.graded = ground_truth_normalized, judge, True
        record.category = None if category is None else _CATEGORY_BY_LABEL[category]
        return record.to_dict()
    out = {"sample_id": data["sample_id"], "dataset": data["dataset"], "ground_truth": data["ground_truth"],
           "split": get("split", "test"), "prediction_index": get("prediction_index", 0)}
    for name in ("completion", "prompt_name", "prompt_hash", "model"):
        value = get(name)
        if value is not None:
            out[name] = value
    out["answer"] = answer
    if answer_normalized is not None:
        out["answer_normalized"] = answer_normalized
    out["ground_truth_normalized"] = ground_truth_normalized
    out["category"] = category
    if judge is not None:
        out["judge"] = judge
    for key, value in data.items():  # the user's own fields, in their order
        if key not in _KNOWN_FIELDS:
            out[key] = value
    return out




def key_fields(
    data: Any, path: str | os.PathLike[str], line: int, required: Iterable[str] = BASE_FIELDS,
    required_set: frozenset[str] | None = None,
) -> tuple[str, str | None, int, int | None]:
    """Validate one decoded line exactly as `Record.from_dict` does, without building a Record:
    (sample_id, dataset, prediction_index, category code or None when ungraded).

    This is the streaming readers' fast path (report, verify, resume keys): the same checks and the
    same file/line/field errors, at a fraction of the cost of a Record per line. The common case (all
    strings, a small int) is checked in a few comparisons; anything else takes the full check.
    `required_set` is `frozenset(required)`, precomputed by a caller that validates many lines.
    """
    if required_set is None:
        required = tuple(required)
        required_set = frozenset(required)
    if type(data) is dict and data.keys() >= required_set:
        get = data.get
        sample_id, dataset, index = get("sample_id"), get("dataset"), get("prediction_index", 0)
        answer, completion, label = get("answer"), get("completion"), get("category", _MISSING)
        if (type(sample_id) is str and type(dataset) is str and type(get("ground_truth")) is str
                and type(get("split", "")) is str and type(index) is int and index >= 0
                and (answer is None or type(answer) is str) and (completion is None or type(completion) is str)):
            if label is _MISSING:
                return sample_id, dataset, index, None
            code = CATEGORY_CODES.get(label) if label is None or type(label) is str else None
            if code is not None:
                return sample_id, dataset, index, code
    return _checked_key_fields(data, path, line, required)


def _checked_key_fields(
    data: Any, path: str | os.PathLike[str], line: int, required: Iterable[str]
) -> tuple[str, str | None, int, int | None]:
    if not isinstance(data, dict):
        raise RecordError(path, line, None, f"expected a JSON object, got {type(data).__name__}")
    for name in required:
        if name not in data:
            raise RecordError(path, line, name, "missing required field")
    for name in _STRING_FIELDS:
        value = data.get(name, _MISSING)
        if value is not _MISSING and not isinstance(value, (str, int)):
            raise RecordError(path, line, name, f"expected a string, got {type(value).__name__}")
    index = data.get("prediction_index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise RecordError(path, line, "prediction_index", f"expected an integer >= 0, got {index!r}")
    for name in ("answer", "completion"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise RecordError(path, line, name, f"expected a string or null, got {type(value).__name__}")
    code = None
    if "category" in data:
        label = data["category"]
        if label is not None and not isinstance(label, str):
            raise RecordError(path, line, "category", f"expected a label string or null, got {label!r}")
        code = CATEGORY_CODES.get(label)
        if code is None:
            try:
                parse_category(label)
            except ValueError as exc:
                raise RecordError(path, line, "category", str(exc)) from None
    sample_id, dataset = data.get("sample_id"), data.get("dataset")
    return str(sample_id), None if dataset is None else str(dataset), int(index), code


def json_loaders() -> tuple[Callable[[bytes], Any], Callable[[bytes], Any]]:
    """(fast, exact) JSON decoders: orjson's loads when installed (a core dependency; several times
    faster on long completions), and the standard library's. A line the fast one rejects is retried
    with the exact one (NaN, huge integers), so the choice never changes what a file means."""

    def exact(raw: bytes) -> Any:
        return json.loads(raw.decode("utf-8"))

    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        return exact, exact
    return orjson.loads, exact


SKIPPED_LINE = _MISSING  # what `rejected_line` returns for a line to skip


def rejected_line(path: str | os.PathLike[str], number: int, raw: bytes, exact: Callable[[bytes], Any],
                  allow_partial_tail: bool = False) -> Any:
    """A line the fast decoder rejected: its value per the exact decoder, else SKIPPED_LINE (blank, or a
    cut last line when allowed), else a RecordError naming file and line."""
    try:
        return exact(raw)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        if not raw.strip() or (allow_partial_tail and not raw.endswith(b"\n")):
            return _MISSING
        raise RecordError(path, number, None, f"not a valid UTF-8 JSON line ({exc})") from None


def iter_json_lines(path: str | os.PathLike[str], *, allow_partial_tail: bool = False, start: int = 0,
                    end: int | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) for each non-blank line, read in bounded chunks (memory stays flat
    however large the file). A line that is not UTF-8 JSON is a RecordError naming file and line;
    with `allow_partial_tail`, a last line without its newline that does not decode (a write cut by a
    kill) is skipped instead: that is how a resumed stage reads its own output.

    `start` / `end`: only the lines that begin in that byte range (start at a line's first byte), line
    numbers counted from the range's first line — how parallel readers split one file."""
    fast, exact = json_loaders()
    number = 0
    for lines in iter_line_batches(path, start, end):
        for raw in lines:
            number += 1
            try:
                data = fast(raw)
            except ValueError:
                data = rejected_line(path, number, raw, exact, allow_partial_tail)
                if data is _MISSING:
                    continue
            yield number, data


def iter_line_batches(path: str | os.PathLike[str], start: int = 0, end: int | None = None,
                      batch_bytes: int = 1 << 16) -> Iterator[list[bytes]]:
    """The raw lines (newline included) that begin in the byte range [start, end), in lists of about
    `batch_bytes` (a few MB: memory stays flat). A list per batch instead of a line at a time keeps the
    per-line cost of a hot loop to its own work."""
    budget = None if end is None else end - start
    with open(path, "rb") as fh:
        fh.seek(start)
        while budget is None or budget > 0:
            lines = fh.readlines(batch_bytes)
            if not lines:
                return
            if budget is not None:
                size = sum(map(len, lines))
                if size >= budget:  # the range ends in this batch: keep the lines that begin before it
                    for keep, raw in enumerate(lines):
                        if budget <= 0:
                            del lines[keep:]
                            break
                        budget -= len(raw)
                    yield lines
                    return
                budget -= size
            yield lines


def line_ranges(path: str | os.PathLike[str], parts: int) -> list[tuple[int, int]]:
    """About `parts` (start, end) byte ranges covering the file, each beginning at a line start."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            fh.seek(max(size * i // parts, cuts[-1]))
            if fh.tell() > 0:
                fh.seek(fh.tell() - 1)
            fh.readline()  # to the start of the next line (or stay, if already at one)
            if cuts[-1] < fh.tell() < size:
                cuts.append(fh.tell())
    cuts.append(size)
    return list(zip(cuts, cuts[1:]))


def iter_json_objects(path: str | os.PathLike[str], *, allow_partial_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL file; a line that is not UTF-8 JSON
    or not an object is a RecordError naming file and line (see `iter_json_lines`)."""
    for number, data in iter_json_lines(path, allow_partial_tail=allow_partial_tail):
        if not isinstance(data, dict):
            raise RecordError(path, number, None, f"expected a JSON object, got {type(data).__name__}")
        yield number, data


def iter_keys(
    path: str | os.PathLike[str], *, required: Iterable[str] = BASE_FIELDS, allow_partial_tail: bool = False
) -> Iterator[tuple[int, tuple[str, str | None, int, int | None]]]:
    """(line, (sample_id, dataset, prediction_index, category code)) per record, validated like
    `iter_records` but without building Records: the streaming pass of report and verify."""
    required = tuple(required)
    required_set = frozenset(required)
    for number, data in iter_json_lines(path, allow_partial_tail=allow_partial_tail):
        yield number, key_fields(data, path, number, required, required_set)


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


# One encoder for every line (json.dumps with options builds a new one per call).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PLAIN_TYPES = frozenset((str, int, bool, type(None)))


def dumps(record: Record | dict[str, Any]) -> str:
    """One record as a compact JSON line (no newline), UTF-8 characters kept as they are."""
    return _encode(record.to_dict() if isinstance(record, Record) else record)


def dump_line(record: Record | dict[str, Any]) -> bytes:
    """`dumps(record) + "\n"`, UTF-8 encoded: the bytes every writer puts in a record file.

    orjson writes the same bytes as `dumps` for strings, integers, booleans and null (checked
    character by character in tests/core/test_records_writer.py) at a fraction of the cost, so it is
    used when a record holds only those (the common case); a float (the standard library writes 1e-05
    and NaN, orjson 1e-5 and null), an integer beyond 64 bits or a string orjson refuses takes `dumps`."""
    data = record.to_dict() if isinstance(record, Record) else record
    fast = _orjson_dumps()
    if fast is not None and _plain(data):
        try:
            return fast(data)
        except TypeError:  # an integer beyond 64 bits, a lone surrogate: the standard library decides
            pass
    return (_encode(data) + "\n").encode("utf-8")


def _plain(value: Any) -> bool:
    """Whether `value` (a decoded JSON value) holds no float anywhere: strings, ints, bools, nulls."""
    if type(value) is dict:
        values = value.values()
    elif type(value) is list:
        values = value
    else:
        return type(value) in _PLAIN_TYPES
    for item in values:
        if type(item) not in _PLAIN_TYPES and not _plain(item):
            return False
    return True


@functools.cache
def _orjson_dumps() -> Callable[[Any], bytes] | None:
    """orjson.dumps ending each line with a newline (a core dependency, imported on first use so that
    records.py stays stdlib-only at import), or None."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        return None
    return functools.partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)


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
    """Append-and-flush JSONL writer for stages that produce records one by one (resumable).

    Every `write*` call ends with a flush to the OS, so what it wrote survives a kill of the process."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _trim_partial_tail(self.path)
        self._fh = open(self.path, "ab", buffering=1 << 20)

    def write(self, record: Record | dict[str, Any]) -> None:
        self._fh.write(dump_line(record))
        self._fh.flush()

    def write_many(self, records: Iterable[Record | dict[str, Any]]) -> None:
        # Line by line into the buffer, each line freed at once (joining them first is ~8x slower).
        self._fh.writelines(map(dump_line, records))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Prediction indexes below this are kept as bits of one int per sample (best-of-k: k is small); larger
# ones, which the format allows (up to 2^63 - 1), go to a set, so one odd record cannot allocate a huge int.
BITSET_LIMIT = 4096


class KeySet:
    """A compact set of (sample_id, prediction_index) keys: one bitset (a Python int) per sample id.

    Best-of-64 over six benchmarks is ~3.4 M keys; as tuples in a set that is ~0.5 GB, as one small int
    per sample id a few MB. Indexes from BITSET_LIMIT up are kept as tuples in a set. Supports `in`,
    `add`, `len`, iteration (as tuples) and `<=` with any set. Not thread-safe (plain dict inside).
    """

    __slots__ = ("_bits", "_count", "_large")

    def __init__(self, keys: Iterable[tuple[str, int]] = ()):
        self._bits: dict[str, int] = {}
        self._large: set[tuple[str, int]] = set()
        self._count = 0
        for key in keys:
            self.add(key)

    def add(self, key: tuple[str, int]) -> bool:
        """Add a key; False if it was already there."""
        sample_id, index = key
        if index >= BITSET_LIMIT:
            if key in self._large:
                return False
            self._large.add((sample_id, index))
            self._count += 1
            return True
        bits = self._bits.get(sample_id, 0)
        bit = 1 << index
        if bits & bit:
            return False
        self._bits[sample_id] = bits | bit
        self._count += 1
        return True

    def __contains__(self, key: object) -> bool:
        try:
            sample_id, index = key  # type: ignore[misc]
            if index >= BITSET_LIMIT:
                return (sample_id, index) in self._large
            return bool(self._bits.get(sample_id, 0) >> index & 1)
        except (TypeError, ValueError):
            return False

    def __len__(self) -> int:
        return self._count

    def covers(self, sample_id: str, n: int) -> bool:
        """Whether all of prediction indexes 0 .. n-1 of `sample_id` are present."""
        full = (1 << min(n, BITSET_LIMIT)) - 1
        if self._bits.get(sample_id, 0) & full != full:
            return False
        return all((sample_id, index) in self._large for index in range(BITSET_LIMIT, n))

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for sample_id, bits in self._bits.items():
            index = 0
            while bits:
                if bits & 1:
                    yield (sample_id, index)
                bits >>= 1
                index += 1
        yield from self._large

    def __le__(self, other: Iterable[tuple[str, int]]) -> bool:
        return all(key in other for key in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (KeySet, set, frozenset)):
            return len(self) == len(other) and self <= other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeySet({len(self)} keys over {len(self._bits)} samples)"


def completed_keys(path: str | os.PathLike[str], *, required: Iterable[str] = BASE_FIELDS) -> set[tuple[str, int]]:
    """Keys already present in an output file, for resume; a missing file means nothing is done."""
    if not Path(path).exists():
        return set()
    return {r.key for r in iter_records(path, required=required, allow_partial_tail=True)}


def completed_keyset(path: str | os.PathLike[str], *, required: Iterable[str] = BASE_FIELDS,
                     into: KeySet | None = None) -> KeySet:
    """`completed_keys` for large files: the same keys and checks, streamed into a compact KeySet
    (`into`, to gather the keys of several files in one)."""
    done = KeySet() if into is None else into
    if Path(path).exists():
        for _, (sample_id, _, index, _) in iter_keys(path, required=required, allow_partial_tail=True):
            done.add((sample_id, index))
    return done


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write a whole file via a temp file + rename, so readers never see half a file."""
    write_lines_atomic(path, [text])


def write_lines_atomic(path: str | os.PathLike[str], chunks: Iterable[str | bytes]) -> None:
    """`write_atomic` for content produced piece by piece (a stream of records): nothing is held whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_records_atomic(path: str | os.PathLike[str], records: Iterable[Record | dict[str, Any]]) -> None:
    """All records into a new file, atomically, streamed (a generator of records stays a stream)."""
    write_lines_atomic(path, map(dump_line, records))
