"""`speciarl eval` stages in-process, with the openai backend against a real local server (fast, no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from eval_bench import write_bench  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402

from speciarl.errors import ConfigError, SpeciarlError
from speciarl.pipeline.config import load_eval_config, results_hash
from speciarl.pipeline.eval import run_eval
from speciarl.records import read_records

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "predict"))
from test_openai_backend import see_image  # noqa: E402


@pytest.fixture
def server():
    with OpenAIServer(see_image) as srv:
        yield srv


def write_config(tmp_path: Path, server_url: str, *, corrupt: bool = False, n: int = 1, **extra) -> Path:
    bench = write_bench(tmp_path / "bench", n=9, corrupt=corrupt)
    sampling = {"n": n, "max_new_tokens": 64}
    if n > 1:
        sampling.update(temperature=0.6, top_p=0.95)
    config = {
        "name": "srv",
        "output_dir": str(tmp_path / "runs"),
        "model": {"backend": "openai", "base_url": server_url, "model": "vlm", "api_key_env": None,
                  "concurrency": 4, "backoff_base": 0.01},
        "benchmarks": [{"name": "manifest", "root": str(bench["manifest"])}],
        "prompt": "base",
        "sampling": sampling,
        "judge": {"type": "taxonomy", "taxonomy": str(bench["taxonomy"]), "cache": "none"},
        "report": {"plots": False},
        **extra,
    }
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_all_stages_then_rerun_skips_every_stage(tmp_path, server, capsys):
    cfg = write_config(tmp_path, server.base_url)
    result = run_eval(cfg, progress=False)
    assert [result.stages[s]["status"] for s in ("predict", "verify", "report")] == ["ran"] * 3
    records = read_records(result.run_dir / "verified.jsonl")
    assert len(records) == 9 and {r.category.value for r in records} == {"specific"}  # the server "sees" colours
    pred = read_records(result.run_dir / "predictions.jsonl")[0]
    assert pred.prompt_name == "base" and pred.model == "vlm" and pred.completion.startswith("<think>")
    assert pred.extra["sampling"]["max_new_tokens"] == 64 and pred.extra["backend"] == "openai"
    run_json = json.loads((result.run_dir / "run.json").read_text())
    assert run_json["config"]["sampling"]["n"] == 1 and run_json["prompt"]["hash"] == pred.prompt_hash
    out = capsys.readouterr().out
    assert "correct" in out and "srv" in out  # the paper-style table
    requests = len(server.requests)
    again = run_eval(cfg, progress=False)
    assert again.run_dir == result.run_dir
    assert all(v["status"].startswith("skipped") for v in again.stages.values())
    assert len(server.requests) == requests  # nothing was predicted twice
    assert "correct" in capsys.readouterr().out  # the table is printed even when nothing ran


def test_corrupt_image_is_reported_counted_and_not_retried(tmp_path, server):
    cfg = write_config(tmp_path, server.base_url, corrupt=True)
    result = run_eval(cfg, progress=False)
    summary = json.loads((result.run_dir / "eval_summary.json").read_text())
    assert summary["skipped_images"] == 1
    assert summary["unreadable_images"][0]["path"].endswith("broken.png")
    assert len(read_records(result.run_dir / "verified.jsonl")) == 9
    again = run_eval(cfg, progress=False)
    assert again.stages["predict"]["status"].startswith("skipped")
    assert json.loads((again.run_dir / "eval_summary.json").read_text())["skipped_images"] == 1
    from PIL import Image  # the user repairs the file: the next run picks it up

    Image.new("RGB", (40, 40), (255, 0, 0)).save(summary["unreadable_images"][0]["path"])
    fixed = run_eval(cfg, progress=False)
    assert fixed.stages["predict"]["written"] == 1
    assert len(read_records(fixed.run_dir / "verified.jsonl")) == 10
    assert json.loads((fixed.run_dir / "eval_summary.json").read_text())["skipped_images"] == 0


def test_shards_then_merge_without_duplicates(tmp_path, server):
    cfg = write_config(tmp_path, server.base_url, n=3)
    first = run_eval(cfg, shard="0/2", progress=False)
    assert set(first.stages) == {"predict"}  # a shard only predicts
    assert not (first.run_dir / "verified.jsonl").exists()
    with pytest.raises(SpeciarlError, match="missing"):
        run_eval(cfg, stages="verify", progress=False)  # shard 1 is not done yet
    run_eval(cfg, shard="1/2", progress=False)
    shard_files = sorted(p.name for p in first.run_dir.glob("predictions.shard-*"))
    assert shard_files == ["predictions.shard-0-of-2.jsonl", "predictions.shard-1-of-2.jsonl"]
    done = run_eval(cfg, progress=False)
    assert done.stages["predict"]["status"].startswith("skipped")
    keys = [r.key for r in read_records(done.run_dir / "predictions.jsonl")]
    assert len(keys) == len(set(keys)) == 27
    assert len(read_records(done.run_dir / "verified.jsonl")) == 27
    assert not list(done.run_dir.glob("predictions.shard-*"))


def test_result_hash_follows_results_not_plumbing(tmp_path, server):
    cfg_path = write_config(tmp_path, server.base_url)
    base = load_eval_config(cfg_path)
    prompt_hash = "p1"
    h = results_hash(base, prompt_hash)
    raw = yaml.safe_load(cfg_path.read_text())
    raw["model"]["concurrency"] = 64  # speed only
    cfg_path.write_text(yaml.safe_dump(raw))
    assert results_hash(load_eval_config(cfg_path), prompt_hash) == h
    assert results_hash(base, "p2") != h  # edited prompt text
    raw["sampling"]["max_new_tokens"] = 65
    cfg_path.write_text(yaml.safe_dump(raw))
    assert results_hash(load_eval_config(cfg_path), prompt_hash) != h
    taxonomy = Path(base.judge["taxonomy"])
    taxonomy.write_text(taxonomy.read_text() + "  - name: star\n")  # the judge's data changed
    assert results_hash(base, prompt_hash) != h


def test_bad_config_and_stage_names_are_clear(tmp_path, server):
    cfg = write_config(tmp_path, server.base_url, sampels={"n": 2})
    with pytest.raises(ConfigError, match="sampels"):
        run_eval(cfg)
    cfg = write_config(tmp_path, server.base_url)
    with pytest.raises(ConfigError, match="verfy"):
        run_eval(cfg, stages="predict,verfy")
    with pytest.raises(SpeciarlError, match="predict stage first|missing"):
        run_eval(cfg, stages="verify", progress=False)


def test_server_down_is_an_error_and_nothing_fabricated(tmp_path, server):
    server.fault_for = lambda body: "503"
    cfg = write_config(tmp_path, server.base_url, model={
        "backend": "openai", "base_url": server.base_url, "model": "vlm", "api_key_env": None,
        "max_retries": 1, "backoff_base": 0.01})
    with pytest.raises(SpeciarlError, match="rerun"):
        run_eval(cfg, progress=False)
    run_dir = next((tmp_path / "runs").iterdir())
    assert not (run_dir / "predictions.jsonl").exists() or not read_records(run_dir / "predictions.jsonl")
    server.fault_for = None
    result = run_eval(cfg, progress=False)  # the server is back: the rerun completes
    assert len(read_records(result.run_dir / "verified.jsonl")) == 9


def test_a_second_job_on_the_same_predictions_file_is_refused(tmp_path, server):
    from speciarl.pipeline.predict import PREDICTIONS, exclusive

    cfg = write_config(tmp_path, server.base_url)
    first = run_eval(cfg, stages="predict", progress=False)
    (first.run_dir / PREDICTIONS).unlink()  # make predict have work again
    with exclusive(first.run_dir / PREDICTIONS):  # another process (job) holds the file
        with pytest.raises(SpeciarlError, match="another process"):
            run_eval(cfg, stages="predict", progress=False)
    assert not (first.run_dir / PREDICTIONS).exists()


def test_another_judge_regrades_the_same_predictions_without_predicting_again(tmp_path, server):
    cfg = write_config(tmp_path, server.base_url)
    first = run_eval(cfg, progress=False)
    requests = len(server.requests)
    raw = yaml.safe_load(cfg.read_text())
    taxonomy = Path(raw["judge"]["taxonomy"])
    other = taxonomy.with_name("other.yaml")  # another judge: a taxonomy without the colour level
    other.write_text("name: shape\nchildren: [{name: circle}, {name: square}, {name: triangle}]\n")
    raw["judge"]["taxonomy"] = str(other)
    cfg.write_text(yaml.safe_dump(raw))
    second = run_eval(cfg, progress=False)
    assert second.run_dir != first.run_dir  # new judge: new run directory, no stale grades
    assert len(server.requests) == requests  # ... but the predictions were reused, not redone
    assert read_records(second.run_dir / "predictions.jsonl") == read_records(first.run_dir / "predictions.jsonl")
    assert second.stages["predict"]["status"].startswith("skipped")
    assert second.stages["verify"]["status"] == "ran"  # graded afresh by the new judge
    assert len(read_records(second.run_dir / "verified.jsonl")) == 9


def test_judge_outage_stops_before_report_and_a_rerun_finishes(tmp_path, server):
    from openai_server import RuleTable

    server.reply = lambda body: see_image(body).replace("</answer>", " bird</answer>")  # not an exact match
    with OpenAIServer(RuleTable(default="generic")) as judge:
        judge.fault_for = lambda body: "503"
        cfg = write_config(tmp_path, server.base_url, judge={
            "type": "openai", "base_url": judge.base_url, "model": "judge", "cache": "none",
            "max_retries": 0, "backoff_base": 0.01, "api_key_env": None, "choice_field": "none"})
        with pytest.raises(SpeciarlError, match="could not be graded.*rerun"):
            run_eval(cfg, progress=False)
        run_dir = next((tmp_path / "runs").iterdir())
        assert not (run_dir / "report").exists()
        verified = run_dir / "verified.jsonl"
        assert not verified.exists() or not read_records(verified)  # no made-up grades
        judge.fault_for = None
        result = run_eval(cfg, progress=False)
    graded = read_records(result.run_dir / "verified.jsonl")
    assert len(graded) == 9 and {r.category.value for r in graded} == {"generic"}
    assert result.stages["predict"]["status"].startswith("skipped")
