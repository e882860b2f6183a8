"""A bad value in each section of an eval config is an error naming the file, the key, the expected
type and the value given, raised when the file is read (before any model, server or data is touched)."""

from __future__ import annotations

import copy

import pytest
import yaml

from speciarl.errors import ConfigError
from speciarl.pipeline.config import load_eval_config

BASE = {
    "name": "x",
    "model": {"backend": "transformers", "path": "some/model"},
    "benchmarks": [{"name": "synthetic", "root": "r"}],
    "judge": {"type": "taxonomy", "taxonomy": "t.yaml"},
}
OPENAI_JUDGE = {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "j"}


def _set(config: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(config)
    node, parts = out, dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[parts[-1]] = value
    return out


CASES = [  # (section override, dotted key, bad value, expected type as printed)
    ({}, "name", 5, "str | null"),
    ({}, "prompt", 3, "str"),
    ({}, "output_dir", ["a"], "str"),
    ({}, "model.batch_size", "eight", "int"),
    ({}, "model.merge_adapter", "yes", "bool"),
    ({"model": {"backend": "transformers", "tiny": {"dir": "d"}}}, "model.tiny.hidden_size", "big", "int"),
    ({"model": {"backend": "vllm", "path": "p"}}, "model.gpu_memory_utilization", "most", "float"),
    ({"model": {"backend": "openai", "base_url": "u", "model": "m"}}, "model.timeout", "long", "float"),
    ({}, "benchmarks.0.limit", "ten", "int | null"),
    ({}, "benchmarks.0.options", ["split_file"], "mapping"),
    ({}, "sampling.temperature", "hot", "float"),
    ({}, "sampling.n", 2.5, "int"),
    ({}, "judge.less_specific_levels", "two", "int"),
    ({"judge": OPENAI_JUDGE}, "judge.concurrency", 1.5, "int"),
    ({"judge": OPENAI_JUDGE}, "judge.choice_field", "json",
     "one of 'structured_outputs', 'guided_choice', 'none'"),
    ({}, "judge.fast_paths.exact", "yes", "bool"),
    ({}, "report.plots", "no", "bool"),
    ({}, "owc.semantic", "yes", "bool"),
    ({"owc": {"llm_inclusion": dict(OPENAI_JUDGE)}}, "owc.llm_inclusion.timeout", "x", "float"),
]


@pytest.mark.parametrize(("override", "key", "value", "expected"), CASES, ids=[c[1] for c in CASES])
def test_bad_value_names_file_key_type_and_value(tmp_path, override, key, value, expected):
    config = _set({**BASE, **override}, key, value)
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as info:
        load_eval_config(path)
    shown = key.replace(".0.", "[0].")
    assert str(info.value) == f"{path}: `{shown}`: expected {expected}, got {value!r}"


@pytest.mark.parametrize(("key", "close"), [("model.batchsize", "batch_size"), ("sampling.temprature", "temperature"),
                                            ("benchmarks.0.limt", "limit"), ("judge.taxnomy", "taxonomy"),
                                            ("report.plot", "plots"), ("owc.semantics", "semantic"),
                                            ("sampels", "sampling")])
def test_unknown_keys_are_named_with_the_close_ones(tmp_path, key, close):
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(_set(BASE, key, 1)))
    with pytest.raises(ConfigError) as info:
        load_eval_config(path)
    assert f"eval.yaml: unknown key `{key.replace('.0.', '[0].')}` (did you mean {close}" in str(info.value)
    assert "; known: " in str(info.value)


def test_constraints_and_cross_field_checks(tmp_path):
    path = tmp_path / "eval.yaml"
    for key, value, message in [
        ("model.batch_size", 0, "`model.batch_size`: Input should be greater than or equal to 1 (got 0)"),
        ("model.tiny", {"dir": "d"}, "give exactly one of `path`"),
        ("sampling.n", 4, "would repeat one greedy answer"),
        ("benchmarks", [], "`benchmarks`: List should have at least 1 item"),
        ("judge.type", "regex", "`judge.type`: unknown judge type 'regex'"),
        ("model.backend", "onnx", "`model.backend`: unknown backend 'onnx'"),
    ]:
        path.write_text(yaml.safe_dump(_set(BASE, key, value)))
        with pytest.raises(ConfigError, match="eval.yaml: ") as info:
            load_eval_config(path)
        assert message in str(info.value)


def test_show_schema_prints_every_section_from_the_schemas(capsys):
    from speciarl.cli import main
    from speciarl.predict.config import BACKEND_SCHEMAS

    assert main(["config", "show-schema", "eval"]) == 0
    out = capsys.readouterr().out
    for title in ["[top level]", "[owc]", "[judge (type: taxonomy)]", "[judge (type: openai)]",
                  *(f"[model (backend: {b})]" for b in BACKEND_SCHEMAS)]:
        assert title in out
    assert "  sampling.temperature: float = 0.0\n" in out and "best-of-64" in out  # type, default, help
    assert "  batch_size: int = 8\n" in out
    assert main(["config", "show-schema", "judge"]) == 0
    assert "  less_specific_levels: int = 2\n" in capsys.readouterr().out
