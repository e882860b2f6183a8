"""`speciarl sft CONFIG.yaml`: the paper's supervised baseline on TRL's SFTTrainer.

Same data, model and LoRA sections as `speciarl train`; each image's target is the think/answer
reply with the ground-truth label (`SFT_TARGET`, or the config's `data.sft_target`). Top-level keys
are TRL `SFTConfig` arguments. The loss covers the completion only (TRL's prompt-completion format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError

SFT_TARGET = "<think>\nThe image shows a {label}.\n</think>\n<answer>{label}</answer>"


def sft_rows(rows: list[dict[str, Any]], target: str = SFT_TARGET) -> list[dict[str, Any]]:
    """Prompt-completion rows (conversational, with the image) for TRL's SFTTrainer."""
    if "{label}" not in target:
        raise ConfigError("the SFT target template must contain {label}")
    return [{
        "prompt": row["prompt"],
        "completion": [{"role": "assistant",
                        "content": [{"type": "text", "text": target.format(label=row["ground_truth"])}]}],
        "image": row["image"],
    } for row in rows]


def build_sft_trainer(cfg: Any, *, callbacks: list | None = None):
    """The SFTTrainer `speciarl sft` runs (tests use it directly)."""
    from trl import SFTTrainer

    from .callbacks import SpeciarlLogCallback
    from .dataset import read_train_rows, to_dataset
    from .run import load_model, lora_config, prepare_data, resolve_model_path, write_run_info

    train_file, words, _ = prepare_data(cfg)
    rows = read_train_rows(train_file, prompt=cfg.data.prompt or "base", max_samples=cfg.data.max_samples)
    model_path = resolve_model_path(cfg, words)
    model, processor = load_model(cfg, model_path)
    write_run_info(cfg, model_path, train_file)
    metrics = cfg.output_dir / "metrics.jsonl" if cfg.logging.metrics_jsonl else None
    dataset = to_dataset(sft_rows(rows, cfg.data.sft_target or SFT_TARGET))
    return SFTTrainer(model=model, processing_class=processor, args=cfg.trl, train_dataset=dataset,
                      peft_config=lora_config(cfg), callbacks=[SpeciarlLogCallback(metrics, None), *(callbacks or [])])


def run_sft(config: str | Path, *, resume: str | bool | None = None, overrides: dict[str, Any] | None = None) -> Path:
    """`speciarl sft CONFIG`: returns the output folder (model or LoRA adapter)."""
    from .config import load_config
    from .run import check_output_dir, train_and_save

    cfg = load_config(config, trainer="sft", overrides=overrides)
    check_output_dir(cfg, resume)
    return train_and_save(build_sft_trainer(cfg), cfg, resume)
