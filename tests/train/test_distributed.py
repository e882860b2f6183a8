"""Two processes (torchrun, gloo on CPU) whose generation batch splits a group across processes:
the rewards are those of a single-process computation over the gathered rollouts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import defaultdict

import yaml

from test_grpo import check_rollout_log


def test_groups_straddling_processes_get_single_process_rewards(tmp_path, make_config, shapes_trainset):
    # per process: 3 completions per micro-batch x 2 micro-batches per generation = 6 rollouts;
    # 2 processes -> 12 rollouts = 3 groups of G=4, so the middle group has 2 rollouts on each process.
    raw = make_config(per_device_train_batch_size=3, steps_per_generation=2, beta=0.0)
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # torchrun's static rendezvous needs a real port (0 hangs)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "speciarl.cli", "train", str(config)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "run"
    records = check_rollout_log(out, scheme="speciarl", taxonomy=shapes_trainset["taxonomy"])
    assert len(records) == 12 and {r["step"] for r in records} == {1}  # one generation feeds both steps
    ranks_per_group = defaultdict(set)
    for r in records:
        ranks_per_group[r["sample_id"]].add(r["rank"])
    assert {0, 1} in list(ranks_per_group.values())  # a group really straddled the two processes
    assert {r["rank"] for r in records} == {0, 1}
