"""A bad value in each section of a train config (ours and TRL's arguments) is an error naming the file,
the key, the expected type and the value given, before any model or data is loaded."""

from __future__ import annotations

import pytest

from speciarl.errors import ConfigError
from speciarl.train.config import SECTION_SCHEMAS, parse_config


def minimal(**extra):
    return {"output_dir": "/tmp/x", "judge": {"type": "taxonomy"}, "use_cpu": True, "bf16": False, **extra}


CASES = [  # (config, dotted key as printed, value, expected type as printed)
    (minimal(model={"freeze_vision": "yes"}), "model.freeze_vision", "yes", "bool"),
    (minimal(model={"dtype": "fp8"}), "model.dtype", "fp8", "one of 'auto', 'bfloat16', 'float16', 'float32'"),
    (minimal(model={"tiny": {"hidden_size": "wide"}}), "model.tiny.hidden_size", "wide", "int"),
    (minimal(data={"max_samples": "all"}), "data.max_samples", "all", "int | null"),
    (minimal(data={"synthetic": {"n_images": 2.5}}), "data.synthetic.n_images", 2.5, "int"),
    (minimal(reward={"noise": "some"}), "reward.noise", "some", "float"),
    (minimal(judge={"type": "taxonomy", "less_specific_levels": "two"}), "judge.less_specific_levels", "two", "int"),
    (minimal(judge={"type": "taxonomy", "retry_budget_s": "long"}), "judge.retry_budget_s", "long", "float"),
    (minimal(lora={"r": "sixty"}), "lora.r", "sixty", "int"),
    (minimal(lora={"target_modules": 3}), "lora.target_modules", 3, "str | list[str]"),
    (minimal(logging={"samples_every": "often"}), "logging.samples_every", "often", "int"),
    (minimal(recipe={"epochs": "15"}), "recipe.epochs", "15", "int | null"),
]


@pytest.mark.parametrize(("raw", "key", "value", "expected"), CASES, ids=[c[1] for c in CASES])
def test_bad_value_in_each_section(raw, key, value, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "c.yaml")
    assert str(info.value) == f"c.yaml: `{key}`: expected {expected}, got {value!r}"


def test_every_section_is_covered():
    assert {c[1].split(".")[0] for c in CASES} == set(SECTION_SCHEMAS)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("learning_rate", "fast", "float"),
    ("num_generations", "ten", "int | null"),
    ("use_vllm", "no", "bool"),
])
def test_trl_arguments_are_checked_against_trls_own_field_types(key, value, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(**{key: value}), "c.yaml")
    assert str(info.value) == f"c.yaml: `{key}` (GRPOConfig argument): expected {expected}, got {value!r}"


def test_yaml_exponent_without_a_point_is_explained():
    with pytest.raises(ConfigError, match=r"YAML reads 3e-5 as text: write it with a decimal point, e\.g\. 3e-05"):
        parse_config(minimal(learning_rate="3e-5"), "c.yaml")
    with pytest.raises(ConfigError, match=r"`reward\.noise`: expected float, got '1e-2' \(YAML reads"):
        parse_config(minimal(reward={"noise": "1e-2"}), "c.yaml")


def test_judge_takes_no_literal_key_and_does_not_echo_it():
    with pytest.raises(ConfigError) as info:
        parse_config(minimal(judge={"type": "openai", "base_url": "u", "model": "m", "api_key": "sk-abc123xyz"}),
                     "c.yaml")
    assert "unknown key `judge.api_key`" in str(info.value) and "api_key_env" in str(info.value)
    assert "sk-abc123xyz" not in str(info.value)



def test_show_schema_train_lists_every_section(capsys):
    from speciarl.cli import main

    assert main(["config", "show-schema", "train"]) == 0
    out = capsys.readouterr().out
    assert all(f"[{name}]" in out for name in SECTION_SCHEMAS) and "[judge (type: openai)]" in out
    assert "  r: int = 64\n" in out and "  retry_budget_s: float = 300.0\n" in out and "GRPOConfig" in out
