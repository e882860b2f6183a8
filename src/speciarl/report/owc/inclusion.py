"""LLM inclusion: lmms-owc's question to a small instruct model, and our stricter binary judge beside it.

`llm_inclusion` (the reference's): one user message per pair (`rules.inclusion_prompt`, no system
message: the served model's chat template adds what it adds, as the reference's transformers pipeline
did), greedy (temperature 0), at most 16 new tokens, no constrained decoding; the reply scores 1 only
when it is exactly "1" (`rules.inclusion_score`). The reference model is Llama-3.2-3B-Instruct: serve it
behind any OpenAI-compatible server (vLLM, SGLang, ...) for numbers comparable with lmms-owc's.

It runs through our judge pipeline (`judges.base.BaseJudge`): the cache (keyed by the raw pair, the
model and the prompt), duplicate folding, and the project's retry discipline (`speciarl.http`). No
fast path: the reference asks the model about every pair, exact matches and blank answers included.
A pair whose requests still fail after the retries is an error (None), never a score.

`llm_inclusion_strict` (ours): the six-category judge's binary prompt (`prompt: binary`, fast paths on),
True when the judge says the answer names the ground truth; an unparseable reply is an error too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ...categories import Category, is_specific
from ...errors import ConfigError
from ...http import HTTPError, RetryPolicy, auth_headers, chat_completions_url, make_session, post_once, with_retries
from ...judges.base import BaseJudge, Pair, Verdict, text_hash
from ...judges.fastpaths import FastPaths
from .rules import _inclusion_template, inclusion_prompt, inclusion_score

MAX_NEW_TOKENS = 16  # the reference's generation budget
# The judge cache stores categories: an included pair is kept as `specific`, any other reply as `wrong`.
INCLUDED, NOT_INCLUDED = Category.SPECIFIC, Category.WRONG
# The keys of an openai judge mapping that LLM inclusion uses; the others shape the six-category prompt.
SERVER_KEYS = {"type", "base_url", "model", "cache", "cache_lock_ttl", "cache_ttl", "concurrency", "timeout",
               "max_retries", "backoff_base", "backoff_max", "api_key_env", "extra_body"}


class _AskEveryPair(FastPaths):
    """No fast path at all: the reference puts every pair, blank or exact, to the model."""

    def __init__(self) -> None:
        super().__init__(length_cap=None, exact=False, refusals=False, options=False)

    def check(self, gt_norm: str, answer_norm: str, raw_answer: str) -> Verdict | None:
        return None


class InclusionJudge(BaseJudge):
    """lmms-owc's LLM inclusion over an OpenAI-compatible server; verdicts are INCLUDED / NOT_INCLUDED.

    Thread contract: that of `BaseJudge` (any thread; the work runs on the process's I/O loop). One HTTP
    session per `_grade_unique` call, made and closed on that loop.
    """

    source = "llm"

    def __init__(self, base_url: str, model: str, *, concurrency: int = 16, timeout: float = 60.0,
                 max_retries: int = 6, backoff_base: float = 0.5, backoff_max: float = 20.0,
                 api_key_env: str | None = "OPENAI_API_KEY", extra_body: dict[str, Any] | None = None,
                 cache: Any = None):
        super().__init__(fast_paths=_AskEveryPair(), cache=cache)
        if not base_url or not model:
            raise ConfigError("LLM inclusion needs base_url (e.g. http://127.0.0.1:8000/v1) and model")
        if concurrency < 1 or timeout <= 0 or max_retries < 0:
            raise ConfigError("concurrency must be >= 1, timeout > 0, max_retries >= 0")
        self.url, self.model = chat_completions_url(base_url), model
        self.concurrency = concurrency
        self.policy = RetryPolicy(max_retries=max_retries, reply_retries=2, backoff_base=backoff_base,
                                  backoff_max=backoff_max, timeout=timeout)
        self.extra_body = dict(extra_body or {})
        self._auth = auth_headers(api_key_env=api_key_env)  # never logged, never part of the identity
        self.prompt_hash = text_hash(f"{_inclusion_template().template}\x00max_tokens={MAX_NEW_TOKENS}\x00"
                                     f"{sorted(self.extra_body.items())!r}")
        self.identity = f"owc-inclusion:{model}:{self.prompt_hash[:12]}"

    def __repr__(self) -> str:
        return f"InclusionJudge(url={self.url!r}, model={self.model!r})"

    def normalize(self, text: str) -> str:
        """The identity: the question shows the raw texts, so the raw pair is the key (cache included)."""
        return text

    def request_body(self, ground_truth: str, prediction: str) -> dict[str, Any]:
        """The exact request for one pair (public so tests and docs can show it)."""
        return {"model": self.model,
                "messages": [{"role": "user", "content": inclusion_prompt(ground_truth, prediction)}],
                "temperature": 0, "max_tokens": MAX_NEW_TOKENS, **self.extra_body}

    async def _grade_unique(self, pairs: list[Pair]) -> list[Verdict]:
        session = make_session(self.concurrency, headers=self._auth, timeout=self.policy.timeout)
        semaphore = asyncio.Semaphore(self.concurrency)
        try:
            return list(await asyncio.gather(*(self._ask(session, semaphore, p) for p in pairs)))
        finally:
            await session.close()

    async def _ask(self, session: Any, semaphore: asyncio.Semaphore, pair: Pair) -> Verdict:
        body = self.request_body(*pair)

        def count_retry(_: Exception) -> None:
            self.stats.retries += 1

        async def attempt() -> Any:
            self.stats.requests += 1
            return await post_once(session, self.url, body)

        try:
            reply = await with_retries(attempt, self.policy, limit=semaphore, on_retry=count_retry)
        except HTTPError as exc:
            return Verdict(None, error=str(exc), source=self.source)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return Verdict(None, error=f"malformed chat completion {str(reply)[:200]!r}", source=self.source)
        if not isinstance(content, str):
            return Verdict(None, error=f"reply without text content: {content!r}", source=self.source)
        return Verdict(INCLUDED if inclusion_score(content) else NOT_INCLUDED, source=self.source)


def build_inclusion_judge(config: dict[str, Any]) -> InclusionJudge:
    """An InclusionJudge from an openai judge mapping (checked as one); the keys that shape the
    six-category prompt (prompt, labels, fast paths, max_tokens, ...) are set aside: lmms-owc's question
    and decoding are fixed."""
    from ...judges import open_cache
    from ...judges.config import parse_judge_options

    config = {**config, "type": config.get("type", "openai")}
    if config["type"] != "openai":
        raise ConfigError(f"LLM inclusion needs an openai judge mapping (base_url, model), got type "
                          f"{config.get('type')!r}")
    parse_judge_options(config, "llm_inclusion")
    options = {k: v for k, v in config.items() if k in SERVER_KEYS - {"type", "cache", "cache_lock_ttl", "cache_ttl"}}
    redis = {k.removeprefix("cache_"): float(config[k]) for k in ("cache_lock_ttl", "cache_ttl")
             if config.get(k) is not None}
    cache = open_cache(config.get("cache", "default"), **redis)
    return InclusionJudge(options.pop("base_url", None), options.pop("model", None), cache=cache, **options)


def _run(judge: BaseJudge, pairs: Sequence[tuple[str, str | None]], to_value) -> list[float | None]:
    """Grade the pairs that have an answer; a parse failure (None) scores 0, a failed pair is None."""
    asked = [(gt, ans) for gt, ans in pairs if ans is not None]
    try:
        verdicts = iter(judge.grade(asked) if asked else [])
    finally:
        judge.close()
    out: list[float | None] = []
    for _, ans in pairs:
        if ans is None:
            out.append(0.0)
            continue
        verdict = next(verdicts)
        out.append(None if not verdict.ok else float(to_value(verdict.category)))
    return out


def llm_inclusion(pairs: Sequence[tuple[str, str | None]], judge_config: dict[str, Any]) -> list[float | None]:
    """lmms-owc's LLM inclusion per pair: 1.0 / 0.0, 0.0 for a parse failure, None where the server failed."""
    return _run(build_inclusion_judge(judge_config), pairs, lambda category: category is INCLUDED)


def llm_inclusion_strict(pairs: Sequence[tuple[str, str | None]],
                         judge_config: dict[str, Any]) -> list[float | None]:
    """Ours: the binary judge prompt (fast paths on); None where the judge failed or its reply stayed
    unparseable after retries."""
    from ...judges import build_judge

    config = {k: v for k, v in judge_config.items() if k not in ("prompt_file", "labels")}
    return _run(build_judge({**config, "type": "openai", "prompt": "binary"}), pairs, is_specific)


__all__ = ["INCLUDED", "MAX_NEW_TOKENS", "NOT_INCLUDED", "InclusionJudge", "build_inclusion_judge", "llm_inclusion",
           "llm_inclusion_strict"]
