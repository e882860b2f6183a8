"""The judge contract: pairs in, one `Verdict` per pair out, with counters by source.

Every judge shares one pipeline (`BaseJudge._agrade_here`): normalise, fast paths, duplicate folding,
then, for what is left, pairs already in flight are joined, the new ones are batched with every other
call's that arrive in the same loop iteration, looked up in the cache and graded by the judge itself.
A failed pair is a `Verdict` with `error` set, never an exception and never a made-up category, so
one bad pair cannot sink a batch. On a cache with in-flight locks (Redis) the misses are claimed,
waited for and fed to the judge as free request slots allow: `claims.py`.

Concurrency model (one for every judge, TRL's pattern): all of a judge's work runs on the process's
I/O loop (`speciarl.ioloop`), a long-lived event loop in a daemon thread. The doors are thin:
`grade()` (blocking, any thread), `submit()` (a concurrent Future, any thread), `submit_each()` (many
groups in one call, each handed to a callback when complete), `agrade()` and `agrade_each()`
(awaitable from any event loop: they hop to the I/O loop). So the HTTP session, the cache connection,
the in-flight table and the counters are only ever touched by that one thread, and live until
`aclose()` / `close()`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..answers import normalize
from ..ioloop import IOLoop, current_io_loop, io_loop
from .claims import SharedCacheClaims, _Entry
from .fastpaths import FastPaths
from .verdict import Pair, Verdict

if TYPE_CHECKING:
    from .cache import Cache

log = logging.getLogger(__name__)

BATCH_LINGER_S = 0.002  # how long a batch with cache lookups waits for more pairs (one round trip for all)
SOURCES = ("exact", "refusal", "cap", "cache", "llm", "taxonomy")


@dataclass
class JudgeStats:
    """Running counters, read by training (cache hit rate, latency per step) and `speciarl verify`.

    `pairs` counts every pair asked for; each pair lands in exactly one of the per-source counters
    (`duplicate` for a repeat inside one batch or one already in flight) or in `errors`.
    `requests` counts HTTP requests sent (retries included), `retries` the repeated ones.
    """

    pairs: int = 0
    exact: int = 0
    refusal: int = 0
    cap: int = 0
    cache: int = 0
    llm: int = 0
    taxonomy: int = 0
    duplicate: int = 0
    errors: int = 0
    requests: int = 0
    retries: int = 0
    calls: int = 0
    seconds: float = 0.0
    last_call_seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def fast_path(self) -> int:
        return self.exact + self.refusal + self.cap

    @property
    def looked_up(self) -> int:
        """Pairs that reached the cache or the judge itself (not settled by a fast path or a duplicate)."""
        return self.cache + self.llm + self.taxonomy + self.errors

    @property
    def cache_hit_rate(self) -> float:
        return self.cache / self.looked_up if self.looked_up else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in (
            "pairs", *SOURCES, "duplicate", "errors", "requests", "retries", "calls", "seconds", "last_call_seconds")}
        data["fast_path"] = self.fast_path
        data["cache_hit_rate"] = self.cache_hit_rate
        return data

    def reset(self) -> None:
        for name, value in JudgeStats().__dict__.items():
            setattr(self, name, value)


@runtime_checkable
class Judge(Protocol):
    """What training, evaluation and `speciarl verify` code against (thread contract: `BaseJudge`)."""

    identity: str
    stats: JudgeStats

    async def agrade(self, pairs: Sequence[Pair]) -> list[Verdict]: ...

    def grade(self, pairs: Sequence[Pair]) -> list[Verdict]: ...

    def submit(self, pairs: Sequence[Pair]) -> concurrent.futures.Future[list[Verdict]]: ...


# json.dumps(..., ensure_ascii=False, separators=(",", ":")) without building an encoder per call
_encode_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def cache_key(gt_norm: str, answer_norm: str, identity: str, prompt_hash: str) -> str:
    """Stable key: the normalised pair, who graded it and the exact prompt (editing it changes keys)."""
    blob = _encode_compact([gt_norm, answer_norm, identity, prompt_hash])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class BaseJudge(SharedCacheClaims):
    """The shared pipeline; subclasses set `identity`, `prompt_hash` and implement `_grade_unique`.

    Thread contract: one judge object may be shared by any number of threads and event loops.
    `grade(pairs)` blocks the calling thread (refused inside a running event loop: await `agrade`),
    `submit(pairs)` returns a `concurrent.futures.Future`, `await agrade(pairs)` works from any event
    loop. All three run the same coroutine on the process's I/O loop, so identical pairs asked by
    different threads or loops at the same time are graded once. `aclose()` / `close()` wait for the
    grading in flight, then release the HTTP session and cache connection; later calls reopen them.

    `_grade_unique` receives distinct normalised pairs that no fast path or cache answered and
    returns one Verdict per pair (source "llm" or "taxonomy", or an error).
    """

    identity: str = "judge"
    prompt_hash: str = ""
    source: str = "llm"
    grades_inline = False  # True: `_grade_unique` never awaits, so no other call can overlap it
    request_slots: int | None = None  # requests at once (claims on a shared cache follow free slots)

    def __init__(self, *, fast_paths: FastPaths | None = None, cache: Cache | None = None):
        self.fast_paths = fast_paths if fast_paths is not None else FastPaths()
        self.cache = cache
        self.stats = JudgeStats()
        self._norm: dict[str, str] = {}
        self._pid = -1  # loop-bound state below belongs to this process's I/O loop
        self._inflight: dict[Pair, asyncio.Future[Verdict]] = {}
        self._batch: list[Pair] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._free: int | None = None  # request slots not reserved by claimed pairs (`_lookup_and_grade`)
        self._room_waiter: asyncio.Future[None] | None = None
        self._queue: collections.deque[_Entry] = collections.deque()  # keys waiting for a free slot to claim
        self._feeder: asyncio.Task[None] | None = None
        self._home: IOLoop | None = None  # None: the process's I/O loop

    @property
    def home(self) -> IOLoop:
        """The loop this judge's work and loop-bound resources live on."""
        return self._home if self._home is not None and self._home.alive else io_loop()

    def rehome(self, home: IOLoop) -> None:
        """Live on another long-lived loop (`speciarl.ioloop.running_loop_home()`), before first use."""
        if self._pid == os.getpid():
            raise RuntimeError("rehome() a judge before its first use")
        self._home = home

    # -- subclass hook -------------------------------------------------------------------------------
    async def _grade_unique(self, pairs: list[Pair]) -> list[Verdict]:
        raise NotImplementedError

    # -- public API: thin doors to the I/O loop --------------------------------------------------------
    def normalize(self, text: str) -> str:
        """`answers.normalize`, memoised: batches repeat the same labels over and over."""
        out = self._norm.get(text)
        if out is None:
            if len(self._norm) > 500_000:
                self._norm.clear()
            out = self._norm[text] = normalize(text)
        return out

    def grade(self, pairs: Sequence[Pair]) -> list[Verdict]:
        """Blocking form, for sync callers in any thread (not from inside a running event loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("judge.grade() called inside a running event loop (it would block it): "
                               "use `await judge.agrade(pairs)`")
        return self.home.run(self._agrade_here(list(pairs)))

    def submit(self, pairs: Sequence[Pair]) -> concurrent.futures.Future[list[Verdict]]:
        """Non-blocking form for sync callers: a Future of the verdicts, graded on the I/O loop."""
        return self.home.submit(self._agrade_here(list(pairs)))

    def submit_each(self, groups: Sequence[Sequence[Pair]],
                    on_done: Callable[[list[tuple[int, list[Verdict]]]], None]) -> concurrent.futures.Future[None]:
        """Grade many small groups of pairs in one call, handing each group over as soon as it is
        complete: `on_done([(group index, verdicts), ...])` with every group completed in the same
        loop iteration. For sync callers that use each group when it is done (`speciarl verify` writes
        a chunk of records): one trip to the I/O loop and one pass over all the pairs instead of one
        per group, and one hand-over per burst of grades instead of one per group.

        `on_done` runs on the I/O loop's thread and must not block (put the list on a queue).
        The Future ends when every group has been handed over; it carries the exception if `on_done`
        raised. Cancelling it stops the handing over, not the grading other calls share."""
        return self.home.submit(self._agrade_groups([list(group) for group in groups], on_done))

    async def agrade(self, pairs: Sequence[Pair]) -> list[Verdict]:
        """One Verdict per pair, in order; never raises for a single failed pair. Any event loop."""
        return await self.home.hop(self._agrade_here(list(pairs)))

    async def agrade_each(self, groups: Sequence[Sequence[Pair]],
                          on_done: Callable[[list[tuple[int, list[Verdict]]]], None]) -> None:
        """`submit_each` for event-loop callers: returns when every group has been handed over.
        `on_done` runs on the judge's home loop (the caller's own for a judge homed there, as verl's
        reward does: `rehome`), so it may resolve that loop's futures directly."""
        await self.home.hop(self._agrade_groups([list(group) for group in groups], on_done))

    async def aclose(self) -> None:
        """Wait for the grading in flight, then release the session and cache connection."""
        await self.home.hop(self._aclose_here())

    def close(self) -> None:
        """Blocking `aclose` for sync callers (a no-op when the I/O loop never ran)."""
        loop = self._home if self._home is not None and self._home.alive else current_io_loop()
        if loop is None or loop.in_loop_thread():
            if self.cache is not None:
                self.cache.close()
            return
        loop.run(self._aclose_here())

    async def __aenter__(self) -> BaseJudge:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- on the I/O loop -----------------------------------------------------------------------------
    def _bind(self) -> None:
        """First use in this process: forget loop-bound state a fork may have copied, close at exit."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._inflight, self._batch, self._flush_scheduled, self._tasks = {}, [], False, set()
            self._free, self._room_waiter, self._queue, self._feeder = None, None, collections.deque(), None
            self._forget_loop_resources()
            if self._home is None:  # a judge homed on a host's loop is closed by that host
                io_loop().close_at_exit(self)

    def _forget_loop_resources(self) -> None:
        """Subclasses drop their loop-bound objects (HTTP session) here, without closing them."""

    async def _aclose_here(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.cache is not None:
            await self.cache.aclose()

    def _fold(self, pairs: list[Pair]) -> tuple[list[Verdict | None], dict[Pair, list[int]]]:
        """Settle what needs no lookup: (verdicts by position, None where pending; normalised pair ->
        the positions waiting for its verdict). Counts fast paths and repeats."""
        results: list[Verdict | None] = [None] * len(pairs)
        stats = self.stats
        stats.pairs += len(pairs)
        stats.calls += 1
        check, norm, memo = self.fast_paths.check, self.normalize, self._norm
        # Fold raw duplicates first: rollouts of one image repeat the same answer a lot.
        key_of: dict[Pair, Pair | int] = {}  # raw pair -> its normalised pair, or the position of its fast verdict
        todo: dict[Pair, list[int]] = {}  # normalised pair -> positions
        for i, pair in enumerate(pairs):
            seen = key_of.get(pair)
            if seen is not None:
                stats.duplicate += 1
                if type(seen) is int:
                    results[i] = results[seen]
                else:
                    todo[seen].append(i)
                continue
            key = (memo.get(pair[0]) or norm(pair[0]), memo.get(pair[1]) or norm(pair[1]))
            positions = todo.get(key)
            if positions is not None:
                positions.append(i)
                key_of[pair] = key
                stats.duplicate += 1
                continue
            fast = check(key[0], key[1], pair[1])
            if fast is not None:
                results[i] = fast
                key_of[pair] = i
                setattr(stats, fast.source, getattr(stats, fast.source) + 1)
                continue
            key_of[pair] = key
            todo[key] = [i]
        return results, todo

    def _timed(self, started: float) -> None:
        elapsed = time.perf_counter() - started
        self.stats.seconds += elapsed
        self.stats.last_call_seconds = elapsed

    async def _agrade_here(self, pairs: list[Pair]) -> list[Verdict]:
        self._bind()
        started = time.perf_counter()
        results, todo = self._fold(pairs)
        if todo:
            if self.cache is None and self.grades_inline:  # nothing to wait for: grade right here
                verdicts: dict[Pair, Verdict] = {}
                await self._grade_and_store(list(todo), verdicts)
            else:
                verdicts = await self._join(list(todo))
            for key, positions in todo.items():
                verdict = verdicts[key]
                for i in positions:
                    results[i] = verdict
        self._timed(started)
        return results  # type: ignore[return-value]

    async def _agrade_groups(self, groups: list[list[Pair]],
                             on_done: Callable[[list[tuple[int, list[Verdict]]]], None]) -> None:
        """`_agrade_here` over all groups at once, handing groups over as soon as they are complete."""
        self._bind()
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        pairs = [pair for group in groups for pair in group]
        results, todo = self._fold(pairs)
        group_of: list[int] = []
        for g, group in enumerate(groups):
            group_of.extend([g] * len(group))
        starts = [0]
        for group in groups:
            starts.append(starts[-1] + len(group))
        remaining = [0] * len(groups)  # positions of each group still waiting for a verdict
        for positions in todo.values():
            for i in positions:
                remaining[group_of[i]] += 1
        failed: list[BaseException] = []
        ready: list[int] = []  # groups completed in this loop iteration, handed over together at its end
        live = [True]  # False once this call ends (cancelled): nothing more is handed over

        def hand_over() -> None:
            done, ready[:] = list(ready), []
            if not live[0] or not done:
                return
            try:
                on_done([(g, results[starts[g]:starts[g + 1]]) for g in done])  # type: ignore[misc]
            except BaseException as exc:  # noqa: BLE001 - the caller's callback: re-raised at the end
                failed.append(exc)

        def complete(g: int) -> None:
            if not ready:
                loop.call_soon(hand_over)
            ready.append(g)

        def settle(key: Pair, verdict: Verdict) -> None:
            for i in todo[key]:
                results[i] = verdict
                g = group_of[i]
                remaining[g] -= 1
                if not remaining[g]:
                    complete(g)

        for g, left in enumerate(remaining):
            if not left:
                complete(g)
        try:
            if todo and self.cache is None and self.grades_inline:
                verdicts: dict[Pair, Verdict] = {}
                await self._grade_and_store(list(todo), verdicts)
                for key, verdict in verdicts.items():
                    settle(key, verdict)
            elif todo:
                waiting: dict[asyncio.Future[Verdict], Callable[[Any], None]] = {}
                for key, fut in self._register(list(todo)).items():
                    if fut.done():
                        settle(key, fut.result())
                    else:
                        waiting[fut] = callback = (lambda f, key=key: settle(key, f.result()))
                        fut.add_done_callback(callback)
                try:
                    if waiting:  # asyncio.wait never cancels them: other calls may share these pairs
                        await asyncio.wait(waiting)
                finally:
                    for fut, callback in waiting.items():
                        fut.remove_done_callback(callback)
            hand_over()  # what completed since the last hand-over (its scheduled call finds nothing)
        finally:  # cancelled: hand nothing more over
            live[0] = False
        self._timed(started)
        if failed:
            raise failed[0]

    def _register(self, keys: list[Pair]) -> dict[Pair, asyncio.Future[Verdict]]:
        """A future per key: the one in flight, else a new one queued for the next batch."""
        loop = asyncio.get_running_loop()
        futures: dict[Pair, asyncio.Future[Verdict]] = {}
        for key in keys:
            fut = self._inflight.get(key)
            if fut is None:
                fut = self._inflight[key] = loop.create_future()
                self._batch.append(key)
            else:
                self.stats.duplicate += 1
            futures[key] = fut
        if self._batch and not self._flush_scheduled:
            self._flush_scheduled = True
            if self.cache is None:
                loop.call_soon(self._flush)
            else:  # a cache round trip per batch: let calls arriving a moment later join this one
                loop.call_later(BATCH_LINGER_S, self._flush)
        return futures

    async def _join(self, keys: list[Pair]) -> dict[Pair, Verdict]:
        """Verdicts for keys: join those in flight, queue the rest for the next batch."""
        futures = self._register(keys)
        return {key: fut.result() if fut.done() else await asyncio.shield(fut) for key, fut in futures.items()}

    def _flush(self) -> None:
        """Start one batch with every key queued during this loop iteration (one cache round trip)."""
        self._flush_scheduled = False
        keys, self._batch = self._batch, []
        if keys:
            task = asyncio.ensure_future(self._settle(keys))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _settle(self, keys: list[Pair]) -> None:
        verdicts: dict[Pair, Verdict] = {}
        try:
            await self._lookup_and_grade(keys, verdicts)
        except Exception as exc:  # noqa: BLE001 - reported on every pair of the batch, never a grade
            log.exception("judge %s: grading a batch of %d pairs failed", self.identity, len(keys))
            missing = [k for k in keys if k not in verdicts]
            self.stats.errors += len(missing)
            for key in missing:
                verdicts[key] = Verdict(None, error=f"grading failed: {exc!r}", source=self.source)
        finally:
            for key in keys:
                fut = self._inflight.pop(key, None)
                if fut is not None and not fut.done():
                    fut.set_result(verdicts.get(key) or Verdict(None, error="grading interrupted", source=self.source))

    def _hashed(self, keys: list[Pair]) -> dict[str, Pair]:
        return {cache_key(g, a, self.identity, self.prompt_hash): (g, a) for g, a in keys}

    async def _graded(self, keys: list[Pair]):
        """Lists of (key, verdict) as grades finish; judges that can stream override this."""
        yield list(zip(keys, await self._grade_unique(keys), strict=True))

    def _deliver(self, key: Pair, verdict: Verdict) -> None:
        """Hand a finished (and stored) verdict to every call waiting for it, right away: callers stream.
        The key stays in the in-flight table, answered, until its batch ends."""
        fut = self._inflight.get(key)
        if fut is not None and not fut.done():
            fut.set_result(verdict)

    async def _grade_and_store(self, keys: list[Pair], verdicts: dict[Pair, Verdict], *, slots: bool = False) -> None:
        """Grade keys with the judge itself and count them; each group of grades that finish together is
        stored in the cache (one transaction, releasing our locks), then handed to the waiting calls.
        `slots`: the keys hold reserved request slots (`_lookup_and_grade`), freed as they finish."""
        if not keys:
            return
        held = [len(keys) if slots else 0]
        try:
            await self._grade_groups(keys, verdicts, held)
        finally:
            self._release(held[0])

    async def _grade_groups(self, keys: list[Pair], verdicts: dict[Pair, Verdict], held: list[int]) -> None:
        stats, cache = self.stats, self.cache
        async for group in self._graded(keys):
            for key, verdict in group:
                verdicts[key] = verdict
                source = verdict.source if verdict.ok else "errors"
                setattr(stats, source, getattr(stats, source) + 1)
            if held[0]:  # the requests are done: room for the next claims while this group is stored
                self._release(len(group))
                held[0] -= len(group)
            if cache is not None:
                hashed = [(cache_key(k[0], k[1], self.identity, self.prompt_hash), v) for k, v in group]
                await cache.put_many({h: v.category.value for h, v in hashed if v.ok},  # type: ignore[union-attr]
                                     release=[h for h, _ in hashed])
            for key, verdict in group:
                self._deliver(key, verdict)
