"""The judge contract: pairs in, one `Verdict` per pair out, with counters by source.

Every judge shares one pipeline (`BaseJudge.agrade`): normalise, fast paths, duplicate folding,
cache, then the judge's own grading of what is left. A failed pair is a `Verdict` with `error` set,
never an exception and never a made-up category, so one bad pair cannot sink a batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..answers import normalize
from ..categories import Category
from .fastpaths import FastPaths
from .verdict import Verdict

if TYPE_CHECKING:
    from .cache import Cache

Pair = tuple[str, str]  # (ground truth, answer), raw strings

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
    """What training, evaluation and `speciarl verify` code against."""

    identity: str
    stats: JudgeStats

    async def agrade(self, pairs: Sequence[Pair]) -> list[Verdict]: ...

    def grade(self, pairs: Sequence[Pair]) -> list[Verdict]: ...


def cache_key(gt_norm: str, answer_norm: str, identity: str, prompt_hash: str) -> str:
    """Stable key: the normalised pair, who graded it and the exact prompt (editing it changes keys)."""
    blob = json.dumps([gt_norm, answer_norm, identity, prompt_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def text_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class BaseJudge:
    """The shared pipeline; subclasses set `identity`, `prompt_hash` and implement `_grade_unique`.

    `_grade_unique` receives distinct normalised pairs that no fast path or cache answered and
    returns one Verdict per pair (source "llm" or "taxonomy", or an error).
    """

    identity: str = "judge"
    prompt_hash: str = ""
    source: str = "llm"
    grades_inline = False  # True: `_grade_unique` never awaits, so no other call can overlap it

    def __init__(self, *, fast_paths: FastPaths | None = None, cache: Cache | None = None):
        self.fast_paths = fast_paths if fast_paths is not None else FastPaths()
        self.cache = cache
        self.stats = JudgeStats()
        self._norm: dict[str, str] = {}
        self._inflight: dict[Pair, asyncio.Future[Verdict]] = {}

    # -- subclass hook -------------------------------------------------------------------------------
    async def _grade_unique(self, pairs: list[Pair]) -> list[Verdict]:
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        """`answers.normalize`, memoised: batches repeat the same labels over and over."""
        out = self._norm.get(text)
        if out is None:
            if len(self._norm) > 500_000:
                self._norm.clear()
            out = self._norm[text] = normalize(text)
        return out

    def grade(self, pairs: Sequence[Pair]) -> list[Verdict]:
        """Sync helper for sync callers (not from inside a running event loop: use `agrade`)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("judge.grade() called inside a running event loop: use `await judge.agrade(pairs)`")

        async def run() -> list[Verdict]:
            try:
                return await self.agrade(pairs)
            finally:
                await self.aclose()

        return asyncio.run(run())

    async def agrade(self, pairs: Sequence[Pair]) -> list[Verdict]:
        """One Verdict per pair, in order; never raises for a single failed pair."""
        started = time.perf_counter()
        results: list[Verdict | None] = [None] * len(pairs)
        stats = self.stats
        stats.pairs += len(pairs)
        stats.calls += 1
        check, norm, memo = self.fast_paths.check, self.normalize, self._norm
        # Fold raw duplicates first: rollouts of one image repeat the same answer a lot.
        first_of: dict[Pair, int] = {}
        todo: dict[Pair, list[int]] = {}  # normalised pair -> positions
        for i, pair in enumerate(pairs):
            if pair in first_of:
                continue
            first_of[pair] = i
            key = (memo.get(pair[0]) or norm(pair[0]), memo.get(pair[1]) or norm(pair[1]))
            positions = todo.get(key)
            if positions is not None:
                positions.append(i)
                stats.duplicate += 1
                continue
            fast = check(key[0], key[1], pair[1])
            if fast is not None:
                results[i] = fast
                setattr(stats, fast.source, getattr(stats, fast.source) + 1)
                continue
            todo[key] = [i]
        if todo:
            await self._resolve(todo, results)
        for i, pair in enumerate(pairs):
            if results[i] is None:
                results[i] = results[first_of[pair]]
                stats.duplicate += 1
        elapsed = time.perf_counter() - started
        stats.seconds += elapsed
        stats.last_call_seconds = elapsed
        return results  # type: ignore[return-value]

    def _hashed(self, keys: list[Pair]) -> dict[str, Pair]:
        return {cache_key(g, a, self.identity, self.prompt_hash): (g, a) for g, a in keys}

    def _take(self, labels: dict[str, str], hashed: dict[str, Pair], verdicts: dict[Pair, Verdict]) -> dict[str, str]:
        """Turn cached labels into verdicts (and count them); returns `labels`."""
        for h, label in labels.items():
            verdicts[hashed[h]] = Verdict(Category(label), source="cache")
        self.stats.cache += len(labels)
        return labels

    async def _from_cache(self, keys: list[Pair], verdicts: dict[Pair, Verdict]) -> tuple[list[Pair], list[Pair]]:
        """Look keys up and claim the misses: (keys this call grades, keys another worker is grading)."""
        assert self.cache is not None
        hashed = self._hashed(keys)
        hits = self._take(await self.cache.get_many(list(hashed)), hashed, verdicts)
        misses = [h for h in hashed if h not in hits]
        owned, elsewhere = await self.cache.claim(misses) if misses else ([], [])
        return [hashed[h] for h in owned], [hashed[h] for h in elsewhere]

    async def _wait_elsewhere(self, keys: list[Pair], verdicts: dict[Pair, Verdict]) -> list[Pair]:
        """Wait for grades another worker holds the lock for; returns the keys it failed to deliver."""
        if not keys:
            return []
        assert self.cache is not None
        hashed = self._hashed(keys)
        found = self._take(await self.cache.wait_for(list(hashed)), hashed, verdicts)
        return [k for h, k in hashed.items() if h not in found]

    async def _grade_and_store(self, keys: list[Pair], verdicts: dict[Pair, Verdict]) -> None:
        """Grade keys with the judge itself, count them, cache the successes and release our locks."""
        if not keys:
            return
        graded = await self._grade_unique(keys)
        by_source: dict[str, int] = {}
        for k, verdict in zip(keys, graded, strict=True):
            verdicts[k] = verdict
            source = verdict.source if verdict.ok else "errors"
            by_source[source] = by_source.get(source, 0) + 1
        for source, n in by_source.items():
            setattr(self.stats, source, getattr(self.stats, source) + n)
        if self.cache is not None:
            hashed = {k: cache_key(k[0], k[1], self.identity, self.prompt_hash) for k in keys}
            good = {hashed[k]: verdicts[k].category.value for k in keys if verdicts[k].ok}  # type: ignore[union-attr]
            await self.cache.put_many(good, release=list(hashed.values()))

    async def _resolve(self, todo: dict[Pair, list[int]], results: list[Verdict | None]) -> None:
        verdicts: dict[Pair, Verdict] = {}
        # Pairs another call of this judge is grading right now: wait for that result.
        waiting = {k: self._inflight[k] for k in todo if k in self._inflight}
        keys = [k for k in todo if k not in waiting]
        futures: dict[Pair, asyncio.Future[Verdict]] = {}
        if self.cache is not None or not self.grades_inline:  # others may ask for these keys meanwhile
            loop = asyncio.get_running_loop()
            futures = {k: loop.create_future() for k in keys}
            self._inflight.update(futures)
        try:
            owned, elsewhere = keys, []
            if self.cache is not None and keys:
                owned, elsewhere = await self._from_cache(keys, verdicts)
            if elsewhere:  # grade ours while another worker grades the rest; take over what it fails
                _, orphans = await asyncio.gather(self._grade_and_store(owned, verdicts),
                                                  self._wait_elsewhere(elsewhere, verdicts))
                await self._grade_and_store(orphans, verdicts)
            else:
                await self._grade_and_store(owned, verdicts)
            for k, fut in futures.items():
                fut.set_result(verdicts[k])
        except BaseException as exc:
            for fut in futures.values():
                if not fut.done():
                    fut.set_result(Verdict(None, error=f"grading interrupted: {exc!r}", source=self.source))
            raise
        finally:
            for k in keys:
                self._inflight.pop(k, None)
        for k, fut in waiting.items():
            verdicts[k] = await asyncio.shield(fut)
            self.stats.duplicate += 1
        for k, positions in todo.items():
            verdict = verdicts[k]
            for i in positions:
                results[i] = verdict

    async def aclose(self) -> None:
        """Release sessions and connections bound to the running event loop."""
        if self.cache is not None:
            await self.cache.aclose()

    def close(self) -> None:
        """Release what can be released outside an event loop (sync callers)."""
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> BaseJudge:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
