"""Two processes (torchrun, gloo on CPU): a generation batch that splits a group across processes gets
the rewards of a single-process computation over the gathered rollouts; a `recipe` config runs the
schedule it resolved for two processes."""

from __future__ import annotations

import os
import json
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from test_grpo import check_rollout_log


def _torchrun(config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # torchrun's static rendezvous needs a real port (0 hangs)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "speciarl.cli", "train", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_recipe_schedule_is_what_two_processes_run(tmp_path, make_config, shapes_trainset):
    """8 images, 4 per generation, 2 per update, G=4, 1 epoch, on 2 processes: TRL's fields derived at
    launch (GA 2, 4 micro-steps per generation), and the logs show 2 generations of 4 images feeding
    2 optimizer updates each."""
    raw = make_config(per_device_train_batch_size=2, beta=0.0)
    del raw["max_steps"]
    raw["recipe"] = {"images_per_generation": 4, "images_per_update": 2, "epochs": 1}
    config = tmp_path / "recipe.yaml"
    config.write_text(yaml.safe_dump(raw))
    proc = _torchrun(config)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "run"
    schedule = json.loads((out / "speciarl_run.json").read_text())["schedule"]
    assert schedule["world_size"] == 2 and schedule["gradient_accumulation_steps"] == 2
    assert proc.stdout.count("speciarl: schedule (recipe, 2 process(es), 8 training images)") == 1  # main only
    records = check_rollout_log(out, scheme="speciarl", taxonomy=shapes_trainset["taxonomy"])
    images_per_step: dict[int, set] = defaultdict(set)
    for r in records:
        images_per_step[r["step"]].add(r["sample_id"])
    generations = len(images_per_step)
    optimizer_steps = max(json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines())
    images_per_generation = {len(ids) for ids in images_per_step.values()}
    assert sorted(images_per_step) == [1, 3]  # a generation every second update
    assert (generations, optimizer_steps, images_per_generation) == (
        schedule["generations"], schedule["optimizer_steps"], {schedule["images_per_generation"]})
    assert schedule["images_per_generation"] * generations / optimizer_steps == schedule["images_per_update"] == 2
    assert set().union(*images_per_step.values()) == {r["sample_id"] for r in records} and len(records) == 2 * 4 * 4


def test_groups_straddling_processes_get_single_process_rewards(tmp_path, make_config, shapes_trainset):
    # per process: 3 completions per micro-batch x 2 micro-batches per generation = 6 rollouts;
    # 2 processes -> 12 rollouts = 3 groups of G=4, so the middle group has 2 rollouts on each process.
    raw = make_config(per_device_train_batch_size=3, steps_per_generation=2, beta=0.0)
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(raw))
    proc = _torchrun(config)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "run"
    records = check_rollout_log(out, scheme="speciarl", taxonomy=shapes_trainset["taxonomy"])
    assert len(records) == 12 and {r["step"] for r in records} == {1}  # one generation feeds both steps
    ranks_per_group = defaultdict(set)
    for r in records:
        ranks_per_group[r["sample_id"]].add(r["rank"])
    assert {0, 1} in list(ranks_per_group.values())  # a group really straddled the two processes
    assert {r["rank"] for r in records} == {0, 1}
