"""Secrets never reach disk: an eval with a literal model API key and a judge key from the environment
writes neither into any file of the run directory, the judge cache, stdout/stderr or the log."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from eval_bench import write_bench  # noqa: E402
from openai_server import OpenAIServer, RuleTable  # noqa: E402

from speciarl.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "predict"))
from test_openai_backend import see_image  # noqa: E402


def _files_containing(root: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n[:6]}..." for n in needles if n.encode() in data]
    return hits


def test_keys_are_used_but_never_written(tmp_path, monkeypatch, capsys, caplog):
    model_key = "sk-model-" + secrets.token_hex(12)
    judge_key = "sk-judge-" + secrets.token_hex(12)
    monkeypatch.setenv("SPECIARL_TEST_JUDGE_KEY", judge_key)
    caplog.set_level(logging.DEBUG)
    bench = write_bench(tmp_path / "bench", n=6)
    runs = tmp_path / "runs"
    vlm_reply = lambda body: see_image(body).replace("</answer>", " shape</answer>")  # noqa: E731  not exact
    with OpenAIServer(vlm_reply) as vlm, OpenAIServer(RuleTable(default="generic")) as judge:
        config = {
            "name": "secret", "output_dir": str(runs),
            "model": {"backend": "openai", "base_url": vlm.base_url, "model": "vlm", "api_key": model_key,
                      "api_key_env": None, "concurrency": 2},
            "benchmarks": [{"name": "manifest", "root": str(bench["manifest"])}],
            "sampling": {"max_new_tokens": 32},
            "judge": {"type": "openai", "base_url": judge.base_url, "model": "judge", "choice_field": "none",
                      "api_key_env": "SPECIARL_TEST_JUDGE_KEY", "cache": str(runs / "judge-cache.sqlite")},
            "report": {"plots": False},
        }
        path = tmp_path / "eval.yaml"
        path.write_text(yaml.safe_dump(config))
        assert main(["eval", str(path), "--no-progress"]) == 0
        # the keys were really sent ...
        assert {h.get("Authorization") for h in vlm.headers} == {f"Bearer {model_key}"}
        assert {h.get("Authorization") for h in judge.headers} == {f"Bearer {judge_key}"}
        assert judge.requests  # the LLM judge was asked (no exact matches)
    # ... and written nowhere: run directory (run.json, records, report, summaries), judge cache, output, log
    run_dirs = [p for p in runs.iterdir() if p.is_dir()]
    assert run_dirs and (run_dirs[0] / "run.json").exists() and (runs / "judge-cache.sqlite").exists()
    assert "**********" in (run_dirs[0] / "run.json").read_text()  # the literal key, redacted
    assert _files_containing(runs, [model_key, judge_key]) == []
    captured = capsys.readouterr()
    logged = caplog.text
    for key in (model_key, judge_key):
        assert key not in captured.out and key not in captured.err and key not in logged


def test_a_config_error_never_shows_the_key(tmp_path, capsys):
    key = "sk-" + secrets.token_hex(16)
    bench = write_bench(tmp_path / "bench", n=3)
    base = {"name": "x", "output_dir": str(tmp_path / "runs"),
            "benchmarks": [{"name": "manifest", "root": str(bench["manifest"])}],
            "judge": {"type": "taxonomy", "taxonomy": str(bench["taxonomy"])}}
    cases = [
        ({"backend": "openai", "base_url": "http://x/v1", "model": "m", "api_key": key, "concurrency": "many"},
         "`model.concurrency`: expected int, got 'many'"),
        ({"backend": "openai", "base_url": "http://x/v1", "model": "m", "api_key": [key]},
         "`model.api_key`: expected str (secret) | null, got <redacted>"),
        ({"backend": "openai", "base_url": "http://x/v1", "model": "m", "api_key": key, "extra": 1},
         "unknown key `model.extra`"),
    ]
    for model, message in cases:
        path = tmp_path / "eval.yaml"
        path.write_text(yaml.safe_dump({**base, "model": model}))
        assert main(["eval", str(path), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err and key not in err
    # a judge takes no literal key: the error says where keys go, and does not repeat it
    path.write_text(yaml.safe_dump({**base, "model": {"backend": "openai", "base_url": "u", "model": "m"},
                                    "judge": {"type": "openai", "base_url": "u", "model": "j", "api_key": key}}))
    assert main(["eval", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown key `judge.api_key`" in err and "api_key_env" in err and key not in err
    assert not (tmp_path / "runs").exists()  # nothing written before the config is valid


def test_run_json_config_hides_url_passwords(tmp_path):
    from speciarl.pipeline.config import load_eval_config

    password = secrets.token_hex(8)
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"backend": "openai", "base_url": f"https://user:{password}@vlm.example/v1", "model": "m"},
        "benchmarks": [{"name": "synthetic", "root": "r"}],
        "judge": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "j",
                  "cache": f"redis://:{password}@127.0.0.1:6379/0"}}))
    config = load_eval_config(path)
    written = json.dumps(config.to_dict())
    assert password not in written and password not in repr(config)
    assert "redis://:**********@127.0.0.1:6379/0" in written and "https://user:**********@vlm.example" in written
    assert config.judge["cache"].endswith(f"{password}@127.0.0.1:6379/0")  # the run itself still connects with it
