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
from typing import Any

from speciarl.errors import ConfigError
from speciarl.ioloop import io_loop, running_loop_home
from speciarl.train.config import RETRY_BUDGET_S, RETRY_INTERVAL_S

# verl reward managers that pass a reward's exception on (the rollout fails, never scores); every other
# manager is refused, e.g. `rate_limited`, which turns any exception or timeout into reward 0.0.
SAFE_MANAGERS = frozenset({"NaiveRewardManager", "DAPORewardManager"})


class RewardManagerRefused(BaseException):
    """Raised when verl calls this reward through a manager that maps errors to scores.

    A BaseException on purpose: `RateLimitedRewardManager` catches `Exception` and scores it 0.0,
    which would turn this very refusal into a silent reward.
    """


def _calling_manager() -> str | None:
    """The class name of the verl reward manager this call comes from (its `run_single` frame), if any."""
    frame = sys._getframe(2)
    while frame is not None:
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


async def _scorer(judge_config: str | dict | None, scheme: str, retry_budget_s: float, retry_interval_s: float,
                  workers: int):
    """This process's RolloutScorer for one configuration, built once (on the I/O loop, which owns it)."""
    if judge_config is None:
        judge_config = os.environ.get("SPECIARL_JUDGE_CONFIG")
    if judge_config is None:
        raise ConfigError("verl reward: pass reward_kwargs.judge_config (a YAML file or mapping) "
                          "or set SPECIARL_JUDGE_CONFIG")
    config_key = judge_config if isinstance(judge_config, str) else json.dumps(judge_config, sort_keys=True,
                                                                             default=str)
    key = (config_key, scheme, retry_budget_s, retry_interval_s, workers)  # hashing a tuple: every call does it
    home = running_loop_home()  # the worker's own loop: awaited without crossing threads
    scorers: dict[tuple, asyncio.Future[Any]] = home.state.setdefault("verl_scorers", {})
    if key not in scorers:
        scorers[key] = asyncio.ensure_future(_make_scorer(home, judge_config, scheme, retry_budget_s,
                                                          retry_interval_s, workers))
    try:
        return await asyncio.shield(scorers[key])
    except Exception:
        scorers.pop(key, None)  # a bad config is reported to every call, and retried by none silently
        raise


async def _make_scorer(home, *args: Any):
    scorer = await asyncio.get_running_loop().run_in_executor(None, _build_scorer, *args)  # reads files
    scorer.judge.rehome(home)
    return scorer


def _build_scorer(judge_config: str | dict, scheme: str, retry_budget_s: float, retry_interval_s: float,
                  workers: int):
    from speciarl.judges import build_judge, load_judge_config
    from speciarl.train.rewards import RolloutScorer

    options = dict(judge_config) if isinstance(judge_config, dict) else load_judge_config(judge_config)
    if workers > 1 and options.get("type") == "openai":
        # the judge server's capacity is shared by the job's reward workers (one judge each)
        options["concurrency"] = max(1, int(options.get("concurrency", 64)) // workers)
    return RolloutScorer(build_judge(options), scheme=scheme, retry_budget_s=retry_budget_s,
                         retry_interval_s=retry_interval_s)


async def _score_here(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None,
                      judge_config: str | dict | None, scheme: str, noise: float, noise_seed: int,
                      retry_budget_s: float, retry_interval_s: float, workers: int) -> dict[str, Any]:
    from speciarl.categories import Category
    from speciarl.rewards import PARSE_FAILURE_REWARD, get_reward_scheme, inject_judge_noise
    from speciarl.train.rewards import JudgeOutageError, decode

    from .advantage import RANK_SCORE

    scorer = await _scorer(judge_config, scheme, retry_budget_s, retry_interval_s, workers)
    graded = await scorer.agrade([str(ground_truth)], [solution_str])
    if graded.error:
        raise JudgeOutageError(f"judge failed after {retry_budget_s:g}s of retries: {graded.error}")
    category: Category | None = decode(graded.codes[0])
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
            "answer": graded.answers[0] or "", "data_source": data_source}


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
