"""Your own images in class folders: ``<root>/<class name>/<image>`` (optionally ``<root>/<split>/<class>/…``).

Label: the class folder name with underscores as spaces. If ``<root>/<split>/`` exists it is used,
otherwise the whole root is the split. sample_id: ``<dataset_name>:<split>:<path under the class root>``.
"""

from __future__ import annotations

from pathlib import Path

from .registry import register_benchmark
from .sample import Sample, Skipped, clean_label, make_sample_id

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@register_benchmark(
    "imagefolder",
    title="Image folder (your own data)",
    splits=(),
    source="your own images",
    unpack="one folder per class: ROOT/<class name>/<image>.jpg (or ROOT/<split>/<class name>/...)",
    label='class folder name, "_" -> space',
    root_kind="dir",
)
def load(root: Path, split: str, *, dataset_name: str = "imagefolder") -> tuple[list[Sample], list[Skipped]]:
    base = root / split if (root / split).is_dir() else root
    samples: list[Sample] = []
    for class_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(class_dir.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            rel = path.relative_to(base).with_suffix("").as_posix()
            samples.append(
                Sample(
                    sample_id=make_sample_id(dataset_name, split, rel),
                    dataset=dataset_name,
                    split=split,
                    ground_truth=clean_label(class_dir.name),
                    image_path=path.resolve(),
                )
            )
    return samples, []
