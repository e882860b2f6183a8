"""LLM judge over any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs).

One pair per request, temperature 0, the pair as one compact JSON object in the user message.
aiohttp was chosen by measurement (benchmarks/bench_judge.py): at 64-way concurrency against a
50 ms server its overhead stays near the ideal, where httpx's AsyncClient was several times slower.
The transport (URL, request, retries: connection errors, timeouts, 429, 5xx with exponential backoff
and jitter, unparseable replies immediately) is `speciarl.http`'s, shared with the OpenAI prediction
backend; what still fails comes back as an error Verdict, never a grade. The session lives on the
process's I/O loop (thread contract: `BaseJudge`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from ..categories import LABELS, Category
from ..configfile import field_defaults
from ..errors import ConfigError
from ..http import (HTTPError, Retryable, RetryPolicy, auth_headers, chat_completions_url, make_session, post_once,
                    with_retries)
from .base import BaseJudge, Pair, Verdict, text_hash
from .cache import Cache
from .config import OpenAIJudgeOptions
from .fastpaths import FastPaths

# variant name -> (prompt file, labels the model must answer with)
PROMPT_VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "single": ("single.txt", LABELS),
    "main_subject": ("main_subject.txt", LABELS),
    "binary": ("binary.txt", ("correct", "wrong")),
}
BINARY_LABELS = {"correct": Category.SPECIFIC, "wrong": Category.WRONG}
CHOICE_FIELDS = get_args(OpenAIJudgeOptions.model_fields["choice_field"].annotation)
_D = field_defaults(OpenAIJudgeOptions)  # keyword defaults: defined once, in the judge config schema
_PAIR_MARK = "\x00speciarl pair\x00"  # stands for the pair in the request template (request_payload)
# json.dumps(..., ensure_ascii=False[, separators]) without building an encoder per call
_encode = json.JSONEncoder(ensure_ascii=False).encode
_encode_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)


def load_prompt(prompt: str = "single", prompt_file: str | os.PathLike[str] | None = None,
                labels: str | None = None) -> tuple[str, tuple[str, ...], str]:
    """(prompt text, allowed labels, variant name) for a built-in variant or a user's prompt file.

    A user file grades into the six categories unless `labels="binary"` (correct / wrong).
    """
    if prompt_file is not None:
        try:
            text = Path(prompt_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"judge prompt file {prompt_file}: cannot read ({exc})") from None
        if not text.strip():
            raise ConfigError(f"judge prompt file {prompt_file} is empty")
        kind = labels or "categories"
        if kind not in ("categories", "binary"):
            raise ConfigError(f"judge labels must be 'categories' or 'binary', got {kind!r}")
        return text, (PROMPT_VARIANTS["binary"][1] if kind == "binary" else LABELS), f"file-{Path(prompt_file).stem}"
    if prompt not in PROMPT_VARIANTS:
        raise ConfigError(f"unknown judge prompt {prompt!r}; known: {', '.join(PROMPT_VARIANTS)} (or give prompt_file)")
    name, allowed = PROMPT_VARIANTS[prompt]
    text = resources.files("speciarl.judges").joinpath("prompts", name).read_text(encoding="utf-8")
    return text, allowed, prompt


def parse_reply(text: str, labels: tuple[str, ...]) -> str | None:
    """The label the whole reply is, or None. Strict: "more specific" never reads as "specific".

    Tolerated: surrounding whitespace, quotes, backticks, asterisks, a final period, upper case,
    underscores for spaces, a leading <think>…</think> block, or a JSON string / one-key object.
    """
    text = _THINK.sub("", text).strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not (isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), str)):
            return None
        text = next(iter(data.values()))
    cleaned = " ".join(text.strip().strip("`*\"'. \n").replace("_", " ").lower().split())
    return cleaned if cleaned in labels else None


class OpenAIJudge(BaseJudge):
    """Grades pairs with a chat model; see the module docstring and docs/judges.md for every option.

    choice_field: how to ask the server for choice-constrained output — "structured_outputs"
    (vLLM >= 0.12), "guided_choice" (older vLLM) or "none" (servers that reject unknown fields).
    """

    source = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        prompt: str = _D.prompt,
        prompt_file: str | os.PathLike[str] | None = _D.prompt_file,
        labels: str | None = _D.labels,
        concurrency: int = _D.concurrency,
        timeout: float = _D.timeout,
        max_retries: int = _D.max_retries,
        unparseable_retries: int = _D.unparseable_retries,
        backoff_base: float = _D.backoff_base,
        backoff_max: float = _D.backoff_max,
        choice_field: str = _D.choice_field,
        api_key_env: str | None = _D.api_key_env,
        max_tokens: int = _D.max_tokens,
        extra_body: dict[str, Any] | None = _D.extra_body,
        fast_paths: FastPaths | None = None,
        cache: Cache | None = None,
    ):
        super().__init__(fast_paths=fast_paths, cache=cache)
        if not base_url or not model:
            raise ConfigError("the openai judge needs base_url (e.g. http://127.0.0.1:8000/v1) and model")
        if choice_field not in CHOICE_FIELDS:
            raise ConfigError(f"choice_field must be one of {', '.join(CHOICE_FIELDS)}, got {choice_field!r}")
        if concurrency < 1 or timeout <= 0 or max_retries < 0 or unparseable_retries < 0:
            raise ConfigError("concurrency must be >= 1, timeout > 0, retries >= 0")
        self.url, self.model = chat_completions_url(base_url), model
        self.prompt_text, self.labels, self.variant = load_prompt(prompt, prompt_file, labels)
        self.concurrency, self.timeout = concurrency, timeout
        self.request_slots = concurrency
        # The project's one retry discipline (speciarl.http), shared with the OpenAI prediction backend.
        self.policy = RetryPolicy(max_retries=max_retries, reply_retries=unparseable_retries,
                                  backoff_base=backoff_base, backoff_max=backoff_max, timeout=timeout)
        self.choice_field, self.max_tokens = choice_field, max_tokens
        self.extra_body = dict(extra_body or {})
        self._auth = auth_headers(api_key_env=api_key_env)  # never logged, never part of the identity
        self.prompt_hash = text_hash(self.prompt_text + "\x00" + "\x00".join(self.labels))
        self.identity = f"openai:{model}:{self.variant}:{self.prompt_hash[:12]}"
        self._session = None
        self._semaphore: asyncio.Semaphore | None = None
        self._template: tuple[bytes, bytes] | tuple[()] | None = None  # see request_payload

    def __repr__(self) -> str:  # no key in reprs or logs
        return f"OpenAIJudge(url={self.url!r}, model={self.model!r}, prompt={self.variant!r})"

    # -- HTTP session: created on the process's I/O loop, kept until `aclose` -----------------------
    def _client(self):
        if self._session is None or self._session.closed:
            self._session = make_session(self.concurrency, headers=self._auth, timeout=self.timeout)
            self._semaphore = asyncio.Semaphore(self.concurrency)
            # a judge dropped without close(): its session is closed on its loop, not left to warn at exit
            weakref.finalize(self, _close_soon, asyncio.get_running_loop(), self._session)
        return self._session, self._semaphore

    def _forget_loop_resources(self) -> None:
        self._session, self._semaphore = None, None

    async def _aclose_here(self) -> None:
        await super()._aclose_here()  # waits for the grading in flight first
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    # -- grading ----------------------------------------------------------------------------------
    def request_body(self, gt_norm: str, answer_norm: str) -> dict[str, Any]:
        """The exact request for one pair (public so tests and docs can show it)."""
        pair = _user_content(gt_norm, answer_norm)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": self.prompt_text}, {"role": "user", "content": pair}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        if self.choice_field == "structured_outputs":
            body["structured_outputs"] = {"choice": list(self.labels)}
        elif self.choice_field == "guided_choice":
            body["guided_choice"] = list(self.labels)
        body.update(self.extra_body)
        return body

    def request_payload(self, gt_norm: str, answer_norm: str) -> bytes:
        """`request_body` as sent: JSON in UTF-8. Built from a template made on first use, so the system
        prompt (~2 kB) is encoded once, not per request; the bytes are the same as encoding the body."""
        template = self._template
        if template is None:
            whole = json.dumps(self.request_body(_PAIR_MARK, _PAIR_MARK), ensure_ascii=False)
            mark = json.dumps(_user_content(_PAIR_MARK, _PAIR_MARK), ensure_ascii=False)
            if whole.count(mark) == 1:
                head, _, tail = whole.partition(mark)
                template = self._template = (head.encode("utf-8"), tail.encode("utf-8"))
            else:  # extra_body replaced the messages: encode each body whole
                template = self._template = ()
        if not template:
            return json.dumps(self.request_body(gt_norm, answer_norm), ensure_ascii=False).encode("utf-8")
        return template[0] + _encode(_user_content(gt_norm, answer_norm)).encode("utf-8") + template[1]

    async def _grade_unique(self, pairs: list[Pair]) -> list[Verdict]:
        session, semaphore = self._client()
        return list(await asyncio.gather(*(self._grade_one(session, semaphore, p) for p in pairs)))

    async def _graded(self, keys: list[Pair]):
        """Groups of verdicts that finished together, so callers waiting for a few pairs of a big batch
        get them early (and the cache gets one transaction per group, not per pair)."""
        session, semaphore = self._client()
        finished: asyncio.Queue[tuple[Pair, Verdict]] = asyncio.Queue()

        async def one(key: Pair) -> None:
            try:
                verdict = await self._grade_one(session, semaphore, key)
            except Exception as exc:  # noqa: BLE001 - an unexpected client failure is this pair's error
                verdict = Verdict(None, error=f"judge request failed: {exc!r}", source="llm")
            finished.put_nowait((key, verdict))

        tasks = [asyncio.ensure_future(one(k)) for k in keys]
        try:
            left = len(keys)
            while left:
                group = [await finished.get()]
                while not finished.empty():
                    group.append(finished.get_nowait())
                left -= len(group)
                yield group
        finally:
            for task in tasks:
                task.cancel()

    def _to_category(self, label: str) -> Category:
        return BINARY_LABELS[label] if self.labels == PROMPT_VARIANTS["binary"][1] else Category(label)

    def _count_usage(self, usage: Any) -> None:
        """The server's token counts (`usage`), summed into stats.extra: prompt_tokens, completion_tokens."""
        if isinstance(usage, dict):
            extra = self.stats.extra
            for name in ("prompt_tokens", "completion_tokens"):
                value = usage.get(name)
                if isinstance(value, int):
                    extra[name] = extra.get(name, 0) + value

    async def _grade_one(self, session, semaphore: asyncio.Semaphore, pair: Pair) -> Verdict:
        payload = self.request_payload(*pair)

        async def attempt() -> Category:
            self.stats.requests += 1
            reply = await post_once(session, self.url, payload)
            try:
                content = reply["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                raise Retryable(f"malformed response body {str(reply)[:200]!r}", reply=True) from None
            self._count_usage(reply.get("usage"))
            label = parse_reply(content, self.labels) if isinstance(content, str) else None
            if label is None:
                raise Retryable(f"reply {str(content)[:200]!r} is not one of {', '.join(self.labels)}"
                                + _ignored_constraint(self.choice_field), reply=True)
            return self._to_category(label)

        def count_retry(_: Retryable) -> None:
            self.stats.retries += 1

        try:
            category = await with_retries(attempt, self.policy, limit=semaphore, on_retry=count_retry)
        except HTTPError as exc:
            message = f"judge {exc}"
            if exc.status is not None:
                self.stats.extra["fatal"] = self.stats.extra.get("fatal", 0) + 1
                text = str(exc)
                if self.choice_field != "none" and ("structured_outputs" in text or "guided_choice" in text
                                                     or "extra" in text.lower()):
                    message += " (this server may not support choice-constrained output: set choice_field: none)"
            return Verdict(None, error=message, source="llm")
        return Verdict(category, source="llm")


def _user_content(gt_norm: str, answer_norm: str) -> str:
    """The user message: the pair as compact JSON."""
    return _encode_compact({"ground_truth": gt_norm, "prediction": answer_norm})


def _ignored_constraint(choice_field: str) -> str:
    """Why a constrained reply can be free text: vLLM >= 0.12 drops `guided_choice` without an error."""
    if choice_field == "none":
        return ""
    hint = "; vLLM >= 0.12 ignores guided_choice: use structured_outputs" if choice_field == "guided_choice" else ""
    return f": the server ignored the choice constraint (choice_field: {choice_field}{hint})"


def _close_soon(loop: asyncio.AbstractEventLoop, session: Any) -> None:
    if session.closed or loop.is_closed():
        return
    try:
        loop.call_soon_threadsafe(lambda: loop.create_task(session.close()))
    except RuntimeError:  # the loop is shutting down
        pass
