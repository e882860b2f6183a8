"""Per-class numbers: speciarl.metrics.per_class_summaries and the report's per-class helpers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from speciarl.categories import Category
from speciarl.metrics import per_class_summaries, summarize
from speciarl.records import GRADED_FIELDS, read_records
from speciarl.report.per_class import ClassAccumulator, class_changes, per_class_from_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_per_class_summaries_equal_summarize_on_each_subset():
    records = read_records(EXAMPLES / "zero_shot_bo8.jsonl", required=GRADED_FIELDS)
    subsets = defaultdict(list)
    for r in records:
        subsets[(r.dataset, r.ground_truth)].append(r.category)
    got = per_class_summaries((r.dataset, r.ground_truth, r.category) for r in records)
    assert set(got) == set(subsets)
    for key, cats in subsets.items():
        assert got[key].to_dict() == summarize(cats).to_dict()


def test_accumulator_folds_in_bounded_batches_and_counts_answers(monkeypatch):
    monkeypatch.setattr(ClassAccumulator, "FOLD_EVERY", 3)
    acc = ClassAccumulator()
    stream = [("d", "lion", Category.WRONG, "tiger"), ("d", "lion", Category.WRONG, "tiger"),
              ("d", "lion", Category.WRONG, "cat"), ("d", "lion", Category.LESS_SPECIFIC, "big cat"),
              ("d", "lion", Category.SPECIFIC, "lion"), ("d", "lion", None, None), ("d", "owl", Category.GENERIC, "bird")]
    for item in stream:
        acc.add(*item)
    table = acc.finish()
    lion = table[("d", "lion")]
    assert lion["summary"] == summarize(c for _, gt, c, _ in stream if gt == "lion").to_dict()
    assert lion["wrong_answers"] == [["tiger", 2], ["cat", 1]]
    assert lion["less_specific_answers"] == [["big cat", 1]]
    assert table[("d", "owl")]["wrong_answers"] == []


def test_class_changes_sorted_gains_first():
    a = per_class_from_records(read_records(EXAMPLES / "zero_shot.jsonl", required=GRADED_FIELDS))
    b = per_class_from_records(read_records(EXAMPLES / "speciarl.jsonl", required=GRADED_FIELDS))
    rows = class_changes(a, b)
    deltas = [r["delta_hm"] for r in rows]
    assert deltas == sorted(deltas, reverse=True) and len(rows) == len(a.keys() & b.keys())
    top = rows[0]
    key = (top["dataset"], top["class"])
    assert top["delta_specificity"] == pytest.approx(b[key]["summary"]["specificity"] - a[key]["summary"]["specificity"])


def test_report_writes_per_class_json_and_plot_and_a_gallery_only_when_images_are_reachable(tmp_path):
    import json

    from PIL import Image

    from speciarl.cli import main

    out = tmp_path / "rep"
    runs = [EXAMPLES / "zero_shot.jsonl", EXAMPLES / "speciarl.jsonl"]
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    data = json.loads((out / "per_class.json").read_text())
    records = read_records(runs[1], required=GRADED_FIELDS)
    for row in data["runs"]["speciarl"]:
        subset = [r.category for r in records if (r.dataset, r.ground_truth) == (row["dataset"], row["class"])]
        assert row["summary"] == summarize(subset).to_dict()
    assert data["changes"]["speciarl vs zero_shot"][0]["delta_hm"] >= data["changes"]["speciarl vs zero_shot"][-1]["delta_hm"]
    assert (out / "per_class_specificity.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "gallery").exists()  # the examples' records name no image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "red.png")
    row = {"sample_id": "a", "dataset": "shapes", "ground_truth": "red circle", "answer": "circle",
           "category": "less specific", "image": str(tmp_path / "red.png")}
    graded = tmp_path / "with_images.jsonl"
    graded.write_text(json.dumps(row) + "\n")
    assert main(["report", str(graded), "--out", str(tmp_path / "rep2"), "--no-plots"]) == 0
    assert (tmp_path / "rep2" / "gallery" / "index.html").is_file()
    assert len(list((tmp_path / "rep2" / "gallery" / "thumbs").glob("*/*.jpg"))) == 1
    assert main(["report", str(graded), "--out", str(tmp_path / "rep3"), "--no-gallery"]) == 0
    assert not (tmp_path / "rep3" / "gallery").exists()
