"""The process's I/O loop: one long-lived asyncio event loop in a daemon thread (TRL's pattern).

Why: grading and remote prediction are I/O-bound and async at their core, but they are called from
everywhere — a CLI command, TRL's reward function, verl's thread pools and async Ray actors, a user's
notebook. Starting and tearing down an event loop per call closes HTTP sessions and cache
connections between calls and, with several threads, mixes loops. Instead every way in submits to
this one loop, and everything bound to a loop (aiohttp sessions, Redis clients) is created on it and
lives as long as it.

Thread contract:
- `io_loop()` may be called from any thread; a forked child starts its own loop (threads do not
  survive a fork).
- `IOLoop.run(coro)`: blocking, from any thread except the loop's own (that would deadlock: a clear
  RuntimeError instead).
- `IOLoop.submit(coro)`: non-blocking, from any thread; a `concurrent.futures.Future`.
- `await IOLoop.hop(coro)`: from any event loop; runs `coro` on the I/O loop (directly when already
  on it); cancelling the awaiting task cancels the work.
Code running on the loop must never block it: blocking calls (SQLite, file reads) go to an executor.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_current: IOLoop | None = None


class IOLoop:
    """An event loop running forever in a daemon thread; see the module docstring for the contract."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        # Objects this process keeps for the loop's life (e.g. verl's per-worker judge); touch only on the loop.
        self.state: dict[str, Any] = {}
        self._closers: weakref.WeakSet[Any] = weakref.WeakSet()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="speciarl-io", daemon=True)
        self.thread.start()
        ready.wait()

    @property
    def alive(self) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and not self.loop.is_closed()

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread.ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("blocking call on speciarl's I/O loop thread (it would wait for itself): await the "
                               "async form instead (e.g. `await judge.agrade(pairs)`)")
        return self.submit(coro).result(timeout)

    async def hop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the I/O loop from whichever loop the caller runs on."""
        if asyncio.get_running_loop() is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def close_at_exit(self, obj: Any) -> None:
        """Call `await obj.aclose()` on this loop when the interpreter exits (weakly held)."""
        self._closers.add(obj)

    def _shutdown(self, timeout: float = 2.0) -> None:
        if not self.alive:
            return
        closers = list(self._closers)

        async def close_all() -> None:
            await asyncio.gather(*(c.aclose() for c in closers), return_exceptions=True)

        try:
            self.submit(close_all()).result(timeout)
        except Exception:  # noqa: BLE001 - best effort at exit: nothing is left to report to
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


def current_io_loop() -> IOLoop | None:
    """This process's I/O loop if it is running, else None (starts nothing)."""
    current = _current
    return current if current is not None and current.alive else None


def io_loop() -> IOLoop:
    """This process's I/O loop, started on first use."""
    global _current
    current = _current
    if current is not None and current.alive:
        return current
    with _lock:
        if _current is None or not _current.alive:
            _current = IOLoop()
        return _current


@atexit.register
def _close_at_exit() -> None:
    if _current is not None:
        _current._shutdown()
