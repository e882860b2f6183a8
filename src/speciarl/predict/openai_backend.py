"""Prediction through any OpenAI-compatible server that serves a VLM (vLLM, SGLang, TGI, a hosted API).

Why: the model may already be served somewhere (a shared vLLM server, a hosted API); then the eval
needs no GPU of its own. Each (sample, prediction index) is one chat-completion request with the
image as a base64 data URL (the file's own bytes: no re-encoding, so the server sees the exact
pixels) and a per-index seed, so a resumed run asks for exactly the samples an uninterrupted run
would have. Requests run concurrently (bounded) on the process's I/O loop, with the transport of
`speciarl.http` (URL, request, retries) that the judge uses too.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from ..configfile import field_defaults
from ..errors import ConfigError, SpeciarlError
from ..http import (HTTPError, Retryable, RetryPolicy, auth_headers, chat_completions_url, make_session, post_once,
                    with_retries)
from ..ioloop import io_loop
from .base import Completion, PredictRequest, SamplingParams, derived_seed, open_image
from .config import OpenAIBackend

_D = field_defaults(OpenAIBackend)  # keyword defaults: defined once, in the `model:` schema

# Statuses that mean the whole configuration is wrong (bad key, unknown model): stop the run.
FATAL_STATUSES = frozenset({401, 403, 404})
_DONE = object()


def image_data_url(sample: Any) -> tuple[str | None, str | None]:
    """(data URL, None) or (None, reason). The image is decoded once to reject corrupt files early."""
    image, error = open_image(sample)
    if error is not None:
        return None, error
    path = getattr(sample, "image_path", None)
    fmt = None
    if path is not None:
        from PIL import Image

        with Image.open(path) as img:
            fmt = (img.format or "").lower()
    if path is not None and fmt in ("jpeg", "png", "webp", "gif"):
        with open(path, "rb") as fh:
            data, mime = fh.read(), f"image/{fmt}"
    else:  # a format servers may not read, or an image without a file: send lossless PNG
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", None


def chat_payload(model: str, prompt_text: str, data_url: str, sampling: SamplingParams, seed: int,
                 extra_body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One chat-completion request body: image content part first, then the prompt text."""
    payload: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url}},
            {"type": "text", "text": prompt_text},
        ]}],
        "max_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "seed": seed,
    }
    if not sampling.greedy:
        payload["top_p"] = sampling.top_p
    payload.update(extra_body or {})
    return payload


def reply_text(reply: dict[str, Any]) -> str:
    """The assistant text of a chat-completion reply; a malformed reply is `Retryable` (an unusable reply)."""
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise Retryable(f"malformed chat-completion reply: {str(reply)[:200]}", reply=True) from None
    if not isinstance(content, str):
        raise Retryable(f"chat-completion reply without text content: {str(reply)[:200]}", reply=True)
    return content


class OpenAIPredictor:
    """Client for an OpenAI-compatible `/chat/completions` endpoint serving a VLM."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        name: str | None = _D.name,
        api_key: str | None = None,
        api_key_env: str | None = _D.api_key_env,
        concurrency: int = _D.concurrency,
        timeout: float = _D.timeout,
        max_retries: int = _D.max_retries,
        backoff_base: float = _D.backoff_base,
        backoff_max: float = _D.backoff_max,
        extra_body: dict[str, Any] | None = _D.extra_body,
    ):
        if not base_url or not model:
            raise ConfigError("model: the openai backend needs base_url and model (the served model name)")
        if concurrency < 1:
            raise ConfigError(f"model.concurrency must be >= 1, got {concurrency}")
        self.url = chat_completions_url(base_url)
        self.served_model = model
        self.model_name = name or model
        self.headers = auth_headers(api_key, api_key_env)
        self.concurrency = concurrency
        self.policy = RetryPolicy(max_retries=max_retries, backoff_base=backoff_base,
                                  backoff_max=backoff_max, timeout=timeout)
        self.extra_body = dict(extra_body or {})

    def predict(self, requests: Iterable[PredictRequest], sampling: SamplingParams) -> Iterator[Completion]:
        """Runs the requests on the process's I/O loop (`speciarl.ioloop`); yields completions as they finish.

        Thread contract: call from any thread but the I/O loop's; one predictor may serve several
        `predict` calls one after the other (each has its own session, closed when it ends).
        """
        out: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        async def worker() -> None:
            try:
                await self._run(requests, sampling, out, stop)
            except BaseException as exc:  # surfaced in the caller's thread
                out.put(exc)
            out.put(_DONE)

        running = io_loop().submit(worker())
        try:
            while True:
                item = out.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            try:
                running.result(timeout=5)
            except Exception:  # noqa: BLE001 - already surfaced above, or the caller stopped early
                pass

    async def _run(self, requests: Iterable[PredictRequest], sampling: SamplingParams,
                   out: queue.Queue[Any], stop: threading.Event) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        fatal: list[BaseException] = []
        async with make_session(self.concurrency, headers=self.headers) as session:
            tasks: set[asyncio.Task[None]] = set()

            async def one(request: PredictRequest, index: int, data_url: str) -> None:
                try:
                    seed = derived_seed(sampling.seed, request.sample.sample_id, index)
                    payload = chat_payload(self.served_model, request.prompt.text, data_url, sampling, seed,
                                           self.extra_body)
                    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")

                    async def attempt() -> str:
                        return reply_text(await post_once(session, self.url, body, timeout=self.policy.timeout))

                    try:
                        text = await with_retries(attempt, self.policy)
                        out.put(Completion(request, index, text))
                    except HTTPError as exc:
                        if exc.status in FATAL_STATUSES:
                            fatal.append(exc)
                        out.put(Completion(request, index, None, str(exc), "backend"))
                finally:
                    sem.release()

            pending = iter(requests)
            while True:  # the requests iterator may read files: advance it off the shared loop
                request = await asyncio.to_thread(next, pending, None)
                if request is None:
                    break
                data_url, error = await asyncio.to_thread(image_data_url, request.sample)
                for index in request.indices:
                    if error is not None:
                        out.put(Completion(request, index, None, error))
                        continue
                    await sem.acquire()
                    if fatal or stop.is_set():
                        sem.release()
                        break
                    task = asyncio.create_task(one(request, index, data_url))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if fatal or stop.is_set():
                    break
            if tasks:
                await asyncio.gather(*tasks)
        if fatal:
            raise SpeciarlError(f"prediction server refused the requests: {fatal[0]}")

    def close(self) -> None:
        pass
