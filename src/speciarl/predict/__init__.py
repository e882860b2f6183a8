"""VLM prediction behind one interface; `build_predictor` picks the backend from the config.

Heavy imports (torch, transformers, vLLM, aiohttp) happen inside each backend, only when built.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Completion, PredictRequest, Predictor, SamplingParams, derived_seed
from .config import BACKEND_SCHEMAS, backend_kwargs, parse_model_section

BACKENDS = tuple(BACKEND_SCHEMAS)

__all__ = ["BACKENDS", "BACKEND_SCHEMAS", "Completion", "PredictRequest", "Predictor", "SamplingParams",
           "backend_class", "build_predictor", "check_model_config", "derived_seed", "parse_model_section"]


def backend_class(backend: str) -> type:
    """The predictor class of a backend name (imported here: each backend's heavy imports are its own)."""
    if backend == "transformers":
        from .transformers_backend import TransformersPredictor as cls
    elif backend == "vllm":
        from .vllm_backend import VLLMPredictor as cls  # type: ignore[assignment]
    elif backend == "openai":
        from .openai_backend import OpenAIPredictor as cls  # type: ignore[assignment]
    else:
        raise ConfigError(f"model.backend: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return cls


def check_model_config(config: dict[str, Any]) -> type:
    """The backend class for a `model:` section, after checking its keys and values (nothing is loaded)."""
    return backend_class(parse_model_section(config).backend)


def build_predictor(config: dict[str, Any] | Any) -> Predictor:
    """A predictor from a `model:` section (a mapping or its typed schema, `speciarl.predict.config`).

    `model.tiny` is resolved by the eval pipeline (it builds the model and sets `path`) before this.
    """
    section = config if not isinstance(config, dict) else parse_model_section(config)
    if getattr(section, "tiny", None) is not None:
        raise ConfigError("model.tiny must be built first (speciarl.pipeline.eval.resolve_model)")
    return backend_class(section.backend)(**backend_kwargs(section))
