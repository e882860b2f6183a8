"""The openai prediction backend against a real local HTTP server that accepts image content parts."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from eval_bench import colour_label, write_bench  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402

from speciarl.data import load_benchmark
from speciarl.errors import SpeciarlError
from speciarl.predict import PredictRequest, SamplingParams, build_predictor
from speciarl.prompts import get_prompt


def see_image(body: dict) -> str:
    """A 'VLM': decode the data URL of the image part and name the colour it shows."""
    from PIL import Image

    parts = body["messages"][0]["content"]
    image_part = next(p for p in parts if p["type"] == "image_url")
    text_part = next(p for p in parts if p["type"] == "text")
    assert text_part["text"].strip()
    header, data = image_part["image_url"]["url"].split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return f"<think>looks {image.getpixel((0, 0))}</think><answer>{colour_label(image.getpixel((0, 0)))}</answer>"


@pytest.fixture
def bench(tmp_path):
    paths = write_bench(tmp_path / "bench", n=6, corrupt=True)
    return list(load_benchmark("manifest", paths["manifest"]))


def _requests(samples, n=1):
    prompt = get_prompt("base")
    return [PredictRequest(s, prompt, tuple(range(n))) for s in samples]


def test_images_reach_the_server_and_answers_come_back(bench):
    with OpenAIServer(see_image) as server:
        predictor = build_predictor({"backend": "openai", "base_url": server.base_url, "model": "vlm",
                                     "concurrency": 4, "api_key_env": None})
        out = list(predictor.predict(_requests(bench), SamplingParams(max_new_tokens=32)))
    good = [c for c in out if c.error is None]
    bad = [c for c in out if c.error is not None]
    assert len(good) == 6 and len(bad) == 1
    for c in good:  # the server saw exactly this sample's pixels
        assert f"<answer>{c.request.sample.ground_truth}</answer>" in c.text
    assert "broken.png" in bad[0].error and bad[0].error_kind == "image"
    assert len(server.requests) == 6  # the corrupt image never went over the wire
    body = server.requests[0]
    assert body["model"] == "vlm" and body["max_tokens"] == 32 and body["temperature"] == 0.0


def test_best_of_n_sends_one_seeded_request_per_index(bench):
    with OpenAIServer(see_image) as server:
        predictor = build_predictor({"backend": "openai", "base_url": server.base_url, "model": "vlm",
                                     "api_key_env": None})
        sampling = SamplingParams(n=3, temperature=0.6, top_p=0.95, seed=7)
        out = [c for c in predictor.predict(_requests(bench[:2], n=3), sampling) if c.error is None]
    assert sorted((c.request.sample.sample_id, c.prediction_index) for c in out) == sorted(
        (s.sample_id, i) for s in bench[:2] for i in range(3))
    seeds = [b["seed"] for b in server.requests]
    assert len(set(seeds)) == 6  # a distinct, reproducible seed per (sample, index)
    assert all(b["top_p"] == 0.95 and b["temperature"] == 0.6 for b in server.requests)


def test_transient_server_errors_are_retried(bench):
    with OpenAIServer(see_image) as server:
        server.faults.extend(["503", "429", "drop", "500"])
        predictor = build_predictor({"backend": "openai", "base_url": server.base_url, "model": "vlm",
                                     "concurrency": 2, "backoff_base": 0.01, "api_key_env": None})
        out = list(predictor.predict(_requests(bench[:3]), SamplingParams()))
    assert [c.error for c in out] == [None, None, None]
    assert len(server.requests) == 3 + 4


def test_a_server_that_keeps_failing_yields_backend_errors_not_text(bench):
    with OpenAIServer(see_image) as server:
        server.fault_for = lambda body: "503"
        predictor = build_predictor({"backend": "openai", "base_url": server.base_url, "model": "vlm",
                                     "max_retries": 1, "backoff_base": 0.01, "api_key_env": None})
        out = list(predictor.predict(_requests(bench[:2]), SamplingParams()))
    assert [c.error_kind for c in out] == ["backend", "backend"]
    assert all(c.text is None and "503" in c.error for c in out)


def test_wrong_endpoint_stops_the_run_with_a_clear_error(bench):
    with OpenAIServer(see_image) as server:
        predictor = build_predictor({"backend": "openai", "base_url": server.base_url + "/nope", "model": "vlm",
                                     "api_key_env": None})
        with pytest.raises(SpeciarlError, match="404"):
            list(predictor.predict(_requests(bench), SamplingParams()))
