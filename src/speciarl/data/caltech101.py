"""Caltech-101 on the CoOp split: 100 object classes (no background class), 2,465 test images.

Where from: https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip → 101_ObjectCategories.tar.gz)
and the CoOp split file ``split_zhou_Caltech101.json`` from
https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md. Layout of the root:
``101_ObjectCategories/<class>/image_0001.jpg …`` and ``split_zhou_Caltech101.json`` beside it (or pass
``split_file=PATH``). Label: CoOp's class name (it already renames "Faces" → "face", "airplanes" →
"airplane", …), underscores as spaces. sample_id: ``<class>/<file stem>``.
"""

from __future__ import annotations

from pathlib import Path

from .coop import read_coop_split, split_file_path
from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label

SPLIT_FILE = "split_zhou_Caltech101.json"


@register_benchmark(
    "caltech101",
    title="Caltech-101 (CoOp split)",
    splits=("train", "val", "test"),
    expected_sizes={"train": 4128, "val": 1649, "test": 2465},
    markers=("101_ObjectCategories",),
    subdirs=("caltech-101", "caltech101"),
    source="https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip) "
    "+ split_zhou_Caltech101.json from the CoOp repository (DATASETS.md)",
    unpack="unzip caltech-101.zip and untar 101_ObjectCategories.tar.gz into the root; "
    "put split_zhou_Caltech101.json beside 101_ObjectCategories/",
    label="class name from the CoOp split file",
    group="generic",
)
def load(root: Path, split: str, *, split_file: str | None = None) -> tuple[list[Sample], list[Skipped]]:
    coop = split_file_path(root, split_file, SPLIT_FILE)
    entries = (
        (rel.rsplit(".", 1)[0], root / "101_ObjectCategories" / rel, clean_label(classname), {"class_id": label})
        for rel, label, classname in read_coop_split(coop, split)
    )
    return samples_from_files("caltech101", split, entries)
