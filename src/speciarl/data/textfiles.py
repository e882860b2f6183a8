"""Readers for the small metadata files of the official archives; errors name file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SpeciarlError


class DataFileError(SpeciarlError):
    """A metadata file of an archive that does not have the expected shape."""


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Lines "<id> <value with spaces>" (CUB's images.txt, FGVC's images_variant_test.txt, ...)."""
    pairs: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise DataFileError(f"{path}:{number}: expected '<id> <value>', got {line!r}")
            pairs.append((parts[0], parts[1]))
    return pairs


def read_mapping(path: Path) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for key, value in read_pairs(path):
        mapping[key] = value
    return mapping


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def load_mat(path: Path) -> dict[str, Any]:
    """A MATLAB .mat file (Flowers, Cars) via scipy, installed with the `data` extra."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise SpeciarlError(
            f"reading {path} needs scipy: pip install 'speciarl[data]' (or pip install scipy)"
        ) from None
    try:
        return loadmat(str(path), squeeze_me=True)
    except (ValueError, OSError, TypeError) as exc:
        raise DataFileError(f"{path}: cannot read MATLAB file ({exc})") from None
