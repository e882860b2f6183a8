"""`speciarl train` / `speciarl sft`: from a config file to a trained model folder.

The steps shared by both trainers (data, tiny model, model + processor, LoRA) live here; the GRPO
run adds the judge and the reward bridge. Everything heavy is imported inside functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import TrainConfig

RUN_INFO = "speciarl_run.json"  # base model, LoRA and data used: read by `speciarl export`


def prepare_data(cfg: TrainConfig) -> tuple[Path, list[str], Path | None]:
    """The training file (generated for `data.synthetic`), label words, and a generated taxonomy."""
    if cfg.data.synthetic is not None:
        from ..data.synthetic import GENERA, write_synthetic
        from ..data.trainset import build_trainset

        syn = cfg.data.synthetic
        root = cfg.output_dir / "data"
        per_class = max(1, -(-syn.n_images // 9))  # 9 classes; enough images for n_images
        bench = write_synthetic(root, per_class=per_class, seed=syn.seed, size=syn.image_size)
        out = root / "train.jsonl"
        build_trainset("synthetic", root, n=syn.n_images, output=out, seed=syn.seed, prompt=cfg.data.prompt or "base",
                       split="train")
        return out, [*bench.labels, *GENERA, "shape"], bench.taxonomy
    if not cfg.data.train_file:
        raise ConfigError(f"{cfg.path}: set `data.train_file` (see `speciarl data build-trainset`) or `data.synthetic`")
    return Path(cfg.data.train_file), [], None


def resolve_model_path(cfg: TrainConfig, words: list[str]) -> str:
    """`tiny` builds (or reuses) the offline tiny model; anything else is a folder or hub id."""
    if cfg.model.name_or_path != "tiny":
        return cfg.model.name_or_path
    from ..models.tiny import build_tiny_vlm

    t = cfg.model.tiny
    path = Path(t.path) if t.path else cfg.output_dir / "tiny_model"
    return str(build_tiny_vlm(path, words=[*words, *t.words], **t.model_dump(exclude={"path", "words"})))


def load_model(cfg: TrainConfig, path: str):
    """Model and processor; the vision tower frozen unless `model.freeze_vision: false`."""
    import torch
    from transformers import AutoModelForImageTextToText

    from ..models.tiny import load_processor

    dtype: Any = cfg.model.dtype
    if dtype != "auto":
        try:
            dtype = getattr(torch, dtype)
        except AttributeError:
            raise ConfigError(f"{cfg.path}: unknown model.dtype {cfg.model.dtype!r}") from None
    kwargs: dict[str, Any] = {"dtype": dtype}
    if cfg.model.attn_implementation:
        kwargs["attn_implementation"] = cfg.model.attn_implementation
    model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    if cfg.model.freeze_vision:
        for name, param in model.named_parameters():
            if ".visual." in f".{name}":
                param.requires_grad_(False)
    return model, load_processor(path)


def lora_config(cfg: TrainConfig):
    """PEFT LoRA on every linear layer of the language model; the vision tower excluded."""
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    lo = cfg.lora
    return LoraConfig(r=lo.r, lora_alpha=lo.lora_alpha, lora_dropout=lo.lora_dropout,
                      target_modules=lo.target_modules, exclude_modules=lo.exclude_modules, task_type="CAUSAL_LM")


def write_run_info(cfg: TrainConfig, model_path: str, train_file: Path, schedule: Any = None) -> None:
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    info = {"base_model": model_path, "lora": cfg.lora.model_dump(), "train_file": str(train_file),
            "config": str(cfg.path), "reward": cfg.reward.model_dump(),
            "schedule": schedule.as_dict() if schedule is not None else None}
    (cfg.output_dir / RUN_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")


def build_grpo_trainer(cfg: TrainConfig, *, judge: Any = None, callbacks: list | None = None):
    """Everything `speciarl train` builds before `trainer.train()` (tests and benchmarks use it)."""
    from ..judges import build_judge
    from .callbacks import RolloutLog, SpeciarlLogCallback
    from .dataset import read_train_rows, to_dataset
    from .rewards import RolloutScorer
    from .trainer import SpeciarlGRPOTrainer

    train_file, words, taxonomy = prepare_data(cfg)
    options = dict(cfg.judge.options)
    if options.get("type") == "taxonomy" and not options.get("taxonomy"):
        if taxonomy is None:
            raise ConfigError(f"{cfg.path}: judge.taxonomy is required for the taxonomy judge")
        options["taxonomy"] = str(taxonomy)
    judge = judge if judge is not None else build_judge(options)
    scorer = RolloutScorer(judge, scheme=cfg.reward.scheme, noise=cfg.reward.noise, noise_seed=cfg.reward.noise_seed,
                           scale=cfg.reward.scale, retry_budget_s=cfg.judge.retry_budget_s,
                           retry_interval_s=cfg.judge.retry_interval_s)
    # the data is checked before the (possibly large, possibly remote) model is loaded
    rows = read_train_rows(train_file, prompt=cfg.data.prompt or "base", max_samples=cfg.data.max_samples)
    schedule = announce_schedule(cfg, len(rows))
    model_path = resolve_model_path(cfg, words)
    model, processor = load_model(cfg, model_path)
    write_run_info(cfg, model_path, train_file, schedule)
    out = cfg.output_dir
    rollout_log = RolloutLog(out / "rollouts") if cfg.logging.rollouts else None
    log_cb = SpeciarlLogCallback(out / "metrics.jsonl" if cfg.logging.metrics_jsonl else None, rollout_log)
    return SpeciarlGRPOTrainer(
        model=model, processing_class=processor, args=cfg.trl, train_dataset=to_dataset(rows),
        peft_config=lora_config(cfg), callbacks=[log_cb, *(callbacks or [])], scorer=scorer,
        rollout_log=rollout_log, samples_every=cfg.logging.samples_every, samples_shown=cfg.logging.samples_shown,
        model_name=model_path, overlong_buffer=cfg.reward.overlong_buffer,
        overlong_penalty=cfg.reward.overlong_penalty,
    )


def resolved_schedule(cfg: TrainConfig, train_size: int) -> Any:
    """The recipe's schedule, or what the raw TRL fields amount to, on this launch's processes."""
    from .recipe import schedule_of_trl

    if cfg.schedule is not None:
        if cfg.schedule.train_size != train_size:
            raise ConfigError(f"{cfg.path}: the schedule was resolved for {cfg.schedule.train_size} training images "
                              f"but {train_size} rows were read")
        return cfg.schedule
    return schedule_of_trl(cfg.trl, world_size=cfg.trl.world_size, train_size=train_size)


def announce_schedule(cfg: TrainConfig, train_size: int) -> Any:
    """Print the resolved schedule once (main process) before anything heavy starts."""
    schedule = resolved_schedule(cfg, train_size)
    if cfg.trl.process_index == 0:
        print(f"speciarl: {schedule.describe()}", flush=True)
    return schedule


def dry_run(config: str | Path, *, world_size: int, train_size: int | None = None,
            overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """`speciarl train CONFIG --dry-run`: the resolved schedule and the final GRPOConfig, no model.

    The training-set size comes from the data file when it exists, else from `train_size`. Device
    switches (bf16, fp16, tf32) are checked by TRL against this machine's hardware, so they are
    turned off to build the config here and shown as the config states them.
    """
    from ..configfile import load_yaml_config, merge_mappings
    from .config import parse_config
    from .recipe import schedule_of_trl, training_set_size

    raw = merge_mappings(load_yaml_config(config), overrides or {})
    device = {key: raw[key] for key in ("bf16", "fp16", "tf32", "use_cpu") if key in raw}
    local = {"bf16": False, "fp16": False, "tf32": None, "use_cpu": True}
    cfg = parse_config(raw, config, trainer="grpo", overrides=local, world_size=world_size, train_size=train_size)
    for key, value in device.items():
        setattr(cfg.trl, key, value)
    schedule = cfg.schedule
    if schedule is None:  # raw TRL fields: redo GRPOConfig's batch arithmetic for world_size processes
        t = cfg.trl
        if raw.get("generation_batch_size") is not None and raw.get("steps_per_generation") is None:
            if t.generation_batch_size % (t.per_device_train_batch_size * world_size):
                raise ConfigError(f"{config}: generation_batch_size ({t.generation_batch_size}) is not divisible by "
                                  f"per_device_train_batch_size x {world_size} processes")
            t.steps_per_generation = t.generation_batch_size // (t.per_device_train_batch_size * world_size)
        schedule = schedule_of_trl(t, world_size=world_size,
                                   train_size=training_set_size(cfg.data, train_size, str(config)))
        t.generation_batch_size = schedule.generation_batch_size
    return {**schedule.summary(), "grpo_config": _jsonable(cfg.trl.to_dict())}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_train(config: str | Path, *, resume: str | bool | None = None,
              overrides: dict[str, Any] | None = None) -> Path:
    """`speciarl train CONFIG`: GRPO-family training; returns the output folder (model or adapter)."""
    from .config import load_config

    cfg = load_config(config, trainer="grpo", overrides=overrides)
    check_output_dir(cfg, resume)
    return train_and_save(build_grpo_trainer(cfg), cfg, resume)


def check_output_dir(cfg: TrainConfig, resume: str | bool | None) -> None:
    """A fresh start must not land beside another run's checkpoints: a later `--resume` would
    silently continue from whichever checkpoint has the highest step."""
    if resume:
        return
    existing = sorted(p.name for p in cfg.output_dir.glob("checkpoint-*") if p.is_dir()) if cfg.output_dir.is_dir() else []
    if existing:
        raise ConfigError(
            f"{cfg.output_dir} already holds checkpoints of an earlier run ({', '.join(existing[:3])}"
            f"{', …' if len(existing) > 3 else ''}): pass --resume to continue it, or set another output_dir"
        )


def train_and_save(trainer: Any, cfg: TrainConfig, resume: str | bool | None) -> Path:
    """Train (resuming as `--resume` asks), then save the model or adapter into output_dir."""
    trainer.train(resume_from_checkpoint=_resume_arg(cfg, resume))
    trainer.save_model(str(cfg.output_dir))
    return cfg.output_dir


def _resume_arg(cfg: TrainConfig, resume: str | bool | None) -> str | bool | None:
    """`--resume` alone: the latest checkpoint in output_dir (none yet: start fresh, say so)."""
    if resume is True:
        from transformers.trainer_utils import get_last_checkpoint

        if not cfg.output_dir.is_dir() or get_last_checkpoint(str(cfg.output_dir)) is None:
            print(f"speciarl: no checkpoint in {cfg.output_dir} yet; starting from the beginning")
            return None
        return True
    return resume or None
