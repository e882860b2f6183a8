"""The vLLM backend's pure parts (no GPU, no vLLM here): request → conversation and sampling mapping."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from eval_bench import write_bench  # noqa: E402

from speciarl.data import load_benchmark
from speciarl.errors import ConfigError
from speciarl.predict import PredictRequest, SamplingParams, build_predictor
from speciarl.predict.base import derived_seed
from speciarl.predict.vllm_backend import build_conversations, sampling_for
from speciarl.prompts import get_prompt


@pytest.fixture
def requests_(tmp_path):
    paths = write_bench(tmp_path, n=3, corrupt=True)
    prompt = get_prompt("base")
    return [PredictRequest(s, prompt, (2, 3, 4)) for s in load_benchmark("manifest", paths["manifest"])]


def test_conversations_carry_the_image_and_prompt_and_skip_corrupt_images(requests_):
    good, bad = build_conversations(requests_)
    assert len(good) == 3 and len(bad) == 3  # the broken image: one error per wanted index
    assert {c.prediction_index for c in bad} == {2, 3, 4} and all("broken.png" in c.error for c in bad)
    request, conversation = good[0]
    parts = conversation[0]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[1] == {"type": "text", "text": request.prompt.text}


def test_each_missing_index_gets_a_seed_of_its_own(requests_):
    """Sample i's seed depends on (sample, i) only: a resumed best-of-N run that asks for indices
    3 and 4 draws what the uninterrupted run drew for them."""
    sampled = SamplingParams(n=5, temperature=0.6, top_p=0.95, max_new_tokens=2048, seed=1)
    full = sampling_for(requests_[0], sampled)  # indices 2, 3, 4
    assert [kw["n"] for kw in full] == [1, 1, 1] and len({kw["seed"] for kw in full}) == 3
    assert all(kw["max_tokens"] == 2048 and kw["top_p"] == 0.95 and kw["temperature"] == 0.6 for kw in full)
    resumed = sampling_for(PredictRequest(requests_[0].sample, requests_[0].prompt, (3, 4)), sampled)
    assert [kw["seed"] for kw in resumed] == [kw["seed"] for kw in full[1:]]
    assert full[0]["seed"] == derived_seed(1, requests_[0].sample.sample_id, 2)
    assert full[0]["seed"] != sampling_for(requests_[1], sampled)[0]["seed"]
    greedy = sampling_for(requests_[0], SamplingParams(max_new_tokens=16))
    assert all(kw["temperature"] == 0.0 and "seed" not in kw for kw in greedy)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_is_a_clear_config_error():
    with pytest.raises(ConfigError, match="vLLM is not installed"):
        build_predictor({"backend": "vllm", "path": "some/model"})


def test_chunking_keeps_every_request_in_order():
    from speciarl.predict.vllm_backend import chunked

    assert [len(c) for c in chunked(range(7), 3)] == [3, 3, 1]
    assert [x for c in chunked(range(7), 3) for x in c] == list(range(7))
    assert list(chunked([], 3)) == []
