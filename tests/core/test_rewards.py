from collections import Counter

import pytest

from speciarl.categories import Category as C
from speciarl.errors import ConfigError
from speciarl.rewards import (
    PARSE_FAILURE_REWARD,
    REWARD_SCHEMES,
    get_reward_scheme,
    group_anchored_rewards,
    inject_judge_noise,
    rewards_by_key,
    static_rewards,
)

W, A, G, L, S, M = C.WRONG, C.ABSTAIN, C.GENERIC, C.LESS_SPECIFIC, C.SPECIFIC, C.MORE_SPECIFIC


@pytest.mark.parametrize(
    "group, all_mode, single_mode",
    [
        ([W, W, W], [0, 0, 0], [0, 0, 0]),                         # all wrong: no anchor
        ([W, None, W], [0, -1, 0], [0, -1, 0]),                    # all graded wrong, parse failure still -1
        ([None, None], [-1, -1], [-1, -1]),                        # nothing graded
        ([G, L, W, L], [0, 1, 0, 1], [0, 1, 0, 0]),                # ties at the best rank
        ([S, M, L], [1, 1, 0], [1, 0, 0]),                         # specific and more specific tie
        ([A, W, A], [1, 0, 1], [1, 0, 0]),                         # abstain can be the best
        ([None, L, G, None, L], [-1, 1, 0, -1, 1], [-1, 1, 0, -1, 0]),  # parse failures mixed in
        ([G], [1], [1]),
        ([], [], []),
    ],
)
def test_group_anchored_rules(group, all_mode, single_mode):
    assert group_anchored_rewards([group], mode="all") == [[float(x) for x in all_mode]]
    assert group_anchored_rewards([group], mode="single") == [[float(x) for x in single_mode]]


def test_anchor_moves_with_the_group():
    # the same "less specific" earns 1 where nothing better exists, 0 where a sibling is specific
    assert group_anchored_rewards([[L, G], [L, S]]) == [[1.0, 0.0], [0.0, 1.0]]


def test_rewards_by_key_groups_interleaved_rollouts():
    # keys interleaved (as after a gather or verl's balancing): each key is one group, order kept
    cats = [L, S, None, G, L, W]
    keys = ["a", "b", "a", "b", "a", "b"]
    scheme = get_reward_scheme("speciarl")
    got = rewards_by_key(keys, cats, scheme.rewards)
    expected_a, expected_b = scheme.rewards([[L, None, L], [S, G, W]])
    assert [got[i] for i in (0, 2, 4)] == expected_a == [1.0, -1.0, 1.0]
    assert [got[i] for i in (1, 3, 5)] == expected_b == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="3 group keys for 2 rollouts"):
        rewards_by_key(["a", "a", "b"], [S, G], scheme.rewards)


def test_unknown_mode():
    with pytest.raises(ConfigError):
        group_anchored_rewards([[S]], mode="best")


@pytest.mark.parametrize(
    "scheme, expected",
    [
        ("binary", [1, 1, 0, 0, 0, 0]),
        ("scala1", [1, 1, 0.75, 0.5, 0.25, 0]),
        ("scala2", [1, 1, 0.75, 0.5, 0, 0]),
        ("scala3", [1, 1, 0.75, 0, 0, 0]),
    ],
)
def test_static_tables(scheme, expected):
    order = [M, S, L, G, A, W, None]
    assert static_rewards(order, scheme) == [float(x) for x in expected] + [PARSE_FAILURE_REWARD]


def test_registry_names_and_errors():
    assert set(REWARD_SCHEMES) == {"speciarl", "speciarl-single", "binary", "scala1", "scala2", "scala3"}
    assert get_reward_scheme("speciarl").group_anchored and not get_reward_scheme("binary").group_anchored
    assert get_reward_scheme("scala1").rewards([[S, G], [None]]) == [[1.0, 0.5], [-1.0]]
    assert get_reward_scheme("speciarl-single").rewards([[L, L]]) == [[1.0, 0.0]]
    with pytest.raises(ConfigError, match="known schemes: speciarl, speciarl-single, binary"):
        get_reward_scheme("exact")
    with pytest.raises(ConfigError):
        static_rewards([S], "speciarl")


def test_noise_zero_and_one():
    cats = [W, A, G, L, S, M, None] * 10
    assert inject_judge_noise(cats, 0.0, seed=1) == cats
    moved = inject_judge_noise(cats, 1.0, seed=1)
    ladder = [W, A, G, L, S]
    for before, after in zip(cats, moved):
        if before is None:
            assert after is None
            continue
        position = ladder.index(S if before is M else before)
        assert abs(ladder.index(after) - position) == 1  # exactly one step
        if position == 0:
            assert after is A
        if position == 4:
            assert after is L


def test_noise_statistics_under_seed():
    cats = [G] * 20000
    noisy = inject_judge_noise(cats, 0.25, seed=7)
    assert noisy == inject_judge_noise(cats, 0.25, seed=7)  # seeded
    assert noisy != inject_judge_noise(cats, 0.25, seed=8)
    counts = Counter(noisy)
    assert abs(counts[G] / 20000 - 0.75) < 0.015
    assert abs(counts[A] / 20000 - 0.125) < 0.01 and abs(counts[L] / 20000 - 0.125) < 0.01
    with pytest.raises(ConfigError):
        inject_judge_noise(cats, 1.5, seed=0)
