"""Stanford Cars: 196 car models ("Make Model Year"), 8,041 test images.

Where from: the original page (https://ai.stanford.edu/~jkrause/cars/car_dataset.html) is offline;
the same files are mirrored (e.g. Kaggle "stanford-cars-dataset" and the devkit with
``cars_test_annos_withlabels.mat``). Layout of the root: ``cars_test/00001.jpg …``,
``cars_train/`` (for the train split), ``devkit/cars_meta.mat``, ``devkit/cars_train_annos.mat`` and
``cars_test_annos_withlabels.mat`` (in the root or in ``devkit/``). Reading .mat needs scipy
(``pip install 'speciarl[data]'``).

Label: the class name as written in cars_meta.mat ("AM General Hummer SUV 2000"). The make
("AM General") is kept in `attributes` for taxonomy work. sample_id uses the file stem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .images import samples_from_files
from .registry import MissingDataError, register_benchmark
from .sample import Sample, Skipped
from .textfiles import DataFileError, load_mat

# Makes whose name is more than one word; every other make is the first word of the class name.
MULTIWORD_MAKES = ("AM General", "Aston Martin", "Land Rover")


def make_of(class_name: str) -> str:
    for make in MULTIWORD_MAKES:
        if class_name.startswith(make + " "):
            return make
    return class_name.split()[0]


@register_benchmark(
    "stanford_cars",
    title="Stanford Cars",
    splits=("train", "test"),
    expected_sizes={"train": 8144, "test": 8041},
    markers=("devkit/cars_meta.mat",),
    subdirs=("stanford_cars", "stanford-cars"),
    source="https://ai.stanford.edu/~jkrause/cars/car_dataset.html (offline; use a mirror of cars_train.tgz, "
    "cars_test.tgz, car_devkit.tgz and cars_test_annos_withlabels.mat)",
    unpack="untar cars_test.tgz, cars_train.tgz and car_devkit.tgz in the root (cars_test/, cars_train/, devkit/); "
    "put cars_test_annos_withlabels.mat in the root or devkit/",
    label="make model year as in cars_meta.mat; make kept as an attribute",
    group="very fine-grained",
)
def load(root: Path, split: str) -> tuple[list[Sample], list[Skipped]]:
    names = [str(n) for n in _field(load_mat(root / "devkit" / "cars_meta.mat"), "class_names", root)]
    annos_path = _annotations_path(root, split)
    annotations = load_mat(annos_path).get("annotations")
    if annotations is None:
        raise DataFileError(f"{annos_path}: no 'annotations' variable")
    import numpy as np

    entries = []
    for entry in np.atleast_1d(annotations):
        fname, label = str(entry["fname"]), int(entry["class"])
        if not 1 <= label <= len(names):
            raise DataFileError(f"{annos_path}: {fname}: class {label} outside 1..{len(names)}")
        name = names[label - 1].strip()
        attributes = {"make": make_of(name), "class_id": label}
        entries.append((Path(fname).stem, root / f"cars_{split}" / fname, name, attributes))
    return samples_from_files("stanford_cars", split, entries)


def _annotations_path(root: Path, split: str) -> Path:
    names = ["cars_train_annos.mat"] if split == "train" else ["cars_test_annos_withlabels.mat"]
    for name in names:
        for folder in (root, root / "devkit"):
            if (folder / name).is_file():
                return folder / name
    raise MissingDataError(
        f"Stanford Cars: {names[0]} not found in {root} or {root / 'devkit'}; the {split} labels are in it "
        "(the test labels come as cars_test_annos_withlabels.mat with the updated devkit)"
    )


def _field(mat: dict[str, Any], key: str, root: Path) -> Any:
    if key not in mat:
        raise DataFileError(f"{root / 'devkit' / 'cars_meta.mat'}: no {key!r} variable")
    return mat[key]
