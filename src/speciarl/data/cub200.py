"""CUB-200-2011 (Caltech-UCSD Birds): 200 bird species, 5,794 test images.

Where from: https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz, also mirrored
on data.caltech.edu). Unpack so that the root holds ``images.txt``, ``image_class_labels.txt``,
``train_test_split.txt``, ``classes.txt`` and ``images/<class folder>/<file>.jpg`` (the folder the
archive unpacks to, ``CUB_200_2011/``; its parent works too).

Label: the class folder name without its number, underscores as spaces
("001.Black_footed_Albatross" → "Black footed Albatross"). sample_id uses CUB's own image id.
"""

from __future__ import annotations

import re
from pathlib import Path

from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label
from .textfiles import DataFileError, read_mapping, read_pairs

_NUMBER = re.compile(r"^\d+\.")


def species_label(class_name: str) -> str:
    """ "001.Black_footed_Albatross" → "Black footed Albatross"."""
    return clean_label(_NUMBER.sub("", class_name))


@register_benchmark(
    "cub200",
    title="CUB-200-2011",
    splits=("train", "test"),
    expected_sizes={"train": 5994, "test": 5794},
    markers=("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"),
    subdirs=("CUB_200_2011",),
    source="https://www.vision.caltech.edu/datasets/cub_200_2011/ (CUB_200_2011.tgz)",
    unpack="tar xzf CUB_200_2011.tgz; the root is CUB_200_2011/ (images.txt, classes.txt, images/)",
    label='species: "001.Black_footed_Albatross" -> "Black footed Albatross"',
    group="in-domain",
)
def load(root: Path, split: str) -> tuple[list[Sample], list[Skipped]]:
    paths = read_mapping(root / "images.txt")
    labels = read_mapping(root / "image_class_labels.txt")
    classes = read_mapping(root / "classes.txt")
    want = "1" if split == "train" else "0"
    entries = []
    for image_id, is_train in read_pairs(root / "train_test_split.txt"):
        if is_train.strip() != want:
            continue
        try:
            class_name = classes[labels[image_id]]
            rel = paths[image_id]
        except KeyError as exc:
            raise DataFileError(f"{root}: image id {image_id} has no entry for {exc} in the metadata files") from None
        attributes = {"class_id": int(labels[image_id])}
        entries.append((image_id, root / "images" / rel, species_label(class_name), attributes))
    return samples_from_files("cub200", split, entries)
