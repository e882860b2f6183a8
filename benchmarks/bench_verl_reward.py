"""A paper-sized step of rewards through verl's reward loop, against the batch path on the same inputs.

    SPECIARL_VERL_PYTHON=.venv-verl/bin/python python benchmarks/bench_verl_reward.py \
        [--latency 0.05] [--capacity 64] [--workers 8] [--repeats 3]

One step = 256 images x 10 rollouts = 2,560 rollouts (about 30 % distinct pairs, 25 % exact matches;
tests/helpers/steps.py), graded by a judge server answering after `latency` (the test server in a
subprocess) with room for `capacity` requests at once:

- batch path: `RolloutScorer.grade` on the whole list (what the TRL trainer does per step), with
  `concurrency = capacity`;
- verl: `workers` forked processes, each verl 0.9.1's real `RewardLoopWorker` with the `naive`
  manager awaiting our async `compute_score` for every rollout routed to it (at random, as verl's
  agent loop does), all released at once; each worker's judge gets `capacity / workers` connections,
  and all share one cache (Redis when `redis-server` is installed, else one SQLite file). Each worker
  first scores one rollout outside the step, not counted (a later training step: judge built,
  connections open), as the batch path's timing starts after its judge is built.

Prints both wall times (the median of `repeats`, each on a fresh cache) and their ratio (target
<= 1.5x), and the LLM calls of each against the distinct non-fast-path pairs (target <= 1.1x). Also
times the step again on the filled cache (our reward without LLM calls), and in every repeat with a
constant reward (verl's own pipeline, the worker's heap frozen on the first call as our reward does):
the floors under the verl figure. With all rollouts released at once, verl runs every rollout's
slicing and decoding before the first reward call reaches any reward, so the time our reward adds to
that pipeline (verl - constant, per repeat) is printed too, against the batch path.
Ray itself is not started (see tests/train/verl_reward_loop.py); on a shared 2-core machine the eight
worker processes also compete for CPU with the server, so read the ratio as an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from openai_server import ServerProcess  # noqa: E402
from redis_server import RedisServer, redis_binary  # noqa: E402
from steps import rollout_texts, training_step  # noqa: E402
from verl_venv import run_in_verl_venv  # noqa: E402

from speciarl.answers import extract_answer, normalize  # noqa: E402
from speciarl.judges import FastPaths, build_judge  # noqa: E402
from speciarl.train.rewards import RolloutScorer  # noqa: E402


def distinct_llm_pairs(rollouts) -> int:
    fast, distinct = FastPaths(), set()
    for gt, text, _ in rollouts:
        answer = extract_answer(text)
        if answer is None:
            continue
        g, a = normalize(gt), normalize(answer)
        if fast.check(g, a, answer) is None:
            distinct.add((g, a))
    return len(distinct)


CONSTANT_REWARD = """
import gc
frozen = []


async def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    if not frozen:  # the worker's heap frozen on the first call, as our reward does (docs/training.md)
        gc.collect()
        gc.freeze()
        frozen.append(True)
    return {"score": 1.0, "category": "specific"}
"""


def batch_path(rollouts, base_url: str, capacity: int, cache: str) -> tuple[float, int, float]:
    judge = build_judge({"type": "openai", "base_url": base_url, "model": "bench", "cache": cache,
                         "concurrency": capacity})
    scorer = RolloutScorer(judge)
    started, cpu = time.perf_counter(), time.process_time()
    graded = scorer.grade([g for g, _, _ in rollouts], [t for _, t, _ in rollouts])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    judge.close()
    assert graded.error is None, graded.error
    return seconds, judge.stats.llm, cpu


def verl_path(rollouts, base_url: str, capacity: int, workers: int, cache: str, tmp: Path,
              reward_path: str | None = None) -> dict:
    import yaml

    verl_python = os.environ.get("SPECIARL_VERL_PYTHON")
    if not verl_python:
        raise SystemExit("set SPECIARL_VERL_PYTHON to the python of verl's venv (`make test` builds .venv-verl)")
    judge = tmp / "judge.yaml"
    judge.write_text(yaml.safe_dump({"type": "openai", "base_url": base_url, "model": "bench", "cache": cache,
                                     "concurrency": capacity}))
    spec = tmp / "spec.json"
    spec.write_text(json.dumps({"judge_config": str(judge), "workers": workers, "rollouts": rollouts,
                                "overrides": ["algorithm.adv_estimator=speciarl"], "reward_path": reward_path,
                                "warm": True}))
    proc = run_in_verl_venv(verl_python, [str(ROOT / "tests" / "train" / "verl_reward_loop.py"), str(spec)], 1800)
    if proc.returncode:
        raise SystemExit(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--capacity", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    rollouts = rollout_texts(training_step())
    pairs = {(g, extract_answer(t)) for g, t, _ in rollouts}
    expected = distinct_llm_pairs(rollouts)
    redis = RedisServer(Path(tempfile.mkdtemp()) / "redis").start() if redis_binary() else None
    batch, loop, batch_calls, loop_calls, batch_cpu, loop_cpu, floors = [], [], set(), set(), [], [], []
    try:
        with ServerProcess(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            constant = tmp_path / "constant_reward.py"
            constant.write_text(CONSTANT_REWARD)
            for rep in range(args.repeats):
                seconds, llm, cpu = batch_path(rollouts, server.base_url, args.capacity, "none")
                batch.append(seconds)
                batch_calls.add(llm)
                batch_cpu.append(cpu)
                cache = f"{redis.url[:-1]}{rep + 1}" if redis else str(tmp_path / f"cache{rep}.sqlite")
                out = verl_path(rollouts, server.base_url, args.capacity, args.workers, cache, tmp_path)
                assert out["errors"] == [None] * len(rollouts), next(e for e in out["errors"] if e)
                loop.append(out["seconds"])
                loop_calls.add(out["judge"]["llm"])
                loop_cpu.append(out["worker_cpu"])
                # verl's own pipeline in the same conditions: what any reward pays before its first call
                verl_only = verl_path(rollouts, server.base_url, args.capacity, args.workers, "none", tmp_path,
                                      reward_path=str(constant))
                floors.append(verl_only["seconds"])
            # the same step again on the filled cache: our reward's work without any LLM call
            warm = verl_path(rollouts, server.base_url, args.capacity, args.workers, cache, tmp_path)
    finally:
        if redis:
            redis.stop()
    b, v, floor = statistics.median(batch), statistics.median(loop), statistics.median(floors)
    added = statistics.median(x - f for x, f in zip(loop, floors))
    per = 1e6 / len(rollouts)
    rows = [
        ("rollouts", f"{len(rollouts)} ({len(pairs)} distinct pairs, {len(pairs) / len(rollouts):.0%})"),
        ("distinct non-fast-path pairs", f"{expected}"),
        ("judge", f"{args.latency * 1000:.0f} ms per request, capacity {args.capacity}"),
        ("shared cache (verl workers)", "redis" if redis else "sqlite (one file, no cross-process locks)"),
        (f"batch path, RolloutScorer.grade (median of {args.repeats})",
         f"{b * 1000:.0f} ms, LLM calls {sorted(batch_calls)} = "
         f"{max(batch_calls) / expected:.2f}x distinct"),
        (f"verl reward loop, {args.workers} workers (median of {args.repeats})",
         f"{v * 1000:.0f} ms, LLM calls {sorted(loop_calls)} = {max(loop_calls) / expected:.2f}x distinct "
         "(target <= 1.1x)"),
        ("wall time, verl / batch", f"{v / b:.2f}x (target <= 1.5x); runs: verl "
         + ", ".join(f"{x * 1000:.0f}" for x in loop) + " ms; batch " + ", ".join(f"{x * 1000:.0f}" for x in batch)
         + " ms"),
        (f"verl reward loop with a constant reward (median of {args.repeats})",
         f"{floor * 1000:.0f} ms (verl's own pipeline: decode in a thread pool, DataProto slicing; heap frozen "
         "as ours)"),
        ("time our reward adds to verl's own pipeline", f"{added * 1000:.0f} ms = {added / b:.2f}x the batch path "
         "(median over runs of verl - constant reward)"),
        ("verl reward loop, every pair already cached", f"{warm['seconds'] * 1000:.0f} ms, LLM calls "
         f"{warm['judge']['llm']} (our reward without the judge: extraction, fast paths, cache lookups)"),
        ("CPU per rollout", f"batch path {statistics.median(batch_cpu) * per:.0f} us; verl loop "
         f"{statistics.median(loop_cpu) * per:.0f} us; every pair cached {warm['worker_cpu'] * per:.0f} us; "
         f"verl's own {verl_only['worker_cpu'] * per:.0f} us (last run)"),
        ("machine load (1-min average)", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"),
    ]
    width = max(len(k) for k, _ in rows)
    print("verl reward benchmark (a paper-sized step)")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
