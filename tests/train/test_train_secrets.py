"""A training run whose judge key comes from the environment never writes it: not in the output folder
(checkpoints, training_args.bin, TensorBoard event files with TRL's hparams, rollouts, metrics, run info),
stdout, stderr or the log. A literal key in the config is refused without being repeated."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

import pytest
import yaml

from speciarl.answers import normalize
from speciarl.cli import main
from speciarl.errors import ConfigError
from speciarl.train.config import parse_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from openai_server import OpenAIServer, user_pair  # noqa: E402


def exact_or_generic(body: dict) -> str:
    pair = user_pair(body)
    return "specific" if pair and normalize(pair[0]) == normalize(pair[1]) else "generic"


def test_judge_key_from_the_environment_is_used_and_never_written(tmp_path, make_config, monkeypatch, capsys,
                                                                   caplog):
    key = "sk-train-" + secrets.token_hex(12)
    monkeypatch.setenv("SPECIARL_TEST_TRAIN_JUDGE_KEY", key)
    caplog.set_level(logging.DEBUG)
    with OpenAIServer(exact_or_generic) as server:
        raw = make_config(judge={"type": "openai", "base_url": server.base_url, "model": "judge", "cache": "none",
                                 "choice_field": "none", "api_key_env": "SPECIARL_TEST_TRAIN_JUDGE_KEY"},
                          report_to="tensorboard", save_strategy="steps", save_steps=2, max_steps=2)
        config = tmp_path / "train.yaml"
        config.write_text(yaml.safe_dump(raw))
        assert main(["train", str(config)]) == 0
        assert server.requests and {h.get("Authorization") for h in server.headers} == {f"Bearer {key}"}
    out = Path(raw["output_dir"])
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any("tfevents" in p.name for p in files) and any(p.name == "training_args.bin" for p in files)
    assert [str(p) for p in files if key.encode() in p.read_bytes()] == []
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err + caplog.text


def test_literal_secrets_are_refused_without_being_repeated():
    token = "hf_" + secrets.token_hex(12)
    base = {"output_dir": "/tmp/x", "use_cpu": True, "bf16": False}
    with pytest.raises(ConfigError) as info:
        parse_config({**base, "hub_token": token}, "c.yaml")
    assert "HF_TOKEN" in str(info.value) and token not in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config({**base, "judge": {"type": "openai", "base_url": "u", "model": "m", "api_key": token}}, "c.yaml")
    assert "api_key_env" in str(info.value) and token not in str(info.value)
