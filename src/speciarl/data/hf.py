"""A Hugging Face `datasets` copy that is already on this machine (never downloaded here).

The root is either a folder written by ``Dataset.save_to_disk``/``DatasetDict.save_to_disk``, a local
dataset folder (``load_dataset(<folder>)``: parquet/imagefolder files), or a hub dataset name that is
already in the local cache (the hub is switched to offline mode before `datasets` is imported, so a
missing copy is an error, not a download). Options: ``dataset_name`` (the `dataset` field and the
sample-id prefix; default the folder name), ``image_column`` (default "image"), ``label_column``
(default "label"; ClassLabel ints become their names), ``id_column`` (default: the row's index in
its split, i.e. the dataset's own order), ``clean`` (underscores as spaces, default true),
``preset`` (a benchmark whose Hub copy we know, see `PRESETS`: sets the dataset name, maps our split
names to the Hub's, and checks the split size).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .registry import BenchmarkSizeWarning, MissingDataError, register_benchmark
from .sample import Sample, Skipped, clean_label, make_sample_id
from .textfiles import DataFileError

# Benchmarks with a known copy on the Hugging Face Hub. Our split name -> the Hub's split name.
PRESETS: dict[str, dict[str, Any]] = {
    "food101": {
        "hub": "ethz/food101",
        "splits": {"official_train": "train", "official_test": "validation"},
        "expected": {"official_train": 75750, "official_test": 25250},
        "note": "the Hub copy holds the official split only; the paper's CoOp split (test, 30,300 images) "
        "needs the archive and split_zhou_Food101.json (benchmark food101)",
    },
}


class _RowImage:
    """Decodes one row's image on demand (images stored inside the dataset's Arrow files)."""

    def __init__(self, table: Any, index: int, column: str):
        self.table, self.index, self.column = table, index, column

    def __call__(self) -> Any:
        from PIL import Image

        value = self.table[self.index][self.column]
        if value.get("bytes"):
            return Image.open(io.BytesIO(value["bytes"]))
        return Image.open(value["path"])


def _open(root: Path, split: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    try:
        if root.is_dir() and ((root / "dataset_dict.json").is_file() or (root / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(root))
            if isinstance(loaded, datasets.DatasetDict):
                if split not in loaded:
                    raise DataFileError(f"{root}: no split {split!r}; it has {', '.join(loaded)}")
                return loaded[split]
            return loaded
        return datasets.load_dataset(str(root), split=split)
    except (FileNotFoundError, ConnectionError, ValueError) as exc:  # DataFileError is none of these
        raise MissingDataError(
            f"Hugging Face dataset {root}: cannot load split {split!r} from a local copy ({exc}). "
            "Save it on a machine with access (ds.save_to_disk(DIR)) and pass DIR as the root"
        ) from None


@register_benchmark(
    "hf",
    title="Hugging Face datasets (local copy or cache)",
    splits=(),
    source="a dataset saved with save_to_disk, a local dataset folder, or a name already in the HF cache",
    unpack="pass the folder (or cached name) as the root; see image_column/label_column options",
    label="the label column (ClassLabel names), '_' -> space",
    root_kind="any",
)
def load(
    root: Path,
    split: str,
    *,
    dataset_name: str | None = None,
    image_column: str = "image",
    label_column: str = "label",
    id_column: str | None = None,
    clean: bool = True,
    preset: str | None = None,
) -> tuple[list[Sample], list[Skipped]]:
    import datasets

    hub_split, expected = split, None
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"hf: unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        known = PRESETS[preset]
        if split not in known["splits"]:
            raise ConfigError(f"hf preset {preset}: split {split!r} not available ({known['note']}); "
                              f"splits: {', '.join(known['splits'])}")
        hub_split, expected = known["splits"][split], known["expected"].get(split)
        dataset_name = dataset_name or preset
    table = _open(root, hub_split)
    if expected is not None and len(table) != expected:
        warnings.warn(f"hf/{preset}/{split}: found {len(table)} rows, the published split has {expected}",
                      BenchmarkSizeWarning, stacklevel=2)
    for column in (image_column, label_column, *([id_column] if id_column else [])):
        if column not in table.column_names:
            raise DataFileError(f"{root} [{split}]: no column {column!r}; columns: {', '.join(table.column_names)}")
    label_feature = table.features[label_column]
    names = label_feature.names if isinstance(label_feature, datasets.ClassLabel) else None
    table = table.cast_column(image_column, datasets.Image(decode=False))
    name = dataset_name or Path(str(root)).name
    samples: list[Sample] = []
    columns = [label_column, image_column, *([id_column] if id_column else [])]
    for index, row in enumerate(table.select_columns(columns)):
        label = row[label_column]
        text = names[label] if names is not None else str(label)
        image = row[image_column] or {}
        path = Path(image["path"]) if image.get("path") and not image.get("bytes") else None
        if path is not None and not path.is_file():
            path = None
        samples.append(
            Sample(
                sample_id=make_sample_id(name, split, row[id_column] if id_column else index),
                dataset=name,
                split=split,
                ground_truth=clean_label(text) if clean else text.strip(),
                image_path=path,
                image_loader=None if path is not None else _RowImage(table, index, image_column),
            )
        )
    return samples, []
