"""A real OpenAI-compatible chat server for tests and benchmarks, with scripted faults.

Runs in a background thread (`OpenAIServer`) or as a subprocess (`python openai_server.py --port N`,
or `ServerProcess`). `reply(body) -> str` decides the assistant message for a request body (default:
a rule table keyed by the judge's JSON pair); `faults` is a queue of faults applied to the next
requests, in order; `fault_for(body) -> fault | None` scripts faults per request. Faults:
"500", "503", "429", "hang" (sleep past any client timeout), "malformed" (200 with a body that is
not a chat completion), "garbage" (200, a reply that is no label), "drop" (close the connection
without a response). `stop()` / `start()` / `restart()` keep the same port, so outage tests can take
the server away and bring it back.

Usage from tests (not a package): `sys.path.insert(0, "tests/helpers")`, then
`from openai_server import OpenAIServer`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

Reply = Callable[[dict[str, Any]], str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_pair(body: dict[str, Any]) -> tuple[str, str] | None:
    """(ground_truth, prediction) of a judge request, or None if the user message is not one."""
    try:
        content = body["messages"][-1]["content"]
        data = json.loads(content) if isinstance(content, str) else None
        return (data["ground_truth"], data["prediction"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


class RuleTable:
    """Grades judge requests from a table {(gt_norm, pred_norm): label}; unknown pairs are `default`."""

    def __init__(self, table: dict[tuple[str, str], str] | None = None, default: str = "wrong"):
        self.table = dict(table or {})
        self.default = default

    def __call__(self, body: dict[str, Any]) -> str:
        pair = user_pair(body)
        if pair is None:
            return self.default
        return self.table.get(pair, self.default)


def hash_rule(body: dict[str, Any]) -> str:
    """A deterministic grade from the pair itself (benchmarks: no table to ship)."""
    import zlib

    labels = ("wrong", "generic", "less specific", "specific", "more specific", "abstain")
    pair = user_pair(body) or ("", "")
    return labels[zlib.crc32(json.dumps(pair).encode()) % len(labels)]


def usage(body: dict[str, Any], content: str) -> dict[str, int]:
    """Token counts as a server reports them; here one token per whitespace-separated word."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []) if isinstance(m, dict))
    completion = len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# One step down the ladder specific -> less specific -> generic -> abstain -> wrong.
LADDER_DOWN = {"specific": "less specific", "more specific": "less specific", "less specific": "generic",
               "generic": "abstain", "abstain": "wrong", "wrong": "wrong"}
SCRIPTED_MODES = ("perfect", "specific", "down")


class ScriptedJudge(RuleTable):
    """A judge with a known error pattern, for audits: the table holds the right label of each pair.

    mode "perfect" answers it, "specific" always answers `specific`, "down" answers it one step down
    the ladder (so `wrong` stays `wrong`). Pairs not in the table get `default`.
    """

    def __init__(self, table: dict[tuple[str, str], str], mode: str = "perfect", default: str = "wrong"):
        if mode not in SCRIPTED_MODES:
            raise ValueError(f"mode must be one of {SCRIPTED_MODES}, got {mode!r}")
        super().__init__(table, default)
        self.mode = mode

    def __call__(self, body: dict[str, Any]) -> str:
        if self.mode == "specific":
            return "specific"
        label = super().__call__(body)
        return LADDER_DOWN[label] if self.mode == "down" else label


class _Lifecycle:
    """start / stop / restart (same port) / context manager, shared by the thread and process servers."""

    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OpenAIServer(_Lifecycle):
    """`/v1/chat/completions` (and `/v1/models`) on 127.0.0.1 in a background thread."""

    def __init__(self, reply: Reply | None = None, *, port: int | None = None, latency: float = 0.0,
                 hang_seconds: float = 30.0, model: str = "test-judge"):
        self.reply = reply or RuleTable()
        self.port = port or free_port()
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.model = model
        self.faults: collections.deque[str] = collections.deque()
        self.fault_for: Callable[[dict[str, Any]], str | None] | None = None
        self.requests: list[dict[str, Any]] = []  # every request body received
        self.headers: list[dict[str, str]] = []  # and its headers
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests handled at once (concurrency bound checks)
        self.answered: collections.Counter[tuple[str, str] | None] = collections.Counter()  # graded replies
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- request handling ---------------------------------------------------------------------------
    def _next_fault(self, body: dict[str, Any], headers: dict[str, str]) -> str | None:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self.faults:
                return self.faults.popleft()
        return self.fault_for(body) if self.fault_for else None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        fault = self._next_fault(body, dict(request.headers))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._respond(request, body, fault)
        finally:
            self.in_flight -= 1

    async def _respond(self, request: web.Request, body: dict[str, Any], fault: str | None) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault in ("500", "502", "503", "429"):
            headers = {"Retry-After": "0"} if fault == "429" else {}
            return web.json_response({"error": {"message": f"scripted {fault}"}}, status=int(fault), headers=headers)
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if fault == "malformed":
            return web.Response(text='{"choices": [', content_type="application/json")
        if fault == "garbage":
            content = "I think the answer is probably fine"
        else:
            content = self.reply(body)
            with self.lock:
                self.answered[user_pair(body)] += 1
        return web.json_response({
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": usage(body, content),
        })

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    # -- lifecycle ----------------------------------------------------------------------------------
    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True,
                                    shutdown_timeout=0.2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    def start(self) -> OpenAIServer:
        if self._thread is not None:
            return self
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                errors.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"openai-server-{self.port}", daemon=True)
        self._thread.start()
        started.wait(10)
        if errors:
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.headers.clear()
            self.answered.clear()
            self.max_in_flight = 0


class ServerProcess(_Lifecycle):
    """The same server in a subprocess (its own CPU and GIL: what benchmarks need)."""

    def __init__(self, *, port: int | None = None, latency: float = 0.0, table: str | None = None):
        self.port = port or free_port()
        self.args = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), "--latency", str(latency)]
        if table:
            self.args += ["--table", table]
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "ready" once listening
        if "ready" not in line:
            raise RuntimeError(f"test server did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--table", help="JSON list of [ground_truth, prediction, label]; default: a hash rule")
    args = parser.parse_args(argv)
    reply: Reply = hash_rule
    if args.table:
        rows = json.loads(Path(args.table).read_text())
        reply = RuleTable({(g, p): label for g, p, label in rows})
    server = OpenAIServer(reply, port=args.port or None, latency=args.latency)
    server.start()
    print(f"ready {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
