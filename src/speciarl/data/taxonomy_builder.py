"""`speciarl data taxonomy`: the TaxonomyJudge file of a benchmark, from the benchmark's own labels.

FGVC-Aircraft reads variant, family and manufacturer of every image (images_*_<split>.txt), Stanford
Cars the class names and their makes, Oxford Pets the breed and species of every image; every split
the archive holds is read. The tree's shape and names are those of `judges.hierarchy`, the same the
gold set is generated from, so the taxonomy judge grades a whole test set the way the gold set says,
with no LLM at all — and an LLM judge can be audited against it on that test set.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpeciarlError
from ..judges.hierarchy import LESS_SPECIFIC_LEVELS, aircraft_tree, cars_tree, pets_tree, to_yaml
from ..records import write_atomic
from .registry import get_benchmark, load_benchmark

# benchmark -> the sample attributes that place a label in the hierarchy
ATTRIBUTES = {"fgvc_aircraft": ("family", "manufacturer"), "stanford_cars": ("make",), "oxford_pets": ("species",)}
BUILDERS = {"fgvc_aircraft": aircraft_tree, "stanford_cars": cars_tree, "oxford_pets": pets_tree}


def hierarchy_rows(benchmark: str, root: str | Path, **options: Any) -> tuple[list[tuple[str, ...]], list[str]]:
    """(label, *attributes) rows of every split the archive holds, and the splits read.

    A label seen with two different parents is an error naming both; a label never seen with its
    parents (e.g. FGVC without images_family_*.txt) is an error naming the missing files' kind.
    """
    if benchmark not in BUILDERS:
        raise ConfigError(f"no hierarchy for {benchmark!r}; `data taxonomy` supports {', '.join(BUILDERS)}")
    names = ATTRIBUTES[benchmark]
    parents: dict[str, tuple[str, ...]] = {}
    unplaced: set[str] = set()
    splits = []
    for split in get_benchmark(benchmark).splits:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a partial archive is fine here: we only need labels
                loaded = load_benchmark(benchmark, root, split, **options)
        except (OSError, SpeciarlError):
            continue  # this split is not in the archive
        splits.append(split)
        for sample in loaded.samples:
            values = tuple(sample.attributes.get(n) for n in names)
            if any(v is None or not str(v).strip() for v in values):
                unplaced.add(sample.ground_truth)
                continue
            values = tuple(str(v).strip() for v in values)
            seen = parents.setdefault(sample.ground_truth, values)
            if seen != values:
                raise SpeciarlError(f"{benchmark}: label {sample.ground_truth!r} has {dict(zip(names, seen))} and "
                                    f"{dict(zip(names, values))} in {split} ({sample.sample_id}); fix the archive files")
    if not splits:
        raise SpeciarlError(f"{benchmark}: no split could be read from {root}; see `speciarl data list`")
    missing = sorted(unplaced - parents.keys())
    if missing:
        raise SpeciarlError(f"{benchmark}: no {'/'.join(names)} for {len(missing)} label(s), e.g. {missing[:3]}; "
                            "the archive's files with those annotations are missing")
    return [(label, *values) for label, values in sorted(parents.items())], splits


def build_taxonomy(benchmark: str, root: str | Path, out: str | Path, **options: Any) -> dict[str, Any]:
    """Write the taxonomy YAML; returns what was written (counts, splits, the judge config to use)."""
    rows, splits = hierarchy_rows(benchmark, root, **options)
    tree = BUILDERS[benchmark](rows)
    levels = LESS_SPECIFIC_LEVELS[benchmark]
    judge = {"type": "taxonomy", "taxonomy": str(out), "less_specific_levels": levels}
    header = (f"TaxonomyJudge file for {benchmark}, built by `speciarl data taxonomy` from {root}\n"
              f"(splits {', '.join(splits)}; {len(rows)} labels).\n"
              f"Judge config: {{type: taxonomy, taxonomy: {Path(out).name}, less_specific_levels: {levels}}}")
    write_atomic(out, to_yaml(tree, header))
    return {"benchmark": benchmark, "labels": len(rows), "splits": splits, "out": str(out), "judge": judge}
