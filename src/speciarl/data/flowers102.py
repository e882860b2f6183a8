"""Oxford Flowers-102 on the CoOp split: 102 flower species, 2,463 test images.

Where from: https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz → ``jpg/``,
imagelabels.mat, setid.mat) and the CoOp split file ``split_zhou_OxfordFlowers.json`` (class names
and the train/val/test split) from https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md.
Layout of the root: ``jpg/image_00001.jpg …``, ``split_zhou_OxfordFlowers.json`` (or pass
``split_file=PATH``), and for the official split also ``imagelabels.mat`` and ``setid.mat``.

Splits: ``train``/``val``/``test`` are CoOp's (the paper's); ``official_train``/``official_val``/
``official_test`` read setid.mat (scipy needed) and take class names from the CoOp file, since the
official archive has none. Label: the class name. sample_id uses the image file stem.
"""

from __future__ import annotations

from pathlib import Path

from .coop import read_coop_split, split_file_path
from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label
from .textfiles import DataFileError, load_mat

SPLIT_FILE = "split_zhou_OxfordFlowers.json"
_OFFICIAL_KEYS = {"official_train": "trnid", "official_val": "valid", "official_test": "tstid"}


@register_benchmark(
    "flowers102",
    title="Oxford Flowers-102 (CoOp split)",
    splits=("train", "val", "test", *_OFFICIAL_KEYS),
    expected_sizes={"train": 4093, "val": 1633, "test": 2463,
                    "official_train": 1020, "official_val": 1020, "official_test": 6149},
    markers=("jpg",),
    subdirs=("oxford_flowers", "flowers102", "flowers-102"),
    source="https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat, setid.mat) "
    "+ split_zhou_OxfordFlowers.json from the CoOp repository (DATASETS.md)",
    unpack="tar xzf 102flowers.tgz into the root (gives jpg/); put split_zhou_OxfordFlowers.json "
    "(and imagelabels.mat, setid.mat for the official_* splits) beside jpg/",
    label="class name from the CoOp split file",
    group="fine-grained",
)
def load(root: Path, split: str, *, split_file: str | None = None) -> tuple[list[Sample], list[Skipped]]:
    coop_path = split_file_path(root, split_file, SPLIT_FILE)
    if split in _OFFICIAL_KEYS:
        return _load_official(root, split, coop_path)
    return samples_from_files("flowers102", split, (_entry(root / "jpg" / rel, name, label)
                                                     for rel, label, name in read_coop_split(coop_path, split)))


def _entry(path: Path, classname: str, label: int) -> tuple[str, Path, str, dict[str, object]]:
    return path.stem, path, clean_label(classname), {"class_id": label}


def _load_official(root: Path, split: str, coop_path: Path) -> tuple[list[Sample], list[Skipped]]:
    names: dict[int, str] = {}
    for part in ("train", "val", "test"):
        for _, label, classname in read_coop_split(coop_path, part):
            names[label] = classname
    labels = [int(x) for x in load_mat(root / "imagelabels.mat")["labels"].ravel()]
    ids = [int(x) for x in load_mat(root / "setid.mat")[_OFFICIAL_KEYS[split]].ravel()]
    entries = []
    for image_number in ids:
        label = labels[image_number - 1] - 1  # the .mat files count from 1, CoOp labels from 0
        if label not in names:
            raise DataFileError(f"{coop_path}: no class name for label {label} (image {image_number})")
        entries.append(_entry(root / "jpg" / f"image_{image_number:05d}.jpg", names[label], label))
    return samples_from_files("flowers102", split, entries)
