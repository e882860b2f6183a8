"""Your own data as a JSONL manifest: one line per image, ``{"image": path, "label": "..."}``.

Optional keys: ``id`` (the stable id of the image; default: the image path as written),
``split`` (a row without one belongs to every split), ``dataset`` (default: the manifest's file
stem); any other key is kept in `attributes`. Relative image paths are relative to the manifest's
folder. ``ground_truth`` is accepted in place of ``label``. Errors name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path

from ..records import RecordError, iter_json_objects
from .images import existing_file
from .registry import register_benchmark
from .sample import Sample, Skipped, make_sample_id

_KNOWN = {"image", "label", "ground_truth", "id", "split", "dataset"}


@register_benchmark(
    "manifest",
    title="JSONL manifest (your own data)",
    splits=(),
    source="your own images",
    unpack='a JSONL file, one {"image": "path/to.jpg", "label": "class name"} per line; pass the file as the root',
    label="the label field as written",
    root_kind="file",
)
def load(root: Path, split: str, *, dataset_name: str | None = None) -> tuple[list[Sample], list[Skipped]]:
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    default_name = dataset_name or root.stem
    for number, row in iter_json_objects(root):
        row_split = row.get("split")
        if row_split is not None and str(row_split) != split:
            continue
        image = row.get("image")
        if not isinstance(image, str) or not image:
            raise RecordError(root, number, "image", "missing or not a path string")
        label = row.get("label", row.get("ground_truth"))
        if not isinstance(label, (str, int)) or str(label).strip() == "":
            raise RecordError(root, number, "label", "missing or empty (a class name string)")
        path = Path(image).expanduser()
        path = path if path.is_absolute() else root.parent / path
        if not existing_file(path, skipped):
            continue
        dataset = str(row.get("dataset") or default_name)
        original_id = row.get("id", image)
        samples.append(
            Sample(
                sample_id=make_sample_id(dataset, split, original_id),
                dataset=dataset,
                split=split,
                ground_truth=str(label).strip(),
                image_path=path.resolve(),
                attributes={k: v for k, v in row.items() if k not in _KNOWN},
            )
        )
    return samples, skipped
