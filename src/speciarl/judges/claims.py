"""Grading work shared through a cache with in-flight locks (`RedisCache`): what a judge does with the
misses of a batch when its cache can claim pairs.

One cache round trip per batch reads every key, claims as many misses as the judge has free request
slots and registers waits on the pairs other workers hold; the rest queue for the judge's feeder, which
claims them as slots free up (unless another worker has claimed them first, so the work spreads over
every worker that asked for a pair). A pair whose holder fails or vanishes is claimed again. Part of
`BaseJudge` (its base class): the same loop, thread contract and counters (see `base.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..categories import Category
from .verdict import Pair, Verdict

if TYPE_CHECKING:
    import collections

    from .cache import Cache

log = logging.getLogger(__name__)
_FROM_CACHE = {c.value: Verdict(c, source="cache") for c in Category}  # verdicts are immutable: one per label


def _cached_verdict(label: str) -> Verdict:
    """The verdict of a label read from the cache (an unknown label raises, naming it)."""
    return _FROM_CACHE.get(label) or Verdict(Category(label), source="cache")


@dataclass(eq=False)
class _Entry:
    """A key of a batch on a shared cache, until settled: its verdict goes into the batch's `verdicts`
    and to every call waiting for the pair."""

    hash: str
    pair: Pair
    verdicts: dict[Pair, Verdict]
    done: asyncio.Future[None]

    def settle(self, judge: SharedCacheClaims, verdict: Verdict) -> None:
        self.verdicts[self.pair] = verdict
        judge._deliver(self.pair, verdict)
        if not self.done.done():
            self.done.set_result(None)


class SharedCacheClaims:
    """The claim, wait and feed steps of `BaseJudge` on a cache with in-flight locks. Uses the judge's
    `cache`, `stats`, `identity`, `source`, `request_slots`, `_hashed`, `_grade_and_store` and
    `_deliver`, and the loop-bound state `BaseJudge.__init__` sets up (`_free`, `_room_waiter`, `_queue`,
    `_feeder`, `_tasks`)."""

    cache: Cache | None
    stats: Any
    identity: str
    source: str
    request_slots: int | None
    _free: int | None
    _room_waiter: asyncio.Future[None] | None
    _queue: collections.deque[_Entry]
    _feeder: asyncio.Task[None] | None
    _tasks: set[asyncio.Task[None]]

    async def _lookup_and_grade(self, keys: list[Pair], verdicts: dict[Pair, Verdict]) -> None:
        """Cached grades first; of the misses, claim only as many as this judge has free request slots
        and queue the rest for the judge's feeder, which claims them as slots free up (unless another
        worker claims them first: on a cache shared by several workers the work spreads over all of
        them); wait for those another worker holds, and claim again what it fails to deliver."""
        if self.cache is None:
            await self._grade_and_store(keys, verdicts)
            return
        loop = asyncio.get_running_loop()
        entries = {h: _Entry(h, pair, verdicts, loop.create_future()) for h, pair in self._hashed(keys).items()}
        room = self._room()
        pending = await self._claim_round(entries, None if room is None else max(0, min(room, len(entries))))
        if pending:
            self._enqueue(pending)
        for entry in entries.values():
            await entry.done

    async def _claim_round(self, entries: dict[str, _Entry], limit: int | None) -> list[_Entry]:
        """One cache round trip for `entries`, claiming at most `limit` of the misses; hits are settled,
        claimed keys graded and keys held elsewhere waited for (in their own tasks); returns the entries
        left unclaimed."""
        assert self.cache is not None
        if limit is not None:
            self._free -= limit  # reserved before awaiting: the feeder and new batches share the slots
        try:
            found = await self.cache.lookup(list(entries), limit)
        except BaseException:
            self._release(limit or 0)
            raise
        if limit is not None:
            self._release(limit - len(found.owned))
        for h, label in found.found.items():
            entries[h].settle(self, _cached_verdict(label))
        self.stats.cache += len(found.found)
        if found.owned:
            self._spawn(self._grade_entries([entries[h] for h in found.owned], slots=limit is not None))
        if found.elsewhere:
            self._spawn(self._wait_entries([entries[h] for h in found.elsewhere], found.waits))
        return [entries[h] for h in found.pending]

    def _spawn(self, coro) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _fail(self, entries: list[_Entry], exc: BaseException) -> None:
        log.error("judge %s: grading %d pairs failed: %r", self.identity, len(entries), exc)
        for entry in entries:
            if not entry.done.done():
                self.stats.errors += 1
                entry.settle(self, Verdict(None, error=f"grading failed: {exc!r}", source=self.source))

    async def _grade_entries(self, entries: list[_Entry], *, slots: bool) -> None:
        verdicts: dict[Pair, Verdict] = {}
        try:
            await self._grade_and_store([e.pair for e in entries], verdicts, slots=slots)
        except Exception as exc:  # noqa: BLE001 - reported on every pair, never a grade
            self._fail([e for e in entries if e.pair not in verdicts], exc)
        for entry in entries:
            verdict = verdicts.get(entry.pair)
            if verdict is not None:
                entry.settle(self, verdict)
            elif not entry.done.done():
                entry.settle(self, Verdict(None, error="grading interrupted", source=self.source))

    async def _wait_entries(self, entries: list[_Entry], waits: dict[str, asyncio.Future[str | None]]) -> None:
        """Wait for grades another worker holds the lock for; claim again what it fails to deliver."""
        assert self.cache is not None
        try:
            found = await self.cache.wait_for([e.hash for e in entries], waits)
        except Exception as exc:  # noqa: BLE001
            self._fail(entries, exc)
            return
        orphans = []
        for entry in entries:
            label = found.get(entry.hash)
            if label is None:
                orphans.append(entry)
            else:
                entry.settle(self, _cached_verdict(label))
        self.stats.cache += len(entries) - len(orphans)
        if orphans:
            self._enqueue(orphans, front=True)

    def _enqueue(self, entries: list[_Entry], *, front: bool = False) -> None:
        if front:
            self._queue.extendleft(reversed(entries))
        else:
            self._queue.extend(entries)
        if self._feeder is None or self._feeder.done():
            self._feeder = self._spawn(self._feed())

    async def _feed(self) -> None:
        """Claim queued keys as request slots free up: one round trip per wake-up, a few keys more than
        the free slots (so keys another worker graded meanwhile are found too)."""
        queue = self._queue
        while queue:
            room = self._room()
            if room is not None and room <= 0:
                await self._room_changed()
                continue
            n = len(queue) if room is None else min(len(queue), 2 * room + 8)
            chunk = {}
            for _ in range(n):
                entry = queue.popleft()
                if not entry.done.done():
                    chunk[entry.hash] = entry
            if not chunk:
                continue
            try:
                pending = await self._claim_round(chunk, None if room is None else min(room, len(chunk)))
            except Exception as exc:  # noqa: BLE001 - reported on every pair of the chunk, never a grade
                self._fail(list(chunk.values()), exc)
                continue
            queue.extendleft(reversed(pending))

    def _room(self) -> int | None:
        """Free request slots for claimed pairs (None: this judge does not limit them)."""
        if self.request_slots is None:
            return None
        if self._free is None:
            self._free = self.request_slots
        return self._free

    def _release(self, slots: int) -> None:
        if slots and self._free is not None:
            self._free += slots
            waiter, self._room_waiter = self._room_waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _room_changed(self) -> asyncio.Future[None]:
        if self._room_waiter is None:
            self._room_waiter = asyncio.get_running_loop().create_future()
        return self._room_waiter
