"""Runs a Python command under the interpreter of verl's own venv (SPECIARL_VERL_PYTHON), for the real-verl
tests and benchmarks: only this checkout's src/ is added to its path (so the code under test is this
checkout's even if the venv's editable install points elsewhere), and no variable of the calling venv is kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_in_verl_venv(python: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.run([python, *args], capture_output=True, text=True, env=env, timeout=timeout)
