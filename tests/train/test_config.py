"""Config parsing: our sections, TRL argument names, clear errors naming file and key; presets parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from speciarl.errors import ConfigError
from speciarl.train.config import load_config, parse_config, parse_overrides

PRESETS = sorted((Path(__file__).resolve().parents[2] / "configs" / "train").glob("*.yaml"))


def minimal(**extra):
    return {"output_dir": "/tmp/x", "judge": {"type": "taxonomy"}, "use_cpu": True, "bf16": False, **extra}


def test_sections_and_trl_arguments():
    cfg = parse_config(minimal(num_generations=10, per_device_train_batch_size=10, beta=0.01,
                               reward={"scheme": "binary", "noise": 0.1},
                               lora={"enabled": True, "r": 64}, judge={"type": "openai", "base_url": "u",
                                                                       "model": "m", "retry_budget_s": 30}), "c.yaml")
    assert cfg.trl.num_generations == 10 and cfg.trl.beta == 0.01
    assert cfg.trl.loss_type == "dapo"  # TRL's default: token-mean, as verl's default loss aggregation
    assert cfg.reward.scheme == "binary" and cfg.reward.noise == 0.1
    assert cfg.lora.r == 64 and cfg.lora.exclude_modules == r".*visual.*"
    assert cfg.judge.retry_budget_s == 30 and cfg.judge.options == {"type": "openai", "base_url": "u", "model": "m"}


@pytest.mark.parametrize(("raw", "message"), [
    (minimal(num_generation=4), "c.yaml: unknown key `num_generation` (did you mean num_generations"),
    (minimal(reward={"schema": "binary"}), "unknown key `reward.schema` (did you mean scheme"),
    (minimal(model={"tiny": {"hiden_size": 8}}), "unknown key `model.tiny.hiden_size`"),
    ({"judge": {"type": "taxonomy"}, "use_cpu": True}, "`output_dir` is required"),
    (minimal(judge={"taxonomy": "t.yaml"}), "`judge.type` is required"),
    (minimal(num_generations=3, per_device_train_batch_size=8), "invalid GRPOConfig arguments"),
])
def test_errors_name_file_and_key(raw, message):
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(raw, "c.yaml")
    assert message in str(info.value)


def test_overrides_are_deep():
    over = parse_overrides(["reward.scheme=scala2", "max_steps=3", "lora.enabled=true"])
    assert over == {"reward": {"scheme": "scala2"}, "max_steps": 3, "lora": {"enabled": True}}
    cfg = parse_config(minimal(reward={"scheme": "binary", "noise": 0.25}), "c.yaml", overrides=over)
    assert cfg.reward.scheme == "scala2" and cfg.reward.noise == 0.25 and cfg.trl.max_steps == 3
    with pytest.raises(ConfigError):
        parse_overrides(["novalue"])


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_presets_parse(path):
    trainer = "sft" if path.stem.endswith("sft") else "grpo"
    # GPU presets, parsed on a CPU: same keys, the device switches overridden
    cpu = {"bf16": False, "use_cpu": True, **({"use_vllm": False} if trainer == "grpo" else {})}
    cfg = load_config(path, trainer=trainer, overrides=cpu, train_size=3000)
    if trainer == "grpo":
        assert cfg.trl.generation_batch_size % cfg.trl.num_generations == 0
        assert cfg.trl.loss_type in ("grpo", "dr_grpo", "dapo")


def test_base_chain_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\noutput_dir: x\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(tmp_path / "c.yaml")


ACCELERATE = sorted((Path(__file__).resolve().parents[2] / "configs" / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", ACCELERATE, ids=[p.stem for p in ACCELERATE])
def test_accelerate_configs_load(path):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(path))
    assert cfg.num_processes >= 2 and cfg.mixed_precision == "bf16"
    if "zero" in path.stem:
        assert cfg.deepspeed_config["zero_stage"] == int(path.stem[-1])
