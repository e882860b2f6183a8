"""The SpeciaRL reward for verl's reward loop: `async def compute_score`, one rollout per call.

verl 0.9.1 starts `reward.num_workers` async `RewardLoopWorker` actors and sends each finished
rollout to one of them; the `naive` reward manager awaits an `async def` reward on the worker's
event loop (a plain `def` would run in asyncio's default thread pool, up to 32 at once). So this
is an async function: all calls of a worker share one judge per process and event loop, built on
first use and kept for the worker's life, homed on the worker's own loop (`speciarl.ioloop.
running_loop_home`: awaited without crossing threads): one HTTP session, one cache connection,
identical pairs in flight merged, concurrent calls batched into one cache lookup.

Returns, as before: `score` = the category rank for group-anchored schemes (turned into rewards by
the `speciarl` advantage estimator, see `advantage.py`), the static reward otherwise; `category`,
`answer`. A judge that fails past the retry budget raises `JudgeOutageError`: never a score.

`compute_score_sync` is the same for verl setups that call a plain function from threads: safe from
any number of threads (each call waits on the I/O loop), refused inside an event loop.

Loaded by verl with `reward.custom_reward_function.path=pkg://speciarl.integrations.verl.reward`;
only absolute imports here, so loading the file by path works too.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from typing import Any

from speciarl.answers import extract_answer
from speciarl.categories import Category
from speciarl.errors import ConfigError
from speciarl.integrations.verl.advantage import RANK_SCORE
from speciarl.ioloop import io_loop, running_loop_home
from speciarl.rewards import PARSE_FAILURE_REWARD, get_reward_scheme, inject_judge_noise
from speciarl.train.config import RETRY_BUDGET_S, RETRY_INTERVAL_S
from speciarl.train.rewards import JudgeOutageError, may_retry

# verl reward managers that pass a reward's exception on (the rollout fails, never scores); every other
# manager is refused, e.g. `rate_limited`, which turns any exception or timeout into reward 0.0.
SAFE_MANAGERS = frozenset({"NaiveRewardManager", "DAPORewardManager"})


class RewardManagerRefused(BaseException):
    """Raised when verl calls this reward through a manager that maps errors to scores.

    A BaseException on purpose: `RateLimitedRewardManager` catches `Exception` and scores it 0.0,
    which would turn this very refusal into a silent reward.
    """


def _calling_manager() -> str | None:
    """The class name of the verl reward manager this call comes from (its `run_single` frame), if any.
    Only method frames are looked into (`self` among their variables: reading `f_locals` builds a dict)."""
    frame = sys._getframe(2)
    while frame is not None:
        if "self" in frame.f_code.co_varnames:
            owner = frame.f_locals.get("self")
            if owner is not None and hasattr(owner, "run_single") and hasattr(owner, "compute_score"):
                return type(owner).__name__
        frame = frame.f_back
    return None


def _check_manager() -> None:
    """Refuse a calling manager that maps errors to scores (a few frames' walk per call: cheap, no state)."""
    name = _calling_manager()
    if name is not None and name not in SAFE_MANAGERS and not os.environ.get("SPECIARL_VERL_ANY_MANAGER"):
        raise RewardManagerRefused(
            f"speciarl reward called through verl's {name}, which may turn a judge failure into a score "
            f"(rate_limited scores any exception as 0.0). Use reward.reward_manager.name=naive; a custom manager "
            "that lets exceptions through can be allowed with SPECIARL_VERL_ANY_MANAGER=1.")


class _RolloutBatch:
    """The rollouts of one worker loop waiting for a grade, sent to the judge together.

    verl awaits one `compute_score` per rollout, hundreds at once in each worker. Graded one by one,
    each call pays the judge's per-call work (folding, the in-flight table, its futures). Here the calls
    that arrive in one loop iteration share one `judge.agrade_each`, and each is answered as soon as its
    own pair is graded. Lives on the worker's loop (the judge is homed there) and is touched only there.
    """

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self._pending: list[tuple[tuple[str, str], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def grade(self, ground_truth: str, answer: str) -> asyncio.Future[Any]:
        """A future of the pair's Verdict (an exception only if the judge's own machinery breaks)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(((ground_truth, answer), fut))
        return fut

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._grade(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _grade(self, batch: list[tuple[tuple[str, str], asyncio.Future[Any]]]) -> None:
        def hand_over(done: list[tuple[int, list[Any]]]) -> None:
            for g, verdicts in done:
                fut = batch[g][1]
                if not fut.done():  # its caller may have been cancelled
                    fut.set_result(verdicts[0])

        try:
            await self.judge.agrade_each([[pair] for pair, _ in batch], hand_over)
        except asyncio.CancelledError:
            for _, fut in batch:
                fut.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every waiting rollout raises it: never a score
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)


class _WorkerReward:
    """What one worker keeps per reward configuration: its judge and the batch that feeds it."""

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self.batch = _RolloutBatch(judge)


async def _worker_reward(judge_config: str | dict | None, scheme: str, workers: int) -> _WorkerReward:
    """This process's reward state for one configuration, built once on the worker's loop, which owns it."""
    if judge_config is None:
        judge_config = os.environ.get("SPECIARL_JUDGE_CONFIG")
    if judge_config is None:
        raise ConfigError("verl reward: pass reward_kwargs.judge_config (a YAML file or mapping) "
                          "or set SPECIARL_JUDGE_CONFIG")
    config_key = judge_config if isinstance(judge_config, str) else json.dumps(judge_config, sort_keys=True,
                                                                             default=str)
    key = (config_key, scheme, workers)  # hashing a tuple: every call does it (retries are per call: not in it)
    home = running_loop_home()  # the worker's own loop: awaited without crossing threads
    rewards: dict[tuple, asyncio.Future[_WorkerReward]] = home.state.setdefault("verl_scorers", {})
    fut = rewards.get(key)
    if fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None:
        return fut.result()  # every call after the first: no shield, no task
    if fut is None:
        fut = rewards[key] = asyncio.ensure_future(_make_worker_reward(home, judge_config, scheme, workers))
    try:
        return await asyncio.shield(fut)
    except Exception:
        rewards.pop(key, None)  # a bad config is reported to every call, and retried by none silently
        raise


async def _make_worker_reward(home, *args: Any) -> _WorkerReward:
    judge = await asyncio.get_running_loop().run_in_executor(None, _build_judge, *args)  # reads files
    judge.rehome(home)
    _freeze_worker_heap()
    return _WorkerReward(judge)


def _freeze_worker_heap() -> None:
    """Take what the reward worker holds now out of the garbage collector's full passes, once per process.

    A verl reward worker carries ~550,000 long-lived objects (torch, transformers, verl, its config) and
    serves rewards for its whole life. Left alone, the collector walks all of them in a full pass soon
    after start-up and again whenever that count grows by a quarter: 0.5-0.9 s of one step in half the
    workers of `benchmarks/bench_verl_reward.py`. `gc.freeze()` (CPython's advice for such a heap) skips
    them from then on; a full collection first, so nothing that is garbage already is kept (a one-time
    ~0.3 s of CPU in each worker's first call). Skipped when the host froze its heap itself, and with
    `SPECIARL_VERL_GC_FREEZE=0`."""
    import gc

    if gc.get_freeze_count() == 0 and os.environ.get("SPECIARL_VERL_GC_FREEZE", "1") != "0":  # O(n): once
        gc.collect()
        gc.freeze()


def _build_judge(judge_config: str | dict, scheme: str, workers: int):
    """The worker's judge; an unknown `scheme` fails here, before any rollout is graded."""
    from speciarl.judges import build_judge, load_judge_config

    get_reward_scheme(scheme)
    options = dict(judge_config) if isinstance(judge_config, dict) else load_judge_config(judge_config)
    if workers > 1 and options.get("type") == "openai":
        # the judge server's capacity is shared by the job's reward workers (one judge each)
        options["concurrency"] = max(1, int(options.get("concurrency", 64)) // workers)
    return build_judge(options)


async def _category(batch: _RolloutBatch, ground_truth: str, answer: str, retry_budget_s: float,
                    retry_interval_s: float) -> Category:
    """The pair's category; a failed grade is asked again every `retry_interval_s` until the budget,
    counted from the first attempt, is spent (as `RolloutScorer.agrade` does), then `JudgeOutageError`:
    never a score."""
    deadline = time.monotonic() + retry_budget_s
    while True:
        verdict = await batch.grade(ground_truth, answer)
        if verdict.ok:
            return verdict.category
        if not may_retry(deadline, retry_interval_s):
            raise JudgeOutageError(f"judge failed after {retry_budget_s:g}s of retries: "
                                   f"{verdict.error or 'judge returned no category'}")
        await asyncio.sleep(retry_interval_s)


async def _score_here(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None,
                      judge_config: str | dict | None, scheme: str, noise: float, noise_seed: int,
                      retry_budget_s: float, retry_interval_s: float, workers: int) -> dict[str, Any]:
    reward = await _worker_reward(judge_config, scheme, workers)
    answer = extract_answer(solution_str)
    category: Category | None = None
    if answer is not None:
        category = await _category(reward.batch, str(ground_truth), answer, retry_budget_s, retry_interval_s)
    if noise and category is not None:
        digest = hashlib.sha256(json.dumps([noise_seed, extra_info and extra_info.get("sample_id"),
                                            solution_str]).encode()).hexdigest()
        category = inject_judge_noise([category], noise, seed=int(digest[:12], 16))[0]
    rule = get_reward_scheme(scheme)
    if category is None:
        score = PARSE_FAILURE_REWARD
    elif rule.group_anchored:
        score = RANK_SCORE[category]
    else:
        score = rule.rewards([[category]])[0][0]
    return {"score": score, "category": "parse failure" if category is None else category.value,
            "answer": answer or "", "data_source": data_source}


async def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, *,
                        judge_config: str | dict | None = None, scheme: str = "speciarl", noise: float = 0.0,
                        noise_seed: int = 0, retry_budget_s: float = RETRY_BUDGET_S,
                        retry_interval_s: float = RETRY_INTERVAL_S,
                        reward_workers: int = 1, **_: Any) -> dict[str, Any]:
    """verl custom reward (async): grade one rollout; `score` is the category rank (group-anchored
    schemes) or the static reward (binary, scala1..3). A judge outage past the budget raises, never
    scores. `reward_workers`: verl's `reward.num_workers`; the judge's `concurrency` is split among them."""
    _check_manager()
    return await _score_here(data_source, solution_str, ground_truth, extra_info, judge_config, scheme, noise,
                             noise_seed, retry_budget_s, retry_interval_s, int(reward_workers))


def compute_score_sync(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
                       **kwargs: Any) -> dict[str, Any]:
    """The same reward as a plain function, for callers in threads (any number of them)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("compute_score_sync called inside an event loop: use the async "
                           "speciarl.integrations.verl.reward.compute_score")
    _check_manager()
    return io_loop().run(compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs))
