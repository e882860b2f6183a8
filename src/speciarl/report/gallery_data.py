"""What the gallery shows, gathered in one streaming pass per run: samples joined by `sample_id`,
per run the best answer and category of each sample and its category histogram (best-of-N), and
the per-class tables. Completions are not kept here: `iter_details` streams them a second time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..categories import LABELS, Category, order
from ..errors import SpeciarlError
from ..metrics import PARSE_FAILURE
from ..records import BITSET_LIMIT
from .per_class import ClassAccumulator, iter_graded

# Category codes in the page: the six labels in order, then parse failure; -1 = sample not in the run.
CODES: tuple[str, ...] = (*LABELS, PARSE_FAILURE)
PARSE_CODE = len(LABELS)
ABSENT = -1


def code_of(category: Category | None) -> int:
    return PARSE_CODE if category is None else LABELS.index(category.value)


@dataclass
class RunInput:
    """One run to show: its graded records file and where relative image paths may be rooted."""

    name: str
    path: Path
    image_roots: list[Path]


@dataclass
class SampleRun:
    """One sample in one run: its best prediction so far and the histogram of its categories."""

    best_order: int
    best_code: int
    best_index: int
    answer: str | None
    hist: list[int]
    seen: int = 0  # bit i set: prediction_index i was read (a second one is a duplicate)


@dataclass
class SampleInfo:
    dataset: str
    ground_truth: str
    image: str | None
    first_seen: str


@dataclass
class GalleryData:
    runs: list[RunInput]
    samples: dict[str, SampleInfo] = field(default_factory=dict)
    per_run: list[dict[str, SampleRun]] = field(default_factory=list)
    n_per_run: list[int] = field(default_factory=list)
    classes: list[dict[tuple[str, str], dict[str, Any]]] = field(default_factory=list)

    def ordered_ids(self) -> list[str]:
        """Samples grouped by dataset, then class, then id: neighbours on a page are the same class."""
        return sorted(self.samples, key=lambda s: (self.samples[s].dataset, self.samples[s].ground_truth, s))


def resolve_inputs(inputs: Sequence[str | os.PathLike[str]], names: Sequence[str] | None = None) -> list[RunInput]:
    """Graded-record files or `speciarl eval` run directories (their verified.jsonl) as named runs."""
    if names and len(names) != len(inputs):
        raise SpeciarlError(f"--name given {len(names)} times for {len(inputs)} inputs")
    runs: list[RunInput] = []
    for i, item in enumerate(inputs):
        path = Path(item)
        if path.is_dir():
            records = path / "verified.jsonl"
            if not records.is_file():
                raise SpeciarlError(f"{path}: a directory without verified.jsonl (give a run directory of "
                                    "`speciarl eval` or a graded records file)")
            name = path.name
            run_json = path / "run.json"
            if run_json.is_file():
                try:
                    name = json.loads(run_json.read_text(encoding="utf-8")).get("name") or name
                except ValueError:
                    pass
        elif path.is_file():
            records, name = path, path.stem
        else:
            raise SpeciarlError(f"{path}: no such file or directory")
        roots = [Path.cwd(), *records.resolve().parents]
        runs.append(RunInput(name=names[i] if names else name, path=records, image_roots=roots))
    if not names:
        taken = [r.name for r in runs]
        for r in runs:
            if taken.count(r.name) > 1:
                r.name = f"{r.path.parent.name}/{r.path.stem}" if r.path.stem != "verified" else r.path.parent.name
    chosen = [r.name for r in runs]
    if len(set(chosen)) != len(chosen):
        raise SpeciarlError(f"run names are not unique: {chosen}; pass --name for each input")
    return runs


def find_image(value: Any, roots: Sequence[Path]) -> Path | None:
    """An existing image file for a record's `image` field: absolute, or relative to one of `roots`."""
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    if path.is_absolute():
        return path if path.is_file() else None
    for root in roots:
        candidate = root / path
        if candidate.is_file():
            return candidate.resolve()
    return None


def collect(runs: Sequence[RunInput], with_images: bool = True) -> GalleryData:
    """One pass over each run's records: join by sample_id, keep the best answer per sample."""
    data = GalleryData(runs=list(runs))
    for run in runs:
        table: dict[str, SampleRun] = {}
        acc = ClassAccumulator()
        image_misses: dict[str, None] = {}
        large_indices: set[tuple[str, int]] = set()
        for sid, dataset, truth, index, category, answer, raw in iter_graded(run.path):
            info = data.samples.get(sid)
            if info is None:
                info = data.samples[sid] = SampleInfo(dataset, truth, None, run.name)
            elif (info.dataset, info.ground_truth) != (dataset, truth):
                raise SpeciarlError(
                    f"{run.path}: sample {sid!r} is ({dataset!r}, {truth!r}) here but "
                    f"({info.dataset!r}, {info.ground_truth!r}) in run {info.first_seen!r}; runs compared side "
                    "by side must share sample ids")
            if with_images and info.image is None and sid not in image_misses:
                found = find_image(raw.get("image"), run.image_roots)
                if found is None:
                    image_misses[sid] = None
                else:
                    info.image = str(found)
            code, rank = code_of(category), order(category)
            state = table.get(sid)
            if state is None:
                state = table[sid] = SampleRun(rank, code, index, answer, [0] * len(CODES))
            elif (rank, -index) > (state.best_order, -state.best_index):
                state.best_order, state.best_code, state.best_index, state.answer = rank, code, index, answer
            if index < BITSET_LIMIT:
                duplicate = state.seen >> index & 1
                state.seen |= 1 << index
            else:  # unusually large indices: a set, so one odd record cannot make a huge bitset
                duplicate = (sid, index) in large_indices
                large_indices.add((sid, index))
            if duplicate:
                raise SpeciarlError(f"{run.path}: duplicate record for sample {sid!r} prediction_index {index}")
            state.hist[code] += 1
            acc.add(dataset, truth, category, answer)
        if not table:
            raise SpeciarlError(f"{run.path}: no records")
        data.per_run.append(table)
        data.n_per_run.append(max(sum(s.hist) for s in table.values()))
        data.classes.append(acc.finish())
    return data


def best_of_n_by_class(data: GalleryData, run_index: int) -> dict[tuple[str, str], list[int]]:
    """Per class, the histogram of each sample's best category in one run (for best-of-N tables)."""
    out: dict[tuple[str, str], list[int]] = {}
    for sid, state in data.per_run[run_index].items():
        info = data.samples[sid]
        out.setdefault((info.dataset, info.ground_truth), [0] * len(CODES))[state.best_code] += 1
    return out


def iter_details(run: RunInput) -> Iterator[tuple[str, list[Any]]]:
    """(sample_id, [prediction_index, code, answer, completion]) for every record of a run."""
    for sid, _, _, index, category, answer, raw in iter_graded(run.path):
        yield sid, [index, code_of(category), answer, raw.get("completion")]
