"""One retry discipline for every OpenAI-compatible client (judge and VLM predictor).

Why a module of its own: the judge and the `openai` prediction backend talk to the same kind of
server and must behave the same under load: bounded concurrency, explicit timeouts, retries with
exponential backoff plus jitter on connection errors, 408/409/429 and 5xx (honouring Retry-After),
and no retry on other 4xx (a bad request stays bad). aiohttp is imported lazily so the CLI stays fast.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass
from typing import Any

from .errors import SpeciarlError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class HTTPError(SpeciarlError):
    """A request that failed for good (after retries, or a non-retryable status)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `max_retries` extra attempts, backoff base*2^k capped at `backoff_max`, full jitter."""

    max_retries: int = 5
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


async def post_json(
    session: Any,
    url: str,
    payload: dict[str, Any],
    *,
    policy: RetryPolicy = RetryPolicy(),
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST `payload` as JSON and return the decoded JSON reply, retrying transient failures.

    `session` is an `aiohttp.ClientSession`; raises `HTTPError` naming the URL, the status and the
    server's message once retries are spent or on a non-retryable status.
    """
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=policy.timeout)
    last = ""
    for attempt in range(policy.max_retries + 1):
        retry_after = None
        try:
            async with session.post(url, json=payload, headers=headers, timeout=timeout) as resp:
                if resp.status == 200:
                    try:
                        return await resp.json(content_type=None)
                    except ValueError as exc:
                        last = f"invalid JSON reply ({exc})"
                else:
                    body = (await resp.text())[:300]
                    last = f"HTTP {resp.status}: {body}"
                    if resp.status not in RETRY_STATUSES:
                        raise HTTPError(f"{url}: {last}", resp.status)
                    retry_after = retry_after_seconds(resp.headers)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            last = f"{type(exc).__name__}: {exc}".rstrip(": ")
        if attempt < policy.max_retries:
            await asyncio.sleep(policy.delay(attempt, retry_after))
    raise HTTPError(f"{url}: giving up after {policy.max_retries + 1} attempts; last error: {last}")


def make_session(concurrency: int) -> Any:
    """An aiohttp session whose connection pool matches the caller's concurrency bound."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(1, concurrency)))
