"""Prediction with vLLM's offline engine: the GPU path for full benchmarks and best-of-64.

Kept thin on purpose: vLLM's API moves fast, so this module only (1) builds the engine with prefix
caching and optional LoRA, (2) turns requests into `LLM.chat` conversations (the image as a data URL,
so vLLM applies the model's own chat template and image placeholders) with one `SamplingParams` per
missing prediction index (n = 1, seeded by (sample, index) only: vLLM gives sample k of an n > 1
request the seed `seed + k`, so a resumed best-of-N run, which asks only for the missing indices,
would not redraw the uninterrupted run's samples), and (3) maps outputs back to indices. Prefix
caching shares the prompt's (and image's) prefill between the indices of one sample.
Chunks of `chunk_size` samples go to the engine at a time so results reach disk as they come; the
next chunk's images are prepared on a thread meanwhile.

Written against vLLM's offline API (`LLM.chat(messages=[...], sampling_params=[...],
lora_request=...)`, `vllm.lora.request.LoRARequest`), which our `vllm` extra pins to TRL's supported
0.22–0.31. It has not been run on a GPU yet; the pure parts (`build_conversations`, `sampling_for`)
are unit-tested without vLLM.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..configfile import field_defaults
from ..errors import ConfigError
from .base import Completion, PredictRequest, SamplingParams, derived_seed
from .config import VLLMBackend
from .openai_backend import image_data_url

_D = field_defaults(VLLMBackend)  # keyword defaults: defined once, in the `model:` schema


def conversation(prompt_text: str, data_url: str) -> list[dict[str, Any]]:
    """The OpenAI-style one-turn conversation vLLM's `LLM.chat` accepts."""
    return [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": data_url}},
        {"type": "text", "text": prompt_text},
    ]}]


def sampling_for(request: PredictRequest, sampling: SamplingParams) -> list[dict[str, Any]]:
    """vLLM SamplingParams kwargs, one per missing index of the request (in `request.indices` order):
    n = 1, and when sampling a seed that depends on (sample, index) only, as in the transformers backend."""
    out = []
    for index in request.indices:
        kwargs: dict[str, Any] = {
            "n": 1,
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p if not sampling.greedy else 1.0,
        }  # everything else stays at SamplingParams defaults (top_k off, no repetition penalty)
        if not sampling.greedy:
            kwargs["seed"] = derived_seed(sampling.seed, request.sample.sample_id, index)
        out.append(kwargs)
    return out


def build_conversations(requests: list[PredictRequest]) -> tuple[list[tuple[PredictRequest, list]], list[Completion]]:
    """(request, conversation) for readable images; error Completions for unreadable ones."""
    good: list[tuple[PredictRequest, list]] = []
    bad: list[Completion] = []
    for request in requests:
        url, error = image_data_url(request.sample)
        if error is not None:
            bad.extend(Completion(request, i, None, error) for i in request.indices)
        else:
            good.append((request, conversation(request.prompt.text, url)))
    return good, bad


def chunked(items: Iterable[PredictRequest], size: int) -> Iterator[list[PredictRequest]]:
    """Consecutive lists of at most `size` items (the last may be shorter)."""
    chunk: list[PredictRequest] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class VLLMPredictor:
    """vLLM `LLM` engine (+ optional LoRA adapter)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        adapter: str | os.PathLike[str] | None = _D.adapter,
        name: str | None = _D.name,
        chunk_size: int = _D.chunk_size,
        tensor_parallel_size: int = _D.tensor_parallel_size,
        gpu_memory_utilization: float = _D.gpu_memory_utilization,
        max_model_len: int | None = _D.max_model_len,
        max_lora_rank: int = _D.max_lora_rank,
        enable_prefix_caching: bool = _D.enable_prefix_caching,
        dtype: str = _D.dtype,
        seed: int = _D.seed,
        engine_kwargs: dict[str, Any] | None = _D.engine_kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError:
            raise ConfigError("model.backend vllm: vLLM is not installed (pip install 'speciarl[vllm]')") from None
        if adapter is not None and not Path(adapter).exists():
            raise ConfigError(f"model.adapter: {adapter} does not exist")
        kwargs: dict[str, Any] = dict(
            model=str(path), tensor_parallel_size=tensor_parallel_size, dtype=dtype, seed=seed,
            gpu_memory_utilization=gpu_memory_utilization, enable_prefix_caching=enable_prefix_caching,
            limit_mm_per_prompt={"image": 1},
        )
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if adapter is not None:
            kwargs.update(enable_lora=True, max_lora_rank=max_lora_rank)
        kwargs.update(engine_kwargs or {})
        self.llm = LLM(**kwargs)
        self.lora = None
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(adapter))
        self.chunk_size = chunk_size
        self.model_name = name or Path(str(path)).name + (f"+{Path(adapter).name}" if adapter else "")

    def predict(self, requests: Iterable[PredictRequest], sampling: SamplingParams) -> Iterator[Completion]:
        """Chunks of `chunk_size` samples; the next chunk's images are read and encoded on a worker
        thread while the engine generates the current one, so the GPU does not wait on file I/O."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vllm-images") as pool:
            pending = None
            for chunk in chunked(requests, self.chunk_size):
                ready = pool.submit(build_conversations, chunk)
                if pending is not None:
                    yield from self._run(pending.result(), sampling)
                pending = ready
            if pending is not None:
                yield from self._run(pending.result(), sampling)

    def _run(self, built: tuple[list[tuple[PredictRequest, list]], list[Completion]],
             sampling: SamplingParams) -> list[Completion]:
        from vllm import SamplingParams as VSamplingParams

        good, bad = built
        if not good:
            return bad
        jobs = [(request, index, conv, VSamplingParams(**kwargs))
                for request, conv in good
                for index, kwargs in zip(request.indices, sampling_for(request, sampling), strict=True)]
        outputs = self.llm.chat(
            messages=[conv for _, _, conv, _ in jobs],
            sampling_params=[params for _, _, _, params in jobs],
            lora_request=self.lora,
            use_tqdm=False,
        )
        done = list(bad)
        for (request, index, _, _), output in zip(jobs, outputs, strict=True):
            done.append(Completion(request, index, output.outputs[0].text))
        return done

    def close(self) -> None:
        self.llm = None  # type: ignore[assignment]
