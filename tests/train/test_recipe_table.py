"""Every paper preset, resolved for 1, 2, 4 and 8 processes without a model, is the recipe table of
docs/method.md ("Training recipe"): the table a reader sees is the one the presets are held to."""

from __future__ import annotations

from pathlib import Path

import pytest

from speciarl.train.config import load_config
from speciarl.train.run import dry_run

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "configs" / "train"
METHOD = ROOT / "docs" / "method.md"
WORLD_SIZES = (1, 2, 4, 8)
CPU = {"bf16": False, "use_cpu": True}
LOSS = {"token-mean": "dapo", "seq-mean-token-sum-norm": "dr_grpo"}  # verl's loss_agg_mode -> TRL's loss_type
ADVANTAGE = {"group std": "group", "none": "none"}


def _tables(text: str) -> list[list[dict[str, str]]]:
    """The markdown tables of the "Training recipe" section, as rows keyed by header."""
    section = text.split("## Training recipe", 1)[1].split("\n## ", 1)[0]
    tables, lines = [], []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif lines:
            header, rows = lines[0], lines[2:]
            tables.append([dict(zip(header, row, strict=True)) for row in rows])
            lines = []
    return tables


TABLES = _tables(METHOD.read_text(encoding="utf-8"))
VARIANTS = next(t for t in TABLES if "preset" in t[0])
COMMON = {row["setting"]: row["value"] for row in next(t for t in TABLES if "setting" in t[0])}


def test_every_paper_preset_has_a_row():
    grpo_presets = {p.stem for p in PRESETS.glob("paper_*.yaml") if not p.stem.endswith("_sft")}
    assert grpo_presets == {row["preset"] for row in VARIANTS}


@pytest.mark.parametrize("row", VARIANTS, ids=[row["preset"] for row in VARIANTS])
def test_preset_resolves_to_its_row_on_any_world_size(row):
    path = PRESETS / f"{row['preset']}.yaml"
    images, per_gen, per_update, g = (int(row[k]) for k in ("train images", "images/generation", "images/update", "G"))
    for world in WORLD_SIZES:
        out = dry_run(path, world_size=world, train_size=images)
        t = out["grpo_config"]
        assert {k: v for k, v in out.items() if k != "grpo_config"} == {
            "world_size": world, "images_per_generation": per_gen, "images_per_update": per_update,
            "updates_per_generation": per_gen // per_update, "generations": int(row["generations"]),
            "optimizer_steps": int(row["updates"]), "epochs": int(COMMON["epochs"]), "num_generations": g}
        # TRL's units on `world` processes: completions per update and per generation
        assert t["per_device_train_batch_size"] * world * t["gradient_accumulation_steps"] == per_update * g
        assert t["per_device_train_batch_size"] * world * t["steps_per_generation"] == per_gen * g
        assert t["generation_batch_size"] == per_gen * g and t["max_steps"] == int(row["updates"])
    low, high = (float(x) for x in row["clip low / high"].split("/"))
    assert t["learning_rate"] == float(row["lr"]) and t["beta"] == float(row["β (k3)"])
    assert (t["epsilon"], t["epsilon_high"] if t["epsilon_high"] is not None else t["epsilon"]) == (low, high)
    assert t["delta"] == float(row["dual-clip"])
    assert t["loss_type"] == LOSS[row["loss aggregation"]] and t["scale_rewards"] == ADVANTAGE[row["advantage"]]
    assert t["num_iterations"] == int(COMMON["PPO epochs per generation"])
    assert COMMON["importance-sampling correction, KL bias correction"] == "off, off"
    assert t["vllm_importance_sampling_correction"] is False and t["use_bias_correction_kl"] is False
    assert t["lr_scheduler_type"] == COMMON["lr schedule"].split(",")[0] and t["warmup_steps"] == 0
    assert [t["weight_decay"], t["max_grad_norm"]] == [float(x) for x in COMMON["weight decay / grad clip"].split("/")]
    assert [t["temperature"], t["top_p"]] == [float(x) for x in COMMON["temperature / top-p"].split("/")]
    prompt, response = (int(x) for x in COMMON["max prompt / response tokens"].split("/"))
    assert t["max_completion_length"] == response and t["vllm_max_model_length"] == prompt + response

    cfg = load_config(path, overrides=CPU, world_size=1, train_size=images)
    model, frozen = COMMON["model"].split(", ")
    assert cfg.model.name_or_path == model and cfg.model.freeze_vision == (frozen == "vision tower frozen")
    lora = [float(x) for x in COMMON["LoRA r / alpha / dropout"].split("/")]
    assert cfg.lora.enabled and [cfg.lora.r, cfg.lora.lora_alpha, cfg.lora.lora_dropout] == lora
    assert COMMON["LoRA on"] == f"{cfg.lora.target_modules}, excluding `{cfg.lora.exclude_modules}`"
    scheme, _, overlong = row["reward"].partition(" + overlong ")
    assert cfg.reward.scheme == scheme and cfg.reward.overlong_buffer == (int(overlong) if overlong else None)
    assert cfg.reward.noise == float(row["noise"])
    train_set = row["train set"].split(" ")[0]
    assert Path(cfg.data.train_file).name == f"{train_set}_{images}.jsonl"


def test_training_docs_per_gpu_table_is_what_the_paper_preset_resolves_to():
    """docs/training.md shows TRL's fields for the paper preset on 1, 2, 4, 8 processes."""
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("| ") and line.count("|") == 6]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "processes"
    rows = [dict(zip(header, (int(c) for c in line.strip("|").split("|")), strict=True)) for line in lines[1:]]
    assert [r["processes"] for r in rows] == list(WORLD_SIZES)
    for row in rows:
        t = dry_run(PRESETS / "paper_cub200_grpo.yaml", world_size=row["processes"], train_size=3000)["grpo_config"]
        assert {k: t[k] for k in header[1:]} == {k: row[k] for k in header[1:]}
