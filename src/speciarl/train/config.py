"""`speciarl train CONFIG.yaml`: our sections (model, data, reward, judge, lora, logging, recipe) + TRL args.

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
    noise: float = 0.0  # judge-noise ablation: probability a grade moves one step (docs/method.md#rewards)
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
class RecipeSection:
    """The schedule in the paper's units; TRL's batch fields and step count are derived from it at launch
    (speciarl.train.recipe), from the number of processes and the training-set size."""

    images_per_generation: int | None = None  # images whose rollouts one generation batch holds (256)
    images_per_update: int | None = None  # images per optimizer update (128); default: images_per_generation
    epochs: int | None = None  # passes over the training set (15)

    def is_set(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


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
    recipe: RecipeSection = field(default_factory=RecipeSection)
    schedule: Any = None  # speciarl.train.recipe.Schedule when the config has a `recipe` section

    @property
    def output_dir(self) -> Path:
        return Path(self.trl.output_dir)


SECTIONS = ("model", "data", "reward", "judge", "lora", "logging", "recipe")


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
                 overrides: dict[str, Any] | None = None, world_size: int | None = None,
                 train_size: int | None = None) -> TrainConfig:
    """Split a loaded YAML mapping into our sections and the TRL config (`trainer`: grpo | sft).

    With a `recipe` section the TRL batch fields and `max_steps` are derived for `world_size`
    processes (default: this launch's) and the training-set size (counted in the data file when it
    exists, else `train_size`).
    """
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
    data = _build(DataSection, raw.get("data"), "data", path)
    recipe = _build(RecipeSection, raw.get("recipe"), "recipe", path)
    schedule = None
    if recipe.is_set():
        schedule = _resolve_recipe(recipe, data, trl_args, TrlConfig, path, trainer, world_size, train_size)
        trl_args.update(schedule.trl_args())
    try:
        trl_config = TrlConfig(**trl_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid {TrlConfig.__name__} arguments: {exc}") from None
    if schedule is not None:
        _check_world_size(trl_config, schedule, world_size, path)
    return TrainConfig(
        path=path,
        model=_build(ModelSection, raw.get("model"), "model", path),
        data=data,
        reward=_build(RewardSection, raw.get("reward"), "reward", path),
        judge=_judge_section(raw.get("judge"), path),
        lora=_build(LoraSection, raw.get("lora"), "lora", path),
        logging=_build(LoggingSection, raw.get("logging"), "logging", path),
        trl=trl_config,
        recipe=recipe,
        schedule=schedule,
    )


def _resolve_recipe(recipe: RecipeSection, data: DataSection, trl_args: dict[str, Any], trl_class: type, path: Path,
                    trainer: str, world_size: int | None, train_size: int | None) -> Any:
    """The schedule of a `recipe` section; raw TRL batch fields beside it are an error, never merged."""
    from .recipe import DERIVED_FIELDS, env_world_size, resolve_recipe, training_set_size

    if trainer != "grpo":
        raise ConfigError(f"{path}: `recipe` is for `speciarl train` (GRPO); set {trl_class.__name__} fields instead")
    both = [key for key in DERIVED_FIELDS if key in trl_args]
    if both:
        raise ConfigError(f"{path}: `recipe` derives {', '.join(DERIVED_FIELDS)}; this config also sets "
                          f"{', '.join(both)}: remove {'it' if len(both) == 1 else 'them'} (or the recipe section "
                          "with --set recipe=null to give raw TRL fields)")
    if recipe.images_per_generation is None or recipe.epochs is None:
        raise ConfigError(f"{path}: `recipe` needs images_per_generation and epochs")
    defaults = {f.name: f.default for f in dataclasses.fields(trl_class)}

    def trl_value(key: str) -> Any:
        return trl_args.get(key, defaults[key])

    return resolve_recipe(images_per_generation=recipe.images_per_generation,
                          images_per_update=recipe.images_per_update, epochs=recipe.epochs,
                          num_generations=trl_value("num_generations"),
                          per_device_train_batch_size=trl_value("per_device_train_batch_size"),
                          num_iterations=trl_value("num_iterations"),
                          world_size=world_size if world_size is not None else env_world_size(),
                          train_size=training_set_size(data, train_size, str(path)), where=str(path))


def _check_world_size(trl_config: Any, schedule: Any, requested: int | None, path: Path) -> None:
    """At launch the schedule's world size is the real one; a dry run for N processes in this one
    process shows the generation batch TRL computes on N processes."""
    if trl_config.world_size == schedule.world_size:
        return
    if requested is None:
        raise ConfigError(f"{path}: the recipe was resolved for {schedule.world_size} processes (WORLD_SIZE) but "
                          f"this launch has {trl_config.world_size}")
    trl_config.generation_batch_size = schedule.generation_batch_size


def load_config(path: str | Path, *, trainer: str = "grpo", overrides: dict[str, Any] | None = None,
                world_size: int | None = None, train_size: int | None = None) -> TrainConfig:
    """Read and parse a YAML config file (see `parse_config`).

    A top-level `extends: other.yaml` (relative to this file) is read first and this file's keys are
    deep-merged over it, so presets state only what differs from the recipe they vary.
    """
    path = Path(path)
    return parse_config(load_yaml_config(path), path, trainer=trainer, overrides=overrides, world_size=world_size,
                        train_size=train_size)


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
