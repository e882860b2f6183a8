"""An offline tiny Qwen2.5-VL: a real `Qwen2_5_VLForConditionalGeneration` with random weights.

Why: tests, the `tiny_cpu` training preset and the demo need a model that runs the exact code path
of the 7B checkpoint (chat template, image placeholders, vision tower, `generate`, TRL trainers) in a
fraction of a second on a CPU, without downloading anything. The tokenizer is a byte-level BPE trained
here on a small corpus (our prompt words, the think/answer tags, the label words we are given) plus
Qwen's special tokens, so any text still encodes. The processor is assembled in code from the
PIL-based image processor because `AutoProcessor` for Qwen2.5-VL needs torchvision (never installed).

`load_processor` serves real checkpoints too: it tries `AutoProcessor` first and only falls back to
the in-code processor when that fails (e.g. no torchvision for the video processor).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import SpeciarlError

MARKER = "speciarl_tiny.json"  # build settings; its presence marks a folder as ours
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen-style chat template: a default system turn, image/video content parts become
# <|vision_start|><|image_pad|><|vision_end|> (the processor expands the pad to the patch count).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Words the tokenizer should know as whole tokens: our prompts, the answer format, refusals.
_BASE_CORPUS = """
You are a helpful assistant. What is shown in this image? Classify the image. Identify the object,
animal, plant, food, vehicle or aircraft. Think step by step inside <think> </think> tags, then give
a single label inside <answer> </answer> tags, or None if you cannot tell. Be as specific as you can
while staying correct. If you are not sure, give a more general label you are certain of.
The image shows a bird with a red head, a blue wing, a yellow belly and a black tail.
It looks like a dog, a cat, a flower, a car, a plane, a dish, a shape: circle, square, triangle.
The colour is red green blue yellow orange purple black white gray brown pink.
<think> The picture shows a small red circle on a white background. </think> <answer> red circle </answer>
<think> I cannot tell what this is. </think> <answer> None </answer>
0 1 2 3 4 5 6 7 8 9 10 100 2024 - _ , . ; : ! ? ' " ( ) / & + = * # %
"""


def _settings(words: Iterable[str], seed: int, hidden_size: int, num_layers: int, image_size: int,
              vocab_size: int, vision_hidden_size: int, vision_layers: int, format_steps: int) -> dict[str, Any]:
    settings = {
        "format": 1,
        "words": sorted({w.strip() for w in words if w and w.strip()}),
        "seed": seed,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "image_size": image_size,
        "vocab_size": vocab_size,
        "vision_hidden_size": vision_hidden_size,
        "vision_layers": vision_layers,
    }
    if format_steps:  # only recorded when used, so earlier builds stay valid
        settings["format_steps"] = format_steps
    return settings


def _teach_format(model, tokenizer, words: list[str], steps: int, seed: int) -> None:
    """A few teacher-forced steps on `<think> … </think> <answer> LABEL </answer>` replies.

    Why: a random model never closes an answer tag, so every rollout would be a parse failure and
    RL tests would see no category mix. After this warm-up, sampling at temperature 1 gives a spread
    of labels drawn from `words`, "None" and some malformed replies; the image is not looked at.
    """
    import random

    import torch

    rng = random.Random(seed)
    labels = [*words, "None"]
    lines = [line.strip() for line in _BASE_CORPUS.splitlines() if line.strip()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    for _ in range(steps):
        texts = []
        for _ in range(8):
            # prompts of varied length, as the real ones are; the reply format is what is learned
            user = " ".join(rng.sample(lines, rng.randint(1, 4)))
            turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user}]}]
            header = tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
            reply = f"<think> a {rng.choice(labels)} </think> <answer> {rng.choice(labels)} </answer><|im_end|>"
            texts.append((header, reply))
        batch = tokenizer([h + r for h, r in texts], return_tensors="pt", padding=True)
        targets = batch["input_ids"].clone()
        for row, (header, _) in enumerate(texts):
            targets[row, : len(tokenizer(header)["input_ids"])] = -100
        targets[batch["attention_mask"] == 0] = -100
        # text-only forward: the image pad is a plain token here, no pixels are attached
        hidden = model.model.language_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        logits = model.lm_head(hidden.last_hidden_state)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), targets[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def _train_tokenizer(words: list[str], vocab_size: int):
    """Byte-level BPE trained on our corpus; Qwen's special tokens first, with fixed ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    label_lines = [f"<answer> {w} </answer> the {w} a {w}" for w in words]
    corpus = [line for line in _BASE_CORPUS.splitlines() if line.strip()] * 4 + label_lines * 4
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _image_processor(image_size: int):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    pixels = image_size * image_size
    return Qwen2VLImageProcessorPil(size={"shortest_edge": pixels, "longest_edge": pixels})


def _model_config(tokenizer, settings: dict[str, Any]):
    from transformers import Qwen2_5_VLConfig

    hidden = settings["hidden_size"]
    heads = max(1, hidden // 16)
    head_dim = hidden // heads
    half = head_dim // 2  # multimodal rope splits head_dim/2 frequencies into (t, h, w) sections
    mrope = [half - 2 * (half // 3), half // 3, half // 3]
    vhidden = settings["vision_hidden_size"]
    ids = tokenizer.convert_tokens_to_ids
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": settings["num_layers"],
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "max_position_embeddings": 8192,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
        "bos_token_id": ids("<|endoftext|>"),
        "eos_token_id": ids("<|im_end|>"),
        "pad_token_id": ids("<|endoftext|>"),
        "tie_word_embeddings": True,
    }
    vision = {
        "depth": settings["vision_layers"],
        "hidden_size": vhidden,
        "intermediate_size": vhidden * 2,
        "num_heads": max(1, vhidden // 16),
        "out_hidden_size": hidden,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [settings["vision_layers"] - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )


def build_tiny_vlm(
    out_dir: str | os.PathLike[str],
    *,
    words: Iterable[str] = (),
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    image_size: int = 56,
    vocab_size: int = 1024,
    vision_hidden_size: int = 32,
    vision_layers: int = 2,
    format_steps: int = 0,
) -> Path:
    """Write a tiny random Qwen2.5-VL (model, tokenizer, image processor, chat template) to out_dir.

    Deterministic under `seed`; reuses out_dir when it already holds a build with the same settings.
    `image_size` fixes the pixel budget (56 → 4×4 patches → 4 image tokens); `words` (e.g. the label
    names of a taxonomy) are added to the tokenizer's training corpus. `format_steps` > 0 teaches
    the think/answer reply format with labels from `words` (see `_teach_format`).
    """
    if hidden_size % 16 or hidden_size < 32:
        raise SpeciarlError(f"tiny model: hidden_size must be a multiple of 16 and >= 32, got {hidden_size}")
    if image_size % 28:
        raise SpeciarlError(f"tiny model: image_size must be a multiple of 28 (patch 14 × merge 2), got {image_size}")
    out = Path(out_dir)
    settings = _settings(words, seed, hidden_size, num_layers, image_size, vocab_size,
                         vision_hidden_size, vision_layers, format_steps)
    marker = out / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return out
    if out.exists() and any(out.iterdir()) and not marker.is_file():
        raise SpeciarlError(f"tiny model: {out} exists and is not a tiny-model folder; pick an empty path")

    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tokenizer = _train_tokenizer(settings["words"], vocab_size)
        config = _model_config(tokenizer, settings)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Qwen2_5_VLForConditionalGeneration(config)
            if format_steps:
                _teach_format(model, tokenizer, settings["words"], format_steps, seed)
        model.generation_config = GenerationConfig(
            bos_token_id=config.text_config.bos_token_id,
            eos_token_id=config.text_config.eos_token_id,
            pad_token_id=config.text_config.pad_token_id,
        )
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _image_processor(image_size).save_pretrained(tmp)
        (tmp / "chat_template.jinja").write_text(CHAT_TEMPLATE)
        (tmp / MARKER).write_text(json.dumps(settings, indent=1))
        if out.exists():  # an older build with other settings: replace it
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def settings_hash(path: str | os.PathLike[str]) -> str:
    """Short hash of a tiny build's settings (for cache keys and run names)."""
    return hashlib.sha256((Path(path) / MARKER).read_bytes()).hexdigest()[:12]


def _processor_class():
    from transformers import Qwen2_5_VLProcessor

    class TinyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL processor that accepts a missing video processor (it needs torchvision)."""

        def check_argument_for_proper_class(self, argument_name, argument):
            if argument_name == "video_processor" and argument is None:
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

        def save_pretrained(self, save_directory, **kwargs):  # noqa: ARG002 - Trainer passes extras
            """Tokenizer, image processor and chat template as separate files (no video processor)."""
            os.makedirs(save_directory, exist_ok=True)
            files = list(self.tokenizer.save_pretrained(save_directory))
            files += list(self.image_processor.save_pretrained(save_directory))
            if isinstance(self.chat_template, str):
                jinja = Path(save_directory) / "chat_template.jinja"
                jinja.write_text(self.chat_template)
                files.append(str(jinja))
            return files

    return TinyQwen2_5_VLProcessor


def _is_vl_processor(obj: Any) -> bool:
    return getattr(obj, "image_processor", None) is not None and getattr(obj, "tokenizer", None) is not None


def load_processor(path: str | os.PathLike[str]):
    """The processor of a Qwen2.5-VL folder: `AutoProcessor` when it works, else built in code."""
    from transformers import AutoProcessor, AutoTokenizer

    path = str(path)
    if not (Path(path) / MARKER).is_file():
        try:
            proc = AutoProcessor.from_pretrained(path)
            if _is_vl_processor(proc):
                return proc
        except (ImportError, OSError, ValueError, TypeError, KeyError):
            pass  # typically: the video processor needs torchvision; build it ourselves
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(path)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    template = tokenizer.chat_template
    jinja = Path(path) / "chat_template.jinja"
    if template is None and jinja.is_file():
        template = jinja.read_text()
    return _processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=template
    )


def load_tiny_vlm(path: str | os.PathLike[str], *, dtype: Any = None):
    """(model, processor) from a folder written by `build_tiny_vlm` (or any Qwen2.5-VL folder)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(path), dtype=dtype)
    return model, load_processor(path)
