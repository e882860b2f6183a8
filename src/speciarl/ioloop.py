"""The process's I/O loop: one long-lived asyncio event loop in a daemon thread (TRL's pattern).

Why: grading and remote prediction are I/O-bound and async at their core, but they are called from
everywhere — a CLI command, TRL's reward function, verl's thread pools and async Ray actors, a user's
notebook. Starting and tearing down an event loop per call closes HTTP sessions and cache
connections between calls and, with several threads, mixes loops. Instead every way in submits to
this one loop, and everything bound to a loop (aiohttp sessions, Redis clients) is created on it and
lives as long as it.

A host that runs its own long-lived loop and awaits us from it (verl's reward workers) may home its
objects on that loop instead (`running_loop_home()`): same contract, no thread crossing.

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

    def __init__(self, adopt: asyncio.AbstractEventLoop | None = None) -> None:
        """Start a loop in a daemon thread, or (`adopt`, called on that loop's thread) stand for a loop
        that the host already runs, such as a verl reward worker's."""
        self.pid = os.getpid()
        # Objects kept for the loop's life (e.g. verl's per-worker judge); touch only on the loop.
        self.state: dict[str, Any] = {}
        self._closers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Link] = weakref.WeakKeyDictionary()
        self._mail: list[tuple[Coroutine[Any, Any, Any], concurrent.futures.Future[Any]]] = []
        self._mail_lock = threading.Lock()
        self._mail_waiting = False
        if adopt is not None:
            self.loop, self.thread, self._ident = adopt, None, threading.get_ident()
            return
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="speciarl-io", daemon=True)
        self.thread.start()
        ready.wait()
        self._ident = self.thread.ident

    @property
    def alive(self) -> bool:
        running = self.thread.is_alive() if self.thread is not None else True
        return self.pid == os.getpid() and running and not self.loop.is_closed()

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """`asyncio.run_coroutine_threadsafe`, except that submissions arriving while the loop has not
        yet picked up the previous ones share one wake-up (a wake-up per call costs a GIL hand-off:
        `speciarl verify` submits hundreds of chunks in a row)."""
        if self.in_loop_thread():
            return asyncio.run_coroutine_threadsafe(coro, self.loop)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._mail_lock:
            self._mail.append((coro, future))
            wake, self._mail_waiting = not self._mail_waiting, True
        if wake:
            self.loop.call_soon_threadsafe(self._collect_mail)
        return future

    def _collect_mail(self) -> None:
        with self._mail_lock:
            mail, self._mail, self._mail_waiting = self._mail, [], False
        for coro, future in mail:
            if future.cancelled():
                coro.close()
                continue
            # the same chaining run_coroutine_threadsafe does (results, exceptions, cancellation both ways)
            asyncio.futures._chain_future(self.loop.create_task(coro), future)  # type: ignore[attr-defined]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("blocking call on speciarl's I/O loop thread (it would wait for itself): await the "
                               "async form instead (e.g. `await judge.agrade(pairs)`)")
        return self.submit(coro).result(timeout)

    async def hop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` on the I/O loop from whichever loop the caller runs on.

        Calls from one foreign loop travel in batches, one thread wake-up per loop iteration each way
        (verl awaits thousands of single-rollout rewards at once; a wake-up per call costs a GIL
        hand-off each)."""
        caller = asyncio.get_running_loop()
        if caller is self.loop:
            return await coro
        link = self._links.get(caller)
        if link is None:
            with _lock:
                link = self._links.setdefault(caller, _Link(self, caller))
        return await link.send(coro)

    def close_at_exit(self, obj: Any) -> None:
        """Call `await obj.aclose()` on this loop when the interpreter exits (weakly held)."""
        self._closers.add(obj)

    def _shutdown(self, timeout: float = 2.0) -> None:
        if not self.alive or self.thread is None:
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


class _Link:
    """Coroutines from one foreign event loop to the I/O loop and their results back, batched.

    Each list is touched by one thread only (`outbox`: the caller's; `inbox`, `tasks`: the I/O loop's);
    whole batches cross with one `call_soon_threadsafe`.
    """

    def __init__(self, io: IOLoop, caller: asyncio.AbstractEventLoop):
        self.io, self.caller = io, caller
        self.outbox: list[tuple[Coroutine[Any, Any, Any], asyncio.Future[Any]]] = []
        self.inbox: list[tuple[asyncio.Future[Any], asyncio.Task[Any]]] = []
        self.tasks: dict[asyncio.Future[Any], asyncio.Task[Any]] = {}

    # caller's thread
    def send(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        fut = self.caller.create_future()
        fut.add_done_callback(self._maybe_cancelled)
        self.outbox.append((coro, fut))
        if len(self.outbox) == 1:
            self.caller.call_soon(self._flush_out)
        return fut

    def _flush_out(self) -> None:
        batch, self.outbox = self.outbox, []
        self.io.loop.call_soon_threadsafe(self._start, batch)

    def _maybe_cancelled(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            self.io.loop.call_soon_threadsafe(self._cancel, fut)

    def _deliver(self, batch: list[tuple[asyncio.Future[Any], asyncio.Task[Any]]]) -> None:
        for fut, task in batch:
            if fut.done():
                continue
            if task.cancelled():
                fut.cancel()
            elif task.exception() is not None:
                fut.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                fut.set_result(task.result())

    # I/O loop's thread
    def _start(self, batch: list[tuple[Coroutine[Any, Any, Any], asyncio.Future[Any]]]) -> None:
        for coro, fut in batch:
            task = self.io.loop.create_task(coro)
            self.tasks[fut] = task
            task.add_done_callback(lambda t, f=fut: self._finished(f, t))

    def _cancel(self, fut: asyncio.Future[Any]) -> None:
        task = self.tasks.get(fut)
        if task is not None:
            task.cancel()

    def _finished(self, fut: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
        self.tasks.pop(fut, None)
        self.inbox.append((fut, task))
        if len(self.inbox) == 1:
            self.io.loop.call_soon(self._flush_in)

    def _flush_in(self) -> None:
        batch, self.inbox = self.inbox, []
        try:
            self.caller.call_soon_threadsafe(self._deliver, batch)
        except RuntimeError:  # the caller's loop is closed: nobody waits for these any more
            pass


def current_io_loop() -> IOLoop | None:
    """This process's I/O loop if it is running, else None (starts nothing)."""
    current = _current
    return current if current is not None and current.alive else None


_adopted: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IOLoop] = weakref.WeakKeyDictionary()


def running_loop_home() -> IOLoop:
    """The running event loop as a home for loop-bound objects (the I/O loop itself when called on it).

    For hosts that run their own long-lived loop and await us from it (verl's reward workers): a judge
    homed there is awaited without crossing threads. Call on that loop."""
    loop = asyncio.get_running_loop()
    home = _adopted.get(loop)  # first: verl calls this once per rollout
    if home is not None and home.pid == os.getpid():
        return home
    current = current_io_loop()
    if current is not None and current.loop is loop:
        return current
    home = _adopted[loop] = IOLoop(adopt=loop)
    return home


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
