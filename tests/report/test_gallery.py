"""`speciarl gallery` without a browser: the data files, joins, thumbnails, per-class numbers, errors.
(tests/report/test_gallery_browser.py opens the page in headless chromium.)"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from speciarl.cli import main
from speciarl.errors import SpeciarlError
from speciarl.metrics import best_category, predictions_by_sample, summarize
from speciarl.records import GRADED_FIELDS, read_records
from speciarl.report.gallery import build_gallery, images_reachable
from speciarl.report.gallery_data import CODES, code_of
from speciarl.report.thumbs import make_thumb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNS = [EXAMPLES / "zero_shot.jsonl", EXAMPLES / "speciarl.jsonl", EXAMPLES / "zero_shot_bo8.jsonl"]


def read_js(path: Path) -> tuple[str, list]:
    """(function called, its arguments) of one gallery data file."""
    match = re.fullmatch(r"SPECIARL_GALLERY\.(\w+)\((.*)\);\n", path.read_text(encoding="utf-8"), re.S)
    assert match, f"{path} is not one SPECIARL_GALLERY call"
    return match.group(1), json.loads(f"[{match.group(2)}]")


def load_site(out: Path) -> tuple[dict, dict, dict]:
    """meta, the index columns joined over chunks, and every detail item by sample id."""
    _, (meta,) = read_js(out / "data" / "meta.js")
    index: dict = {"ids": [], "cls": [], "img": [], "runs": [{"c": [], "a": [], "h": []} for _ in meta["runs"]]}
    for k in range(meta["indexChunks"]):
        call, (number, chunk) = read_js(out / "data" / f"index-{k:04d}.js")
        assert (call, number) == ("index", k)
        for key in ("ids", "cls", "img"):
            index[key] += chunk[key]
        for run, part in zip(index["runs"], chunk["runs"]):
            run["c"] += part["c"]
            run["a"] += part["a"]
            run["h"] += part["h"] or []
    details: dict = {}
    for k in range(meta["detailChunks"]):
        call, (number, items) = read_js(out / "data" / f"detail-{k:04d}.js")
        assert (call, number) == ("detail", k)
        assert list(items) == index["ids"][k * meta["detailChunkSize"]:(k + 1) * meta["detailChunkSize"]]
        details.update(items)
    return meta, index, details


def test_examples_gallery_joins_runs_and_keeps_every_prediction(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["gallery", *map(str, RUNS), "--out", str(out)]) == 0
    assert "index.html" in capsys.readouterr().out
    for name in ("index.html", "classes.html", "gallery.js", "gallery.css"):
        assert (out / name).is_file()
    meta, index, details = load_site(out)
    assert [r["name"] for r in meta["runs"]] == ["zero_shot", "speciarl", "zero_shot_bo8"]
    assert [r["n"] for r in meta["runs"]] == [1, 1, 8]
    assert meta["total"] == len(index["ids"]) == 60 and meta["images"] == 0
    assert index["img"] == [None] * 60  # no reachable images: the page shows placeholders
    for run_index, path in enumerate(RUNS):
        records = read_records(path, required=GRADED_FIELDS)
        by_sample = {sid: cats for ds in predictions_by_sample(records).values() for sid, cats in ds.items()}
        run = index["runs"][run_index]
        for pos, sid in enumerate(index["ids"]):
            assert run["c"][pos] == code_of(best_category(by_sample[sid]))
            if meta["runs"][run_index]["n"] > 1:
                assert sum(run["h"][pos]) == 8
                assert run["h"][pos] == [sum(code_of(c) == k for c in by_sample[sid]) for k in range(len(CODES))]
        # every prediction with its completion reaches the detail files, in prediction_index order
        for r in records:
            preds = details[r.sample_id]["runs"][run_index]
            assert [r.prediction_index, code_of(r.category), r.answer, r.completion] in preds
            assert [p[0] for p in preds] == sorted(p[0] for p in preds)
    # samples are grouped by dataset, then class
    keys = [(meta["classes"][c][0], meta["classes"][c][1]) for c in index["cls"]]
    assert keys == sorted(keys)


class _Cells(HTMLParser):
    """(dataset, class, run, metric) → value of the per-class table's data-value cells."""

    def __init__(self) -> None:
        super().__init__()
        self.row: tuple[str, str] | None = None
        self.values: dict[tuple[str, str, str, str], float] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-class" in a:
            self.row = (a["data-dataset"], a["data-class"])
        elif tag == "td" and "data-value" in a and self.row:
            self.values[(*self.row, a["data-run"], a["data-metric"])] = float(a["data-value"])


def test_per_class_numbers_equal_metrics_on_the_same_subsets(tmp_path):
    out = tmp_path / "g"
    build_gallery(RUNS, out, log=None)
    parser = _Cells()
    parser.feed((out / "classes.html").read_text(encoding="utf-8"))
    checked = 0
    for path in RUNS:
        records = read_records(path, required=GRADED_FIELDS)
        classes = defaultdict(list)
        for r in records:
            classes[(r.dataset, r.ground_truth)].append(r)
        for (dataset, gt), subset in classes.items():
            s = summarize(r.category for r in subset)
            for metric in ("count", "correctness", "specificity", "hm"):
                assert parser.values[(dataset, gt, path.stem, metric)] == pytest.approx(getattr(s, metric), abs=1e-12)
                checked += 1
            if path.stem == "zero_shot_bo8":
                best = summarize(best_category(c) for c in predictions_by_sample(subset)[dataset].values())
                assert parser.values[(dataset, gt, "zero_shot_bo8 best-of-N", "hm")] == pytest.approx(best.hm)
    assert checked > 100
    html = (out / "classes.html").read_text(encoding="utf-8")
    assert "largest gains" in html and "largest losses" in html and "Laysan Albatross" in html  # a confusion


def _write_run(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(sid: str, gt: str, answer: str, category: str, image: str | None = None, **extra) -> dict:
    return {"sample_id": sid, "dataset": "shapes", "ground_truth": gt, "answer": answer, "category": category,
            "completion": f"<think>hm</think><answer>{answer}</answer>", **({"image": image} if image else {}), **extra}


def test_thumbnails_are_small_cached_and_remade_when_the_image_changes(tmp_path, monkeypatch):
    images = tmp_path / "imgs"
    images.mkdir()
    Image.effect_noise((640, 480), 60).convert("RGB").save(images / "a.jpg", quality=95)
    Image.new("RGB", (300, 200), (10, 200, 30)).save(images / "b.png")
    (images / "c.png").write_bytes(b"not an image")
    run = _write_run(tmp_path / "run.jsonl", [
        _row("s1", "noise", "static", "specific", "imgs/a.jpg"),  # relative to the records file's folder
        _row("s2", "green", "green", "specific", str(images / "b.png")),  # absolute
        _row("s3", "broken", "x", "wrong", "imgs/c.png"),  # unreadable: placeholder
        _row("s4", "gone", "y", "wrong", "imgs/missing.png"),  # missing: placeholder
    ])
    monkeypatch.chdir(tmp_path.parent)  # not the records' folder: paths resolve via the file's parents
    assert images_reachable([run])
    out = tmp_path / "g"
    first = build_gallery([run], out, log=None)
    assert (first.images, first.thumbs_made) == (2, 2)
    _, index, _ = load_site(out)
    thumbs = dict(zip(index["ids"], index["img"]))
    assert thumbs["s3"] is None and thumbs["s4"] is None
    for sid in ("s1", "s2"):
        file = out / thumbs[sid]
        assert file.stat().st_size < 12_000
        with Image.open(file) as img:
            assert img.format == "JPEG" and max(img.size) == 160
    again = build_gallery([run], out, log=None)
    assert again.thumbs_made == 0  # cached
    Image.new("RGB", (300, 200), (200, 10, 30)).save(images / "b.png")
    third = build_gallery([run], out, log=None)
    assert third.thumbs_made == 1
    assert len(list((out / "thumbs").glob("*/*.jpg"))) == 2  # the stale thumbnail is gone
    assert make_thumb(images / "c.png", tmp_path / "cache") == (None, False)


def test_run_directory_input_uses_its_name_and_verified_records(tmp_path):
    run_dir = tmp_path / "runs" / "zs-abc123"
    run_dir.mkdir(parents=True)
    _write_run(run_dir / "verified.jsonl", [_row("s1", "circle", "circle", "specific")])
    (run_dir / "run.json").write_text(json.dumps({"name": "zero-shot"}))
    other = _write_run(tmp_path / "rl.jsonl", [_row("s1", "circle", "shape", "generic"), _row("s2", "square", "square", "specific")])
    out = tmp_path / "g"
    build_gallery([run_dir, other], out, log=None)
    meta, index, details = load_site(out)
    assert [r["name"] for r in meta["runs"]] == ["zero-shot", "rl"]
    assert index["ids"] == ["s1", "s2"]
    assert index["runs"][0]["c"] == [CODES.index("specific"), -1]  # s2 is not in the first run
    assert details["s2"]["runs"][0] is None


def test_bad_inputs_fail_clearly_and_write_nothing(tmp_path, capsys):
    a = _write_run(tmp_path / "a.jsonl", [_row("s1", "circle", "circle", "specific")])
    b = _write_run(tmp_path / "b.jsonl", [_row("s1", "square", "square", "specific")])
    with pytest.raises(SpeciarlError, match=r"b\.jsonl: sample 's1'.*'square'.*'circle'"):
        build_gallery([a, b], tmp_path / "g", log=None)
    assert not (tmp_path / "g").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_row("s1", "circle", "circle", "best")) + "\n")
    assert main(["gallery", str(bad), "--out", str(tmp_path / "g2")]) == 2
    assert "bad.jsonl:1: field 'category'" in capsys.readouterr().err
    assert main(["gallery", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "g3")]) == 2
    assert main(["gallery", str(a), str(a), "--out", str(tmp_path / "g4")]) == 2  # same name twice
    assert "not unique" in capsys.readouterr().err


def test_detail_chunks_stay_small_for_best_of_n(tmp_path):
    rows = [_row(f"s{i:03d}", f"class {i % 7}", f"answer {j}", CODES[j % 6], prediction_index=j)
            for i in range(120) for j in range(64)]
    run = _write_run(tmp_path / "bo64.jsonl", rows)
    out = tmp_path / "g"
    build_gallery([run], out, log=None)
    meta, index, details = load_site(out)
    assert meta["runs"][0]["n"] == 64 and meta["detailChunkSize"] * 64 <= 1500
    assert meta["detailChunks"] == -(-120 // meta["detailChunkSize"])
    assert all(len(details[sid]["runs"][0]) == 64 for sid in index["ids"])
    assert not (out / "data" / ".spool").exists()


def test_duplicate_prediction_is_an_error(tmp_path):
    run = _write_run(tmp_path / "dup.jsonl", [_row("s1", "circle", "circle", "specific", prediction_index=0),
                                              _row("s1", "circle", "shape", "generic", prediction_index=1),
                                              _row("s1", "circle", "circle", "specific", prediction_index=1)])
    with pytest.raises(SpeciarlError, match=r"dup\.jsonl: duplicate record for sample 's1' prediction_index 1"):
        build_gallery([run], tmp_path / "g", log=None)
