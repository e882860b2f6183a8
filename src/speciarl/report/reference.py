"""Published numbers beside a run's (`speciarl report --reference paper`), so a reproduction is read
against the paper at a glance.

The numbers live in one data file per reference (`report/references/<name>.json`: method, per dataset
group specificity / correctness / HM where published, and the source they come from); nothing here
computes them. A user can pass their own file of the same shape instead of a name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

REFERENCE_DIR = Path(__file__).resolve().parent / "references"
METRICS = ("specificity", "correctness", "hm")


def reference_names() -> list[str]:
    return sorted(p.stem for p in REFERENCE_DIR.glob("*.json"))


def load_reference(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A reference by name ("paper") or a JSON file path, checked: rows of {method, groups: {group: {metric: value}}}."""
    path = Path(name_or_path)
    if not path.suffix and (REFERENCE_DIR / f"{name_or_path}.json").is_file():
        path = REFERENCE_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ConfigError(f"--reference {name_or_path}: neither a known reference ({', '.join(reference_names())}) "
                          "nor a JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON reference file ({exc})") from None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows or not isinstance(data.get("source"), str):
        raise ConfigError(f"{path}: a reference needs 'source' (where the numbers come from) and a list of 'rows'")
    for i, row in enumerate(rows):
        groups = row.get("groups") if isinstance(row, dict) else None
        if not isinstance(row.get("method") if isinstance(row, dict) else None, str) or not isinstance(groups, dict):
            raise ConfigError(f"{path}: rows[{i}] needs 'method' (a string) and 'groups' (a mapping)")
        for group, values in groups.items():
            bad = [k for k, v in (values.items() if isinstance(values, dict) else [(None, None)])
                   if k not in METRICS or not isinstance(v, (int, float)) or not 0 <= v <= 1]
            if bad:
                raise ConfigError(f"{path}: rows[{i}].groups.{group}: metrics must be {', '.join(METRICS)} in [0, 1]")
    return {"name": data.get("name", path.stem), "label": data.get("label", "published"), **data}


def row_label(reference: dict[str, Any], method: str) -> str:
    """How a published row is named in tables and plots: marked as published, never mistaken for a run."""
    return f"{method} ({reference['label']}, {reference['name']})"
