"""The warm start's habit: a model that knows the species but often answers more generically.

Real VLMs are "mostly correct but too generic" and sometimes guess (docs/method.md#the-task). The demo reproduces
that by supervised fine-tuning on a *mix* of reply labels per image, drawn once with a fixed seed:

- `full` images: the species with probability 0.7 for the "familiar" half of the colours (even
  positions in the colour list) and 0.2 for the other half; otherwise the genus (2/3) or "glyph" (1/3).
  So the model learns every species, but its most likely reply for the unfamiliar half is the genus.
- `genus` images (colour hidden): the genus 0.65, "glyph" 0.20, and the species 0.15 — the label a
  real dataset carries, unknowable from the pixels, so the model learns to *guess* a colour sometimes.
- `generic` images (fog): "glyph" 0.85, the genus 0.15 (again a guess).

The habit is taught in a second, short SFT phase. The first phase is *perception*: the same images
with their most specific honest label, the tiny model's stand-in for the pretraining that gives a
real VLM its knowledge (from a random init the tiny model does not learn to read the image from the
mixed replies alone within minutes). Each SFT file carries the reply label as `ground_truth` (what
`speciarl sft` trains on) and the real species as `species`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..records import Record, write_records_atomic
from .world import Visibility, World

FAMILIAR_SPECIES_P = 0.7
UNFAMILIAR_SPECIES_P = 0.2
GENUS_IMAGE_MIX = {"genus": 0.65, "generic": 0.20, "species": 0.15}
GENERIC_IMAGE_MIX = {"generic": 0.85, "genus": 0.15}


def familiar(world: World, colour: str) -> bool:
    return [c.name for c in world.colours].index(colour) % 2 == 0


def reply_mix(world: World, species_name: str, visibility: Visibility) -> dict[str, float]:
    """Probability of each reply level ("species", "genus", "generic") for one image."""
    species = next(s for s in world.species if s.name == species_name)
    if visibility is Visibility.FULL:
        p = FAMILIAR_SPECIES_P if familiar(world, species.colour) else UNFAMILIAR_SPECIES_P
        return {"species": p, "genus": (1 - p) * 2 / 3, "generic": (1 - p) / 3}
    if visibility is Visibility.GENUS:
        return dict(GENUS_IMAGE_MIX)
    return dict(GENERIC_IMAGE_MIX)


def level_label(world: World, species_name: str, level: str) -> str:
    species = next(s for s in world.species if s.name == species_name)
    return {"species": species.name, "genus": species.genus, "generic": world.generic}[level]


def write_sft_file(world: World, split_records: list[Record], out_path: str | Path, seed: int = 0, *,
                   phase: str = "habit") -> Path:
    """SFT rows: each image with its honest label (`phase="perception"`) or one drawn from its mix."""
    if phase not in ("perception", "habit"):
        raise ValueError(f"unknown warm-start phase {phase!r}")
    rng = np.random.default_rng([seed, 7])
    honest = {Visibility.FULL: "species", Visibility.GENUS: "genus", Visibility.GENERIC: "generic"}
    rows = []
    for r in split_records:
        visibility = Visibility(r.extra["visibility"])
        mix = reply_mix(world, r.ground_truth, visibility)
        level = str(rng.choice(list(mix), p=list(mix.values()))) if phase == "habit" else honest[visibility]
        rows.append(Record(
            sample_id=r.sample_id, dataset=r.dataset, split=r.split,
            ground_truth=level_label(world, r.ground_truth, level),
            extra={**r.extra, "species": r.ground_truth, "reply_level": level},
        ))
    write_records_atomic(out_path, rows)
    return Path(out_path)
