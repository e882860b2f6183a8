"""Drives verl 0.9.1's own reward-loop classes with the SpeciaRL reward (run by test_verl.py and
benchmarks/bench_verl_reward.py in the environment that has the real verl).

    python verl_reward_loop.py SPEC.json   →  one JSON line on stdout

Each of `workers` forked processes stands for one `RewardLoopWorker` Ray actor: it builds the real
`RewardLoopWorker` from verl's composed config (which loads our reward with verl's
`get_custom_reward_fn` and wraps it in the real `naive` manager) and awaits `compute_score` for
every rollout routed to it (at random, as verl's agent loop does), all at once on its event loop.
Ray itself is not started: two shared cores cannot host it next to the tests; the worker processes
and their event loops are the ones Ray would run.

Run it with the interpreter of verl's own venv (test_verl.run_in_verl_venv): each worker reports where its
imported modules came from ("environment"), so a test can check that nothing leaked in from another venv.

SPEC: {"judge_config": path, "workers": int, "rollouts": [[ground_truth, response_text, uid], ...],
       "reward_kwargs": {...}, "overrides": [...], "seed": int, "estimator": bool,
       "rate_limited_probe": bool, "reward_path": another reward file (benchmarks: verl's own cost),
       "warm": bool (each worker scores a rollout outside the step first, not counted: a later step)}
Output: {"scores": [...], "categories": [...], "errors": [...], "seconds": wall time of the scoring
         (all workers released together), "worker_cpu": CPU seconds of all workers while scoring, "judge": summed judge counters (llm, cache, requests),
         "advantage": "ok" | error text, "rate_limited": error text}
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
import traceback


def byte_tokenizer(path: str) -> None:
    """A real Hugging Face tokenizer, built offline: byte-level BPE without merges (decode(encode(x)) == x)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(path)


def compose_config(spec: dict, tokenizer_dir: str, extra: list[str] = ()):
    from speciarl.integrations.verl.launch import compose

    kwargs = {"judge_config": spec["judge_config"], **spec.get("reward_kwargs", {})}
    overrides = [
        f"actor_rollout_ref.model.path={tokenizer_dir}",
        "reward.custom_reward_function.path=pkg://speciarl.integrations.verl.reward",
        "reward.custom_reward_function.name=compute_score",
        f"reward.num_workers={spec['workers']}",
        "+reward.custom_reward_function.reward_kwargs.reward_workers=${reward.num_workers}",
        *[f"+reward.custom_reward_function.reward_kwargs.{k}={json.dumps(v)}" for k, v in kwargs.items()],
        f"actor_rollout_ref.rollout.n={spec.get('n', 10)}",
        *spec.get("overrides", []), *extra,
        *([f"reward.custom_reward_function.path={spec['reward_path']}"] if spec.get("reward_path") else []),
    ]
    return compose(overrides)


def rollout_item(tokenizer, ground_truth: str, text: str, uid: str):
    """One finished rollout as verl's agent loop hands it to a reward worker (a one-row DataProto)."""
    import numpy as np
    import torch
    from tensordict import TensorDict

    from verl import DataProto

    prompt = torch.tensor([tokenizer.encode("<image>classify")], dtype=torch.int64)
    response = torch.tensor([tokenizer.encode(text)], dtype=torch.int64)
    batch = TensorDict({"prompts": prompt, "responses": response,
                        "attention_mask": torch.ones(1, prompt.shape[1] + response.shape[1], dtype=torch.int64)},
                       batch_size=1)
    return DataProto(batch=batch, non_tensor_batch={
        "data_source": np.array(["synthetic"], dtype=object),
        "reward_model": np.array([{"ground_truth": ground_truth, "style": "rule"}], dtype=object),
        "extra_info": np.array([{"sample_id": uid}], dtype=object),
        "uid": np.array([uid], dtype=object),
    })


def environment() -> dict:
    """Where this process's code came from: its venv (sys.prefix) and every imported module whose file
    lies outside that venv, the project's src/, this script's folder and the interpreter's standard
    library (a module of another venv or of the base interpreter's site-packages is foreign)."""
    import sysconfig

    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(os.path.dirname(os.path.dirname(here)), "src")
    stdlib = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    base_site = {os.path.realpath(p) for p in (sysconfig.get_paths(vars={"base": sys.base_prefix,
                                                                          "platbase": sys.base_prefix})[key]
                                                for key in ("purelib", "platlib"))}
    inside = [os.path.realpath(sys.prefix), os.path.realpath(src), os.path.realpath(here)]
    foreign, counted = [], 0
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or not os.path.isabs(path):
            continue  # built-in, frozen, a namespace package, or a stand-in (torch.ops' "_ops.py")
        counted += 1
        path = os.path.realpath(path)
        if any(path.startswith(root + os.sep) for root in inside):
            continue
        if any(path.startswith(lib + os.sep) for lib in stdlib) and not any(
                path.startswith(site + os.sep) for site in base_site):
            continue
        foreign.append(f"{name}: {path}")
    return {"prefix": sys.prefix, "executable": sys.executable, "modules": counted, "foreign": sorted(foreign)}


async def judge_stats() -> dict:
    """The LLM calls and cache hits of this worker's judge(s) (on the worker's loop, their home)."""
    from speciarl.ioloop import running_loop_home

    totals = {"llm": 0, "cache": 0, "requests": 0}
    for fut in running_loop_home().state.get("verl_scorers", {}).values():
        if fut.done() and not fut.exception():
            stats = fut.result().judge.stats
            for key in totals:
                totals[key] += getattr(stats, key)
    return totals


def worker_process(config, rollouts, share, conn, ready, warm: bool = False) -> None:
    """One reward worker: verl's RewardLoopWorker, every routed rollout awaited concurrently once all
    workers are up (verl's actors exist before a step starts). `warm`: first score one rollout outside
    the step, as a previous step would have (judge built, connections open), and count from there."""
    try:
        from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

        worker = RewardLoopWorker(config)
        items = {i: rollout_item(worker.input_tokenizer, *rollouts[i]) for i in share}
        before = {"llm": 0, "cache": 0, "requests": 0}
        if warm:
            probe = rollout_item(worker.input_tokenizer, "warm-up label", "<answer>warm-up answer</answer>", "warm-up")
            worker.loop.run_until_complete(worker.compute_score(probe))
            before = worker.loop.run_until_complete(judge_stats())
        ready.wait()

        async def one(i):
            try:
                out = await worker.compute_score(items[i])
                return i, out["reward_score"], out["reward_extra_info"]["category"], None
            except BaseException as exc:  # noqa: BLE001 - what verl's agent loop would see
                return i, None, None, f"{type(exc).__name__}: {exc}"

        async def all_of_them():
            return await asyncio.gather(*(one(i) for i in share))

        profiler = None
        if os.environ.get("SPECIARL_PROFILE_DIR"):  # cProfile of each worker's scoring (benchmarks)
            import cProfile

            profiler = cProfile.Profile(time.thread_time)  # this thread's CPU time (verl decodes in other threads)
            profiler.enable()
        started, cpu = time.time(), time.process_time()
        results = worker.loop.run_until_complete(all_of_them())
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.path.join(os.environ["SPECIARL_PROFILE_DIR"], f"worker{os.getpid()}.prof"))
        after = worker.loop.run_until_complete(judge_stats())
        conn.send({"results": results, "start": started, "end": time.time(), "cpu": time.process_time() - cpu,
                   "stats": {key: after[key] - before[key] for key in after}, "environment": environment()})
    except BaseException:  # noqa: BLE001
        ready.abort()  # release the others: the parent reports this crash
        conn.send({"crash": traceback.format_exc()})
    finally:
        conn.close()


def advantage_check(config, rollouts, scores) -> str:
    """Our estimator, looked up in verl's registry and called with the arguments verl's
    `compute_advantage` passes to a registered estimator, on the scored rollouts (failed ones absent, as
    verl's v1 trainer leaves them): 'ok' or the error that stops training. (verl's ray_trainer module
    itself needs the cluster extras — uvicorn, cachetools — that this environment lacks.)"""
    import numpy as np
    import torch

    import speciarl.integrations.verl as ours
    from verl.trainer.ppo import core_algos

    ours.register()
    kept = [i for i, s in enumerate(scores) if s is not None]
    length = 4
    rewards = torch.zeros(len(kept), length)
    rewards[:, -1] = torch.tensor([float(scores[i]) for i in kept])
    estimator = core_algos.get_adv_estimator_fn(config.algorithm.adv_estimator)
    try:
        advantages, _ = estimator(token_level_rewards=rewards, response_mask=torch.ones(len(kept), length),
                                  config=config.algorithm,
                                  index=np.array([rollouts[i][2] for i in kept], dtype=object))
    except Exception as exc:  # noqa: BLE001 - the message is the result
        return f"{type(exc).__name__}: {exc}"
    # the same as verl's own GRPO on the SpeciaRL rewards of each uid group
    uids = np.array([rollouts[i][2] for i in kept], dtype=object)
    placed = torch.zeros(len(kept), length)
    if config.algorithm.adv_estimator == "speciarl":
        placed[:, 0] = torch.tensor(ours.anchored_rewards([float(scores[i]) for i in kept], list(uids)))
    else:
        placed[:, 0] = rewards[:, -1]
    reference, _ = core_algos.compute_grpo_outcome_advantage(placed, torch.ones(len(kept), length), uids)
    if not torch.allclose(advantages, reference):
        return "advantages differ from verl's GRPO on the SpeciaRL rewards"
    return "ok" if torch.isfinite(advantages).all() and advantages.abs().max() > 0.1 else "degenerate advantages"


def rate_limited_probe(spec, tokenizer_dir) -> str:
    """Our reward under verl's rate_limited manager: it must refuse, not become a 0.0 score."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    config = compose_config(spec, tokenizer_dir, ["reward.reward_manager.name=rate_limited"])
    worker = RewardLoopWorker(config)
    item = rollout_item(worker.input_tokenizer, "red circle", "<answer>red circle</answer>", "u0")
    try:
        out = worker.loop.run_until_complete(worker.compute_score(item))
    except BaseException as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return f"scored {out['reward_score']}"


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    rollouts = [tuple(r) for r in spec["rollouts"]]
    with tempfile.TemporaryDirectory() as tmp:
        byte_tokenizer(tmp)
        config = compose_config(spec, tmp)
        rng = random.Random(spec.get("seed", 0))
        shares: list[list[int]] = [[] for _ in range(spec["workers"])]
        for i in range(len(rollouts)):
            shares[rng.randrange(spec["workers"])].append(i)  # verl: random.choice(reward workers)
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Barrier(len(shares) + 1)
        pipes, procs = [], []
        for share in shares:
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=worker_process, args=(config, rollouts, share, child, ready, spec.get("warm")))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        try:
            ready.wait(600)
        except threading.BrokenBarrierError:
            pass  # a worker crashed: its reply says why
        started = time.time()
        replies = [p.recv() for p in pipes]
        for proc in procs:
            proc.join(60)
        crashes = [r["crash"] for r in replies if "crash" in r]
        if crashes:
            raise SystemExit("a reward worker crashed:\n" + crashes[0])
        scores, categories, errors = [None] * len(rollouts), [None] * len(rollouts), [None] * len(rollouts)
        for reply in replies:
            for i, score, category, error in reply["results"]:
                scores[i], categories[i], errors[i] = score, category, error
        out = {"scores": scores, "categories": categories, "errors": errors,
               "seconds": max(r["end"] for r in replies) - started,
               "worker_seconds": [r["end"] - r["start"] for r in replies],
               "worker_cpu": sum(r["cpu"] for r in replies),
               "worker_llm": [r["stats"]["llm"] for r in replies],
               "judge": {key: sum(r["stats"][key] for r in replies) for key in replies[0]["stats"]},
               "environment": [r["environment"] for r in replies]}
        if spec.get("estimator"):
            out["advantage"] = advantage_check(config, rollouts, scores)
        if spec.get("rate_limited_probe"):
            out["rate_limited"] = rate_limited_probe(spec, tmp)
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown of verl's imports (seconds on a loaded machine)


if __name__ == "__main__":
    main()
