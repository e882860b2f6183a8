"""`speciarl eval` as a user runs it: the shipped tiny_cpu config end to end, and a SIGKILL during predict."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from speciarl.records import read_records

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "speciarl.cli"]


def _run(args, cwd, timeout=300):
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_tiny_cpu_config_end_to_end_and_rerun(tmp_path):
    proc = _run(["eval", str(REPO / "configs/eval/tiny_cpu.yaml"), "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = next((tmp_path / "runs/eval").glob("tiny-cpu-*"))
    preds = read_records(run_dir / "predictions.jsonl")
    graded = read_records(run_dir / "verified.jsonl")
    assert len(preds) == len({p.key for p in preds}) == 36  # 9 classes x 4 test images, greedy
    assert {g.key for g in graded} == {p.key for p in preds}
    assert all(g.graded and g.judge for g in graded)
    assert (run_dir / "report/summary.json").is_file() and (run_dir / "report/summary.md").is_file()
    assert list((run_dir / "report").glob("*.png"))
    assert "correct" in proc.stdout and "HM" in proc.stdout  # the paper-style table at the end
    before = (run_dir / "predictions.jsonl").read_bytes()
    again = _run(["eval", str(REPO / "configs/eval/tiny_cpu.yaml"), "--no-progress"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "predict: complete, skipped" in again.stdout and "verify: complete, skipped" in again.stdout
    assert (run_dir / "predictions.jsonl").read_bytes() == before


def test_sigkill_during_predict_then_rerun_is_complete_without_duplicates(tmp_path, tiny_vlm_path):
    config = {
        "name": "kill",
        "output_dir": "runs",
        "model": {"backend": "transformers", "path": str(tiny_vlm_path), "batch_size": 2, "device": "cpu",
                  "num_threads": 1},
        "benchmarks": [{"name": "synthetic", "root": "bench", "generate": {"per_class": 2}}],
        "sampling": {"n": 4, "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 8, "seed": 1},
        "judge": {"type": "taxonomy", "taxonomy": "bench/taxonomy.yaml", "cache": "none"},
        "report": {"plots": False},
    }
    cfg = tmp_path / "kill.yaml"
    cfg.write_text(yaml.safe_dump(config))
    expected = 18 * 4
    proc = subprocess.Popen(CLI + ["eval", str(cfg), "--no-progress"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        lines = 0
        while time.monotonic() < deadline and proc.poll() is None:
            files = list((tmp_path / "runs").glob("kill-*/predictions.jsonl"))
            lines = files[0].read_bytes().count(b"\n") if files else 0
            if lines >= 10:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "predict finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    path = next((tmp_path / "runs").glob("kill-*/predictions.jsonl"))
    partial = read_records(path, allow_partial_tail=True)
    assert 10 <= len(partial) < expected
    rerun = _run(["eval", str(cfg), "--no-progress"], cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(partial)} already done" in rerun.stdout
    keys = [r.key for r in read_records(path)]
    assert len(keys) == len(set(keys)) == expected
    assert sorted({i for _, i in keys}) == [0, 1, 2, 3]
    assert len(read_records(path.parent / "verified.jsonl")) == expected
