"""The CoOp split files (Zhou et al., https://github.com/KaiyangZhou/CoOp, DATASETS.md).

Flowers-102, Food-101 and Caltech-101 are evaluated on the CoOp splits. A split file is JSON:
``{"train": [[relpath, label_int, classname], ...], "val": [...], "test": [...]}`` with `relpath`
relative to the dataset's image folder (``jpg/`` for Flowers, ``images/`` for Food-101,
``101_ObjectCategories/`` for Caltech-101).
"""

from __future__ import annotations

from pathlib import Path

from .registry import MissingDataError
from .textfiles import DataFileError, read_json

COOP_URL = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"
SPLITS = ("train", "val", "test")


def split_file_path(root: Path, split_file: str | None, default_name: str) -> Path:
    """The split file given by path, else `<root>/<default_name>`; a clear error when missing."""
    path = Path(split_file).expanduser() if split_file else root / default_name
    if not path.is_file():
        raise MissingDataError(
            f"CoOp split file not found: {path}. Download {default_name} from the CoOp repository "
            f"({COOP_URL}, section of this dataset) and put it at {root / default_name}, "
            "or pass its path with split_file=PATH (CLI: --option split_file=PATH)"
        )
    return path


def read_coop_split(path: Path, split: str) -> list[tuple[str, int, str]]:
    """Entries (relpath, label, classname) of one split, validated."""
    data = read_json(path)
    if not isinstance(data, dict) or split not in data:
        raise DataFileError(f"{path}: expected a JSON object with a {split!r} list (CoOp split format)")
    entries = []
    for position, item in enumerate(data[split]):
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not isinstance(item[0], str)
            or not isinstance(item[1], int)
            or not isinstance(item[2], str)
        ):
            raise DataFileError(f"{path}: {split}[{position}]: expected [relpath, label_int, classname], got {item!r}")
        entries.append((item[0], item[1], item[2]))
    return entries
