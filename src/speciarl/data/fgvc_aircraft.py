"""FGVC-Aircraft 2013b: 100 aircraft variants, 3,333 test images.

Where from: https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz).
Unpack so that the root holds ``data/images/<id>.jpg``, ``data/variants.txt`` and the split lists
``data/images_variant_<split>.txt``, ``data/images_family_<split>.txt``,
``data/images_manufacturer_<split>.txt`` (the archive unpacks to ``fgvc-aircraft-2013b/``; the root may be that folder, its ``data/`` folder, or
CoOp's ``fgvc_aircraft/`` which holds the contents of ``data/``).

Label: the variant ("707-320"). Family ("Boeing 707") and manufacturer ("Boeing") are kept in
`attributes` for taxonomy work. sample_id uses the image number. Note: the images keep the
archive's 20-pixel copyright banner at the bottom, as in the reference evaluations.
"""

from __future__ import annotations

from pathlib import Path

from .images import samples_from_files
from .registry import register_benchmark
from .sample import Sample, Skipped
from .textfiles import read_mapping, read_pairs


@register_benchmark(
    "fgvc_aircraft",
    title="FGVC-Aircraft 2013b",
    splits=("train", "val", "trainval", "test"),
    expected_sizes={"train": 3334, "val": 3333, "trainval": 6667, "test": 3333},
    markers=("images", "images_variant_test.txt"),
    subdirs=("data", "fgvc-aircraft-2013b/data", "fgvc_aircraft"),
    source="https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz)",
    unpack="tar xzf fgvc-aircraft-2013b.tar.gz; the root is fgvc-aircraft-2013b/ (data/images/, data/*.txt)",
    label='variant ("707-320"); family and manufacturer kept as attributes',
    group="very fine-grained",
)
def load(root: Path, split: str) -> tuple[list[Sample], list[Skipped]]:
    data = root  # the archive's data/ folder (CoOp's layout calls it fgvc_aircraft/)
    families = _optional(data / f"images_family_{split}.txt")
    makers = _optional(data / f"images_manufacturer_{split}.txt")
    entries = []
    for image_id, variant in read_pairs(data / f"images_variant_{split}.txt"):
        attributes = {}
        if image_id in families:
            attributes["family"] = families[image_id]
        if image_id in makers:
            attributes["manufacturer"] = makers[image_id]
        entries.append((image_id, data / "images" / f"{image_id}.jpg", variant.strip(), attributes))
    return samples_from_files("fgvc_aircraft", split, entries)


def _optional(path: Path) -> dict[str, str]:
    return read_mapping(path) if path.is_file() else {}
