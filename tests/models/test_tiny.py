"""The offline tiny Qwen2.5-VL: builds, loads through our loader, generates from image + text."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from speciarl.errors import SpeciarlError  # noqa: E402
from speciarl.models.tiny import MARKER, build_tiny_vlm, load_tiny_vlm  # noqa: E402


def _chat_inputs(processor, colour=(200, 20, 20)):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return text, processor(text=[text], images=[Image.new("RGB", (70, 50), colour)], return_tensors="pt")


def test_folder_has_every_part(tiny_vlm_path):
    names = {p.name for p in tiny_vlm_path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json",
            "chat_template.jinja", MARKER} <= names
    settings = json.loads((tiny_vlm_path / MARKER).read_text())
    assert "red circle" in settings["words"] and settings["hidden_size"] == 64


def test_chat_template_and_image_tokens(tiny_vlm_path):
    model, processor = load_tiny_vlm(tiny_vlm_path)
    text, inputs = _chat_inputs(processor)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert "<|vision_start|><|image_pad|><|vision_end|>What is shown?" in text
    # 56x56 pixel budget, patch 14, merge 2 -> a handful of image tokens expanded in place of the pad
    n_image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    grid = inputs["image_grid_thw"][0]
    assert n_image_tokens == int(grid.prod()) // 4 and 1 <= n_image_tokens <= 16
    # label words from `words` are single tokens after a space; unknown text still encodes (byte-level)
    assert len(processor.tokenizer.tokenize(" circle")) == 1
    unknown = "Ünïcode → 漢字"
    assert processor.tokenizer.decode(processor.tokenizer.encode(unknown)) == unknown


def test_generate_from_image_and_text(tiny_vlm_path):
    model, processor = load_tiny_vlm(tiny_vlm_path)
    _, inputs = _chat_inputs(processor)
    torch.manual_seed(0)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=True)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert 1 <= len(new) <= 8
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)


def test_build_is_deterministic_and_reused(tmp_path, tiny_vlm_path):
    again = build_tiny_vlm(tmp_path / "b", words=("red circle", "blue square", "shape", "circle", "square",
                                                  "triangle", "red", "blue", "green"), seed=0)
    assert (again / "tokenizer.json").read_bytes() == (tiny_vlm_path / "tokenizer.json").read_bytes()
    (m1, p1), (m2, _) = load_tiny_vlm(tiny_vlm_path), load_tiny_vlm(again)
    for (n1, t1), (n2, t2) in zip(m1.state_dict().items(), m2.state_dict().items(), strict=True):
        assert n1 == n2 and torch.equal(t1, t2)
    stamp = (again / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_vlm(again, words=("red circle", "blue square", "shape", "circle", "square", "triangle",
                                        "red", "blue", "green"), seed=0) == again
    assert (again / "model.safetensors").stat().st_mtime_ns == stamp  # same settings: not rebuilt
    other = build_tiny_vlm(tmp_path / "c", words=(), seed=1)
    m3, _ = load_tiny_vlm(other)
    assert not torch.equal(m3.lm_head.weight, m1.lm_head.weight)  # another seed, other weights


def test_saved_checkpoint_reloads_through_our_loader(tmp_path, tiny_vlm_path):
    """A folder written by save_pretrained (what Trainer checkpoints / export write) loads like a real model."""
    model, processor = load_tiny_vlm(tiny_vlm_path)
    out = tmp_path / "ckpt"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    model2, processor2 = load_tiny_vlm(out)  # no marker: tries AutoProcessor first, then the in-code one
    _, inputs = _chat_inputs(processor2)
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, model2(**inputs).logits)
    assert processor2.chat_template == processor.chat_template


def test_refuses_foreign_folder_and_bad_sizes(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(SpeciarlError, match="not a tiny-model folder"):
        build_tiny_vlm(tmp_path / "x")
    with pytest.raises(SpeciarlError, match="multiple of 28"):
        build_tiny_vlm(tmp_path / "y", image_size=50)
