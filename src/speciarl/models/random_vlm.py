"""A randomly initialised Qwen2.5-VL at any layer sizes (the 7B's included), built offline.

Why: a GPU box without internet or weights can still rehearse the paper's run at its real memory
and compute cost (benchmarks/gpu_rehearsal.sh). The tokenizer, image processor and chat template
are the tiny builder's (speciarl.models.tiny), so the folder loads with `load_processor` like a tiny
build; only the network's sizes differ. The weights are random: completions are noise that rarely
stops, so every rollout runs to the length limit (the costliest case).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Qwen2.5-VL-7B-Instruct's published layer sizes (its config.json).
QWEN25_VL_7B_TEXT: dict[str, Any] = {
    "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
    "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000, "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": False,
}
QWEN25_VL_7B_VISION: dict[str, Any] = {
    "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
    "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
}


def build_random_vlm(out_dir: str | os.PathLike[str], *, text: dict[str, Any], vision: dict[str, Any],
                     image_size: int, words: list[str] | tuple[str, ...] = (), seed: int = 0,
                     device: str = "cpu", dtype: str = "float32") -> Path:
    """Write model (random weights at the given sizes), tokenizer and processor files to `out_dir`.

    The model is created directly on `device` in `dtype` (a 7B in bf16 never exists in fp32 or on
    the CPU), then saved as safetensors.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from .tiny import CHAT_TEMPLATE, MARKER, _image_processor, _train_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(sorted(set(words)), 1024)
    ids = tokenizer.convert_tokens_to_ids
    special = {"bos_token_id": ids("<|endoftext|>"), "eos_token_id": ids("<|im_end|>"),
               "pad_token_id": ids("<|endoftext|>")}
    config = Qwen2_5_VLConfig(
        text_config={**text, **special, "vocab_size": max(text.get("vocab_size", 0), len(tokenizer))},
        vision_config=vision, image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=text.get("tie_word_embeddings", False),
    )
    torch_dtype = getattr(torch, dtype)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)
    try:
        with torch.random.fork_rng(devices=[]), torch.device(device):
            torch.manual_seed(seed)
            model = Qwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config = GenerationConfig(**special)
    model.save_pretrained(out)
    del model
    tokenizer.save_pretrained(out)
    _image_processor(image_size).save_pretrained(out)
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    # the marker makes load_processor assemble the processor in code (no torchvision needed)
    (out / MARKER).write_text(json.dumps({"random_vlm": True, "text": text, "vision": vision,
                                          "image_size": image_size, "seed": seed}, indent=1))
    return out
