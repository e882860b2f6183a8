"""`speciarl demo --quick` end to end: every stage runs, the report files hold the numbers printed."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from speciarl.categories import parse_category
from speciarl.cli import main
from speciarl.demo.run import QUICK, SCHEMES
from speciarl.records import read_records
from speciarl.rewards import get_reward_scheme
from speciarl.train.callbacks import read_rollouts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("COLUMNS", "200")  # rich wraps tables at 80 columns when not on a terminal
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            assert main(["demo", "--quick", "--output-dir", str(out), "--seed", "0"]) == 0
    finally:
        mp.undo()
    return out, buffer.getvalue()


def summary_of(out: Path, name: str) -> dict:
    return json.loads((out / "report" / "summary.json").read_text())["runs"][name]["overall"]


def _printed_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 9 and cells[1].isdigit():
            rows[cells[0]] = cells
    return rows


def test_report_files_hold_the_printed_numbers(demo_run: tuple[Path, str]) -> None:
    out, stdout = demo_run
    report = out / "report"
    for name in ("summary.json", "summary.md", "by_visibility.md", "demo.json", "correctness_specificity.png",
                 "category_shares.png", "training_curves.png"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    summary = json.loads((report / "summary.json").read_text())
    printed = _printed_rows(stdout)
    expected_runs = ["warm start", *(f"GRPO {s}" for s in SCHEMES), f"warm start sampled ×{QUICK.best_of_n}",
                     "honest oracle (reference)"]
    assert list(summary["runs"]) == expected_runs
    markdown = (report / "summary.md").read_text()
    for name, run in summary["runs"].items():
        overall = run["overall"]
        cells = printed[name]
        assert int(cells[1]) == overall["count"]
        assert cells[2:5] == [f"{overall[k]:.3f}" for k in ("correctness", "specificity", "hm")]
        assert f"| {name} | {int(overall['count'])} |" in markdown
    best = summary["runs"][f"warm start sampled ×{QUICK.best_of_n}"]["best_of_n"]["overall"]
    assert printed[f"warm start sampled ×{QUICK.best_of_n} best-of-{QUICK.best_of_n}"][2] == f"{best['correctness']:.3f}"
    # best-of-N can only be as good or better than the average sample
    assert best["correctness"] >= summary["runs"][f"warm start sampled ×{QUICK.best_of_n}"]["overall"]["correctness"]


def test_every_stage_ran_on_held_out_images(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    eval_ids = {r.sample_id for r in read_records(out / "data" / "eval.jsonl")}
    train_ids = {r.sample_id for r in read_records(out / "data" / "train.jsonl")}
    sft_ids = {r.sample_id for r in read_records(out / "data" / "sft.jsonl")}
    assert len(eval_ids) == QUICK.eval_images and not eval_ids & (train_ids | sft_ids)
    demo = json.loads((out / "report" / "demo.json").read_text())
    oracle = summary_of(out, "honest oracle (reference)")
    shares = {v: sum(r.extra["visibility"] == v for r in read_records(out / "data" / "eval.jsonl")) / len(eval_ids)
              for v in ("full", "genus", "generic")}
    # the oracle says the honest label: always correct, specific exactly on the fully visible images
    assert oracle["correctness"] == 1.0 and oracle["specificity"] == pytest.approx(shares["full"])
    assert oracle["shares"]["less specific"] == pytest.approx(shares["genus"])
    for name, path in demo["graded"].items():
        records = read_records(path)
        n = QUICK.best_of_n if "sampled" in name else 1
        assert {r.sample_id for r in records} == eval_ids
        assert len(records) == n * len(eval_ids)
        assert all(r.graded and r.judge and r.judge.startswith("taxonomy") for r in records if r.answer is not None)
    # the warm start was trained, and a GRPO run moved away from it exactly when some group's rollouts
    # got different rewards (a group with equal rewards has zero advantage: no policy gradient)
    weights = {p.parent.name: p.read_bytes() for p in (out / "models").glob("*/model.safetensors")}
    assert weights["perception"] != weights["init"] and weights["warm_start"] != weights["perception"]
    for scheme in SCHEMES:
        rollouts = read_rollouts(out / "train" / f"grpo_{scheme}" / "rollouts")
        groups: dict[tuple[int, str], set[float]] = {}
        for r in rollouts:
            groups.setdefault((r["step"], r["sample_id"]), set()).add(r["reward"])
        signal = any(len(rewards) > 1 for rewards in groups.values())
        assert (weights[f"grpo_{scheme}"] != weights["warm_start"]) == signal, scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_training_logs_use_the_configured_reward(demo_run: tuple[Path, str], scheme: str) -> None:
    """Rollout rewards in each run's log are the scheme's rewards of the logged categories, per group."""
    out, _ = demo_run
    run = out / "train" / f"grpo_{scheme}"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "categories/wrong" in m]
    assert [m["step"] for m in steps] == list(range(1, QUICK.grpo_steps + 1))
    rollouts = read_rollouts(run / "rollouts")
    assert len(rollouts) == QUICK.grpo_steps * QUICK.grpo_images_per_step * QUICK.num_generations
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rollouts:
        groups.setdefault((r["step"], r["sample_id"]), []).append(r)
    assert all(len(g) == QUICK.num_generations for g in groups.values())
    rule = get_reward_scheme(scheme)
    cats = [[None if r["category"] is None else parse_category(r["category"]) for r in g] for g in groups.values()]
    expected = rule.rewards(cats)
    assert [[r["reward"] for r in g] for g in groups.values()] == expected


def test_rerun_resumes_without_retraining_or_duplicates(demo_run: tuple[Path, str]) -> None:
    """A second `speciarl demo` on the same directory skips finished stages and reproduces the report."""
    out, _ = demo_run
    models = {p: p.stat().st_mtime_ns for p in (out / "models").glob("*/model.safetensors")}
    before = json.loads((out / "report" / "summary.json").read_text())["runs"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["demo", "--quick", "--output-dir", str(out), "--seed", "0"]) == 0
    assert {p: p.stat().st_mtime_ns for p in models} == models
    after = json.loads((out / "report" / "summary.json").read_text())["runs"]
    assert {k: v["overall"] for k, v in after.items()} == {k: v["overall"] for k, v in before.items()}
    demo = json.loads((out / "report" / "demo.json").read_text())
    for path in demo["graded"].values():
        records = read_records(path)
        assert len({r.key for r in records}) == len(records)


def test_rerun_with_other_settings_is_refused(demo_run: tuple[Path, str], tmp_path: Path, capsys) -> None:
    out, _ = demo_run
    assert main(["demo", "--quick", "--output-dir", str(out), "--seed", "1"]) == 2
    assert "other settings (seed 0)" in capsys.readouterr().err
    (tmp_path / "mine.txt").write_text("not a demo")
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 2
    assert "not a demo run directory" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "not a demo"


def test_fixed_seed_gives_the_identical_table_in_a_fresh_directory(demo_run: tuple[Path, str], tmp_path: Path,
                                                                     capfd: pytest.CaptureFixture[str]) -> None:
    """Every row (the sampled ones too) and every answer, from scratch; the live view is one line per stage.

    The first run ran the stages after the warm start side by side in worker processes (2+ CPUs),
    this one runs them one after another in the test's process: scheduling changes no result.
    """
    out, _ = demo_run
    fresh = tmp_path / "again"
    assert main(["demo", "--quick", "--output-dir", str(fresh), "--seed", "0", "--workers", "1"]) == 0
    printed, errors = capfd.readouterr()
    def rows(run_dir: Path) -> dict:  # every number of every row; the file paths differ
        runs = json.loads((run_dir / "report" / "summary.json").read_text())["runs"]
        return {name: {k: v for k, v in run.items() if k != "file"} for name, run in runs.items()}

    assert rows(fresh) == rows(out)
    assert (fresh / "report" / "by_visibility.md").read_text() == (out / "report" / "by_visibility.md").read_text()
    for name in ("warm_start", "warm_start_sampled", *(f"GRPO_{s}" for s in SCHEMES)):
        answers = [(r.key, r.completion) for r in read_records(out / "eval" / name / "predictions.jsonl")]
        assert [(r.key, r.completion) for r in read_records(fresh / "eval" / name / "predictions.jsonl")] == answers
    demo = json.loads((fresh / "report" / "demo.json").read_text())
    stage_lines = [line for line in printed.splitlines() if line.startswith("[demo] ") and line.endswith(" expected")]
    assert len(stage_lines) == len(demo["stages"]) == 8, printed
    for line, (stage, timing) in zip(stage_lines, demo["stages"].items(), strict=True):
        assert line.startswith(f"[demo] {stage}") and timing["cpu_s"] >= 0 and timing["expected_s"] > 0
    # no trainer progress bars, no model load/save bars, no FutureWarnings from inside TRL
    for noise in ("it/s]", "s/it]", "Loading weights", "Writing model shards", "FutureWarning"):
        assert noise not in errors and noise not in printed, noise
    assert not any(line.startswith("speciarl: ") for line in printed.splitlines())  # train's schedule line
