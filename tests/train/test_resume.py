"""Stopping and resuming: a judge outage mid-run stops training with a clear error and a checkpoint,
and the run resumes from it once the judge is back; a killed run resumes from its last checkpoint.
Neither leaves duplicated or missing steps in the rollout log."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from transformers import TrainerCallback

from speciarl.answers import normalize
from speciarl.cli import main
from speciarl.train.callbacks import read_rollouts
from speciarl.train.config import parse_config
from speciarl.train.rewards import JudgeOutageError
from speciarl.train.run import build_grpo_trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from openai_server import OpenAIServer, user_pair  # noqa: E402


def exact_or_wrong(body: dict) -> str:
    pair = user_pair(body)
    return "specific" if pair and normalize(pair[0]) == normalize(pair[1]) else "wrong"


class StopServerAfter(TrainerCallback):
    def __init__(self, server: OpenAIServer, step: int):
        self.server, self.step = server, step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            self.server.stop()


def rollout_keys(out: Path) -> Counter:
    rows = read_rollouts(out / "rollouts")
    return Counter((r["step"], r["sample_id"], r["prediction_index"]) for r in rows)


def test_judge_outage_stops_with_checkpoint_then_resumes(tmp_path, make_config):
    server = OpenAIServer(exact_or_wrong).start()
    try:
        raw = make_config(
            judge={"type": "openai", "base_url": server.base_url, "model": "test-judge", "cache": "none",
                   "max_retries": 0, "timeout": 5, "retry_budget_s": 1.0, "retry_interval_s": 0.25},
            max_steps=3, save_strategy="steps", save_steps=100)
        cfg = parse_config(raw, "outage.yaml")
        trainer = build_grpo_trainer(cfg, callbacks=[StopServerAfter(server, 1)])
        with pytest.raises(JudgeOutageError) as info:
            trainer.train()
        message = str(info.value)
        assert "judge kept failing" in message and "--resume" in message and "checkpoint-1" in message
        out = cfg.output_dir
        assert (out / "checkpoint-1" / "trainer_state.json").is_file()  # written by the outage, not save_steps
        assert {k[0] for k in rollout_keys(out)} == {1}  # no step of made-up rewards was logged
        metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert all(m["step"] <= 1 for m in metrics)

        server.start()  # the judge is back, on the same port
        config = tmp_path / "outage.yaml"
        config.write_text(yaml.safe_dump(raw))
        assert main(["train", str(config), "--resume"]) == 0
        keys = rollout_keys(out)
        assert {k[0] for k in keys} == {1, 2, 3} and set(keys.values()) == {1} and len(keys) == 24
        state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
        assert state["global_step"] == 3
    finally:
        server.stop()


def test_outage_error_is_one_line_from_the_cli(tmp_path, make_config, capsys):
    server = OpenAIServer(exact_or_wrong)  # never started: the judge is unreachable from the first step
    raw = make_config(judge={"type": "openai", "base_url": server.base_url, "model": "m", "cache": "none",
                             "max_retries": 0, "retry_budget_s": 0.5, "retry_interval_s": 0.25})
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # one line (a progress bar may precede it on the terminal line)
    errors = [line[line.index("speciarl train: error:"):] for line in re.split(r"[\r\n]", err)
              if "speciarl train: error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith("speciarl train: error: the judge kept failing") and "checkpoint-0" in errors[0]


def test_killed_run_resumes_from_last_checkpoint(tmp_path, make_config):
    raw = make_config(max_steps=5, save_strategy="steps", save_steps=1)
    config = tmp_path / "kill.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = Path(raw["output_dir"])
    proc = subprocess.Popen([sys.executable, "-m", "speciarl.cli", "train", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 300
        while not (out / "checkpoint-3" / "trainer_state.json").is_file():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint-3 within 300 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "checkpoint-5").exists()
    assert main(["train", str(config), "--resume"]) == 0
    keys = rollout_keys(out)
    assert {k[0] for k in keys} == {1, 2, 3, 4, 5} and set(keys.values()) == {1} and len(keys) == 40
    assert json.loads((out / "checkpoint-5" / "trainer_state.json").read_text())["global_step"] == 5
    # 8 images, 2 per step: steps 1-4 are the first pass over the data, step 5 starts the second
    passes = sorted((out / "rollouts").glob("pass-*.jsonl"))
    assert [p.name for p in passes] == ["pass-01.jsonl", "pass-02.jsonl"]
    assert [len(p.read_text().splitlines()) for p in passes] == [32, 8]
    assert main(["report", *map(str, passes), "--out", str(tmp_path / "report"), "--no-plots"]) == 0
