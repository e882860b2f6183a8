"""One transport for every OpenAI-compatible client (the judge and the VLM prediction backend).

Why a module of its own: both talk to the same kind of server and must behave the same under load.
Here live the one URL builder (`chat_completions_url`), the one request (`post_once`), and the one
retry core (`with_retries`): bounded concurrency, explicit timeouts, retries with exponential
backoff plus jitter on connection errors, 408/409/425/429 and 5xx (honouring Retry-After), immediate
retries of unusable replies, and no retry on other 4xx (a bad request stays bad). Each client adds
only what its payload means. aiohttp is imported lazily so the CLI stays fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import SpeciarlError

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class HTTPError(SpeciarlError):
    """A request that failed for good (after retries, or a non-retryable status)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `max_retries` extra attempts after transient failures, backoff base*2^k capped at
    `backoff_max` with jitter; `reply_retries` immediate extra attempts after unusable replies."""

    max_retries: int = 5
    reply_retries: int = 0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 120.0  # seconds, whole request

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based); Retry-After wins when larger."""
        cap = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        wait = (rng or random).uniform(cap / 2, cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max))
        return wait


def auth_headers(api_key: str | None = None, api_key_env: str | None = None) -> dict[str, str]:
    """Bearer header from an explicit key or an environment variable (never logged)."""
    key = api_key or (os.environ.get(api_key_env) if api_key_env else None)
    return {"Authorization": f"Bearer {key}"} if key else {}


def retry_after_seconds(headers: Any) -> float | None:
    """A Retry-After header in seconds ("3", "1.5"); absent, an HTTP date or anything else is None."""
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.replace(".", "", 1).isdigit() else None


class Retryable(Exception):
    """One attempt failed in a way another attempt may fix.

    `reply=True`: the server answered 200 but the reply was unusable (not JSON, not a chat completion,
    not one of the allowed labels); those retries are counted apart (`RetryPolicy.reply_retries`) and
    not delayed, since the server itself is fine.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, reply: bool = False):
        super().__init__(message)
        self.retry_after, self.reply = retry_after, reply


def chat_completions_url(base_url: str) -> str:
    """The one URL builder for OpenAI-compatible servers (judge and prediction backend).

    `http://host:8000/v1` → `.../v1/chat/completions`; a full `.../chat/completions` stays as given; a
    bare `http://host:8000` gets `/v1/chat/completions` (vLLM's and most servers' prefix); any other
    path (`https://api.example.com/openai/v2`) gets `/chat/completions`.
    """
    from urllib.parse import urlsplit

    url = base_url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if urlsplit(url).path in ("", "/"):
        return url + "/v1/chat/completions"
    return url + "/chat/completions"


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    limit: asyncio.Semaphore | None = None,
    on_retry: Callable[[Retryable], None] | None = None,
) -> T:
    """The retry core: call `attempt()` until it returns, raises something else, or the budget is spent.

    `limit` is held during each attempt only (never while backing off), so retries of a few requests
    do not block the others. Raises `HTTPError` once `policy.max_retries` transient failures or
    `policy.reply_retries` unusable replies are spent, with the last error in the message.
    """
    failures = unusable = 0
    while True:
        try:
            if limit is None:
                return await attempt()
            async with limit:
                return await attempt()
        except Retryable as exc:
            error = exc
        if error.reply:
            unusable += 1
            if unusable > policy.reply_retries:
                raise HTTPError(f"unparseable reply after {unusable} tries: {error}")
            delay = 0.0
        else:
            failures += 1
            if failures > policy.max_retries:
                raise HTTPError(f"server failed {failures} times, giving up: {error}")
            # exponential backoff with jitter (retries of many requests must not stampede); Retry-After wins
            delay = policy.delay(failures - 1, error.retry_after)
        if on_retry is not None:
            on_retry(error)
        if delay:
            await asyncio.sleep(delay)


async def post_once(session: Any, url: str, payload: bytes | dict[str, Any], *,
                    headers: dict[str, str] | None = None, timeout: float | None = None) -> Any:
    """One POST of a JSON body; the decoded JSON reply of a 200.

    Raises `Retryable` for connection errors, timeouts, `RETRY_STATUSES` (honouring Retry-After) and a
    200 whose body is not JSON; `HTTPError` (with `.status` and the server's message) for any other
    status: a bad request stays bad.
    """
    import aiohttp

    data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    kwargs: dict[str, Any] = {"data": data, "headers": headers}
    if timeout is not None:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.post(url, **kwargs) as resp:
            raw = await resp.read()
            status = resp.status
            retry_after = retry_after_seconds(resp.headers)
    except asyncio.TimeoutError:
        raise Retryable(f"no reply within {timeout or 'the session timeout'} s") from None
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise Retryable(f"connection error: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    text = raw.decode("utf-8", errors="replace")
    if status in RETRY_STATUSES:
        raise Retryable(f"HTTP {status}: {text[:200]}", retry_after=retry_after)
    if status != 200:
        raise HTTPError(f"HTTP {status} from {url}: {text[:300]}", status)
    try:
        return json.loads(text)
    except ValueError:
        raise Retryable(f"malformed response body {text[:200]!r}", reply=True) from None


def make_session(concurrency: int, *, headers: dict[str, str] | None = None, timeout: float | None = None) -> Any:
    """An aiohttp session whose connection pool matches the caller's concurrency bound.

    Bound to the running event loop: create it on speciarl's I/O loop (`speciarl.ioloop`) and keep it
    as long as that loop.
    """
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max(1, concurrency), ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=timeout) if timeout else aiohttp.ClientTimeout(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
