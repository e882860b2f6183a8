"""Oxford-IIIT Pets: 37 cat and dog breeds, 3,669 test images.

Where from: https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz and annotations.tar.gz).
Unpack both into one root: ``images/<Breed_Name>_<n>.jpg`` and ``annotations/test.txt``,
``annotations/trainval.txt`` (lines "<file stem> <class id> <species 1=cat 2=dog> <breed id>").

Label: the breed from the file name, underscores as spaces ("american_bulldog_12" → "american
bulldog"; the archive capitalises cat breeds, e.g. "Abyssinian"). Species ("cat"/"dog") is kept in
`attributes`. sample_id uses the file stem. Splits: ``trainval`` (the training split) and ``test``.
"""

from __future__ import annotations

from pathlib import Path

from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label
from .textfiles import DataFileError

_SPECIES = {"1": "cat", "2": "dog"}


def breed_label(stem: str) -> str:
    """ "american_bulldog_12" → "american bulldog"."""
    return clean_label(stem.rsplit("_", 1)[0])


@register_benchmark(
    "oxford_pets",
    title="Oxford-IIIT Pets",
    splits=("trainval", "test"),
    expected_sizes={"trainval": 3680, "test": 3669},
    markers=("images", "annotations/test.txt"),
    subdirs=("oxford-iiit-pet", "oxford_pets"),
    source="https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz, annotations.tar.gz)",
    unpack="tar xzf images.tar.gz; tar xzf annotations.tar.gz in the same root (images/, annotations/)",
    label='breed from the file name, "_" -> space',
    group="fine-grained",
    train_split="trainval",
)
def load(root: Path, split: str) -> tuple[list[Sample], list[Skipped]]:
    listing = root / "annotations" / f"{split}.txt"
    entries = []
    with open(listing, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) < 3:
                raise DataFileError(
                    f"{listing}:{number}: expected '<stem> <class> <species> <breed>', got {line.strip()!r}"
                )
            stem = parts[0]
            species = {"species": _SPECIES.get(parts[2], parts[2])}
            entries.append((stem, root / "images" / f"{stem}.jpg", breed_label(stem), species))
    return samples_from_files("oxford_pets", split, entries)
