"""The transformers backend with the tiny offline Qwen2.5-VL: batching, sampling, seeds, bad images."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from eval_bench import write_bench

from speciarl.data import load_benchmark
from speciarl.errors import ConfigError
from speciarl.predict import PredictRequest, SamplingParams, build_predictor
from speciarl.prompts import get_prompt


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    paths = write_bench(tmp_path_factory.mktemp("bench"), n=5, corrupt=True)
    return list(load_benchmark("manifest", paths["manifest"]))


_PREDICTORS: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    """The predictors here run on one thread (fastest for the tiny model); leave torch as found."""
    import torch

    before = torch.get_num_threads()
    yield
    _PREDICTORS.clear()
    torch.set_num_threads(before)


def _predict(path, samples, sampling, batch_size=4, indices=None):
    key = (str(path), batch_size)  # one loaded model per batch size for the whole module
    if key not in _PREDICTORS:
        _PREDICTORS[key] = build_predictor({"backend": "transformers", "path": str(path),
                                            "batch_size": batch_size, "device": "cpu", "num_threads": 1})
    predictor = _PREDICTORS[key]
    prompt = get_prompt("base")
    reqs = [PredictRequest(s, prompt, indices or tuple(range(sampling.n))) for s in samples]
    return predictor, list(predictor.predict(reqs, sampling))


def test_every_key_once_and_corrupt_image_reported(tiny_vlm_path, samples):
    predictor, out = _predict(tiny_vlm_path, samples, SamplingParams(max_new_tokens=6), batch_size=2)
    keys = [(c.request.sample.sample_id, c.prediction_index) for c in out]
    assert sorted(keys) == sorted((s.sample_id, 0) for s in samples)
    bad = [c for c in out if c.error]
    assert len(bad) == 1 and "broken.png" in bad[0].error and bad[0].text is None
    assert all(isinstance(c.text, str) for c in out if not c.error)
    assert predictor.model_name == Path(tiny_vlm_path).name


def _by_key(completions):
    return {(c.request.sample.sample_id, c.prediction_index): c.text for c in completions}


def test_sampling_is_seeded_and_respects_indices(tiny_vlm_path, samples):
    good = [s for s in samples if "broken" not in s.sample_id][:2]
    sampling = SamplingParams(n=3, temperature=1.0, top_p=0.95, max_new_tokens=8, seed=3)
    _, first = _predict(tiny_vlm_path, good, sampling)
    _, again = _predict(tiny_vlm_path, good, sampling)
    assert [c.text for c in first] == [c.text for c in again]  # same seed, same batches: same samples
    assert len({c.text for c in first}) > 1  # sampled, not one greedy answer repeated
    _, other = _predict(tiny_vlm_path, good, SamplingParams(n=3, temperature=1.0, top_p=0.95,
                                                            max_new_tokens=8, seed=4))
    assert [c.text for c in other] != [c.text for c in first]
    _, partial = _predict(tiny_vlm_path, good, sampling, indices=(1, 2))
    assert sorted(c.prediction_index for c in partial) == [1, 1, 2, 2]


def test_samples_depend_only_on_sample_and_index(tiny_vlm_path, samples):
    # Per-(sample, index) seeds: batch size 1 or 4, other rows in the batch, or a resume that asks
    # only for the missing indices must not change any completion; different indices must differ.
    good = [s for s in samples if "broken" not in s.sample_id][:3]
    sampling = SamplingParams(n=4, temperature=0.6, top_p=0.95, max_new_tokens=8, seed=11)
    _, batched = _predict(tiny_vlm_path, good, sampling, batch_size=4)
    full = _by_key(batched)
    assert len(full) == 12
    _, single = _predict(tiny_vlm_path, good, sampling, batch_size=1)
    assert _by_key(single) == full
    # a resumed run: the first sample lacks indices 1 and 3, the others only index 2; batches differ
    predictor, _ = _predict(tiny_vlm_path, [], sampling, batch_size=4)
    prompt = get_prompt("base")
    resumed = list(predictor.predict([PredictRequest(good[0], prompt, (1, 3)),
                                      *(PredictRequest(s, prompt, (2,)) for s in good[1:])], sampling))
    assert _by_key(resumed) == {k: v for k, v in full.items() if k in {(good[0].sample_id, 1),
                                (good[0].sample_id, 3), (good[1].sample_id, 2), (good[2].sample_id, 2)}}
    for s in good:  # four draws of one sample are not one answer repeated
        assert len({full[(s.sample_id, i)] for i in range(4)}) > 1


def test_greedy_ignores_the_seed(tiny_vlm_path, samples):
    good = [s for s in samples if "broken" not in s.sample_id][:2]
    _, a = _predict(tiny_vlm_path, good, SamplingParams(max_new_tokens=6, seed=0))
    _, b = _predict(tiny_vlm_path, good, SamplingParams(max_new_tokens=6, seed=9), batch_size=1)
    assert _by_key(a) == _by_key(b)


def test_greedy_n_above_one_is_a_config_error():
    with pytest.raises(ConfigError, match="temperature"):
        SamplingParams(n=4)


def test_unknown_backend_key_is_named(tiny_vlm_path):
    with pytest.raises(ConfigError, match="batchsize"):
        build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "batchsize": 3})


def test_left_padded_batches_give_the_unbatched_next_token(tiny_vlm_path, samples):
    # Different image sizes and prompts give prompts of different lengths in one batch; with the
    # backend's padding the next-token distribution of each row must equal the unbatched one.
    import torch

    predictor = build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "device": "cpu"})
    good = [s for s in samples if "broken" not in s.sample_id][:3]
    texts = [predictor._chat_text(get_prompt(name).text) for name in ("base", "be_specific", "elimination")]
    images = [s.open_image() for s in good]

    def last_logits(t, im):
        inputs = predictor.processor(text=t, images=im, padding=True, return_tensors="pt")
        with torch.inference_mode():
            return predictor.model(**inputs).logits[:, -1, :]

    batched = last_logits(texts, images)
    single = torch.cat([last_logits([t], [im]) for t, im in zip(texts, images)])
    assert torch.allclose(batched, single, atol=1e-4)


def test_lora_adapter_is_applied(tiny_vlm_path, samples, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(str(tiny_vlm_path))
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    torch.manual_seed(0)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")

    plain = build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "device": "cpu"})
    tuned = build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "device": "cpu",
                             "adapter": str(tmp_path / "adapter")})
    assert tuned.model_name.endswith("+adapter")
    sample = next(s for s in samples if "broken" not in s.sample_id)
    text = plain._chat_text(get_prompt("base").text)

    def logits(p):
        inputs = p.processor(text=[text], images=[sample.open_image()], return_tensors="pt")
        with torch.inference_mode():
            return p.model(**inputs).logits[0, -1]

    assert not torch.allclose(logits(plain), logits(tuned), atol=1e-4)
    with pytest.raises(ConfigError, match="does not exist"):
        build_predictor({"backend": "transformers", "path": str(tiny_vlm_path), "adapter": str(tmp_path / "nope")})


def test_row_seeded_sampler_draws_from_the_softmax():
    # The per-row draw is exact sampling: token frequencies follow softmax(scores), a -inf (top-p
    # filtered) token is never drawn, and each row's draws depend only on its own seed.
    import torch

    from speciarl.predict.transformers_backend import RowSeededSampler

    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    scores = probs.log().unsqueeze(0).repeat(2, 1)
    sampler = RowSeededSampler([1, 2])
    draws = torch.stack([sampler(None, scores).argmax(dim=-1) for _ in range(20000)])  # (steps, rows)
    for row in range(2):
        freq = torch.bincount(draws[:, row], minlength=4).float() / len(draws)
        assert torch.allclose(freq, probs, atol=0.015), freq
    alone = RowSeededSampler([2])
    assert torch.equal(torch.stack([alone(None, scores[:1]).argmax(dim=-1)[0] for _ in range(50)]), draws[:50, 1])
