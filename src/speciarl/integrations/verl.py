"""verl (Ray) integration: the SpeciaRL reward as verl's custom reward function, and the group
anchoring as a registered advantage estimator keyed by verl's per-prompt `uid`.

verl scores one rollout at a time (`compute_score(data_source, solution_str, ground_truth,
extra_info)`), but the SpeciaRL reward needs the whole group. So, for the group-anchored schemes,
`compute_score` returns the rollout's *category rank* as its score (specific/more specific 4, less
specific 3, generic 2, abstain 1, wrong 0, parse failure -1; the label is in `category`), and the
advantage estimator `speciarl` (or `speciarl_single`) turns the ranks of each `uid` group into the
SpeciaRL rewards before verl's own GRPO normalisation. Static schemes (binary, scala1..3) return the
reward itself and use verl's plain `grpo` estimator. Keep `algorithm.use_kl_in_reward=False` (use the
actor's KL loss, as the paper does): a KL term added to the scores would blur the ranks, and the
estimator refuses that.

Only absolute imports here: verl loads this file by path (`reward.custom_reward_function.path`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speciarl.categories import Category, rank
from speciarl.errors import ConfigError
from speciarl.rewards import (
    PARSE_FAILURE_REWARD,
    get_reward_scheme,
    group_anchored_rewards,
    inject_judge_noise,
    rewards_by_key,
)

# Rank score of a category; one representative category per rank (specific stands for both tied ranks).
RANK_SCORE = {c: float(rank(c)) for c in Category}
_BY_RANK = {rank(c): c for c in (Category.WRONG, Category.ABSTAIN, Category.GENERIC, Category.LESS_SPECIFIC,
                                 Category.SPECIFIC)}
ESTIMATORS = {"speciarl": "all", "speciarl_single": "single"}
_SCORERS: dict[str, Any] = {}


def _scorer(judge_config: str | dict | None, scheme: str, retry_budget_s: float, retry_interval_s: float):
    """One RolloutScorer per process and configuration (judge clients and caches are reused)."""
    from speciarl.train.rewards import RolloutScorer

    if judge_config is None:
        judge_config = os.environ.get("SPECIARL_JUDGE_CONFIG")
    if judge_config is None:
        raise ConfigError("verl reward: pass reward_kwargs.judge_config (a YAML file or mapping) "
                          "or set SPECIARL_JUDGE_CONFIG")
    key = json.dumps([judge_config, scheme, retry_budget_s, retry_interval_s], sort_keys=True, default=str)
    if key not in _SCORERS:
        from speciarl.judges import build_judge, load_judge_config

        options = judge_config if isinstance(judge_config, dict) else load_judge_config(judge_config)
        _SCORERS[key] = RolloutScorer(build_judge(dict(options)), scheme=scheme, retry_budget_s=retry_budget_s,
                                      retry_interval_s=retry_interval_s)
    return _SCORERS[key]


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, *,
                  judge_config: str | dict | None = None, scheme: str = "speciarl", noise: float = 0.0,
                  noise_seed: int = 0, retry_budget_s: float = 300.0, retry_interval_s: float = 5.0,
                  **_: Any) -> dict[str, Any]:
    """verl custom reward: grade one rollout; `score` is the category rank (group-anchored schemes)
    or the static reward (binary, scala1..3). A judge outage past the budget raises, never scores 0."""
    from speciarl.train.rewards import JudgeOutageError, decode

    scorer = _scorer(judge_config, scheme, retry_budget_s, retry_interval_s)
    graded = scorer.grade([str(ground_truth)], [solution_str])
    if graded.error:
        raise JudgeOutageError(f"judge failed after {retry_budget_s:g}s of retries: {graded.error}")
    category = decode(graded.codes[0])
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


def anchored_rewards(scores: Sequence[float], index: Sequence[Any], mode: str = "all") -> list[float]:
    """SpeciaRL rewards from per-rollout rank scores, grouped by verl's `uid` (`index`)."""
    categories: list[Category | None] = []
    for score in scores:
        value = float(score)
        nearest = round(value)
        if not math.isclose(value, nearest, abs_tol=1e-4) or (nearest not in _BY_RANK and nearest != -1):
            raise ConfigError(f"speciarl advantage: score {value} is not a category rank; use compute_score with "
                              "a group-anchored scheme and algorithm.use_kl_in_reward=False")
        categories.append(None if nearest == -1 else _BY_RANK[nearest])
    return rewards_by_key(list(index), categories, lambda groups: group_anchored_rewards(groups, mode))


def _advantage(mode: str):
    def estimator(token_level_rewards, response_mask, index, epsilon: float = 1e-6, config: Any = None,
                  norm_adv_by_std_in_grpo: bool | None = None, **_: Any):
        """verl advantage estimator: SpeciaRL rewards per uid group, then verl's GRPO normalisation."""
        import torch
        from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

        rewards = anchored_rewards(token_level_rewards.sum(dim=-1).tolist(), list(index), mode)
        placed = torch.zeros_like(token_level_rewards)
        placed[:, 0] = torch.tensor(rewards, dtype=placed.dtype, device=placed.device)
        if norm_adv_by_std_in_grpo is None:
            norm_adv_by_std_in_grpo = bool(getattr(config, "norm_adv_by_std_in_grpo", True)) if config else True
        return compute_grpo_outcome_advantage(placed, response_mask, index, epsilon=epsilon,
                                              norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo, config=config)

    estimator.__name__ = f"speciarl_{mode}_advantage"
    return estimator


_ESTIMATOR_FNS = {name: _advantage(mode) for name, mode in ESTIMATORS.items()}


def register() -> None:
    """Register the `speciarl` / `speciarl_single` advantage estimators in verl (idempotent).

    Run in every Ray worker with `+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=
    speciarl.integrations.verl.register` (verl computes advantages inside a Ray actor)."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est

    for name, fn in _ESTIMATOR_FNS.items():
        if ADV_ESTIMATOR_REGISTRY.get(name) is not fn:
            ADV_ESTIMATOR_REGISTRY.pop(name, None)
            register_adv_est(name)(fn)


def export_verl_parquet(train_file: str | Path, out: str | Path, *, prompt: str = "base") -> int:
    """A training JSONL (speciarl.data.trainset) → verl's RL parquet: `data_source`, `prompt` (chat with an
    `<image>` placeholder), `images` (PNG/JPEG bytes, so Ray nodes need no shared filesystem), `ability`,
    `reward_model` {style, ground_truth}, `extra_info` {index, sample_id, split, prompt_name, prompt_hash}."""
    import datasets

    from speciarl.train.dataset import read_train_rows

    rows = read_train_rows(train_file, prompt=prompt)
    records = []
    for index, row in enumerate(rows):
        text = "".join("<image>" if part.get("type") == "image" else part.get("text") or ""
                       for message in row["prompt"] for part in message["content"])
        records.append({
            "data_source": row["dataset"],
            "prompt": [{"role": "user", "content": text}],
            "images": [{"bytes": Path(row["image"]).read_bytes()}],
            "ability": "fine-grained-recognition",
            "reward_model": {"style": "rule", "ground_truth": row["ground_truth"]},
            "extra_info": {"index": index, "sample_id": row["sample_id"], "split": row["split"],
                           "prompt_name": row["prompt_name"] or "", "prompt_hash": row["prompt_hash"] or ""},
        })
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(records).to_parquet(str(out))
    return len(records)


try:  # loaded inside a verl process: make the estimators available right away
    import verl.trainer.ppo.core_algos  # noqa: F401
except Exception:  # noqa: BLE001 - verl absent or not importable here: register() when needed
    pass
else:
    register()

__all__ = ["compute_score", "anchored_rewards", "register", "export_verl_parquet", "RANK_SCORE"]
