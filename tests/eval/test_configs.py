"""The shipped eval configs parse, name real prompts and valid backend keys; `extends` merges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from speciarl.errors import ConfigError
from speciarl.pipeline.config import load_eval_config
from speciarl.prompts import get_prompt

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "eval").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_is_valid(path):
    config = load_eval_config(path)
    assert get_prompt(config.prompt).text
    assert config.benchmarks and config.judge.get("type") in ("openai", "taxonomy")


def test_paper_configs_follow_the_paper():
    by_name = {p.stem: load_eval_config(p) for p in CONFIGS}
    main = by_name["paper_main"]
    assert [b.name for b in main.benchmarks] == ["cub200", "flowers102", "food101", "oxford_pets",
                                                 "stanford_cars", "fgvc_aircraft"]
    assert main.sampling.greedy and main.sampling.max_new_tokens == 2048 and main.prompt == "base"
    bon = by_name["paper_bon64"].sampling
    assert (bon.n, bon.temperature, bon.top_p) == (64, 0.6, 0.95)
    prompts = {c.prompt for name, c in by_name.items() if name.startswith("prompt_")}
    assert prompts == {"be_specific", "calibrated", "elimination", "high_precision", "max_correctness",
                       "max_specificity"}
    assert len({c.name for c in by_name.values()}) == len(by_name)  # distinct run names


def test_extends_merges_mappings_and_rejects_loops(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "name": "base", "model": {"backend": "openai", "base_url": "http://x/v1", "model": "m", "concurrency": 4},
        "benchmarks": [{"name": "synthetic", "root": "r"}], "judge": {"type": "taxonomy", "taxonomy": "t"}}))
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\nmodel: {concurrency: 8}\n")
    child = load_eval_config(tmp_path / "child.yaml")
    assert child.name == "child" and child.model == {"backend": "openai", "base_url": "http://x/v1", "model": "m",
                                                     "concurrency": 8}
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_eval_config(tmp_path / "a.yaml")


def test_bad_model_section_is_caught_when_the_file_is_read(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "model": {"backend": "vllm", "path": "p", "gpu_mem": 0.5},
        "benchmarks": [{"name": "synthetic", "root": "r"}], "judge": {"type": "taxonomy", "taxonomy": "t"}}))
    with pytest.raises(ConfigError, match=r"c\.yaml.*gpu_mem"):
        load_eval_config(tmp_path / "c.yaml")
