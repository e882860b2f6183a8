"""`speciarl judge audit` against scripted judges on a real OpenAI-compatible server: numbers checked
against hand-computed values."""

from __future__ import annotations

import json

import pytest
from openai_server import ScriptedJudge

from speciarl.answers import normalize
from speciarl.cli import main
from speciarl.judges.agreement import COLUMNS, cohen_kappa, confusion_matrix
from speciarl.judges.gold import GoldItem, gold_checksum, item_id, load_gold
from speciarl.pipeline.audit import run_audit

# 3 wrong, 1 abstain, 2 generic, 2 less specific, 3 specific, 1 more specific
SMALL = [
    ("pets", "samoyed", "cat", "wrong"), ("birds", "Laysan Albatross", "Sooty Albatross", "wrong"),
    ("aircraft", "737-800", "A320", "wrong"), ("food", "pizza", "I don't know", "abstain"),
    ("pets", "samoyed", "dog", "generic"), ("flowers", "rose", "flower", "generic"),
    ("aircraft", "707-320", "Boeing 707", "less specific"), ("birds", "Golden winged Warbler", "warbler", "less specific"),
    ("flowers", "lotus", "Nelumbo nucifera", "specific"), ("cars", "BMW M3 Coupe 2012", "2012 BMW M3 Coupe", "specific"),
    ("food", "donuts", "doughnuts", "specific"), ("pets", "dog", "samoyed", "more specific"),
]


def write_gold(path, rows):
    items = [GoldItem(item_id(g, p), d, g, p, c, "hand", "test") for d, g, p, c in rows]
    path.write_text("".join(i.to_json() + "\n" for i in items), encoding="utf-8")
    return items


def table_of(items):
    return {(normalize(i.ground_truth), normalize(i.prediction)): i.category for i in items}


def judge_config(server, **extra):
    return {"type": "openai", "base_url": server.base_url, "model": "scripted", "timeout": 2.0, "backoff_base": 0.01,
            "backoff_max": 0.02, "concurrency": 4, **extra}


def audit(server, tmp_path, mode, rows=SMALL, **options):
    gold = tmp_path / "gold.jsonl"
    items = write_gold(gold, rows)
    server.reply = ScriptedJudge(table_of(items), mode)
    data = run_audit(judge_config(server), tmp_path / mode, gold=gold, progress=False, print_table=False, **options)
    return data, json.loads((tmp_path / mode / "audit.json").read_text())


def test_perfect_judge(server, tmp_path):
    data, saved = audit(server, tmp_path, "perfect")
    assert saved["n"] == 12 and saved["accuracy"] == 1.0 and saved["kappa"] == 1.0
    assert saved["gold_checksum"] == gold_checksum(tmp_path / "gold.jsonl")
    assert saved["disagreements"] == 0 and saved["noise"]["rate"] == 0.0
    assert saved["confusion"]["specific"] == {**dict.fromkeys(COLUMNS, 0), "specific": 3}
    # fast paths off: every pair went to the server, even the refusal
    assert len(server.requests) == 12 and saved["cost"]["requests"] == 12
    assert saved["cost"]["prompt_tokens"] > 12 * 100 and saved["cost"]["completion_tokens"] == 12 + 2 + 1  # two-word labels: 2 less sp., 1 more sp.
    for name in ("report.md", "confusion.md", "confusion.png"):
        assert (tmp_path / "perfect" / name).stat().st_size > 0
    assert (tmp_path / "perfect" / "disagreements.jsonl").read_text() == ""


def test_always_specific_judge(server, tmp_path):
    _, saved = audit(server, tmp_path, "specific")
    assert saved["accuracy"] == pytest.approx(3 / 12)
    assert saved["kappa"] == pytest.approx(0.0)  # a constant judge agrees only by chance
    assert {r: row["specific"] for r, row in saved["confusion"].items()} == {
        "wrong": 3, "abstain": 1, "generic": 2, "less specific": 2, "specific": 3, "more specific": 1}
    assert saved["per_category"]["specific"]["precision"] == pytest.approx(3 / 12)
    assert saved["per_category"]["specific"]["recall"] == 1.0
    assert saved["per_category"]["wrong"]["recall"] == 0.0
    effects = saved["error_effects"]
    assert effects["disagreements"] == 9
    # wrong and abstain become correct (4 of 9); all but more specific -> specific change the SpeciaRL reward
    assert effects["correctness"] == pytest.approx(4 / 9)
    assert effects["speciarl_reward"] == pytest.approx(8 / 9)
    assert saved["noise"]["rate"] == pytest.approx(8 / 12)
    lines = (tmp_path / "specific" / "disagreements.jsonl").read_text().splitlines()
    assert len(lines) == 9 and all(json.loads(x)["judge"] == "specific" for x in lines)


def test_one_step_down_judge(server, tmp_path):
    _, saved = audit(server, tmp_path, "down")
    c = saved["confusion"]
    assert saved["accuracy"] == pytest.approx(3 / 12)  # only `wrong` stays right
    assert (c["specific"]["less specific"], c["more specific"]["less specific"], c["less specific"]["generic"],
            c["generic"]["abstain"], c["abstain"]["wrong"], c["wrong"]["wrong"]) == (3, 1, 2, 2, 1, 3)
    # p_o = 3/12; p_e = (3*4 + 1*2 + 2*2 + 2*4) / 144 = 26/144; kappa = (36 - 26) / (144 - 26)
    assert saved["kappa"] == pytest.approx(10 / 118)
    assert saved["noise"]["rate"] == pytest.approx(9 / 12) and saved["noise"]["one_step_share"] == 1.0
    assert saved["noise"]["compared"].startswith("above")
    # of the 9 moves only generic -> abstain (2) changes correctness
    assert saved["error_effects"]["correctness"] == pytest.approx(2 / 9)


def test_a_pair_the_judge_cannot_grade_is_an_error_column(server, tmp_path):
    gold = tmp_path / "gold.jsonl"
    items = write_gold(gold, SMALL)
    server.reply = ScriptedJudge(table_of(items), "perfect")
    server.fault_for = lambda body: "500" if "samoyed" in body["messages"][-1]["content"] else None
    data = run_audit(judge_config(server, max_retries=1), tmp_path / "out", gold=gold, progress=False,
                     print_table=False)
    samoyed = sum(1 for i in items if "samoyed" in (i.ground_truth + i.prediction))
    assert data["confusion"]["wrong"]["error"] == 1 and data["confusion"]["generic"]["error"] == 1
    assert data["accuracy"] == pytest.approx((12 - samoyed) / 12)
    assert data["error_effects"]["ungraded"] == samoyed and data["cost"]["errors"] == samoyed


def test_fast_paths_on_settle_the_refusal_without_the_server(server, tmp_path):
    data, _ = audit(server, tmp_path, "specific", with_fast_paths=True)
    assert data["confusion"]["abstain"]["abstain"] == 1  # "I don't know": refusal fast path
    assert len(server.requests) == 11
    assert data["judge"]["fast_paths"] is True


def test_the_packaged_gold_set_with_a_perfect_judge_and_the_cli(server, tmp_path, capsys):
    items = load_gold()
    server.reply = ScriptedJudge(table_of(items), "perfect")
    config = tmp_path / "judge.yaml"
    config.write_text(json.dumps({"judge": judge_config(server, concurrency=16)}))
    assert main(["judge", "audit", "--judge", str(config), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    saved = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert saved["n"] == len(items) and saved["accuracy"] == 1.0 and saved["kappa"] == 1.0
    assert set(saved["confusion"]) == {"wrong", "abstain", "generic", "less specific", "specific", "more specific"}
    assert all(set(row) == set(COLUMNS) for row in saved["confusion"].values())
    assert saved["gold_version"] == "v1" and saved["gold_checksum"].startswith("sha256:")
    assert "accuracy" in capsys.readouterr().out


def test_kappa_hand_computed_on_a_two_by_two():
    # 20 pairs: 8 agree wrong, 6 agree specific, 4 wrong->specific, 2 specific->wrong
    m = confusion_matrix([("wrong", "wrong")] * 8 + [("specific", "specific")] * 6
                         + [("wrong", "specific")] * 4 + [("specific", "wrong")] * 2)
    p_o, p_e = 14 / 20, (12 * 10 + 8 * 10) / 400
    assert cohen_kappa(m) == pytest.approx((p_o - p_e) / (1 - p_e))
