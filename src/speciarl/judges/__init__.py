"""Judges: grade (ground truth, answer) pairs into the six categories.

`build_judge(config)` is the one entry point for training, evaluation and `speciarl verify`:

    {"type": "taxonomy", "taxonomy": "tree.yaml", "cache": "none"}
    {"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen3-30B-A3B-Instruct-2507",
     "cache": "default" | "path.sqlite" | "redis://host:6379/0" | "none", "concurrency": 64, ...}
"""

from __future__ import annotations

import os
from typing import Any

from ..configfile import load_yaml_config
from ..errors import ConfigError
from .base import SOURCES, BaseJudge, Judge, JudgeStats, Pair, Verdict, cache_key
from .cache import Cache, SQLiteCache, default_cache_path, open_cache
from .redis_cache import RedisCache
from .config import JUDGE_TYPES, JudgeOptions, OpenAIJudgeOptions, TaxonomyJudgeOptions, parse_judge_options
from .fastpaths import DEFAULT_LENGTH_CAP, DEFAULT_REFUSALS, FastPaths, lists_options
from .openai import PROMPT_VARIANTS, OpenAIJudge, parse_reply
from .taxonomy import Taxonomy, TaxonomyJudge

__all__ = [
    "JUDGE_TYPES", "SOURCES", "BaseJudge", "Cache", "DEFAULT_LENGTH_CAP", "DEFAULT_REFUSALS", "FastPaths", "Judge",
    "JudgeOptions", "JudgeStats", "OpenAIJudge", "OpenAIJudgeOptions", "PROMPT_VARIANTS", "Pair", "RedisCache",
    "SQLiteCache", "Taxonomy", "TaxonomyJudge", "TaxonomyJudgeOptions", "Verdict", "build_judge", "cache_key",
    "default_cache_path", "lists_options", "load_judge_config", "open_cache", "parse_judge_options", "parse_reply",
]

def load_judge_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A judge mapping from a YAML file: the file itself, or its `judge:` section (so an eval or
    train config can be passed as it is). Errors name the file."""
    data = load_yaml_config(path)
    section = data.get("judge", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: `judge` must be a mapping")
    if "type" in section:  # checked here so that errors name the file; flags may still add the type
        parse_judge_options(section, "judge" if "judge" in data else "", path)
    return dict(section)


def build_judge(config: dict[str, Any] | JudgeOptions) -> BaseJudge:
    """A judge (with its fast paths and cache) from a mapping, e.g. a YAML config section, or its
    typed options (`speciarl.judges.config`: every key, its type, default and help).

    Cache: "none", "default" (SQLite at `default_cache_path()`), a SQLite path, or a redis:// URL.
    Default: the SQLite default for LLM judges, none for the taxonomy judge (it is faster than any cache).
    Unknown keys and wrongly typed values are a ConfigError naming the key.
    """
    options = config if isinstance(config, JudgeOptions) else parse_judge_options(config)
    fast_paths = FastPaths(**options.fast_paths_kwargs())

    redis_options = {k: v for k, v in (("lock_ttl", options.cache_lock_ttl), ("ttl", options.cache_ttl))
                     if v is not None}
    cache = open_cache(options.cache, **redis_options)
    if isinstance(cache, RedisCache):
        cache.check_reachable()  # at the boundary: an unreachable server is a ConfigError now

    if isinstance(options, TaxonomyJudgeOptions):
        if not options.taxonomy:
            raise ConfigError("the taxonomy judge needs 'taxonomy': a YAML or JSON label hierarchy file")
        return TaxonomyJudge(options.taxonomy, less_specific_levels=options.less_specific_levels,
                             fast_paths=fast_paths, cache=cache)
    kwargs = options.judge_kwargs()
    return OpenAIJudge(kwargs.pop("base_url"), kwargs.pop("model"), fast_paths=fast_paths, cache=cache, **kwargs)
