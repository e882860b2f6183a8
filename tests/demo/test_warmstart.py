"""The warm start's SFT files: honest labels for perception, the stated reply mix for the habit."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from speciarl.demo.dataset import load_split, write_split
from speciarl.demo.warmstart import (
    GENERIC_IMAGE_MIX,
    GENUS_IMAGE_MIX,
    familiar,
    reply_mix,
    write_sft_file,
)
from speciarl.demo.world import Visibility, default_world
from speciarl.records import read_records


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory):
    world = default_world()
    path = write_split(world, tmp_path_factory.mktemp("w"), "sft", 1200, seed=1)
    return world, load_split(path)


def test_perception_file_has_the_honest_labels(split, tmp_path: Path) -> None:
    world, records = split
    rows = read_records(write_sft_file(world, records, tmp_path / "p.jsonl", phase="perception"))
    assert [r.ground_truth for r in rows] == [r.extra["honest_label"] for r in records]
    assert [r.extra["species"] for r in rows] == [r.ground_truth for r in records]


def test_habit_file_follows_the_reply_mix(split, tmp_path: Path) -> None:
    world, records = split
    rows = read_records(write_sft_file(world, records, tmp_path / "h.jsonl", seed=3, phase="habit"))
    assert rows == read_records(write_sft_file(world, records, tmp_path / "h2.jsonl", seed=3, phase="habit"))
    by_group: dict[str, Counter] = {}
    for row in rows:
        species = next(s for s in world.species if s.name == row.extra["species"])
        vis = Visibility(row.extra["visibility"])
        group = f"{vis}:{familiar(world, species.colour)}" if vis is Visibility.FULL else str(vis)
        level = row.extra["reply_level"]
        assert row.ground_truth == {"species": species.name, "genus": species.genus, "generic": "glyph"}[level]
        by_group.setdefault(group, Counter())[level] += 1
    full_familiar = reply_mix(world, next(s.name for s in world.species if familiar(world, s.colour)), Visibility.FULL)
    expected = {"genus": GENUS_IMAGE_MIX, "generic": GENERIC_IMAGE_MIX, "full:True": full_familiar}
    for group, mix in expected.items():
        counts = by_group[group]
        n = sum(counts.values())
        for level, p in mix.items():
            assert abs(counts[level] / n - p) < 4 * (p * (1 - p) / n) ** 0.5 + 0.01, (group, level)
    # the unfamiliar half of the species mostly gets a more generic reply than the species
    unfamiliar = by_group["full:False"]
    assert unfamiliar["species"] < unfamiliar["genus"] + unfamiliar["generic"]


def test_unknown_phase_is_an_error(split, tmp_path: Path) -> None:
    world, records = split
    with pytest.raises(ValueError, match="phase"):
        write_sft_file(world, records, tmp_path / "x.jsonl", phase="other")
