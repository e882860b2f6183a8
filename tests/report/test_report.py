import json
import subprocess
import sys
from pathlib import Path

import pytest

from speciarl.cli import main
from speciarl.metrics import summarize
from speciarl.records import GRADED_FIELDS, read_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_on_examples_writes_every_file(tmp_path, capsys):
    out = tmp_path / "rep"
    inputs = [EXAMPLES / "zero_shot.jsonl", EXAMPLES / "zero_shot_bo8.jsonl"]
    assert main(["report", *map(str, inputs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    runs = summary["runs"]
    assert set(runs) == {"zero_shot", "zero_shot_bo8"}
    # numbers equal an independent recomputation from the records
    records = read_records(inputs[0], required=GRADED_FIELDS)
    cub = summarize(r.category for r in records if r.dataset == "cub200")
    assert runs["zero_shot"]["datasets"]["cub200"]["hm"] == pytest.approx(cub.hm)
    assert runs["zero_shot"]["datasets"]["cub200"]["shares"] == pytest.approx(cub.shares)
    assert f"{runs['zero_shot']['overall']['hm']:.3f}" in printed
    # best-of-N only where N > 1, with k up to N
    assert "best_of_n" not in runs["zero_shot"]
    assert runs["zero_shot_bo8"]["best_of_n"]["n"] == 8
    assert list(runs["zero_shot_bo8"]["best_of_k"]) == ["1", "2", "4", "8"]
    k1 = runs["zero_shot_bo8"]["best_of_k"]["1"]
    assert k1["hm"] == pytest.approx(runs["zero_shot_bo8"]["overall"]["hm"])  # k=1 is the plain mean
    k8 = runs["zero_shot_bo8"]["best_of_k"]["8"]
    assert k8["correctness"] == pytest.approx(runs["zero_shot_bo8"]["best_of_n"]["overall"]["correctness"])
    assert set(runs["zero_shot"]["groups"]) == {"in-domain", "fine-grained", "very fine-grained"}
    md = (out / "summary.md").read_text()
    assert "zero_shot_bo8 best-of-8" in md and "### stanford_cars" in md
    for name in ("category_shares.png", "correctness_specificity.png", "metric_vs_k.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000


def test_names_and_single_run_without_k_plot(tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(EXAMPLES / "speciarl.jsonl"), "--out", str(out), "--name", "ours"]) == 0
    assert list(json.loads((out / "summary.json").read_text())["runs"]) == ["ours"]
    assert not (out / "metric_vs_k.png").exists()


def _graded(**over):
    row = {"sample_id": "s1", "dataset": "cub200", "ground_truth": "Cardinal", "answer": "cardinal",
           "category": "specific"}
    row.update(over)
    return json.dumps(row)


@pytest.mark.parametrize(
    "lines, message",
    [
        ([_graded(), _graded(sample_id="s2", category="very specific")], "bad.jsonl:2: field 'category'"),
        ([_graded(), '{"sample_id": "s2", "dataset": "x", "answer": "a", "category": null}'],
         "bad.jsonl:2: field 'ground_truth': missing"),
        ([_graded(), "{oops"], "bad.jsonl:2: not a valid UTF-8 JSON line"),
        ([_graded(), _graded()], "duplicate record for sample 's1'"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys, lines, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rep"
    assert main(["report", str(EXAMPLES / "zero_shot.jsonl"), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_help_does_not_import_torch():
    code = "import sys; from speciarl.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\n" \
           "import speciarl.report.run\nassert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_plots_drawn_in_a_forked_process_equal_those_drawn_in_this_one(tmp_path, monkeypatch):
    """With a second CPU and no other thread, two plots are drawn in a forked process; with another
    thread alive (eval's judge loop) all four here: the same bytes, listed in the same order."""
    import threading

    from speciarl.report import run, summary

    monkeypatch.setattr(summary, "default_workers", lambda: 2)
    stop = threading.Event()
    alive = threading.Thread(target=stop.wait)
    alive.start()
    try:
        assert not run._fork_is_safe()
    finally:
        stop.set()
        alive.join()
    inputs = [EXAMPLES / "zero_shot.jsonl", EXAMPLES / "zero_shot_bo8.jsonl"]
    drawn = {}
    for fork in (True, False):  # (other tests may leave idle threads behind: the choice is forced here)
        monkeypatch.setattr(run, "_fork_is_safe", lambda fork=fork: fork)
        drawn[fork] = run.run_report(inputs, tmp_path / str(fork), print_table=False, gallery=False)
    names = ["category_shares.png", "correctness_specificity.png", "metric_vs_k.png", "per_class_specificity.png"]
    assert [Path(p).name for p in drawn[True]["plots"]] == [Path(p).name for p in drawn[False]["plots"]] == names
    for name in names:
        assert (tmp_path / "True" / name).read_bytes() == (tmp_path / "False" / name).read_bytes(), name
