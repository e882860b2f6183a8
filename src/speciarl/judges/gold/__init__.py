"""The judge gold set: (ground truth, prediction, category) items with a reason each, shipped with the
package so any judge can be audited against the same answers (`speciarl judge audit`).

`gold-v1.jsonl` is written by `python -m speciarl.judges.gold.generate` from two inputs beside it:
the benchmarks' own label facts (`facts/`, turned into items by named rules) and `handwritten.tsv`
(synonyms, scientific names, refusals, options, prose, prompt injection, ...). A test regenerates
the file and compares it byte for byte. The version is in the file name; its SHA-256 goes into
every audit so two audits on the same gold are comparable. See docs/judges.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from ...answers import normalize
from ...categories import LABELS
from ...errors import SpeciarlError
from ..fastpaths import loose

GOLD_VERSION = "v1"
DOMAINS = ("birds", "flowers", "food", "pets", "cars", "aircraft")


class GoldError(SpeciarlError):
    """A gold file that does not parse or contradicts itself; the message names file and line."""


@dataclass(frozen=True)
class GoldItem:
    """One graded pair. `source` is "rule:<name>" for generated items, "hand" for hand-written ones."""

    id: str
    domain: str
    ground_truth: str
    prediction: str
    category: str
    source: str
    reason: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))


def item_id(ground_truth: str, prediction: str) -> str:
    """Stable across versions: the same pair keeps its id."""
    blob = json.dumps([ground_truth, prediction], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def default_gold_path() -> Path:
    return Path(str(resources.files("speciarl.judges.gold").joinpath(f"gold-{GOLD_VERSION}.jsonl")))


def gold_checksum(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file's bytes, prefixed "sha256:"."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_gold(path: str | os.PathLike[str] | None = None) -> list[GoldItem]:
    """Every item of a gold JSONL file, checked: fields, the six labels, unique ids, and no pair (as the
    judge sees it: normalised, dashes as spaces) with two labels. Domains are free text in your own files."""
    path = Path(path) if path is not None else default_gold_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"gold file {path}: cannot read ({exc})") from None
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    labels: dict[tuple[str, str], tuple[int, str]] = {}
    fields = set(GoldItem.__dataclass_fields__)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or set(data) != fields:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise GoldError(f"{where}: expected the fields {sorted(fields)}, got {got}")
        if not all(isinstance(v, str) and v.strip() for v in data.values()):
            raise GoldError(f"{where}: every field must be a non-empty string")
        if data["category"] not in LABELS:
            raise GoldError(f"{where}: category {data['category']!r} is not one of {', '.join(LABELS)}")
        if data["id"] in seen:
            raise GoldError(f"{where}: id {data['id']} repeats line {seen[data['id']]}")
        seen[data["id"]] = number
        pair = (loose(normalize(data["ground_truth"])), loose(normalize(data["prediction"])))
        first = labels.get(pair)
        if first is not None and first[1] != data["category"]:
            raise GoldError(f"{where}: the pair ({data['ground_truth']!r}, {data['prediction']!r}) is "
                            f"{data['category']!r} here and {first[1]!r} on line {first[0]} (the judge sees one pair)")
        labels.setdefault(pair, (number, data["category"]))
        items.append(GoldItem(**data))
    if not items:
        raise GoldError(f"gold file {path} holds no items")
    return items
