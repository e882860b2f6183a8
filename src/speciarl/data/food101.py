"""Food-101 on the CoOp split: 101 dishes, 30,300 test images.

Where from: https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/ (food-101.tar.gz, 5 GB) and
the CoOp split file ``split_zhou_Food101.json`` from
https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md. Layout of the root (the archive unpacks
to ``food-101/``): ``images/<class>/<id>.jpg``, ``meta/classes.txt``, ``meta/train.json``,
``meta/test.json``, and ``split_zhou_Food101.json`` beside them (or pass ``split_file=PATH``).

Splits: ``train``/``val``/``test`` are CoOp's (the paper's, 30,300 test images);
``official_train``/``official_test`` read ``meta/*.json`` (75,750 / 25,250). Label: the class name
with underscores as spaces ("apple_pie" → "apple pie"). sample_id: ``<class>/<id>``.
"""

from __future__ import annotations

from pathlib import Path

from .coop import read_coop_split, split_file_path
from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label
from .textfiles import DataFileError, read_json

SPLIT_FILE = "split_zhou_Food101.json"


@register_benchmark(
    "food101",
    title="Food-101 (CoOp split)",
    splits=("train", "val", "test", "official_train", "official_test"),
    expected_sizes={"train": 50500, "val": 20200, "test": 30300, "official_train": 75750, "official_test": 25250},
    markers=("images", "meta"),
    subdirs=("food-101",),
    source="https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/ (food-101.tar.gz) "
    "+ split_zhou_Food101.json from the CoOp repository (DATASETS.md)",
    unpack="tar xzf food-101.tar.gz; the root is food-101/ (images/, meta/); put split_zhou_Food101.json in it",
    label='class name, "_" -> space',
    group="fine-grained",
)
def load(root: Path, split: str, *, split_file: str | None = None) -> tuple[list[Sample], list[Skipped]]:
    if split.startswith("official_"):
        entries = _official_entries(root, split.removeprefix("official_"))
    else:
        coop = split_file_path(root, split_file, SPLIT_FILE)
        entries = [(rel, classname) for rel, _, classname in read_coop_split(coop, split)]
    return samples_from_files(
        "food101", split,
        ((rel.rsplit(".", 1)[0], root / "images" / rel, clean_label(name), {}) for rel, name in entries),
    )


def _official_entries(root: Path, part: str) -> list[tuple[str, str]]:
    path = root / "meta" / f"{part}.json"
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected an object {{class: [\"class/id\", ...]}}")
    return [(f"{item}.jpg", classname) for classname, items in data.items() for item in items]
