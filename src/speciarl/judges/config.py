"""The judge config section (`judge:` in eval and train configs, `--judge-config` files), typed.

One schema per judge type: its fields are the known keys, their types are checked, and the defaults
and help texts live here and nowhere else. `build_judge` passes every field to the judge class
explicitly, so the config path never relies on a constructor default. `speciarl config show-schema
judge` prints them. API keys are never a config value: the key is read from the environment
variable named by `api_key_env`.
"""

from __future__ import annotations

from typing import Any, Literal

from ..configfile import Section, check_section, option
from ..errors import ConfigError
from .fastpaths import DEFAULT_LENGTH_CAP

# Main-subject answers describe a scene: give them room before the length cap calls them wrong.
VARIANT_LENGTH_CAP = {"main_subject": 48}


class FastPathsOptions(Section):
    """The rules that grade some answers before the judge is asked (docs/judges.md)."""

    length_cap: int | None = option(None, "answers with more normalised words are `wrong` (0 or null: off); "
                                          "default: the judge's `length_cap`")
    exact: bool = option(True, "an answer equal to the ground truth (normalised) is `specific` without a judge call")
    refusals: bool | list[str] = option(True, "refusal phrases graded `abstain` (true: the built-in list, "
                                              "false: off, or your own list)")
    options: bool = option(True, "answers listing several options (\"a or b\") are `wrong`")


class JudgeOptions(Section):
    """What every judge type shares: its type, the grade cache and the fast paths."""

    type: str = option(..., "taxonomy (a label hierarchy) or openai (an LLM behind an OpenAI-compatible server)")
    length_cap: int | None = option(None, "answers longer than this many words are `wrong`, 0 or null: off "
                                          f"(default {DEFAULT_LENGTH_CAP}; "
                                          f"{VARIANT_LENGTH_CAP['main_subject']} with the main_subject prompt)")
    fast_paths: FastPathsOptions | None = option(None, "switch single fast-path rules off")
    cache_lock_ttl: float | None = option(None, "Redis cache: seconds a claimed pair stays locked "
                                                "(default: the cache's own)", operational=True)
    cache_ttl: float | None = option(None, "Redis cache: seconds a grade is kept (default: forever)",
                                     operational=True)

    def fast_paths_kwargs(self) -> dict[str, Any]:
        """FastPaths keyword arguments: `fast_paths` wins, then `length_cap`, then the prompt's default."""
        fast = self.fast_paths.model_dump(exclude_unset=True) if self.fast_paths else {}
        default = VARIANT_LENGTH_CAP.get(getattr(self, "prompt", ""), DEFAULT_LENGTH_CAP)
        fast.setdefault("length_cap", self.length_cap if "length_cap" in self.model_fields_set else default)
        return fast

    def judge_kwargs(self) -> dict[str, Any]:
        """The options of this judge type's own class (everything but the shared fields)."""
        return self.model_dump(exclude={*JudgeOptions.model_fields, "cache"})


class TaxonomyJudgeOptions(JudgeOptions):
    type: Literal["taxonomy"] = option(..., "taxonomy")
    cache: str = option("none", "none, default (SQLite at $SPECIARL_JUDGE_CACHE), a SQLite path or "
                                "redis://host:port/db (the taxonomy judge is faster than any cache)",
                        operational=True)
    taxonomy: str | None = option(None, "the label hierarchy, a YAML or JSON file (training on `data.synthetic` "
                                        "generates one)")
    less_specific_levels: int = option(2, "an ancestor up to this many levels up is `less specific`, farther "
                                          "ones `generic`", ge=0)


class OpenAIJudgeOptions(JudgeOptions):
    type: Literal["openai"] = option(..., "openai")
    cache: str = option("default", "default (SQLite at $SPECIARL_JUDGE_CACHE or ~/.cache/speciarl/), a SQLite "
                                   "path, redis://host:port/db, or none", operational=True)
    base_url: str = option(..., "the server, e.g. http://127.0.0.1:8000/v1")
    model: str = option(..., "the model name the server serves")
    prompt: str = option("single", "built-in prompt: single, main_subject or binary")
    prompt_file: str | None = option(None, "your own prompt file instead of a built-in one")
    labels: Literal["categories", "binary"] | None = option(None, "with prompt_file: what the replies are "
                                                                  "(default categories)")
    concurrency: int = option(64, "parallel requests", operational=True, ge=1)
    timeout: float = option(60.0, "seconds per request", operational=True, gt=0)
    max_retries: int = option(6, "retries per pair on connection errors, timeouts, 429 and 5xx",
                              operational=True, ge=0)
    unparseable_retries: int = option(2, "retries per pair when the reply is not a label", ge=0)
    backoff_base: float = option(0.5, "first retry delay in seconds (doubles each retry, with jitter)",
                                 operational=True, ge=0)
    backoff_max: float = option(20.0, "longest retry delay in seconds", operational=True, ge=0)
    choice_field: Literal["structured_outputs", "guided_choice", "none"] = option(
        "structured_outputs", "how to constrain replies to the labels: structured_outputs (vLLM >= 0.12), "
        "guided_choice (older vLLM; newer ones ignore it) or none (servers that reject unknown fields)")
    api_key_env: str | None = option("OPENAI_API_KEY", "environment variable holding the API key "
                                                       "(null: send none)", operational=True)
    max_tokens: int = option(16, "reply length limit in tokens", ge=1)
    extra_body: dict[str, Any] | None = option(None, "extra fields merged into every request body")


JUDGE_TYPES: dict[str, type[JudgeOptions]] = {"taxonomy": TaxonomyJudgeOptions, "openai": OpenAIJudgeOptions}


def parse_judge_options(config: Any, where: str = "judge", path: Any = None) -> JudgeOptions:
    """The typed options of a judge mapping; errors name the file (when given), key, type and value."""
    prefix = f"{path}: " if path is not None else ""
    if not isinstance(config, dict):
        raise ConfigError(f"{prefix}`{where}` must be a mapping, got {type(config).__name__}")
    kind = config.get("type")
    if kind is None:
        raise ConfigError(f"{prefix}`{where}.type` is required ({' or '.join(JUDGE_TYPES)})")
    if kind not in JUDGE_TYPES:
        raise ConfigError(f"{prefix}`{where}.type`: unknown judge type {kind!r}; choose {' or '.join(JUDGE_TYPES)}")
    return check_section(JUDGE_TYPES[kind], config, where, path)
