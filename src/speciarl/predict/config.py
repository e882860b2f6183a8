"""The `model:` section of an eval config, one typed schema per backend (transformers, vllm, openai).

The schema's fields are the known keys, with their types, defaults and help (`speciarl config
show-schema eval`); `build_predictor` passes every field to the backend explicitly. Fields marked
operational only change speed or plumbing, so the eval run hash leaves them out.

Secrets: the openai backend reads its key from the environment variable `api_key_env`. A literal
`api_key` is accepted there for convenience and is a `SecretStr`: it prints and serialises as
`**********` (run.json, logs, error messages); only the request header sees the key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr, model_validator

from ..configfile import Section, check_section, option
from ..errors import ConfigError


class TinyShape(Section):
    """The sizes of the offline tiny Qwen2.5-VL (speciarl.models.tiny.build_tiny_vlm)."""

    seed: int = option(0, "seed of the random weights")
    hidden_size: int = option(64, "language model width", ge=1)
    num_layers: int = option(2, "language model depth", ge=1)
    image_size: int = option(56, "image side in pixels the model sees", ge=1)
    vocab_size: int = option(1024, "tokenizer vocabulary size", ge=1)
    vision_hidden_size: int = option(32, "vision tower width", ge=1)
    vision_layers: int = option(2, "vision tower depth", ge=1)
    format_steps: int = option(0, "training steps that teach the think/answer reply format", ge=0)


class TinyBuild(TinyShape):
    """`model.tiny`: build the offline tiny Qwen2.5-VL into `dir` and use it."""

    dir: str = option(..., "where to build (or reuse) the tiny model")
    words: list[str] | None = option(None, "label words for its tokenizer (default: the benchmark's labels)")


class _LocalModel(Section):
    path: str | None = option(None, "model folder or hub id (or give `tiny`)")
    tiny: TinyBuild | None = option(None, "build the offline tiny model instead of loading `path`")
    adapter: str | None = option(None, "a LoRA adapter folder (from `speciarl train`) applied to `path`")
    name: str | None = option(None, "model name written into every record (default: path)")
    dtype: str = option("auto", "auto, bfloat16, float16 or float32")

    @model_validator(mode="after")
    def _path_or_tiny(self) -> _LocalModel:
        if (self.path is None) == (self.tiny is None):
            raise ValueError("give exactly one of `path` (a model folder or hub id) and `tiny`")
        return self


class TransformersBackend(_LocalModel):
    backend: Literal["transformers"] = option("transformers", "transformers: HF generate() in batches")
    batch_size: int = option(8, "images per generate() call", operational=True, ge=1)
    device: str = option("auto", "auto, cpu, cuda, cuda:1, ...", operational=True)
    attn_implementation: str | None = option(None, "e.g. sdpa, flash_attention_2", operational=True)
    merge_adapter: bool = option(True, "merge the LoRA adapter into the weights before generating")
    num_threads: int | None = option(None, "CPU threads for torch (tiny models run fastest on 1)",
                                     operational=True)


class VLLMBackend(_LocalModel):
    backend: Literal["vllm"] = option("vllm", "vllm: offline vLLM engine (GPU)")
    chunk_size: int = option(512, "requests handed to the engine at once", operational=True, ge=1)
    tensor_parallel_size: int = option(1, "GPUs per model", operational=True, ge=1)
    gpu_memory_utilization: float = option(0.9, "share of GPU memory vLLM may take", operational=True,
                                           gt=0, le=1)
    max_model_len: int | None = option(None, "context length (default: the model's)")
    max_lora_rank: int = option(64, "largest LoRA rank the engine accepts")
    enable_prefix_caching: bool = option(True, "reuse the prompt's KV cache across samples")
    seed: int = option(0, "engine seed")
    engine_kwargs: dict[str, Any] | None = option(None, "extra vllm.LLM(...) arguments", operational=True)


class OpenAIBackend(Section):
    backend: Literal["openai"] = option("openai", "openai: any OpenAI-compatible server serving a VLM")
    base_url: str = option(..., "the server, e.g. http://127.0.0.1:8000/v1")
    model: str = option(..., "the model name the server serves")
    name: str | None = option(None, "model name written into every record (default: model)")
    api_key: SecretStr | None = option(None, "a literal API key (prefer api_key_env); never written anywhere",
                                       operational=True)
    api_key_env: str | None = option("OPENAI_API_KEY", "environment variable holding the API key (null: none)",
                                     operational=True)
    concurrency: int = option(16, "parallel requests", operational=True, ge=1)
    timeout: float = option(300.0, "seconds per request", operational=True, gt=0)
    max_retries: int = option(5, "retries on connection errors, timeouts, 429 and 5xx", operational=True, ge=0)
    backoff_base: float = option(0.5, "first retry delay in seconds (doubles each retry)", operational=True,
                                 ge=0)
    backoff_max: float = option(30.0, "longest retry delay in seconds", operational=True, ge=0)
    extra_body: dict[str, Any] | None = option(None, "extra fields merged into every request body")


BACKEND_SCHEMAS: dict[str, type[Section]] = {
    "transformers": TransformersBackend, "vllm": VLLMBackend, "openai": OpenAIBackend}


def parse_model_section(config: Any, where: str = "model", path: Any = None) -> Section:
    """The typed `model:` section (backend default: transformers); errors name file, key, type, value."""
    prefix = f"{path}: " if path is not None else ""
    if not isinstance(config, dict):
        raise ConfigError(f"{prefix}`{where}` must be a mapping, got {type(config).__name__}")
    backend = config.get("backend", "transformers")
    if backend not in BACKEND_SCHEMAS:
        raise ConfigError(f"{prefix}`{where}.backend`: unknown backend {backend!r}; choose one of "
                          f"{', '.join(BACKEND_SCHEMAS)}")
    return check_section(BACKEND_SCHEMAS[backend], config, where, path)


def backend_kwargs(section: Section) -> dict[str, Any]:
    """The backend constructor's keyword arguments: every field but `backend` and `tiny`, secrets revealed."""
    out = section.model_dump(exclude={"backend", "tiny"})
    for key, value in out.items():
        if isinstance(value, SecretStr):
            out[key] = value.get_secret_value()
    return out
