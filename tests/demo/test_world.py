"""The demo world's generator: labels, guess odds, visibility shares, hidden cues, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from speciarl.demo.dataset import load_split, plan_split, write_split, write_world
from speciarl.demo.render import render
from speciarl.demo.world import Colour, Visibility, World, allocate, default_world
from speciarl.errors import ConfigError


@pytest.fixture(scope="module")
def world() -> World:
    return default_world()


def test_labels_unique_and_three_levels(world: World, tmp_path: Path) -> None:
    labels = world.all_labels()
    assert len(labels) == len(set(labels)) == 1 + len(world.genera) * (1 + len(world.colours))
    tree = yaml.safe_load(world.write_taxonomy(tmp_path / "taxonomy.yaml").read_text())
    assert tree["name"] == "glyph"
    assert {g["name"] for g in tree["children"]} == {g.name for g in world.genera}
    for genus in tree["children"]:
        species = [s["name"] for s in genus["children"]]
        assert len(species) >= 8
        assert all(s.endswith(" " + genus["name"]) and not s_children for s, s_children in
                   ((s["name"], s["children"]) for s in genus["children"]))
    # every word a label uses is in the vocabulary the tokenizer is given
    assert {w for label in labels for w in label.split()} == set(world.words())


def test_blind_species_guess_at_most_one_in_eight(world: World) -> None:
    for genus in world.genera:
        assert len(world.species_of(genus.name)) >= 8
    assert world.describe()["blind_species_guess_odds"] <= 1 / 8
    # In a split, species are spread evenly inside each genus: the best blind guess (the most
    # frequent species of the genus) is right at most ~1 time in 8.
    plan = plan_split(world, "train", 1600, seed=3)
    by_species = Counter(name for _, name, _ in plan)
    by_genus = Counter(name.split()[-1] for _, name, _ in plan)
    for name, count in by_species.items():
        assert count / by_genus[name.split()[-1]] <= 1 / 8 + 0.01


def test_too_few_species_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=">= 8 species"):
        World(colours=tuple(Colour(f"c{i}", i * 50.0) for i in range(7)))


@pytest.mark.parametrize("n", [1, 7, 50, 333])
def test_visibility_shares_exact_per_split(world: World, n: int) -> None:
    plan = plan_split(world, "eval", n, seed=0)
    counts = Counter(v for _, _, v in plan)
    assert sum(counts.values()) == n
    assert dict(counts) == {k: c for k, c in allocate(n, world.visibility_shares).items() if c}
    for visibility, share in world.visibility_shares.items():
        assert abs(counts[visibility] / n - share) <= 1 / n + 1e-9


def test_hidden_cues_leave_no_trace(world: World) -> None:
    """Colour washed out: species of one genus are pixel-identical; fog: genera are identical too."""
    red_orb, blue_orb = world.species_of("orb")[0], world.species_of("orb")[5]
    red_block = world.species_of("block")[0]
    for seed in (1, 2, 3):
        full = [np.asarray(render(world, s, Visibility.FULL, seed)) for s in (red_orb, blue_orb, red_block)]
        assert not np.array_equal(full[0], full[1]) and not np.array_equal(full[0], full[2])
        genus = [np.asarray(render(world, s, Visibility.GENUS, seed)) for s in (red_orb, blue_orb, red_block)]
        assert np.array_equal(genus[0], genus[1])  # species not knowable
        assert not np.array_equal(genus[0], genus[2])  # genus still knowable
        fog = [np.asarray(render(world, s, Visibility.GENERIC, seed)) for s in (red_orb, blue_orb, red_block)]
        assert np.array_equal(fog[0], fog[1]) and np.array_equal(fog[0], fog[2])
        # colour is really gone: a washed-out image has (almost) no saturation beyond the noise
        spread = genus[0].astype(int).max(axis=2) - genus[0].astype(int).min(axis=2)
        assert np.median(spread) < 40
        full_spread = full[0].astype(int).max(axis=2) - full[0].astype(int).min(axis=2)
        assert full_spread.max() > 120


def test_write_split_records_and_determinism(world: World, tmp_path: Path) -> None:
    paths_a = write_world(world, tmp_path / "a", {"sft": 20, "eval": 10}, seed=5)
    paths_b = write_world(world, tmp_path / "b", {"sft": 20, "eval": 10}, seed=5)
    for split in ("sft", "eval"):
        assert paths_a[split].read_bytes() == paths_b[split].read_bytes()
        records = load_split(paths_a[split])
        assert [r.sample_id for r in records] == [f"demo-{split}-{i:05d}" for i in range(len(records))]
        for r in records:
            assert r.dataset == "demo" and r.split == split
            species = next(s for s in world.species if s.name == r.ground_truth)
            assert r.extra["honest_label"] == world.honest_label(species, Visibility(r.extra["visibility"]))
            image = Path(r.extra["image"])
            twin = tmp_path / "b" / image.relative_to((tmp_path / "a").resolve())
            assert image.read_bytes() == twin.read_bytes()
    # the same seed with another split name gives other images
    eval_seeds = {r.extra["seed"] for r in load_split(paths_a["eval"])}
    sft_seeds = {r.extra["seed"] for r in load_split(paths_a["sft"])}
    assert not eval_seeds & sft_seeds
    other = write_split(world, tmp_path / "c", "eval", 10, seed=6)
    assert other.read_bytes() != paths_a["eval"].read_bytes()


def test_honest_label_by_visibility(world: World) -> None:
    s = world.species_of("spike")[2]
    assert world.honest_label(s, Visibility.FULL) == s.name
    assert world.honest_label(s, Visibility.GENUS) == "spike"
    assert world.honest_label(s, Visibility.GENERIC) == "glyph"


def test_demo_judge_grades_each_level_of_the_world(world: World, tmp_path: Path) -> None:
    """The demo's judge: species exact → specific, genus → less specific, "glyph" → generic, else wrong."""
    from speciarl.categories import Category
    from speciarl.demo.run import judge_config
    from speciarl.judges import build_judge

    judge = build_judge(judge_config(world.write_taxonomy(tmp_path / "taxonomy.yaml")))
    s = world.species_of("cross")[3]
    sibling = world.species_of("cross")[4]
    cousin = next(x for x in world.species_of("orb") if x.colour == s.colour)
    pairs = [(s.name, s.name), (s.name, "cross"), (s.name, "glyph"), (s.name, sibling.name), (s.name, cousin.name),
             (s.name, "orb"), (s.name, s.colour)]
    got = [v.category for v in judge.grade(pairs)]
    assert got == [Category.SPECIFIC, Category.LESS_SPECIFIC, Category.GENERIC, Category.WRONG, Category.WRONG,
                   Category.WRONG, Category.WRONG]
