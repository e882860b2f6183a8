"""`speciarl judge agree` on two record files with known differences."""

from __future__ import annotations

import json

import pytest

from speciarl.cli import main
from speciarl.pipeline.agree import AgreeError, agree_numbers

# sample -> (dataset, category by judge A, category by judge B); s8 is a parse failure in both
ROWS = {
    "s1": ("oxford_pets", "specific", "specific"), "s2": ("oxford_pets", "specific", "less specific"),
    "s3": ("oxford_pets", "generic", "generic"), "s4": ("oxford_pets", "wrong", "generic"),
    "s5": ("cub200", "less specific", "less specific"), "s6": ("cub200", "specific", "more specific"),
    "s7": ("cub200", "abstain", "abstain"), "s8": ("cub200", None, None),
}


def write(path, side, extra=(), judge="judge"):
    lines = []
    for sample, (dataset, *cats) in ROWS.items():
        cat = cats[side]
        lines.append({"sample_id": sample, "dataset": dataset, "ground_truth": f"gt {sample}", "prediction_index": 0,
                      "answer": None if cat is None else f"answer {sample}", "category": cat, "judge": judge})
    lines += list(extra)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_agreement_kappa_confusion_and_metric_moves(tmp_path):
    only_a = {"sample_id": "s9", "dataset": "cub200", "ground_truth": "gt s9", "prediction_index": 0,
              "answer": "x", "category": "specific"}
    a = write(tmp_path / "a.jsonl", 0, [only_a], judge="qwen")
    b = write(tmp_path / "b.jsonl", 1, judge="llama")
    data = agree_numbers(a, b)
    assert (data["matched"], data["only_a"], data["only_b"], data["parse_failures"]) == (8, 1, 0, 1)
    assert data["n"] == 7 and data["accuracy"] == pytest.approx(4 / 7)
    # rows A: specific 3, generic 1, wrong 1, less specific 1, abstain 1; columns B: specific 1, less specific 2,
    # generic 2, more specific 1, abstain 1 -> p_e = (3*1 + 1*2 + 1*0 + 1*2 + 1*1) / 49 = 8/49, p_o = 28/49
    assert data["kappa"] == pytest.approx(20 / 41)
    c = data["confusion"]
    assert (c["specific"]["less specific"], c["wrong"]["generic"], c["specific"]["more specific"]) == (1, 1, 1)
    assert sum(sum(row.values()) for row in c.values()) == 7
    pets = data["metrics"]["datasets"]["oxford_pets"]
    assert pets["correctness"]["a"] == pytest.approx(0.75) and pets["correctness"]["delta"] == pytest.approx(0.25)
    assert pets["specificity"]["a"] == pytest.approx(2 / 3) and pets["specificity"]["b"] == pytest.approx(1 / 4)
    birds = data["metrics"]["datasets"]["cub200"]
    assert birds["correctness"]["delta"] == pytest.approx(0.0)  # the parse failure counts on both sides
    assert data["metrics"]["overall"]["correctness"]["delta"] == pytest.approx(0.125)
    assert data["a"]["judge"] == ["qwen"] and data["b"]["judge"] == ["llama"]
    # s2 (specific -> less specific) changes the SpeciaRL reward, s4 (wrong -> generic) correctness, s6 neither
    assert data["error_effects"]["disagreements"] == 3
    assert data["error_effects"]["speciarl_reward"] == pytest.approx(1 / 3)
    assert data["error_effects"]["correctness"] == pytest.approx(1 / 3)
    # one prediction per sample: SpeciaRL gives 1 to every non-wrong answer, so only s4 (wrong -> generic)
    # changes it; binary changes for s2 (specific -> less specific); scala1 for s2 and s4
    rc = data["rewards_changed"]
    assert (rc["samples"], rc["predictions"], rc["max_group_size"]) == (8, 8, 1)
    assert rc["speciarl"] == pytest.approx(1 / 8) and rc["binary"] == pytest.approx(1 / 8)
    assert rc["scala1"] == pytest.approx(2 / 8)


def test_rewards_move_within_groups(tmp_path):
    # one sample, 3 predictions: A = [specific, less specific, wrong], B = [less specific, less specific, wrong]
    # SpeciaRL: A -> [1, 0, 0]; B -> [1, 1, 0] (less specific is now the group's best): one reward of three moves
    rows = [("specific", "less specific"), ("less specific", "less specific"), ("wrong", "wrong")]
    for side, name in ((0, "a"), (1, "b")):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(
            {"sample_id": "x", "dataset": "cub200", "ground_truth": "gt", "prediction_index": i, "answer": f"a{i}",
             "category": cats[side]}) + "\n" for i, cats in enumerate(rows)))
    rc = agree_numbers(tmp_path / "a.jsonl", tmp_path / "b.jsonl")["rewards_changed"]
    assert rc["max_group_size"] == 3 and rc["speciarl"] == pytest.approx(1 / 3)


def test_cli_writes_agree_json_and_prints_the_tables(tmp_path, capsys):
    a, b = write(tmp_path / "a.jsonl", 0), write(tmp_path / "b.jsonl", 1)
    assert main(["judge", "agree", str(a), str(b), "--out", str(tmp_path / "out"), "--name", "train",
                 "--name", "eval"]) == 0
    saved = json.loads((tmp_path / "out" / "agree.json").read_text())
    assert saved["accuracy"] == pytest.approx(4 / 7) and saved["a"]["name"] == "train"
    assert (tmp_path / "out" / "confusion.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "correctness" in out and "+0.125" in out


def test_files_that_grade_different_answers_are_refused(tmp_path):
    a = write(tmp_path / "a.jsonl", 0)
    b = tmp_path / "b.jsonl"
    b.write_text(a.read_text().replace("answer s3", "answer zz"))
    with pytest.raises(AgreeError, match="sample 's3' prediction 0"):
        agree_numbers(a, b)
    assert main(["judge", "agree", str(a), str(b)]) == 2
