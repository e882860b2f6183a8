"""Checks `speciarl train` / `sft` make before any model is loaded: the data file, and an output_dir
that already holds another run's checkpoints."""

from __future__ import annotations

import pytest
import yaml

from speciarl.cli import main


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a model load here would be a bug: never reach the hub
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text(yaml.safe_dump({"name": "shape", "children": [{"name": "circle"}]}))

    def write(**over):
        cfg = {"output_dir": str(tmp_path / "run"), "model": {"name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct"},
               "data": {"train_file": str(tmp_path / "missing.jsonl")},
               "judge": {"type": "taxonomy", "taxonomy": str(taxonomy), "cache": "none"}, "max_steps": 2, "bf16": False}
        cfg.update(over)
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return str(path)

    return write


@pytest.mark.parametrize("command", ["train", "sft"])
def test_missing_training_file_is_reported_before_the_model_is_loaded(config, capsys, command):
    assert main([command, config()]) == 2
    err = capsys.readouterr().err
    assert "training file not found" in err and "missing.jsonl" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["train", "sft"])
def test_fresh_start_beside_old_checkpoints_is_refused(config, tmp_path, capsys, command):
    (tmp_path / "run" / "checkpoint-6").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint-2").mkdir()
    assert main([command, config()]) == 2
    err = capsys.readouterr().err
    assert "already holds checkpoints" in err and "checkpoint-2, checkpoint-6" in err and "--resume" in err
