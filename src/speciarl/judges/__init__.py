"""Judges: grade (ground truth, answer) pairs into the six categories.

`build_judge(config)` is the one entry point for training, evaluation and `speciarl verify`:

    {"type": "taxonomy", "taxonomy": "tree.yaml", "cache": "none"}
    {"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen3-30B-A3B-Instruct-2507",
     "cache": "default" | "path.sqlite" | "redis://host:6379/0" | "none", "concurrency": 64, ...}
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..configfile import load_yaml_config
from ..errors import ConfigError
from .base import SOURCES, BaseJudge, Judge, JudgeStats, Pair, Verdict, cache_key
from .cache import Cache, RedisCache, SQLiteCache, default_cache_path, open_cache
from .fastpaths import DEFAULT_LENGTH_CAP, DEFAULT_REFUSALS, FastPaths, lists_options
from .openai import PROMPT_VARIANTS, OpenAIJudge, parse_reply
from .taxonomy import Taxonomy, TaxonomyJudge

__all__ = [
    "SOURCES", "BaseJudge", "Cache", "DEFAULT_LENGTH_CAP", "DEFAULT_REFUSALS", "FastPaths", "Judge",
    "JudgeStats", "OpenAIJudge", "PROMPT_VARIANTS", "Pair", "RedisCache", "SQLiteCache", "Taxonomy",
    "TaxonomyJudge", "Verdict", "build_judge", "cache_key", "default_cache_path", "lists_options",
    "load_judge_config", "open_cache", "parse_reply",
]

_COMMON = {"type", "cache", "length_cap", "fast_paths", "cache_lock_ttl", "cache_ttl"}
_TAXONOMY = {"taxonomy", "less_specific_levels"}
_OPENAI = {"base_url", "model", "prompt", "prompt_file", "labels", "concurrency", "timeout", "max_retries",
           "unparseable_retries", "backoff_base", "backoff_max", "choice_field", "api_key_env", "max_tokens",
           "extra_body"}

# Main-subject answers describe a scene: give them room before the length cap calls them wrong.
_VARIANT_LENGTH_CAP = {"main_subject": 48}


def load_judge_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A judge mapping from a YAML file: the file itself, or its `judge:` section (so an eval or
    train config can be passed as it is). Errors name the file."""
    data = load_yaml_config(path)
    section = data.get("judge", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: `judge` must be a mapping")
    return dict(section)


def build_judge(config: dict[str, Any]) -> BaseJudge:
    """A judge (with its fast paths and cache) from a plain dict, e.g. a YAML config section.

    Cache: "none", "default" (SQLite at `default_cache_path()`), a SQLite path, or a redis:// URL.
    Default: the SQLite default for LLM judges, none for the taxonomy judge (it is faster than any cache).
    Unknown keys are a ConfigError listing the known ones.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"judge config must be a mapping, got {type(config).__name__}")
    kind = config.get("type")
    known = _COMMON | {"taxonomy": _TAXONOMY, "openai": _OPENAI}.get(kind, set())
    if kind not in ("taxonomy", "openai"):
        raise ConfigError(f"judge type must be 'taxonomy' or 'openai', got {kind!r}")
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"unknown {kind} judge option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    options = {k: v for k, v in config.items() if k in (_TAXONOMY | _OPENAI)}

    fast = dict(config.get("fast_paths") or {})
    cap_default = _VARIANT_LENGTH_CAP.get(config.get("prompt", "single"), DEFAULT_LENGTH_CAP)
    fast.setdefault("length_cap", config.get("length_cap", cap_default))
    try:
        fast_paths = FastPaths(**fast)
    except TypeError as exc:
        raise ConfigError(f"bad fast_paths options ({exc}); known: length_cap, exact, refusals, options") from None

    cache_spec = config.get("cache", "default" if kind == "openai" else "none")
    redis_options = {}
    if config.get("cache_lock_ttl") is not None:
        redis_options["lock_ttl"] = float(config["cache_lock_ttl"])
    if config.get("cache_ttl") is not None:
        redis_options["ttl"] = float(config["cache_ttl"])
    cache = open_cache(cache_spec, **redis_options)
    if isinstance(cache, RedisCache):
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop running: check the server now, at the boundary
            asyncio.run(cache.check())

    if kind == "taxonomy":
        if not options.get("taxonomy"):
            raise ConfigError("the taxonomy judge needs 'taxonomy': a YAML or JSON label hierarchy file")
        return TaxonomyJudge(options.pop("taxonomy"), fast_paths=fast_paths, cache=cache, **options)
    return OpenAIJudge(options.pop("base_url", None), options.pop("model", None),
                       fast_paths=fast_paths, cache=cache, **options)
