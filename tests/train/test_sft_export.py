"""The SFT baseline on TRL's SFTTrainer, and `speciarl export` merging a LoRA run into a model folder
that our loader (the eval backends' path) reads back with the adapter's behaviour."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from speciarl.cli import main
from speciarl.errors import ConfigError
from speciarl.models.tiny import load_tiny_vlm
from speciarl.train.config import parse_config
from speciarl.train.export import export_merged
from speciarl.train.sft import SFT_TARGET, build_sft_trainer, sft_rows

SFT_ONLY = ("beta", "num_generations", "max_completion_length", "loss_type")


def sft_raw(make_config, **changes):
    raw = make_config(**changes)
    for key in SFT_ONLY:
        raw.pop(key, None)
    return raw


def test_sft_rows_target_the_true_label():
    rows = [{"prompt": [{"role": "user", "content": []}], "image": "x.png", "ground_truth": "red circle"}]
    [row] = sft_rows(rows)
    text = row["completion"][0]["content"][0]["text"]
    assert text == SFT_TARGET.format(label="red circle") and "<answer>red circle</answer>" in text
    with pytest.raises(ConfigError):
        sft_rows(rows, "no label here")


def test_sft_two_steps_then_export_merged(tmp_path, make_config):
    raw = sft_raw(make_config, max_steps=2, learning_rate=5e-3)
    cfg = parse_config(raw, "sft.yaml", trainer="sft")
    trainer = build_sft_trainer(cfg)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n}
    result = trainer.train()
    assert trainer.state.global_step == 2 and result.training_loss > 0
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)  # the adapters learned
    assert not any("visual" in n for n in before)  # no adapters in the vision tower
    trainer.save_model(str(cfg.output_dir))

    merged = export_merged(cfg.output_dir, tmp_path / "merged")
    model, processor = load_tiny_vlm(merged)
    peft_model = trainer.model.eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[Image.new("RGB", (40, 40), (200, 30, 30))], return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, peft_model(**inputs).logits, atol=1e-4)
    with pytest.raises(ConfigError, match="not empty"):
        export_merged(cfg.output_dir, merged)
    info = json.loads((cfg.output_dir / "speciarl_run.json").read_text())
    assert info["lora"]["enabled"] and info["base_model"] == raw["model"]["name_or_path"]


def test_export_cli_refuses_a_folder_without_adapter(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    assert main(["export", str(tmp_path / "full"), "--out", str(tmp_path / "o")]) == 2
    assert "no adapter_config.json" in capsys.readouterr().err
