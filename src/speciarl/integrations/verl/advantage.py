"""The SpeciaRL group anchoring as verl advantage estimators, keyed by verl's per-prompt `uid`.

verl scores one rollout at a time, but the SpeciaRL reward needs the whole group, so for the
group-anchored schemes the reward function returns each rollout's *category rank* (specific/more
specific 4, less specific 3, generic 2, abstain 1, wrong 0, parse failure -1) and the estimators
here turn the ranks of each `uid` group into SpeciaRL rewards before verl's own GRPO normalisation:
`speciarl` (mode all, the paper's) and `speciarl_single`. `speciarl_grpo` is verl's GRPO on the
scores as they are, for the static schemes (binary, scala1..3). With `reward_kwargs.overlong_buffer_len`
set (the DAPO preset) each reward gets DAPO's overlong penalty before the normalisation.

All three refuse a step with a partial group. verl 0.9.1's v1 trainer keeps a group whose rollout
failed (its reward raised, e.g. after a judge outage) and trains on the rollouts left; with these
estimators that step stops the run instead, with the error in the message, and the last checkpoint
resumes (`trainer.resume_mode=auto`). Keep `algorithm.use_kl_in_reward=False` (the actor's KL loss,
as the paper): a KL term added to the scores would blur the ranks, and `speciarl` refuses that.

verl looks estimators up by name in the process that computes advantages (a Ray actor), so
`register` must run there: pass it as `+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=
speciarl.integrations.verl.register`. Importing this module registers nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from speciarl.categories import Category, rank
from speciarl.errors import ConfigError
from speciarl.rewards import group_anchored_rewards, rewards_by_key
from speciarl.train.rewards import JudgeOutageError

# Rank score of a category; one representative category per rank (specific stands for both tied ranks).
RANK_SCORE = {c: float(rank(c)) for c in Category}
_BY_RANK = {rank(c): c for c in (Category.WRONG, Category.ABSTAIN, Category.GENERIC, Category.LESS_SPECIFIC,
                                 Category.SPECIFIC)}
ESTIMATORS = {"speciarl": "all", "speciarl_single": "single", "speciarl_grpo": None}
PAD_UID_PREFIX = "pad"  # verl's synthetic rows that fill a batch up to a divisible size


def anchored_rewards(scores: Sequence[float], index: Sequence[Any], mode: str = "all") -> list[float]:
    """SpeciaRL rewards from per-rollout rank scores, grouped by verl's `uid` (`index`)."""
    categories: list[Category | None] = []
    for score in scores:
        value = float(score)
        nearest = round(value) if math.isfinite(value) else None
        if nearest is None or not math.isclose(value, nearest, abs_tol=1e-4) or (
                nearest not in _BY_RANK and nearest != -1):
            raise ConfigError(f"speciarl advantage: score {value} is not a category rank; use compute_score with "
                              "a group-anchored scheme and algorithm.use_kl_in_reward=False")
        categories.append(None if nearest == -1 else _BY_RANK[nearest])
    return rewards_by_key(list(index), categories, lambda groups: group_anchored_rewards(groups, mode))


def _root_value(config: Any, key: str) -> Any:
    """A key of the whole verl config, read from the algorithm section verl passes to estimators (an
    OmegaConf node knows its root); None for a plain object or a missing key."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(config, DictConfig):
            return OmegaConf.select(config._get_root(), key)
    except Exception:  # noqa: BLE001 - no root to read
        return None
    return None


def expected_group_size(config: Any) -> int | None:
    """`actor_rollout_ref.rollout.n`, or None (then groups are compared with each other)."""
    n = _root_value(config, "actor_rollout_ref.rollout.n")
    return int(n) if n is not None else None


def overlong_penalties(lengths: Sequence[int], max_length: int, buffer: int, factor: float = 1.0) -> list[float]:
    """DAPO's soft overlong punishment: 0 up to max_length - buffer tokens, then falling linearly to
    -factor at max_length."""
    start = max_length - buffer
    return [min(-(n - start) / buffer * factor, 0.0) for n in lengths]


def check_complete_groups(index: Sequence[Any], real: Sequence[bool], group_size: int | None) -> None:
    """Raise JudgeOutageError when a uid group lacks rollouts (one of its rollouts failed)."""
    sizes = Counter(uid for uid, keep in zip(index, real, strict=True) if keep)
    if not sizes:
        return
    want = group_size or max(sizes.values())
    short = {uid: n for uid, n in sizes.items() if n != want}
    if short:
        uid, n = next(iter(short.items()))
        raise JudgeOutageError(
            f"speciarl advantage: {len(short)} of {len(sizes)} prompt groups are incomplete (uid {uid}: {n} of "
            f"{want} rollouts). A rollout failed, most likely its reward (a judge outage past the retry budget: "
            "see the reward workers' log); training on what is left would be a silent reward. Stopping: fix the "
            "judge and resume from the last checkpoint (trainer.resume_mode=auto).")


def _estimator(name: str, mode: str | None):
    def estimator(token_level_rewards, response_mask, index, epsilon: float = 1e-6, config: Any = None,
                  norm_adv_by_std_in_grpo: bool | None = None, **_: Any):
        """verl advantage estimator: complete groups only, SpeciaRL rewards per uid group (or the scores
        as they are), then verl's GRPO normalisation."""
        import torch
        from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

        uids = [str(u) for u in index]
        real = [not (u.startswith(PAD_UID_PREFIX) and not bool(m.any())) for u, m in zip(uids, response_mask)]
        check_complete_groups(uids, real, expected_group_size(config))
        scores = token_level_rewards.sum(dim=-1)
        if mode is not None:
            scores = torch.tensor(anchored_rewards(scores.tolist(), uids, mode), dtype=token_level_rewards.dtype)
        buffer = _root_value(config, "reward.custom_reward_function.reward_kwargs.overlong_buffer_len")
        if buffer:  # the DAPO preset: penalise answers in the last `buffer` tokens of the response budget
            max_length = int(_root_value(config, "data.max_response_length"))
            penalties = overlong_penalties(response_mask.sum(dim=-1).tolist(), max_length, int(buffer))
            scores = scores + torch.tensor(penalties, dtype=scores.dtype)
        placed = torch.zeros_like(token_level_rewards)
        placed[:, 0] = scores.to(device=placed.device, dtype=placed.dtype)
        if norm_adv_by_std_in_grpo is None:
            norm_adv_by_std_in_grpo = bool(getattr(config, "norm_adv_by_std_in_grpo", True)) if config else True
        return compute_grpo_outcome_advantage(placed, response_mask, index, epsilon=epsilon,
                                              norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo, config=config)

    estimator.__name__ = f"{name}_advantage"
    return estimator


_ESTIMATOR_FNS = {name: _estimator(name, mode) for name, mode in ESTIMATORS.items()}


def register() -> None:
    """Register `speciarl`, `speciarl_single` and `speciarl_grpo` in verl's estimator registry (idempotent)."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est

    for name, fn in _ESTIMATOR_FNS.items():
        if ADV_ESTIMATOR_REGISTRY.get(name) is not fn:
            ADV_ESTIMATOR_REGISTRY.pop(name, None)
            register_adv_est(name)(fn)
