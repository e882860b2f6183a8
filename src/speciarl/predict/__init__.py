"""VLM prediction behind one interface; `build_predictor` picks the backend from the config.

Heavy imports (torch, transformers, vLLM, aiohttp) happen inside each backend, only when built.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigError
from .base import Completion, PredictRequest, Predictor, SamplingParams, derived_seed

BACKENDS = ("transformers", "vllm", "openai")

__all__ = ["BACKENDS", "Completion", "PredictRequest", "Predictor", "SamplingParams", "build_predictor",
           "check_model_config", "derived_seed"]


def check_model_config(config: dict[str, Any]) -> type:
    """The backend class for a `model:` section, after checking its keys (nothing is loaded)."""
    config = dict(config)
    backend = config.pop("backend", "transformers")
    if backend == "transformers":
        from .transformers_backend import TransformersPredictor as cls
    elif backend == "vllm":
        from .vllm_backend import VLLMPredictor as cls  # type: ignore[assignment]
    elif backend == "openai":
        from .openai_backend import OpenAIPredictor as cls  # type: ignore[assignment]
    else:
        raise ConfigError(f"model.backend: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(config) - set(params))
    if unknown:
        known = ", ".join(p for p in params if p != "self")
        raise ConfigError(f"model ({backend} backend): unknown key(s) {', '.join(unknown)}; known: {known}")
    missing = [p.name for p in params.values() if p.name != "self" and p.default is p.empty
               and p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in config]
    if missing:
        raise ConfigError(f"model ({backend} backend): missing key(s) {', '.join(missing)}")
    return cls


def build_predictor(config: dict[str, Any]) -> Predictor:
    """A predictor from a `model:` config section: `backend` plus that backend's keyword arguments.

    transformers: path, adapter, name, batch_size, device, dtype, attn_implementation, merge_adapter,
    num_threads.
    vllm: path, adapter, name, chunk_size, tensor_parallel_size, gpu_memory_utilization, max_model_len,
    max_lora_rank, enable_prefix_caching, dtype, seed, engine_kwargs.
    openai: base_url, model, name, api_key_env, concurrency, timeout, max_retries, backoff_base,
    backoff_max, extra_body.
    """
    cls = check_model_config(config)
    return cls(**{k: v for k, v in config.items() if k != "backend"})
