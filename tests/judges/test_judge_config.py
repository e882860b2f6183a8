"""The judge schemas match the judge classes (same keys, same defaults), and typed errors name the key."""

from __future__ import annotations

import inspect

import pytest

from speciarl.errors import ConfigError
from speciarl.judges import DEFAULT_LENGTH_CAP, FastPaths, OpenAIJudge, TaxonomyJudge, build_judge, parse_judge_options
from speciarl.judges.config import FastPathsOptions, JudgeOptions, OpenAIJudgeOptions, TaxonomyJudgeOptions


def _defaults(func, skip=("self", "fast_paths", "cache")) -> dict:
    return {p.name: p.default for p in inspect.signature(func).parameters.values()
            if p.name not in skip and p.default is not p.empty}


def _schema_defaults(cls, skip=()) -> dict:
    return {n: f.default for n, f in cls.model_fields.items() if n not in skip and f.is_required() is False}


def test_openai_schema_is_the_judge_signature():
    own = set(OpenAIJudgeOptions.model_fields) - set(JudgeOptions.model_fields) - {"cache"}
    params = set(inspect.signature(OpenAIJudge.__init__).parameters) - {"self", "fast_paths", "cache"}
    assert own == params
    assert _schema_defaults(OpenAIJudgeOptions, {*JudgeOptions.model_fields, "cache"}) == _defaults(OpenAIJudge.__init__)


def test_taxonomy_and_fast_path_defaults_are_the_classes():
    assert TaxonomyJudgeOptions.model_fields["less_specific_levels"].default == \
        _defaults(TaxonomyJudge.__init__)["less_specific_levels"]
    fast = _defaults(FastPaths.__init__)
    assert {k: v for k, v in _schema_defaults(FastPathsOptions).items() if k != "length_cap"} == \
        {k: v for k, v in fast.items() if k != "length_cap"}  # length_cap: the judge's, by prompt variant


@pytest.mark.parametrize(("config", "message"), [
    ({"type": "taxonomy", "taxonomy": "t", "less_specific_levels": "two"},
     "`judge.less_specific_levels`: expected int, got 'two'"),
    ({"type": "taxonomy", "taxonomy": "t", "less_specific_levels": -1},
     "`judge.less_specific_levels`: Input should be greater than or equal to 0 (got -1)"),
    ({"type": "openai", "base_url": "u", "model": "m", "timeout": "slow"}, "`judge.timeout`: expected float, got 'slow'"),
    ({"type": "openai", "base_url": "u"}, "`judge.model` is required (str)"),
    ({"type": "openai", "base_url": "u", "model": "m", "fast_paths": {"refusals": "none"}},
     "`judge.fast_paths.refusals`: expected bool | list[str], got 'none'"),
    ({"type": "taxonomy", "cache": False}, "`judge.cache`: expected str, got False"),
])
def test_typed_errors(config, message):
    with pytest.raises(ConfigError) as info:
        build_judge(config)
    assert str(info.value) == message
    with pytest.raises(ConfigError, match="j.yaml: "):
        parse_judge_options(config, "judge", "j.yaml")


def test_length_cap_default_follows_the_prompt_and_explicit_values_win(tmp_path):
    tax = tmp_path / "t.yaml"
    tax.write_text("name: bird\n")
    assert build_judge({"type": "taxonomy", "taxonomy": str(tax)}).fast_paths.length_cap == DEFAULT_LENGTH_CAP
    assert build_judge({"type": "taxonomy", "taxonomy": str(tax), "length_cap": 0}).fast_paths.length_cap is None
    assert build_judge({"type": "taxonomy", "taxonomy": str(tax), "length_cap": 5,
                        "fast_paths": {"length_cap": 7}}).fast_paths.length_cap == 7
    judge = build_judge({"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "cache": "none",
                         "prompt": "main_subject"})
    assert judge.fast_paths.length_cap == 48
