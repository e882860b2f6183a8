"""Reward rules per rollout (docs/method.md#rewards): pure functions, no I/O.

A category of None is a parse failure, which earns PARSE_FAILURE_REWARD under every scheme. A judge
failure is never a category here: callers must stop (or retry) before asking for rewards.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from .categories import Category, rank
from .errors import ConfigError

PARSE_FAILURE_REWARD = -1.0

Categories = Sequence[Category | None]

STATIC_TABLES: dict[str, dict[Category, float]] = {
    "binary": {Category.SPECIFIC: 1.0, Category.MORE_SPECIFIC: 1.0, Category.LESS_SPECIFIC: 0.0,
               Category.GENERIC: 0.0, Category.ABSTAIN: 0.0, Category.WRONG: 0.0},
    "scala1": {Category.SPECIFIC: 1.0, Category.MORE_SPECIFIC: 1.0, Category.LESS_SPECIFIC: 0.75,
               Category.GENERIC: 0.5, Category.ABSTAIN: 0.25, Category.WRONG: 0.0},
    "scala2": {Category.SPECIFIC: 1.0, Category.MORE_SPECIFIC: 1.0, Category.LESS_SPECIFIC: 0.75,
               Category.GENERIC: 0.5, Category.ABSTAIN: 0.0, Category.WRONG: 0.0},
    "scala3": {Category.SPECIFIC: 1.0, Category.MORE_SPECIFIC: 1.0, Category.LESS_SPECIFIC: 0.75,
               Category.GENERIC: 0.0, Category.ABSTAIN: 0.0, Category.WRONG: 0.0},
}

GROUP_MODES = ("all", "single")


def group_anchored_rewards(groups: Sequence[Categories], mode: str = "all") -> list[list[float]]:
    """SpeciaRL reward: 1 for the rollouts reaching the best rank in their group, else 0.

    A group whose graded rollouts are all `wrong` earns 0 throughout; parse failures earn -1 and
    never set the anchor. Mode `single` rewards only the first rollout at the best rank.
    """
    if mode not in GROUP_MODES:
        raise ConfigError(f"unknown group-anchored mode {mode!r}; expected one of {GROUP_MODES}")
    out: list[list[float]] = []
    for group in groups:
        graded = [rank(c) for c in group if c is not None]
        best = max(graded, default=None)
        rewards: list[float] = []
        awarded = False
        for category in group:
            if category is None:
                rewards.append(PARSE_FAILURE_REWARD)
            elif best == rank(Category.WRONG) or rank(category) != best or (mode == "single" and awarded):
                rewards.append(0.0)
            else:
                rewards.append(1.0)
                awarded = True
        out.append(rewards)
    return out


def rewards_by_key(keys: Sequence[Hashable], categories: Categories,
                   rule: Callable[[Sequence[Categories]], list[list[float]]]) -> list[float]:
    """Rewards of a flat batch whose groups are named by `keys` (sample ids, verl uids).

    Rollouts with equal keys form one group, in batch order, wherever they sit in the batch; `rule`
    (e.g. `RewardScheme.rewards`) scores the groups and the result lines up with `categories`.
    """
    if len(keys) != len(categories):
        raise ValueError(f"{len(keys)} group keys for {len(categories)} rollouts")
    groups: dict[Hashable, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    per_group = rule([[categories[p] for p in members] for members in groups.values()])
    out = [0.0] * len(categories)
    for members, values in zip(groups.values(), per_group, strict=True):
        for position, value in zip(members, values, strict=True):
            out[position] = value
    return out


def static_rewards(categories: Categories, scheme: str) -> list[float]:
    """Fixed per-category rewards of a static baseline table (binary, scala1..3)."""
    try:
        table = STATIC_TABLES[scheme]
    except KeyError:
        raise ConfigError(f"unknown static reward scheme {scheme!r}; expected one of {sorted(STATIC_TABLES)}") from None
    return [PARSE_FAILURE_REWARD if c is None else table[c] for c in categories]


# The ladder the judge-noise ablation moves along, worst first; `more specific` counts as `specific`.
_LADDER = (Category.WRONG, Category.ABSTAIN, Category.GENERIC, Category.LESS_SPECIFIC, Category.SPECIFIC)


def inject_judge_noise(categories: Categories, p: float, seed: int) -> list[Category | None]:
    """With probability p move each graded label one step up or down the ladder (seeded).

    At an end of the ladder only the one possible move is made. Parse failures are untouched
    (they never reach a judge).
    """
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"judge noise probability must be in [0, 1], got {p}")
    rng = random.Random(seed)
    out: list[Category | None] = []
    for category in categories:
        if category is None:
            out.append(None)
            continue
        if rng.random() >= p:
            out.append(category)
            continue
        position = _LADDER.index(Category.SPECIFIC if category is Category.MORE_SPECIFIC else category)
        if position == 0:
            step = 1
        elif position == len(_LADDER) - 1:
            step = -1
        else:
            step = rng.choice((-1, 1))
        out.append(_LADDER[position + step])
    return out


@dataclass(frozen=True)
class RewardScheme:
    """A named reward rule usable from a config: `rewards(groups)` works for every scheme."""

    name: str
    group_anchored: bool
    _fn: Callable[[Sequence[Categories]], list[list[float]]]
    description: str = ""

    def rewards(self, groups: Sequence[Categories]) -> list[list[float]]:
        return self._fn(groups)


def _static(scheme: str) -> Callable[[Sequence[Categories]], list[list[float]]]:
    return lambda groups: [static_rewards(g, scheme) for g in groups]


REWARD_SCHEMES: dict[str, RewardScheme] = {
    "speciarl": RewardScheme("speciarl", True, lambda g: group_anchored_rewards(g, "all"),
                             "group-anchored: every rollout at the group's best rank gets 1 (paper)"),
    "speciarl-single": RewardScheme("speciarl-single", True, lambda g: group_anchored_rewards(g, "single"),
                                    "group-anchored: only the first rollout at the best rank gets 1"),
    **{name: RewardScheme(name, False, _static(name), f"static table {name}") for name in STATIC_TABLES},
}


def get_reward_scheme(name: str) -> RewardScheme:
    """The registered scheme called `name`; an unknown name lists the known ones."""
    try:
        return REWARD_SCHEMES[name]
    except KeyError:
        raise ConfigError(f"unknown reward scheme {name!r}; known schemes: {', '.join(REWARD_SCHEMES)}") from None
