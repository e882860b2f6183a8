"""The demo's per-visibility table and its training-curve reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speciarl.categories import Category as C
from speciarl.demo.curves import read_curves, visibility_table, write_visibility_table
from speciarl.records import Record, RecordError, write_records_atomic


def test_visibility_table_shares_and_honest_best(tmp_path: Path) -> None:
    split = [Record(sample_id=f"s{i}", dataset="demo", ground_truth="x", extra={"visibility": v})
             for i, v in enumerate(["full", "full", "full", "genus", "full"])]
    cats = [C.SPECIFIC, C.MORE_SPECIFIC, C.WRONG, C.LESS_SPECIFIC, None]
    graded = tmp_path / "verified.jsonl"
    write_records_atomic(graded, [Record(sample_id=r.sample_id, dataset="demo", ground_truth="x", answer="a",
                                         category=c, graded=True) for r, c in zip(split, cats, strict=True)])
    rows = visibility_table({"run": graded}, split)["run"]
    full = rows["full"]
    assert full["n"] == 4
    assert full["specific"] == pytest.approx(2 / 4)  # more specific counted with specific
    assert (full["wrong"], full["parse failure"], full["less specific"]) == (0.25, 0.25, 0.0)
    assert full["honest best"] == 0.25  # only the exact `specific` is the honest best of a full image
    assert (rows["genus"]["less specific"], rows["genus"]["honest best"]) == (1.0, 1.0)
    assert rows["generic"] == {"n": 0, "specific": 0.0, "less specific": 0.0, "generic": 0.0, "wrong": 0.0,
                               "abstain": 0.0, "parse failure": 0.0, "honest best": 0.0}
    assert rows["all"]["n"] == 5 and rows["all"]["specific"] == pytest.approx(2 / 5)
    text = write_visibility_table({"run": rows}, tmp_path).read_text(encoding="utf-8")
    assert "| run | full | 4 | 0.500 | 0.000 | 0.000 | 0.250 | 0.000 | 0.250 | 0.250 |" in text


def test_read_curves(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    rows = [{"step": 1, "categories/specific": 0.25, "loss": 1.0}, {"step": 2, "loss": 0.5},
            {"step": 2, "categories/specific": 0.5, "categories/wrong": 0.1}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    curves = read_curves(metrics)
    assert curves["specific"] == [(1, 0.25), (2, 0.5)] and curves["wrong"] == [(2, 0.1)]
    assert read_curves(tmp_path / "absent.jsonl")["specific"] == []
    metrics.write_text('{"step": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(RecordError, match="metrics.jsonl:2"):
        read_curves(metrics)
