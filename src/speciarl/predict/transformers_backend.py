"""Prediction with Hugging Face transformers: any VLM with a chat template, CPU or GPU, LoRA via PEFT.

Why this backend: it needs nothing beyond the training stack, so it runs everywhere (tests, laptops,
a single GPU without vLLM) and it runs the very model code that training fine-tunes. Requests are
expanded into (sample, prediction index) rows and generated in left-padded batches of `batch_size`
rows; each batch's completions are yielded as soon as the batch is done.

Decoding uses only what the config says (a fresh GenerationConfig: greedy, or temperature/top_p
with top_k off), never the checkpoint's own sampling defaults, so two checkpoints are compared under
the same decoding. Sampling is reproducible per (sample, prediction index): after HF's temperature and
top-p warpers, every row draws its token with its own generator seeded with
`derived_seed(seed, sample_id, index)` (inverse-CDF: exact sampling from the warped softmax), so a
row's completion does not depend on the batch size, the other rows in its batch, or a resume.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..configfile import field_defaults
from ..errors import ConfigError
from .base import Completion, PredictRequest, SamplingParams, derived_seed, open_image
from .config import TransformersBackend

_D = field_defaults(TransformersBackend)  # keyword defaults: defined once, in the `model:` schema


def user_message(prompt_text: str) -> list[dict[str, Any]]:
    """The one-turn conversation every backend sends: the image first, then the prompt text."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt_text}]}]


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, dtype)
    except AttributeError:
        raise ConfigError(f"model.dtype: unknown torch dtype {dtype!r} (use auto, float32, bfloat16, float16)") from None


class RowSeededSampler:
    """Draws each row's next token with one uniform number from that row's own generator.

    Why: `generate(do_sample=True)` draws every row from one global RNG, so a row's sample depends on
    its batch. Here step t of a row always uses the t-th number of its generator (seeded by sample and
    index): the token is where that number falls in the cumulative softmax of the (warped) scores,
    an exact draw from that distribution. The returned scores are -inf except 0 at the drawn token,
    so generate's argmax picks it. Generators live on the CPU: one scalar per row and step is cheap,
    and the draws do not depend on the device. A `LogitsProcessor` by duck typing (called per step).
    """

    def __init__(self, seeds: list[int]):
        import torch

        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if scores.shape[0] != len(self.generators):
            raise RuntimeError(f"per-row seeds: {len(self.generators)} rows seeded, {scores.shape[0]} scored")
        u = torch.cat([torch.rand(1, generator=g) for g in self.generators]).to(scores.device, torch.float64)
        cdf = torch.softmax(scores.float(), dim=-1).double().cumsum(dim=-1)
        # u < 1 in float32, so u * total < total: the first index whose cdf exceeds it has probability > 0
        token = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1), right=True)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, token, 0.0)


class TransformersPredictor:
    """A loaded HF VLM (+ optional LoRA adapter) generating in batches."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        adapter: str | os.PathLike[str] | None = _D.adapter,
        name: str | None = _D.name,
        batch_size: int = _D.batch_size,
        device: str = _D.device,
        dtype: str = _D.dtype,
        attn_implementation: str | None = _D.attn_implementation,
        merge_adapter: bool = _D.merge_adapter,
        num_threads: int | None = _D.num_threads,
    ):
        from transformers import AutoModelForImageTextToText

        from ..models.tiny import load_processor

        if batch_size < 1:
            raise ConfigError(f"model.batch_size must be >= 1, got {batch_size}")
        if adapter is not None and not Path(adapter).exists():
            raise ConfigError(f"model.adapter: {adapter} does not exist")
        if num_threads:  # CPU: tiny models run fastest on one thread, real ones on all cores
            import torch

            torch.set_num_threads(num_threads)
        self.batch_size = batch_size
        self.device = _resolve_device(device)
        kwargs: dict[str, Any] = {"dtype": _resolve_dtype(dtype, self.device)}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        try:
            model = AutoModelForImageTextToText.from_pretrained(str(path), **kwargs)
        except OSError as exc:
            raise ConfigError(f"model.path: cannot load a model from {path}: {exc}") from None
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
            if merge_adapter:  # same numbers, faster generation
                model = model.merge_and_unload()
        self.model = model.to(self.device).eval()
        self.processor = load_processor(path)
        self.processor.tokenizer.padding_side = "left"
        self.model_name = name or Path(str(path)).name + (f"+{Path(adapter).name}" if adapter else "")
        self._templates: dict[str, str] = {}

    # -- helpers ----------------------------------------------------------------------------------
    def _chat_text(self, prompt_text: str) -> str:
        text = self._templates.get(prompt_text)
        if text is None:
            text = self._templates[prompt_text] = self.processor.apply_chat_template(
                user_message(prompt_text), tokenize=False, add_generation_prompt=True
            )
        return text

    def _generation_config(self, sampling: SamplingParams) -> Any:
        """Argmax decoding; sampling comes from `_logits_processors` (per-row noise), not from `do_sample`."""
        from transformers import GenerationConfig

        base = self.model.generation_config
        tok = self.processor.tokenizer
        eos = base.eos_token_id if base.eos_token_id is not None else tok.eos_token_id
        pad = base.pad_token_id if base.pad_token_id is not None else (tok.pad_token_id or eos)
        return GenerationConfig(max_new_tokens=sampling.max_new_tokens, do_sample=False,
                                eos_token_id=eos, pad_token_id=pad)

    def _logits_processors(self, batch: list[tuple[PredictRequest, int, Any]], sampling: SamplingParams) -> Any:
        """None for greedy; else temperature, top-p, then a per-row draw (seeded per sample and index)."""
        if sampling.greedy:
            return None
        from transformers import (
            LogitsProcessorList,
            TemperatureLogitsWarper,
            TopPLogitsWarper,
        )

        processors: list[Any] = []
        if sampling.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_p < 1.0:
            processors.append(TopPLogitsWarper(sampling.top_p))
        seeds = [derived_seed(sampling.seed, req.sample.sample_id, index) for req, index, _ in batch]
        return LogitsProcessorList([*processors, RowSeededSampler(seeds)])

    def _rows(self, requests: Iterable[PredictRequest]) -> Iterator[tuple[PredictRequest, int, Any] | Completion]:
        """(request, index, image) rows, or error Completions for unreadable images."""
        for request in requests:
            image, error = open_image(request.sample)
            for index in request.indices:
                if error is not None:
                    yield Completion(request, index, None, error)
                else:
                    yield request, index, image

    # -- Predictor --------------------------------------------------------------------------------
    def predict(self, requests: Iterable[PredictRequest], sampling: SamplingParams) -> Iterator[Completion]:
        gen_config = self._generation_config(sampling)
        batch: list[tuple[PredictRequest, int, Any]] = []
        for row in self._rows(requests):
            if isinstance(row, Completion):
                yield row
                continue
            batch.append(row)
            if len(batch) == self.batch_size:
                yield from self._generate(batch, gen_config, sampling)
                batch = []
        if batch:
            yield from self._generate(batch, gen_config, sampling)

    def _generate(self, batch: list[tuple[PredictRequest, int, Any]], gen_config: Any,
                  sampling: SamplingParams) -> list[Completion]:
        import torch

        texts = [self._chat_text(req.prompt.text) for req, _, _ in batch]
        images = [img for _, _, img in batch]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=gen_config,
                                      logits_processor=self._logits_processors(batch, sampling))
        new_tokens = out[:, inputs["input_ids"].shape[1]:]
        decoded = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [Completion(req, index, text) for (req, index, _), text in zip(batch, decoded)]

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
