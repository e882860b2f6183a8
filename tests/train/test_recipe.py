"""Recipe units → TRL batch fields: the arithmetic, its errors, the dry run, and data-size changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from speciarl.errors import ConfigError
from speciarl.train.config import parse_config
from speciarl.train.recipe import SUMMARY_KEYS, resolve_recipe
from speciarl.train.run import dry_run

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "configs" / "train" / "paper_cub200_grpo.yaml"


def resolve(**changes):
    args = dict(images_per_generation=256, images_per_update=128, epochs=15, num_generations=10,
                per_device_train_batch_size=16, num_iterations=1, world_size=4, train_size=3000, where="c.yaml")
    return resolve_recipe(**{**args, **changes})


@pytest.mark.parametrize(("world", "accum", "micro_steps"), [(1, 80, 160), (2, 40, 80), (4, 20, 40), (8, 10, 20)])
def test_paper_numbers_on_any_world_size(world, accum, micro_steps):
    s = resolve(world_size=world)
    assert (s.gradient_accumulation_steps, s.steps_per_generation) == (accum, micro_steps)
    assert s.per_device_train_batch_size * world * accum == 128 * 10  # completions per update
    assert s.generation_batch_size == 256 * 10
    assert s.summary() == {"world_size": world, "images_per_generation": 256, "images_per_update": 128,
                           "updates_per_generation": 2, "generations": 165, "optimizer_steps": 330, "epochs": 15,
                           "num_generations": 10}


@pytest.mark.parametrize(("changes", "message"), [
    ({"images_per_update": 96}, "must be a multiple of recipe.images_per_update (96)"),
    ({"world_size": 3}, "cannot be split evenly over 3 processes"),
    ({"per_device_train_batch_size": 12}, "set per_device_train_batch_size to one of [1, 2, 4, 5, 8, 10, 16,"),
    ({"train_size": 200}, "has 200 images, fewer than one generation"),
    ({"epochs": 0}, "`recipe.epochs` must be a positive whole number"),
    ({"images_per_generation": 25.6}, "`recipe.images_per_generation` must be a positive whole number"),
])
def test_numbers_that_cannot_divide_say_what_to_change(changes, message):
    with pytest.raises(ConfigError) as info:
        resolve(**changes)
    assert str(info.value).startswith("c.yaml: ") and message in str(info.value)


def test_recipe_and_raw_trl_fields_are_never_both_taken(tmp_path):
    raw = {"output_dir": str(tmp_path), "use_cpu": True, "num_generations": 4, "per_device_train_batch_size": 4,
           "recipe": {"images_per_generation": 8, "images_per_update": 4, "epochs": 2}, "max_steps": 3}
    with pytest.raises(ConfigError, match="also sets max_steps: remove it"):
        parse_config(raw, "c.yaml", train_size=16, world_size=1)
    raw.pop("max_steps")
    cfg = parse_config(raw, "c.yaml", train_size=16, world_size=1)
    assert (cfg.trl.gradient_accumulation_steps, cfg.trl.steps_per_generation, cfg.trl.max_steps) == (4, 8, 8)
    assert cfg.trl.generation_batch_size == 32 and cfg.schedule.generations == 4
    # dropping the recipe hands the batch fields back to TRL
    cfg = parse_config({**raw, "max_steps": 3}, "c.yaml", overrides={"recipe": None})
    assert cfg.schedule is None and cfg.trl.max_steps == 3
    with pytest.raises(ConfigError, match="`recipe` is for `speciarl train`"):
        parse_config({"output_dir": "x", "use_cpu": True, "recipe": raw["recipe"]}, "c.yaml", trainer="sft")


def test_the_schedule_needs_the_training_set_size(tmp_path):
    raw = {"output_dir": str(tmp_path), "use_cpu": True, "data": {"train_file": str(tmp_path / "missing.jsonl")},
           "recipe": {"images_per_generation": 8, "epochs": 1}}
    with pytest.raises(ConfigError, match="does not exist: build it first, or pass --train-size"):
        parse_config(raw, "c.yaml", world_size=1)


def _rows(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"sample_id": f"s{i}", "dataset": "cub200", "ground_truth": "x",
                                        "image": f"{i}.jpg"}) + "\n" for i in range(n)))
    return path


def test_another_train_file_keeps_the_epochs(tmp_path):
    """`--set data.train_file=...` with another size changes the generations, never the epochs."""
    small = _rows(tmp_path / "small.jsonl", 512)
    out = dry_run(PAPER, world_size=4, train_size=3000, overrides={"data": {"train_file": str(small)}})
    assert (out["epochs"], out["generations"], out["optimizer_steps"]) == (15, 2 * 15, 2 * 2 * 15)
    capped = dry_run(PAPER, world_size=4, overrides={"data": {"train_file": str(small), "max_samples": 300}})
    assert (capped["epochs"], capped["generations"]) == (15, 15)  # 300 rows: one generation per epoch


def test_dry_run_prints_one_json_object_without_a_model(tmp_path):
    cmd = [sys.executable, "-m", "speciarl.cli", "train", str(PAPER), "--dry-run", "--world-size", "8",
           "--train-size", "3000", "--set", f"output_dir={tmp_path / 'run'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert list(out) == [*SUMMARY_KEYS, "grpo_config"]
    assert (out["world_size"], out["generations"], out["optimizer_steps"]) == (8, 165, 330)
    grpo = out["grpo_config"]
    assert (grpo["per_device_train_batch_size"], grpo["gradient_accumulation_steps"],
            grpo["steps_per_generation"], grpo["generation_batch_size"], grpo["max_steps"]) == (16, 10, 20, 2560, 330)
    assert grpo["bf16"] is True  # shown as the config states it, though this machine has no GPU
    assert not (tmp_path / "run").exists()  # nothing written, no model loaded
    cmd[cmd.index("--world-size") + 1] = "3"
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "cannot be split evenly over 3 processes" in bad.stderr


def test_dry_run_of_raw_trl_fields_shows_their_meaning():
    """A config without a recipe: what its TRL fields amount to on N processes."""
    out = dry_run(PAPER, world_size=1, train_size=3000, overrides={
        "recipe": None, "gradient_accumulation_steps": 20, "generation_batch_size": 2560, "max_steps": 330})
    assert (out["images_per_update"], out["updates_per_generation"], out["generations"]) == (32, 8, 41.25)
