"""`speciarl train CONFIG.yaml`: our sections (model, data, reward, judge, lora, logging) + TRL args.

Every top-level key that is not one of our sections is a TRL `GRPOConfig` (or `SFTConfig`) argument,
spelled exactly as TRL spells it, so TRL's documentation is the reference for them. An unknown key
anywhere is an error naming the file and the key (with the closest known names), never ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..configfile import load_yaml_config, merge_mappings
from ..errors import ConfigError


@dataclass
class TinyModelSection:
    """`model.name_or_path: tiny`: build the offline tiny Qwen2.5-VL (speciarl.models.tiny)."""

    path: str | None = None  # default: <output_dir>/tiny_model
    seed: int = 0
    hidden_size: int = 64
    num_layers: int = 2
    image_size: int = 56
    vision_hidden_size: int = 32
    vision_layers: int = 2
    format_steps: int = 80  # teach the think/answer format so rollouts mix categories
    words: list[str] = field(default_factory=list)  # extra label words (the taxonomy's are added)


@dataclass
class ModelSection:
    name_or_path: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    attn_implementation: str | None = None  # e.g. flash_attention_2, sdpa
    freeze_vision: bool = True  # the vision tower never trains (with or without LoRA)
    tiny: TinyModelSection = field(default_factory=TinyModelSection)


@dataclass
class SyntheticSection:
    """Generated shape/colour images with a small taxonomy: the offline tiny runs."""

    n_images: int = 8
    seed: int = 0
    image_size: int = 56


@dataclass
class DataSection:
    train_file: str | None = None  # JSONL rows: sample_id, dataset, ground_truth, image, [prompt]
    prompt: str | None = None  # user text for rows without a `prompt` (an image part is added)
    max_samples: int | None = None
    synthetic: SyntheticSection | None = None
    sft_target: str | None = None  # `speciarl sft` reply template with {label} (default: think + answer)


@dataclass
class RewardSection:
    scheme: str = "speciarl"  # speciarl | speciarl-single | binary | scala1 | scala2 | scala3
    noise: float = 0.0  # judge-noise ablation: probability a grade moves one step (SPEC §5)
    noise_seed: int = 0
    scale: float = 1.0  # multiplies the scheme's reward (parse failures included)
    overlong_buffer: int | None = None  # DAPO soft overlong penalty over the last N completion tokens
    overlong_penalty: float = 1.0  # the penalty reached at max_completion_length


@dataclass
class JudgeSection:
    """Passed to `speciarl.judges.build_judge` (type, taxonomy, base_url, model, cache, ...),
    plus how long training waits for a failing judge before it stops with a checkpoint."""

    options: dict[str, Any] = field(default_factory=lambda: {"type": "taxonomy"})
    retry_budget_s: float = 300.0
    retry_interval_s: float = 5.0


@dataclass
class LoraSection:
    enabled: bool = False
    r: int = 64
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"  # every linear layer ...
    exclude_modules: str | list[str] = r".*visual.*"  # ... except the vision tower's (and lm_head)


@dataclass
class LoggingSection:
    rollouts: bool = True  # <output_dir>/rollouts/pass-NN.jsonl in the record schema (+ step, reward)
    metrics_jsonl: bool = True  # <output_dir>/metrics.jsonl, one line per logging step
    samples_every: int = 10  # print a table of rollouts with their categories every K steps (0: never)
    samples_shown: int = 4


@dataclass
class TrainConfig:
    """A parsed config: our sections plus the TRL trainer arguments (a GRPOConfig or SFTConfig)."""

    path: Path
    model: ModelSection
    data: DataSection
    reward: RewardSection
    judge: JudgeSection
    lora: LoraSection
    logging: LoggingSection
    trl: Any  # trl.GRPOConfig | trl.SFTConfig

    @property
    def output_dir(self) -> Path:
        return Path(self.trl.output_dir)


SECTIONS = ("model", "data", "reward", "judge", "lora", "logging")


def _build(cls: type, raw: Any, where: str, path: Path) -> Any:
    """A section dataclass from a mapping; unknown keys name the file and suggest close matches."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: `{where}` must be a mapping, got {type(raw).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(_unknown(path, f"{where}.{key}", key, known))
        sub = _SUBSECTIONS.get((cls, key))
        kwargs[key] = _build(sub, value, f"{where}.{key}", path) if sub and value is not None else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{path}: `{where}`: {exc}") from None


def _unknown(path: Path, full: str, key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{path}: unknown key `{full}`{hint}"


_SUBSECTIONS = {(ModelSection, "tiny"): TinyModelSection, (DataSection, "synthetic"): SyntheticSection}


def _judge_section(raw: Any, path: Path) -> JudgeSection:
    if raw is None:
        return JudgeSection()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: `judge` must be a mapping")
    options = dict(raw)
    section = JudgeSection(options=options)
    for key in ("retry_budget_s", "retry_interval_s"):
        if key in options:
            setattr(section, key, float(options.pop(key)))
    if "type" not in options:
        raise ConfigError(f"{path}: `judge.type` is required (taxonomy or openai)")
    return section


def parse_config(raw: dict[str, Any], path: str | Path = "<config>", *, trainer: str = "grpo",
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Split a loaded YAML mapping into our sections and the TRL config (`trainer`: grpo | sft)."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping")
    raw = merge_mappings(raw, overrides or {})
    if trainer == "grpo":
        from trl import GRPOConfig as TrlConfig
    elif trainer == "sft":
        from trl import SFTConfig as TrlConfig
    else:
        raise ConfigError(f"unknown trainer {trainer!r}")
    trl_fields = {f.name for f in dataclasses.fields(TrlConfig) if f.init}
    trl_args = {k: v for k, v in raw.items() if k not in SECTIONS}
    for key in trl_args:
        if key not in trl_fields:
            raise ConfigError(_unknown(path, key, key, [*trl_fields, *SECTIONS]) +
                              f"; top-level keys are our sections {SECTIONS} or {TrlConfig.__name__} arguments")
    if "output_dir" not in trl_args:
        raise ConfigError(f"{path}: `output_dir` is required")
    trl_args.setdefault("report_to", "tensorboard")
    if trainer == "grpo":
        trl_args.setdefault("loss_type", "grpo")  # TRL's default is dapo; the paper's recipe is GRPO
    try:
        trl_config = TrlConfig(**trl_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid {TrlConfig.__name__} arguments: {exc}") from None
    return TrainConfig(
        path=path,
        model=_build(ModelSection, raw.get("model"), "model", path),
        data=_build(DataSection, raw.get("data"), "data", path),
        reward=_build(RewardSection, raw.get("reward"), "reward", path),
        judge=_judge_section(raw.get("judge"), path),
        lora=_build(LoraSection, raw.get("lora"), "lora", path),
        logging=_build(LoggingSection, raw.get("logging"), "logging", path),
        trl=trl_config,
    )


def load_config(path: str | Path, *, trainer: str = "grpo", overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and parse a YAML config file (see `parse_config`).

    A top-level `extends: other.yaml` (relative to this file) is read first and this file's keys are
    deep-merged over it, so presets state only what differs from the recipe they vary.
    """
    path = Path(path)
    return parse_config(load_yaml_config(path), path, trainer=trainer, overrides=overrides)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`--set key=value` pairs (top-level keys; the value is parsed as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return out
