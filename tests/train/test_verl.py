"""verl integration: the async reward, the uid-keyed group anchoring, the launch scripts.

Tests without verl use plain inputs shaped like verl's. verl itself caps transformers below ours, so
the tests that use the real verl 0.9.1 classes run in a subprocess with the interpreter of verl's own
venv, which holds verl, what it allows and the project's core (`make test` builds it from locks/verl.txt
and sets SPECIARL_VERL_PYTHON to its python); nothing of the main venv is on that path, and a test checks
it. Without SPECIARL_VERL_PYTHON they are skipped, saying so. They drive verl's own reward-loop code (RewardLoopWorker, the naive and
rate_limited managers, get_custom_reward_fn, the estimator registry) in forked worker processes, not a
Ray cluster: Ray does not fit next to the tests on two shared cores (see verl_reward_loop.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from openai_server import OpenAIServer, hash_rule  # noqa: E402
from redis_server import RedisServer, redis_binary  # noqa: E402
from steps import rollout_texts, training_step  # noqa: E402
from verl_venv import run_in_verl_venv  # noqa: E402

from speciarl.categories import Category  # noqa: E402
from speciarl.integrations.verl import (  # noqa: E402
    RANK_SCORE,
    anchored_rewards,
    compute_score,
    compute_score_sync,
    export_verl_parquet,
)
from speciarl.integrations.verl.advantage import check_complete_groups, overlong_penalties  # noqa: E402
from speciarl.rewards import group_anchored_rewards  # noqa: E402
from speciarl.train.rewards import JudgeOutageError, RolloutScorer  # noqa: E402

VERL_PYTHON = os.environ.get("SPECIARL_VERL_PYTHON")
ROOT = Path(__file__).resolve().parents[2]
C = Category
needs_verl = pytest.mark.skipif(not VERL_PYTHON, reason="real verl not installed here (it caps transformers < 5.11): "
                                "set SPECIARL_VERL_PYTHON to the python of a venv with verl 0.9.1 and the project")



def score(text, scheme="speciarl", **kwargs):
    return asyncio.run(compute_score("synthetic", text, "red circle", {"sample_id": "s1"}, scheme=scheme, **kwargs))


def test_compute_score_ranks_and_static_rewards(shapes_trainset):
    judge = {"type": "taxonomy", "taxonomy": str(shapes_trainset["taxonomy"]), "cache": "none"}

    def rank_of(text, scheme="speciarl"):
        return score(text, scheme, judge_config=judge)

    assert rank_of("<think>x</think><answer>red circle</answer>") == {
        "score": RANK_SCORE[C.SPECIFIC], "category": "specific", "answer": "red circle", "data_source": "synthetic"}
    assert rank_of("<answer>circle</answer>")["category"] == "less specific"
    assert rank_of("<answer>circle</answer>")["score"] == RANK_SCORE[C.LESS_SPECIFIC]
    assert rank_of("<answer>blue square</answer>")["score"] == RANK_SCORE[C.WRONG] == 0.0
    assert rank_of("no tags at all") == {"score": -1.0, "category": "parse failure", "answer": "",
                                         "data_source": "synthetic"}
    assert rank_of("<answer>circle</answer>", "scala1")["score"] == 0.75  # static schemes: the reward itself
    assert rank_of("<answer>None</answer>", "scala2")["score"] == 0.0
    assert rank_of("<answer>red circle</answer>", "binary")["score"] == 1.0


def judge_file(tmp_path, server, cache="none", **extra) -> str:
    import yaml

    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump({"type": "openai", "base_url": server.base_url, "model": "judge", "cache": cache,
                                    "timeout": 5, "backoff_base": 0.01, "backoff_max": 0.05, **extra}))
    return str(path)


def batch_path(server, rollouts) -> tuple[list[str], int]:
    """Categories by the batch path (RolloutScorer.grade on the whole list) and its LLM calls."""
    from speciarl.judges import build_judge
    from speciarl.train.rewards import decode

    judge = build_judge({"type": "openai", "base_url": server.base_url, "model": "judge", "cache": "none"})
    graded = RolloutScorer(judge).grade([g for g, _, _ in rollouts], [t for _, t, _ in rollouts])
    judge.close()
    assert graded.error is None
    cats = [decode(c) for c in graded.codes]
    return ["parse failure" if c is None else c.value for c in cats], judge.stats.llm


def faulty(server, rate: float, seed: int = 0) -> None:
    """Script 5xx, 429 and malformed/garbage replies on a share of the requests."""
    rng, lock = random.Random(seed), threading.Lock()
    kinds = ["500", "503", "429", "malformed", "garbage"]

    def fault_for(body):
        with lock:
            return rng.choice(kinds) if rng.random() < rate else None

    server.fault_for = fault_for


def test_sync_reward_from_32_threads_matches_the_batch_path(tmp_path):
    rollouts = rollout_texts(training_step(images=48))
    with OpenAIServer(hash_rule) as server:
        expected, llm = batch_path(server, rollouts)
        server.reset_counts()
        faulty(server, 0.05)
        config = judge_file(tmp_path, server, cache=str(tmp_path / "c.sqlite"), concurrency=16)

        def one(item):
            gt, text, uid = item
            return compute_score_sync("bench", text, gt, {"sample_id": uid}, judge_config=config)

        with ThreadPoolExecutor(32) as pool:  # a plain reward in verl runs in a thread pool like this
            got = list(pool.map(one, rollouts))
        answered = sum(server.answered.values())
    assert [r["category"] for r in got] == expected
    assert [r["score"] for r in got] == [-1.0 if c == "parse failure" else RANK_SCORE[C(c)] for c in expected]
    assert answered == llm  # each distinct non-fast-path pair graded once, faults aside


def test_sync_reward_inside_an_event_loop_names_the_async_one():
    async def wrong_use():
        compute_score_sync("d", "<answer>x</answer>", "y", judge_config={"type": "taxonomy"})

    with pytest.raises(RuntimeError, match="async .*compute_score"):
        asyncio.run(wrong_use())


def test_outage_raises_and_never_scores(tmp_path):
    with OpenAIServer(hash_rule) as server:
        server.fault_for = lambda body: "503"
        config = judge_file(tmp_path, server, max_retries=1)
        with pytest.raises(JudgeOutageError, match="503"):
            score("<answer>circle</answer>", judge_config=config, retry_budget_s=0.2, retry_interval_s=0.05)


def test_concurrent_rewards_on_one_loop_are_graded_together(tmp_path):
    """verl awaits one compute_score per rollout, hundreds at once per worker: the calls that arrive
    together reach the judge as one batch, each answered with its own category (as the batch path)."""
    from speciarl.ioloop import running_loop_home

    rollouts = rollout_texts(training_step(images=48))
    with OpenAIServer(hash_rule) as server:
        expected, llm = batch_path(server, rollouts)
        server.reset_counts()
        config = judge_file(tmp_path, server, cache=str(tmp_path / "c.sqlite"), concurrency=16)

        async def worker():
            got = await asyncio.gather(*(compute_score("bench", text, gt, {"sample_id": uid}, judge_config=config)
                                         for gt, text, uid in rollouts))
            (reward,) = [fut.result() for fut in running_loop_home().state["verl_scorers"].values()]
            await reward.judge.aclose()
            return got, reward.judge.stats

        got, stats = asyncio.run(worker())
        answered = sum(server.answered.values())
    assert [r["category"] for r in got] == expected
    assert answered == llm
    parsed = sum(c != "parse failure" for c in expected)
    assert stats.pairs == parsed and stats.calls <= 2  # one judge call for the whole burst (not one per rollout)


def test_a_cancelled_reward_leaves_the_others_of_its_batch_graded(tmp_path):
    with OpenAIServer(hash_rule) as server:
        server.latency = 0.2
        config = judge_file(tmp_path, server)

        async def worker():
            tasks = [asyncio.ensure_future(compute_score("d", f"<answer>bird {i}</answer>", "albatross",
                                                         judge_config=config)) for i in range(6)]
            await asyncio.sleep(0.05)  # all six in one judge batch, in flight
            tasks[2].cancel()
            return await asyncio.gather(*tasks, return_exceptions=True)

        got = asyncio.run(worker())
    assert isinstance(got[2], asyncio.CancelledError)
    assert all(isinstance(r, dict) and r["answer"] == f"bird {i}" for i, r in enumerate(got) if i != 2)


def test_a_failed_grade_is_asked_again_within_the_budget(tmp_path):
    with OpenAIServer(hash_rule) as server:
        failures = iter(["503", "503", "503"])
        server.fault_for = lambda body: next(failures, None)
        config = judge_file(tmp_path, server, max_retries=0)
        got = score("<answer>circle</answer>", judge_config=config, retry_budget_s=5, retry_interval_s=0.05)
        assert got["category"] in {c.value for c in C} and len(server.requests) == 4


def test_reward_worker_freezes_its_heap_once_unless_told_not_to(shapes_trainset):
    """gc.freeze in the worker's first call (a verl reward worker's ~550,000 long-lived objects would
    otherwise be walked by the collector's full passes during steps); SPECIARL_VERL_GC_FREEZE=0 skips it."""
    child = (
        "import asyncio, gc, json, sys\n"
        "from speciarl.integrations.verl import compute_score\n"
        "judge = {'type': 'taxonomy', 'taxonomy': sys.argv[1], 'cache': 'none'}\n"
        "before = gc.get_freeze_count()\n"
        "async def main():\n"
        "    for text in ('<answer>circle</answer>', '<answer>red circle</answer>'):\n"
        "        await compute_score('d', text, 'red circle', judge_config=judge)\n"
        "        yield gc.get_freeze_count()\n"
        "async def counts():\n"
        "    return [n async for n in main()]\n"
        "print(json.dumps([before, *asyncio.run(counts())]))\n")
    for setting, frozen in (("1", True), ("0", False)):
        env = {**os.environ, "SPECIARL_VERL_GC_FREEZE": setting}
        out = subprocess.run([sys.executable, "-c", child, str(shapes_trainset["taxonomy"])], env=env,
                             capture_output=True, text=True, timeout=120, check=True)
        before, first, second = json.loads(out.stdout)
        assert before == 0
        if frozen:
            assert first > 10_000 and first - 100 <= second <= first  # frozen once, by the first call (not again)
        else:
            assert first == second == 0


def test_partial_groups_are_refused_and_complete_ones_pass():
    check_complete_groups(["a", "a", "b", "b"], [True] * 4, 2)
    check_complete_groups(["a", "a", "pad", "b", "b"], [True, True, False, True, True], None)
    with pytest.raises(JudgeOutageError, match="1 of 2 prompt groups are incomplete .*uid b: 1 of 2"):
        check_complete_groups(["a", "a", "b"], [True] * 3, 2)
    with pytest.raises(JudgeOutageError, match="resume"):
        check_complete_groups(["a"] * 10 + ["b"] * 9, [True] * 19, None)  # n unknown: groups compared


def test_overlong_penalty_is_dapos():
    assert overlong_penalties([1000, 1536, 1792, 2048], 2048, 512) == [0.0, 0.0, -0.5, -1.0]


def test_anchored_rewards_follow_uid_groups_in_any_order():
    cats = [C.LESS_SPECIFIC, C.SPECIFIC, None, C.WRONG, C.GENERIC, C.WRONG, C.ABSTAIN, None]
    uids = ["a", "b", "a", "b", "c", "c", "a", "b"]  # interleaved, as after verl's shuffles/balancing
    scores = [-1.0 if c is None else RANK_SCORE[c] for c in cats]
    got = anchored_rewards(scores, uids, "all")
    for uid in "abc":
        members = [i for i, u in enumerate(uids) if u == uid]
        expected = group_anchored_rewards([[cats[i] for i in members]], "all")[0]
        assert [got[i] for i in members] == expected
    assert got == [1.0, 1.0, -1.0, 0.0, 1.0, 0.0, 0.0, -1.0]
    single = anchored_rewards([RANK_SCORE[C.SPECIFIC]] * 3, ["u"] * 3, "single")
    assert single == [1.0, 0.0, 0.0]
    with pytest.raises(Exception, match="not a category rank"):
        anchored_rewards([2.5], ["u"])  # e.g. a KL term added to the scores


def test_export_verl_parquet(tmp_path, shapes_trainset):
    import pyarrow.parquet as pq

    out = tmp_path / "train.parquet"
    n = export_verl_parquet(shapes_trainset["train_file"], out)
    table = pq.read_table(out).to_pylist()
    rows = [json.loads(line) for line in shapes_trainset["train_file"].read_text().splitlines()]
    assert n == len(table) == len(rows) == 8
    for i, (got, row) in enumerate(zip(table, rows, strict=True)):
        assert got["data_source"] == "synthetic"
        assert got["prompt"][0]["role"] == "user" and got["prompt"][0]["content"].startswith("<image>")
        assert got["prompt"][0]["content"].count("<image>") == 1 and "<answer>" in got["prompt"][0]["content"]
        assert got["images"][0]["bytes"] == Path(row["image"]).read_bytes()
        assert got["reward_model"] == {"style": "rule", "ground_truth": row["ground_truth"]}
        assert got["extra_info"]["index"] == i and got["extra_info"]["sample_id"] == row["sample_id"]




def run_reward_loop(tmp_path, spec: dict) -> dict:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    proc = run_in_verl_venv(VERL_PYTHON, [str(Path(__file__).with_name("verl_reward_loop.py")), str(spec_file)], timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_verl
def test_verl_reward_loop_scores_a_paper_step_under_faults(tmp_path):
    """2,560 rollouts through verl's RewardLoopWorker + naive manager in 4 worker processes, a Redis cache
    shared by all, 5 % of requests faulted: every category equals the batch path's, LLM calls <= 1.1 x."""
    if redis_binary() is None:
        pytest.skip("redis-server binary not installed (Debian package redis-server)")
    rollouts = rollout_texts(training_step())
    redis = RedisServer(tmp_path / "redis").start()
    try:
        with OpenAIServer(hash_rule) as server:
            expected, llm = batch_path(server, rollouts)
            server.reset_counts()
            faulty(server, 0.05)
            out = run_reward_loop(tmp_path, {
                "judge_config": judge_file(tmp_path, server, cache=redis.url, concurrency=64, max_retries=8),
                "workers": 4, "rollouts": rollouts, "estimator": True, "rate_limited_probe": True,
                "overrides": ["algorithm.adv_estimator=speciarl"]})
            answered, requests = sum(server.answered.values()), len(server.requests)
    finally:
        redis.stop()
    assert out["errors"] == [None] * len(rollouts)
    assert out["categories"] == expected
    assert out["scores"] == [-1.0 if c == "parse failure" else RANK_SCORE[C(c)] for c in expected]
    assert answered <= 1.1 * llm, (answered, llm)  # graded replies; requests also count the faulted ones
    assert requests > answered
    assert out["advantage"] == "ok"
    assert out["rate_limited"].startswith("RewardManagerRefused") and "naive" in out["rate_limited"]
    # one environment: every worker ran verl's venv interpreter and imported nothing from outside it
    venv = Path(VERL_PYTHON).parent.parent.resolve()
    assert all(Path(w["prefix"]).resolve() == venv for w in out["environment"]), out["environment"]
    assert all(w["modules"] > 300 for w in out["environment"]), out["environment"]  # verl, torch, ours: checked
    assert [w["foreign"] for w in out["environment"]] == [[]] * 4, out["environment"]


@needs_verl
def test_verl_judge_outage_mid_step_stops_training(tmp_path):
    """The judge goes down mid-step: the failed rollouts raise in verl's reward worker (no score), and
    the advantage estimator, which verl's trainer calls next, refuses the step with partial groups."""
    rollouts = rollout_texts(training_step(images=24, seed=1), seed=1)
    with OpenAIServer(hash_rule) as server:
        lock, answered = threading.Lock(), [0]

        def outage_after_40(body):
            with lock:
                answered[0] += 1
                return "503" if answered[0] > 40 else None

        server.fault_for = outage_after_40
        out = run_reward_loop(tmp_path, {
            "judge_config": judge_file(tmp_path, server, concurrency=4, max_retries=1),
            "workers": 2, "rollouts": rollouts, "estimator": True,
            "reward_kwargs": {"retry_budget_s": 0.3, "retry_interval_s": 0.1},
            "overrides": ["algorithm.adv_estimator=speciarl"]})
    failed = [i for i, e in enumerate(out["errors"]) if e is not None]
    assert failed and len(failed) < len(rollouts)
    assert all("JudgeOutageError" in out["errors"][i] and "503" in out["errors"][i] for i in failed)
    assert all(out["scores"][i] is None and out["categories"][i] is None for i in failed)  # never a score
    assert out["advantage"].startswith("JudgeOutageError") and "incomplete" in out["advantage"]


LAUNCH_SCRIPT = r"""
import json, sys
from speciarl.integrations.verl.launch import LaunchError, check
results = {}
for name, args in json.loads(open(sys.argv[1]).read()).items():
    try:
        config = check(args)
        results[name] = {"ok": True, "n": config.actor_rollout_ref.rollout.n,
                         "estimator": config.algorithm.adv_estimator,
                         "norm": config.algorithm.norm_adv_by_std_in_grpo,
                         "kl": config.actor_rollout_ref.actor.use_kl_loss,
                         "clip_high": config.actor_rollout_ref.actor.clip_ratio_high,
                         "scheme": config.reward.custom_reward_function.reward_kwargs.scheme,
                         "workers": config.reward.custom_reward_function.reward_kwargs.reward_workers}
    except LaunchError as exc:
        results[name] = {"ok": False, "error": str(exc)}
print(json.dumps(results))
"""


@needs_verl
def test_launch_scripts_keys_exist_in_verls_composed_config(tmp_path):
    """Every preset in configs/verl passes only keys verl 0.9.1's composed config has, and our checks."""
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "python").write_text('#!/usr/bin/env bash\n'  # records what the script would run, runs nothing
                                 'printf "%s\\n" "$@" > "$ARGS_DIR/$PRESET.$(( $(ls "$ARGS_DIR" | wc -l) ))"\n')
    (stub / "python").chmod(0o755)
    (tmp_path / "args").mkdir()
    presets = sorted(p for p in (ROOT / "configs" / "verl").glob("cub200_*.sh"))
    calls = {}
    for preset in presets:
        env = {**os.environ, "PATH": f"{stub}:{os.environ['PATH']}", "ARGS_DIR": str(tmp_path / "args"),
               "PRESET": preset.stem, "JUDGE_CONFIG": "/cluster/judge.yaml"}
        subprocess.run(["bash", str(preset), "trainer.nnodes=2"], check=True, env=env, timeout=60)
        runs = sorted((tmp_path / "args").glob(preset.stem + ".*"))
        assert len(runs) == 2, "the check, then verl itself"
        check_args, verl_args = (r.read_text().splitlines() for r in runs)
        assert check_args[:2] == ["-m", "speciarl.integrations.verl.launch"]
        assert verl_args[:2] == ["-m", "verl.trainer.main_ppo"] and verl_args[2:] == check_args[2:]
        calls[preset.stem] = verl_args[2:]
    good = dict(calls)
    good["typo"] = calls["cub200_speciarl"] + ["actor_rollout_ref.rollout.temprature=1.0"]
    good["rate_limited"] = calls["cub200_speciarl"] + ["reward.reward_manager.name=rate_limited"]
    good["grpo_for_anchored"] = calls["cub200_speciarl"] + ["algorithm.adv_estimator=grpo"]
    good["kl_in_reward"] = calls["cub200_speciarl"] + ["algorithm.use_kl_in_reward=True"]
    spec = tmp_path / "launch.json"
    spec.write_text(json.dumps(good))
    proc = run_in_verl_venv(VERL_PYTHON, ["-c", LAUNCH_SCRIPT, str(spec)], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in calls:
        assert out[name]["ok"], (name, out[name])
        assert out[name]["workers"] == 8  # interpolated from reward.num_workers
    main = out["cub200_speciarl"]
    assert (main["n"], main["estimator"], main["norm"], main["kl"], main["scheme"]) == (10, "speciarl", True, True,
                                                                                       "speciarl")
    assert (out["cub200_g5"]["n"], out["cub200_g15"]["n"]) == (5, 15)
    assert (out["cub200_binary"]["estimator"], out["cub200_binary"]["scheme"]) == ("speciarl_grpo", "binary")
    assert (out["cub200_dr_grpo"]["norm"], out["cub200_dr_grpo"]["kl"]) == (False, False)
    assert out["cub200_dapo"]["clip_high"] == 0.28
    assert not out["typo"]["ok"] and "temprature" in out["typo"]["error"]
    assert not out["rate_limited"]["ok"] and "rate_limited" in out["rate_limited"]["error"]
    assert not out["grpo_for_anchored"]["ok"] and "use speciarl" in out["grpo_for_anchored"]["error"]
    assert not out["kl_in_reward"]["ok"] and "use_kl_in_reward" in out["kl_in_reward"]["error"]
