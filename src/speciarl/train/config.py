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
from typing import Any, Literal

from ..configfile import Section, check_section, load_yaml_config, merge_mappings, option
from ..errors import ConfigError
from ..judges.config import parse_judge_options
from ..predict.config import TinyShape

# How long training waits for a failing judge (the one definition: RolloutScorer and verl's reward use it).
RETRY_BUDGET_S = 300.0
RETRY_INTERVAL_S = 5.0


class TinyModelSection(TinyShape):
    """`model.name_or_path: tiny`: build the offline tiny Qwen2.5-VL (speciarl.models.tiny)."""

    path: str | None = option(None, "where to build it (default: <output_dir>/tiny_model)")
    format_steps: int = option(80, "steps that teach the think/answer format, so rollouts mix categories", ge=0)
    words: list[str] = option(help="extra label words (the taxonomy's are added)", default_factory=list)


class ModelSection(Section):
    name_or_path: str = option("Qwen/Qwen2.5-VL-7B-Instruct", "hub id or folder of the VLM to train; `tiny` "
                                                              "builds the offline tiny model")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = option("auto", "weights dtype")
    attn_implementation: str | None = option(None, "e.g. flash_attention_2, sdpa")
    freeze_vision: bool = option(True, "the vision tower never trains (with or without LoRA)")
    tiny: TinyModelSection = option(help="settings of the tiny model", default_factory=TinyModelSection)


class SyntheticSection(Section):
    """Generated shape/colour images with a small taxonomy: the offline tiny runs."""

    n_images: int = option(8, "training images", ge=1)
    seed: int = option(0, "seed of the generated images")
    image_size: int = option(56, "image side in pixels", ge=1)


class DataSection(Section):
    train_file: str | None = option(None, "JSONL rows: sample_id, dataset, ground_truth, image, [prompt] "
                                          "(`speciarl data build-trainset`)")
    prompt: str | None = option(None, "user text for rows without a `prompt`: a prompt name or file (default base)")
    max_samples: int | None = option(None, "use only the first N rows", ge=1)
    synthetic: SyntheticSection | None = option(None, "generate the training set instead of reading train_file")
    sft_target: str | None = option(None, "`speciarl sft` reply template with {label} (default: think + answer)")


class RewardSection(Section):
    scheme: str = option("speciarl", "speciarl, speciarl-single, binary, scala1, scala2 or scala3 "
                                     "(docs/method.md#rewards)")
    noise: float = option(0.0, "judge-noise ablation: probability a grade moves one step", ge=0, le=1)
    noise_seed: int = option(0, "seed of the judge noise")
    scale: float = option(1.0, "multiplies the scheme's reward (parse failures included)")
    overlong_buffer: int | None = option(None, "DAPO soft overlong penalty over the last N completion tokens", ge=1)
    overlong_penalty: float = option(1.0, "the penalty reached at max_completion_length")


class JudgeSection(Section):
    """The judge mapping (`speciarl.judges.build_judge`: type, taxonomy, base_url, model, cache, ...)
    plus how long training waits for a failing judge before it stops with a checkpoint."""

    options: dict[str, Any] = option(help="the judge mapping itself (see the judge sections)",
                                     default_factory=lambda: {"type": "taxonomy"})
    retry_budget_s: float = option(RETRY_BUDGET_S, "a judge outage longer than this stops training with a "
                                                   "checkpoint", gt=0)
    retry_interval_s: float = option(RETRY_INTERVAL_S, "seconds between retries of the failed pairs", gt=0)


class LoraSection(Section):
    enabled: bool = option(False, "train a LoRA adapter instead of the full model")
    r: int = option(64, "LoRA rank", ge=1)
    lora_alpha: int = option(32, "LoRA scaling numerator", ge=1)
    lora_dropout: float = option(0.05, "dropout on the LoRA input (the paper presets set 0)", ge=0, lt=1)
    target_modules: str | list[str] = option("all-linear", "modules that get adapters: every linear layer ...")
    exclude_modules: str | list[str] = option(r".*visual.*", "... except these (the vision tower; lm_head is "
                                                             "never adapted)")


class LoggingSection(Section):
    rollouts: bool = option(True, "<output_dir>/rollouts/pass-NN.jsonl in the record schema (+ step, reward)")
    metrics_jsonl: bool = option(True, "<output_dir>/metrics.jsonl, one line per logging step")
    samples_every: int = option(10, "print a table of rollouts with their categories every K steps (0: never)",
                                ge=0)
    samples_shown: int = option(4, "rollouts in that table", ge=0)


class RecipeSection(Section):
    """The schedule in the paper's units; TRL's batch fields and step count are derived from it at launch
    (speciarl.train.recipe), from the number of processes and the training-set size."""

    images_per_generation: int | None = option(None, "images whose rollouts one generation batch holds (256)",
                                               ge=1)
    images_per_update: int | None = option(None, "images per optimizer update (128); default: "
                                                 "images_per_generation", ge=1)
    epochs: int | None = option(None, "passes over the training set (15)", ge=1)

    def is_set(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


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


# Our sections, in file order (`speciarl config show-schema train`); every other top-level key is TRL's.
SECTION_SCHEMAS: dict[str, type[Section]] = {
    "model": ModelSection, "data": DataSection, "reward": RewardSection, "judge": JudgeSection,
    "lora": LoraSection, "logging": LoggingSection, "recipe": RecipeSection}
SECTIONS = tuple(SECTION_SCHEMAS)
_RETRY_KEYS = ("retry_budget_s", "retry_interval_s")
# TRL arguments that are secrets: TRL pickles its arguments into every checkpoint (training_args.bin).
SECRET_TRL_ARGS = {"hub_token": "a literal token would be written into every checkpoint; set HF_TOKEN in the "
                                "environment instead"}


def _unknown(path: Path, full: str, key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{path}: unknown key `{full}`{hint}"


def check_trl_values(trl_args: dict[str, Any], trl_class: type, path: Path) -> None:
    """Each TRL argument's value against the type of its field in TRL's own dataclass, strictly (as our
    sections): `learning_rate: fast` is an error here, naming the key, not a crash inside the optimizer."""
    import typing

    from pydantic import ConfigDict, TypeAdapter, ValidationError

    from ..configfile import type_name, yaml_number_hint

    hints = typing.get_type_hints(trl_class)
    for key, value in trl_args.items():
        try:
            adapter = TypeAdapter(hints[key], config=ConfigDict(strict=True))
        except Exception:  # a type pydantic cannot describe (e.g. accelerate's ParallelismConfig): TRL checks it
            continue
        try:
            adapter.validate_python(value)
        except ValidationError:
            raise ConfigError(f"{path}: `{key}` ({trl_class.__name__} argument): expected {type_name(hints[key])}, "
                              f"got {value!r}{yaml_number_hint(hints[key], value)}") from None


def _judge_section(raw: Any, path: Path) -> JudgeSection:
    """The judge mapping checked by the judge schemas; the retry keys are the training's own."""
    if raw is None:
        return JudgeSection()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: `judge` must be a mapping, got {type(raw).__name__}")
    options = {k: v for k, v in raw.items() if k not in _RETRY_KEYS}
    parse_judge_options(options, "judge", path)
    retry = {k: raw[k] for k in _RETRY_KEYS if k in raw}
    return check_section(JudgeSection, {"options": options, **retry}, "judge", path)


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
        if key in SECRET_TRL_ARGS and trl_args[key] is not None:
            raise ConfigError(f"{path}: `{key}`: {SECRET_TRL_ARGS[key]}")
    if "output_dir" not in trl_args:
        raise ConfigError(f"{path}: `output_dir` is required")
    trl_args.setdefault("report_to", "tensorboard")
    sections: dict[str, Any] = {name: check_section(cls, raw.get(name), name, path)
                                for name, cls in SECTION_SCHEMAS.items() if name != "judge"}
    sections["judge"] = _judge_section(raw.get("judge"), path)
    check_trl_values(trl_args, TrlConfig, path)
    schedule = None
    if sections["recipe"].is_set():
        schedule = _resolve_recipe(sections["recipe"], sections["data"], trl_args, TrlConfig, path, trainer,
                                   world_size, train_size)
        trl_args.update(schedule.trl_args())
    try:
        trl_config = TrlConfig(**trl_args)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid {TrlConfig.__name__} arguments: {exc}") from None
    if schedule is not None:
        _check_world_size(trl_config, schedule, world_size, path)
    return TrainConfig(path=path, trl=trl_config, schedule=schedule, **sections)


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
