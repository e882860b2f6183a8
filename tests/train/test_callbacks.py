"""The training logs cut back to the resumed step: kept lines keep their bytes, a cut last line goes."""

import json

from speciarl.records import dumps
from speciarl.train.callbacks import RolloutLog, _truncate_after, read_rollouts


def test_truncate_keeps_earlier_lines_byte_for_byte(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 0.5 / (s + 1), "note": "é"}) for s in (1, 2, 3)]
    path.write_text("\n".join(lines) + '\n{"step": 4, "lo', encoding="utf-8")  # last line cut by a kill
    kept = _truncate_after(path, 2, json.dumps)
    assert [row["step"] for row in kept] == [1, 2]
    assert path.read_text(encoding="utf-8") == lines[0] + "\n" + lines[1] + "\n"
    assert _truncate_after(tmp_path / "missing.jsonl", 2, json.dumps) == []


def test_rollout_log_resume_recounts_passes(tmp_path):
    log = RolloutLog(tmp_path / "rollouts")
    row = {"sample_id": "a", "dataset": "d", "ground_truth": "g", "prediction_index": 0, "category": "specific"}
    log.write([{**row, "step": 1}])
    log.write([{**row, "step": 2}, {**row, "sample_id": "b", "step": 2}])
    log.write([{**row, "step": 3}])
    log.close()
    first = (tmp_path / "rollouts" / "pass-01.jsonl").read_text(encoding="utf-8")
    assert first == dumps({**row, "step": 1}) + "\n" + dumps({**row, "sample_id": "b", "step": 2}) + "\n"
    log.resume_at(2)  # step 3 (a's third pass) is dropped; a has had 2 passes, b 1
    kept = sorted((r["sample_id"], r["step"]) for r in read_rollouts(tmp_path / "rollouts"))
    assert kept == [("a", 1), ("a", 2), ("b", 2)]
    assert (tmp_path / "rollouts" / "pass-01.jsonl").read_text(encoding="utf-8") == first
    log.write([{**row, "step": 3}, {**row, "sample_id": "b", "step": 3}])
    log.close()
    rows = read_rollouts(tmp_path / "rollouts")
    assert sorted((r["sample_id"], r["step"]) for r in rows if r["step"] == 3) == [("a", 3), ("b", 3)]
    assert sorted(p.name for p in (tmp_path / "rollouts").iterdir()) == ["pass-01.jsonl", "pass-02.jsonl",
                                                                        "pass-03.jsonl"]
    assert json.loads((tmp_path / "rollouts" / "pass-03.jsonl").read_text())["sample_id"] == "a"
    assert (tmp_path / "rollouts" / "pass-02.jsonl").read_text().count('"sample_id":"b"') == 1
