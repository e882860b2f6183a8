"""`speciarl classify`: a model's answer and reasoning for your own images, on the tiny offline model
(and an OpenAI-compatible VLM server), with and without a judge; same backends and prompts as eval."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from openai_server import OpenAIServer  # noqa: E402

from speciarl.cli import main
from speciarl.judges import build_judge

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Generated shape images (the synthetic benchmark's renderer) and their taxonomy."""
    from speciarl.data.synthetic import write_synthetic

    bench = write_synthetic(tmp_path_factory.mktemp("shapes"), per_class=1, seed=0)
    rows = [json.loads(x) for x in bench.manifests["test"].read_text().splitlines()]
    return {"images": [bench.root / r["image"] for r in rows], "labels": [r["label"] for r in rows],
            "taxonomy": bench.taxonomy}


@pytest.fixture
def judge_yaml(tmp_path, shapes):
    path = tmp_path / "judge.yaml"
    path.write_text(f"judge: {{type: taxonomy, taxonomy: {shapes['taxonomy']}, cache: none}}\n")
    return path


TINY = ["--device", "cpu", "--max-new-tokens", "12"]


def test_tiny_model_prints_answer_and_reasoning_as_eval_would(tiny_vlm_path, shapes, capsys):
    image = shapes["images"][0]
    assert main(["classify", str(image), "--model", str(tiny_vlm_path), *TINY, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    # the same backend, prompt and decoding as `speciarl eval` give the same completion for this image
    from speciarl.answers import extract_answer
    from speciarl.data.sample import Sample
    from speciarl.predict import PredictRequest, SamplingParams, build_predictor
    from speciarl.prompts import get_prompt

    predictor = build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "device": "cpu"})
    sample = Sample(sample_id="x", dataset="d", split="test", ground_truth="", image_path=image)
    [completion] = list(predictor.predict([PredictRequest(sample, get_prompt("base"))],
                                          SamplingParams(max_new_tokens=12)))
    predictor.close()
    assert got["completions"] == [completion.text] and got["answers"] == [extract_answer(completion.text)]
    assert got["image"] == str(image) and "categories" not in got

    assert main(["classify", str(image), "--model", str(tiny_vlm_path), *TINY]) == 0
    text = capsys.readouterr().out
    assert text.startswith(str(image)) and "answer: " in text and "reasoning: " in text


def test_tiny_model_samples_with_truth_and_taxonomy_judge(tiny_vlm_path, shapes, judge_yaml, capsys):
    images = [str(p) for p in shapes["images"][:2]]
    truth = shapes["labels"][0]
    assert main(["classify", *images, "--model", str(tiny_vlm_path), *TINY, "--samples", "3", "--truth", truth,
                 "--judge", str(judge_yaml), "--json"]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in results] == images
    judge = build_judge({"type": "taxonomy", "taxonomy": str(shapes["taxonomy"]), "cache": "none"})
    for r in results:
        assert len(r["completions"]) == len(r["answers"]) == len(r["categories"]) == 3
        assert len(set(r["completions"])) > 1  # sampled at temperature 0.6, not one greedy answer
        for answer, category in zip(r["answers"], r["categories"]):
            expected = "parse failure" if answer is None else judge.grade([(truth, answer)])[0].category.value
            assert category == expected


def scripted_vlm(answers):
    """An OpenAI-compatible 'VLM' answering from a list, in turn, with a reasoning."""
    state = {"i": 0}

    def reply(body):
        answer = answers[state["i"] % len(answers)]
        state["i"] += 1
        assert any(p["type"] == "image_url" for p in body["messages"][0]["content"])
        return f"<think>I see a round shape, it looks {answer}.</think><answer>{answer}</answer>"

    return reply


def test_spread_of_answers_with_categories_through_an_openai_server(shapes, judge_yaml, capsys):
    answers = ["red circle", "circle", "red circle", "blue square", "None", "red circle"]
    with OpenAIServer(scripted_vlm(answers)) as server:
        code = main(["classify", str(shapes["images"][0]), "--backend", "openai", "--base-url", server.base_url,
                     "--model", "vlm", "--samples", "6", "--truth", "red circle", "--judge", str(judge_yaml)])
    out = capsys.readouterr().out
    assert code == 0
    assert "6 samples, 4 distinct answers:" in out
    assert "3x  red circle    [specific]" in out
    assert "1x  blue square   [wrong]" in out and "1x  None          [abstain]" in out
    assert "correct 4/6, specific or finer 3/6" in out
    assert "reasoning (sample 0, answer 'red circle'): I see a round shape, it looks red circle." in out


def test_clear_errors(tmp_path, tiny_vlm_path, judge_yaml, capsys):
    assert main(["classify", str(tmp_path / "missing.png"), "--model", str(tiny_vlm_path)]) == 2
    assert "no such image file" in capsys.readouterr().err
    image = tmp_path / "x.png"
    image.write_bytes(b"not a png")
    assert main(["classify", str(image), "--model", str(tiny_vlm_path), "--judge", str(judge_yaml)]) == 2
    assert "--truth" in capsys.readouterr().err
    assert main(["classify", str(image), "--model", "m", "--backend", "openai"]) == 2
    assert "--base-url" in capsys.readouterr().err
    # an unreadable image is reported, not a crash; exit 1
    assert main(["classify", str(image), "--model", str(tiny_vlm_path), *TINY]) == 1
    assert "error:" in capsys.readouterr().out
