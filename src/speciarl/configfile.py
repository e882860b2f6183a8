"""YAML config files shared by `speciarl eval` and `speciarl train`: one reader, one inheritance rule.

A top-level `extends: other.yaml` (relative to the file) is read first and this file's keys are
deep-merged over it, so presets state only what differs from the recipe they vary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ConfigError


def merge_mappings(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key (`over` wins); lists and scalars are replaced whole."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge_mappings(out[key], value) if both else value
    return out


def load_yaml_config(path: str | os.PathLike[str], _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The mapping in `path` with its `extends` chain merged underneath; errors name the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file" + (f" (extended by {_chain[-1]})" if _chain else ""))
    if path.resolve() in _chain:
        raise ConfigError(f"{path}: `extends` loops back to itself")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return merge_mappings(load_yaml_config(path.parent / str(parent), (*_chain, path.resolve())), data)
