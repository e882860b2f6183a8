"""RolloutScorer as a plain TRL reward function (one process holding whole groups)."""

import yaml

from speciarl.judges import build_judge
from speciarl.train.rewards import RolloutScorer


def _scorer(tmp_path, **kwargs):
    taxonomy = tmp_path / "t.yaml"
    taxonomy.write_text(yaml.safe_dump({"name": "shape", "children": [
        {"name": "circle", "children": [{"name": "red circle"}, {"name": "blue circle"}]}]}))
    judge = build_judge({"type": "taxonomy", "taxonomy": str(taxonomy), "less_specific_levels": 1})
    return RolloutScorer(judge, retry_budget_s=0, retry_interval_s=0, **kwargs)


def test_reward_function_form_follows_the_group_rule(tmp_path):
    scorer = _scorer(tmp_path, scheme="speciarl")
    answers = ["circle", "red circle", "nothing here", "circle", "shape", "<answer>"]
    completions = [f"<answer>{a}</answer>" for a in answers[:5]] + ["no tags"]
    rewards = scorer(completions=completions, sample_id=["a", "a", "a", "b", "b", "b"],
                     ground_truth=["red circle"] * 6)
    # group a: the specific answer is the anchor; group b: "circle" (less specific) beats "shape", parse failure -1
    assert rewards == [0.0, 1.0, 0.0, 1.0, 0.0, -1.0]


def test_judge_noise_differs_between_calls_and_repeats_under_the_seed(tmp_path):
    completions = ["<answer>circle</answer>"] * 60
    ids = [f"s{i // 6}" for i in range(60)]
    def run():
        scorer = _scorer(tmp_path, scheme="scala1", noise=0.5, noise_seed=1)
        return [scorer(completions=completions, sample_id=ids, ground_truth=["red circle"] * 60) for _ in range(2)]

    first, second = run()
    assert first != second  # each call is a new step of the ablation, not the same flips again
    assert run() == [first, second]  # seeded
    assert set(first) <= {1.0, 0.75, 0.5}  # one ladder step from less specific: specific or generic
