"""verl integration: the custom reward, the uid-keyed group anchoring and the parquet export.

The reward and the anchoring are tested with plain inputs shaped like verl's here. verl itself caps
transformers below ours, so the tests that import the real package run in a subprocess whose path
puts a separate verl install first: set SPECIARL_VERL_PATH to a folder made with
`pip install --target DIR --no-deps verl transformers==5.10.* ray tensordict ...` (see the README);
without it they are skipped, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from speciarl.categories import Category
from speciarl.integrations.verl import RANK_SCORE, anchored_rewards, compute_score, export_verl_parquet
from speciarl.rewards import group_anchored_rewards

VERL_PATH = os.environ.get("SPECIARL_VERL_PATH")
C = Category


def test_compute_score_ranks_and_static_rewards(shapes_trainset):
    judge = {"type": "taxonomy", "taxonomy": str(shapes_trainset["taxonomy"]), "cache": "none"}
    def score(text, scheme="speciarl"):
        return compute_score("synthetic", text, "red circle", {"sample_id": "s1"}, judge_config=judge, scheme=scheme)

    assert score("<think>x</think><answer>red circle</answer>") == {
        "score": RANK_SCORE[C.SPECIFIC], "category": "specific", "answer": "red circle", "data_source": "synthetic"}
    assert score("<answer>circle</answer>")["category"] == "less specific"
    assert score("<answer>circle</answer>")["score"] == RANK_SCORE[C.LESS_SPECIFIC]
    assert score("<answer>blue square</answer>")["score"] == RANK_SCORE[C.WRONG] == 0.0
    assert score("no tags at all") == {"score": -1.0, "category": "parse failure", "answer": "",
                                       "data_source": "synthetic"}
    assert score("<answer>circle</answer>", "scala1")["score"] == 0.75  # static schemes: the reward itself
    assert score("<answer>None</answer>", "scala2")["score"] == 0.0
    assert score("<answer>red circle</answer>", "binary")["score"] == 1.0


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


VERL_SCRIPT = r"""
import json, sys, torch, numpy as np
import speciarl.integrations.verl as ours
from verl.trainer.ppo.core_algos import get_adv_estimator_fn, compute_grpo_outcome_advantage
from verl.trainer.ppo.reward import get_custom_reward_fn
from omegaconf import OmegaConf
ours.register(); ours.register()  # idempotent
fn = get_adv_estimator_fn("speciarl")
ranks = [3.0, 4.0, -1.0, 0.0, 2.0, 0.0, 1.0, -1.0]
uids = np.array(["a", "b", "a", "b", "c", "c", "a", "b"], dtype=object)
L = 5
tlr = torch.zeros(8, L); tlr[:, 2] = torch.tensor(ranks)  # score on a response token, as verl does
mask = torch.ones(8, L)
adv, ret = fn(token_level_rewards=tlr, response_mask=mask, index=uids,
              config=OmegaConf.create({"norm_adv_by_std_in_grpo": True}))
rewards = torch.zeros(8, L); rewards[:, 0] = torch.tensor(ours.anchored_rewards(ranks, list(uids)))
ref, _ = compute_grpo_outcome_advantage(rewards, mask, uids, norm_adv_by_std_in_grpo=True)
# the reward function, loaded by path with reward_kwargs as verl's trainer does
cfg = OmegaConf.create({"reward": {"custom_reward_function": {"path": ours.__file__, "name": "compute_score",
                                   "reward_kwargs": {"judge_config": sys.argv[1], "scheme": "speciarl"}}}})
score = get_custom_reward_fn(cfg)(data_source="synthetic", solution_str="<answer>circle</answer>",
                                  ground_truth="red circle", extra_info={})
print(json.dumps({"adv": adv[:, 0].tolist(), "ref": ref[:, 0].tolist(), "score": score["score"],
                  "category": score["category"]}))
"""


@pytest.mark.skipif(not VERL_PATH, reason="real verl not installed here (it caps transformers < 5.11): "
                    "set SPECIARL_VERL_PATH to a separate verl install to run this")
def test_with_real_verl(tmp_path, shapes_trainset):
    import yaml

    judge = tmp_path / "judge.yaml"
    judge.write_text(yaml.safe_dump({"type": "taxonomy", "taxonomy": str(shapes_trainset["taxonomy"])}))
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([VERL_PATH, str(src)])}
    proc = subprocess.run([sys.executable, "-c", VERL_SCRIPT, str(judge)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["adv"] == pytest.approx(out["ref"])
    assert any(abs(a) > 0.1 for a in out["adv"])
    assert out["score"] == RANK_SCORE[C.LESS_SPECIFIC] and out["category"] == "less specific"
