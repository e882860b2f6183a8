"""benchmarks/gpu_rehearsal.sh: its CPU dry run (tiny sizes, same code path as on the GPU) passes and
reports the paper preset's schedule; a missing package without wheels stops it before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_rehearsal.sh"


def test_cpu_dry_run_passes_with_the_presets_schedule(tmp_path):
    figures = tmp_path / "figures.json"
    proc = subprocess.run(["bash", str(SCRIPT), "--cpu-dry-run", "--workdir", str(tmp_path / "w"), "--json",
                           str(figures)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(figures.read_text())
    # 8 images, 4 per generation, 2 per update, 1 epoch: 2 generations feeding 2 updates each
    assert (out["generations"], out["optimizer_steps"], out["completions_per_generation"]) == (2, 4, 16)
    assert out["loss_type"] == "dapo" and out["generation"] == "transformers" and out["images"] == 8
    assert out["s_per_step"] > 0 and out["rollout_tokens_per_s"] > 0 and out["images_per_s"] > 0
    assert out["total_s"] >= out["build_s"] + out["train_s"] + out["eval_s"]
    assert "generation: transformers generate (vLLM not importable)" in proc.stdout


def test_a_missing_package_without_wheels_fails_loudly(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "trl.py").write_text("raise ImportError('not on this box')\n")
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(shim), "SPECIARL_WHEELS": str(tmp_path / "no")}
    proc = subprocess.run(["bash", str(SCRIPT), "--cpu-dry-run", "--workdir", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and "not importable here: trl" in proc.stdout
    assert f"no wheel folder {tmp_path / 'no'}" in proc.stderr and not (tmp_path / "w").exists()
