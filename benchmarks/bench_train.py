"""Benchmark one GRPO training step, split into generation, judging, reward and optimisation.

    python benchmarks/bench_train.py [--steps 8] [--images 2] [--generations 4] [--completion 32] [--threads 1]

Runs `speciarl train`'s trainer (the tiny offline Qwen2.5-VL, generated shape images, the taxonomy
judge, LoRA) on the CPU and reads the per-step timings the trainer logs: `time/generation_s`
(TRL's `_generate`), `time/judge_s` (answer extraction + judge, this process), `time/reward_s`
(gathering, group anchoring, metrics, rollout log), and TRL's `step_time` (the whole step);
optimisation is the rest (log-probs, loss, backward, optimizer). The first step (warm-up) is left
out. The goal: our judging + reward + logging overhead under 5 % of the step with the taxonomy judge.
`benchmarks/gpu_train_step.py` runs the same measurement on a GPU at realistic sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from speciarl.train.config import parse_config
from speciarl.train.run import build_grpo_trainer

PARTS = ("time/generation_s", "time/judge_s", "time/reward_s")


def config(out: Path, *, images: int, generations: int, completion: int, steps: int, model: dict[str, Any],
           device: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model,
        "data": {"synthetic": {"n_images": max(8, images), "seed": 0}},
        "reward": {"scheme": "speciarl"},
        "judge": {"type": "taxonomy", "cache": "none"},
        "lora": {"enabled": True, "r": 8, "lora_alpha": 16},
        "logging": {"samples_every": 0},
        "output_dir": str(out),
        "loss_type": "grpo", "beta": 0.01, "num_generations": generations,
        "per_device_train_batch_size": images * generations,  # one generation = one optimizer step
        "max_completion_length": completion, "learning_rate": 1e-4, "lr_scheduler_type": "constant",
        "max_steps": steps, "logging_steps": 1, "save_strategy": "no", "report_to": "none", "seed": 0,
        "gradient_checkpointing": False, **device,
    }


def measure(raw: dict[str, Any]) -> dict[str, Any]:
    """Run the trainer and return per-step timings (warm-up step dropped) and the build time."""
    started = time.perf_counter()
    trainer = build_grpo_trainer(parse_config(raw, "<benchmark>"))
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for quiet in (PrinterCallback, ProgressCallback):  # the table is the output
        trainer.remove_callback(quiet)
    built = time.perf_counter() - started
    trainer.train()
    steps = [h for h in trainer.state.log_history if "step_time" in h and "time/generation_s" in h][1:]
    if not steps:
        raise SystemExit("no timed steps: raise --steps")
    rows = {k: [float(h[k]) for h in steps] for k in (*PARTS, "step_time", "speciarl/tokens_per_rollout")}
    return {"rows": rows, "n": len(steps), "build_s": built,
            "completions": trainer.args.per_device_train_batch_size * trainer.args.steps_per_generation}


def report(result: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = result["rows"]
    step = statistics.mean(rows["step_time"])
    parts = {
        "generation": statistics.mean(rows["time/generation_s"]),
        "judging (extract + judge)": statistics.mean(rows["time/judge_s"]),
        "reward + metrics + rollout log": statistics.mean(rows["time/reward_s"]),
    }
    parts["optimisation (log-probs, loss, backward, step)"] = step - sum(parts.values())
    table = Table(title=f"{title}: {result['n']} timed steps, {result['completions']} completions per step, "
                  f"{statistics.mean(rows['speciarl/tokens_per_rollout']):.0f} tokens per rollout")
    table.add_column("part")
    table.add_column("seconds per step", justify="right")
    table.add_column("share of step", justify="right")
    for name, seconds in parts.items():
        table.add_row(name, f"{seconds:.4f}", f"{100 * seconds / step:.2f} %")
    table.add_row("whole step", f"{step:.4f}", "100 %")
    overhead = parts["judging (extract + judge)"] + parts["reward + metrics + rollout log"]
    table.add_row("our overhead (judging + reward + logging)", f"{overhead:.4f}", f"{100 * overhead / step:.2f} %")
    table.add_row("steps per second", f"{1 / step:.3f}", "")
    Console().print(table)
    print(f"setup (model, data, trainer) {result['build_s']:.1f} s, not counted")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--images", type=int, default=2, help="images per step")
    parser.add_argument("--generations", type=int, default=4, help="G, rollouts per image")
    parser.add_argument("--completion", type=int, default=32, help="max_completion_length")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steady numbers on a shared machine; more threads on a busy "
                        "2-core box made steps 40x slower and noisy)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        raw = config(Path(tmp) / "run", images=args.images, generations=args.generations, completion=args.completion,
                     steps=args.steps, model={"name_or_path": "tiny", "dtype": "float32"},
                     device={"use_cpu": True, "bf16": False})
        report(measure(raw), "tiny Qwen2.5-VL on CPU, taxonomy judge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
