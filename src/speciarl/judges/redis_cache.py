"""The Redis grade cache: shared by every worker of a multi-node job, with an in-flight lock per key
taken atomically, so two workers grading the same pair at the same time pay for it once (see
`RedisCache`). The interface and the SQLite cache are in `cache.py`."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..categories import LABELS
from ..errors import ConfigError
from .cache import Cache, Lookup

log = logging.getLogger(__name__)


def _driver_info() -> dict[str, Any]:
    """redis-py >= 7.1 reads its own version with `importlib.metadata` for every new connection (a scan of
    sys.path: milliseconds each, and a busy judge opens a few per step); hand it the version once."""
    try:
        import redis
        from redis.driver_info import DriverInfo
    except ImportError:  # older redis-py: the version is read once, at import
        return {}
    return {"driver_info": DriverInfo(name="redis-py", lib_version=redis.__version__)}


_LOOKUP = r"""
-- ARGV: prefix, token, lock ttl ms, claim limit (-1: none), key hashes...
-- per key: its label; else 1 = claimed by us, 2 = held elsewhere (we wait: registered for the holder's
-- note), 0 = free but over the limit (not claimed)
local p, token, ttl, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out, claimed = {}, 0
for i = 5, #ARGV do
  local k = ARGV[i]
  local v = redis.call('GET', p .. k)
  if v then
    out[#out + 1] = v
  else
    local lock = p .. 'lock:' .. k
    local holder = redis.call('GET', lock)
    if holder and holder ~= token then
      redis.call('SADD', p .. 'wait:' .. k, token)
      redis.call('PEXPIRE', p .. 'wait:' .. k, ttl)
      out[#out + 1] = 2
    elseif limit < 0 or claimed < limit then
      redis.call('SET', lock, token, 'PX', ttl)
      claimed = claimed + 1
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
  end
end
return out
"""

_STORE = r"""
-- ARGV: prefix, token, value ttl ms (0: none), note ttl ms, number of grades n, n x (hash, label),
-- then hashes released without a grade. Stores the grades, drops our locks and tells each waiting
-- worker, in one message to its note list, what became of the keys it waits for ('' = no grade).
local p, token, vttl, nttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local notes = {}
local function settle(k, v)
  local lock = p .. 'lock:' .. k
  if redis.call('GET', lock) == token then redis.call('DEL', lock) end
  local w = p .. 'wait:' .. k
  local waiters = redis.call('SMEMBERS', w)
  if #waiters > 0 then
    redis.call('DEL', w)
    for _, x in ipairs(waiters) do
      local note = notes[x]
      if not note then note = {}; notes[x] = note end
      note[#note + 1] = k .. '\t' .. v
    end
  end
end
for i = 0, n - 1 do
  local k, v = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
  if vttl > 0 then redis.call('SET', p .. k, v, 'PX', vttl) else redis.call('SET', p .. k, v) end
  settle(k, v)
end
for i = 6 + 2 * n, #ARGV do settle(ARGV[i], '') end
for x, note in pairs(notes) do
  local box = p .. 'note:' .. x
  redis.call('RPUSH', box, table.concat(note, '\n'))
  redis.call('PEXPIRE', box, nttl)
end
return 0
"""

_CHECK = r"""
-- ARGV: prefix, key hashes... -> per key: its label, 1 = still locked, 0 = neither (the holder is gone)
local p, out = ARGV[1], {}
for i = 2, #ARGV do
  local k = ARGV[i]
  local v = redis.call('GET', p .. k)
  if v then out[#out + 1] = v
  elseif redis.call('EXISTS', p .. 'lock:' .. k) == 1 then out[#out + 1] = 1
  else out[#out + 1] = 0 end
end
return out
"""


class RedisCache(Cache):
    """Shared cache for multi-node training, with an in-flight lock per key, taken atomically.

    Thread contract: the client is bound to the event loop that first uses it (the judge's loop);
    used from another loop it is replaced, never shared. A forked child gets its own client and token.

    Coordination costs one round trip per batch each way, whatever the batch size: `lookup` is one Lua
    script (read every key, claim up to `limit` free ones, register as a waiter for those another
    worker holds); `put_many` is another (store the grades, drop our locks, and push one note per
    waiting worker onto that worker's own list). A worker reads only its own notes (one blocking pop
    of all that are there serves all its waits), so a grade wakes only the workers that asked for it.
    Every `check_interval` seconds a worker with waits re-reads those keys, which catches a holder that died (its lock expires
    after `lock_ttl`: the waiter then claims and grades the pair itself). Labels already seen are kept
    in memory (up to `memo_size`): a grade in the cache never changes. Needs one Redis server (or one
    hash slot): the scripts touch keys derived from their arguments.
    """

    def __init__(self, url: str, *, prefix: str = "speciarl:judge:", lock_ttl: float = 60.0,
                 check_interval: float | None = None, ttl: float | None = None, memo_size: int = 200_000):
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise ConfigError("a redis:// judge cache needs the redis client: pip install 'speciarl[redis]'") from None
        self.url, self.prefix = url, prefix
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self.check_interval = check_interval if check_interval is not None else min(1.0, lock_ttl / 4)
        self.ttl = ttl
        self.memo_size = memo_size
        self.description = f"redis:{url.split('@')[-1]}"  # never show a password
        self._client = None
        self._scripts: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = -1
        self._token = ""
        self._warned = False
        self._memo: dict[str, str] = {}
        self._waiting: dict[str, tuple[asyncio.Future[str | None], float]] = {}  # key -> (grade, deadline)
        self._early: dict[str, str] = {}  # notes read before their wait was registered
        self._watcher: asyncio.Task[None] | None = None
        self._blmpop = True  # False once the server turns out to predate BLMPOP (Redis < 7)

    def _redis(self):
        import redis.asyncio as aredis

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._pid != os.getpid():
            # clients are bound to one event loop; a forked child is another worker (own locks, notes)
            if self._pid != os.getpid():
                self._pid, self._token, self._memo = os.getpid(), uuid.uuid4().hex, {}
            self._client = aredis.Redis.from_url(self.url, decode_responses=True, **_driver_info())
            self._scripts = {name: self._client.register_script(code)
                             for name, code in (("lookup", _LOOKUP), ("store", _STORE), ("check", _CHECK))}
            self._loop = loop
            self._waiting, self._early, self._watcher = {}, {}, None
        return self._client

    def _warn(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("judge cache %s unavailable (%s): grading without it", self.description, exc)
            self._warned = True

    def check_reachable(self) -> None:
        """Blocking `check` at the boundary (any thread; skipped on the I/O loop's own thread)."""
        from ..ioloop import io_loop

        loop = io_loop()
        if not loop.in_loop_thread():
            loop.run(self.check())

    async def check(self) -> None:
        """Raise ConfigError if the server cannot be reached (called once when the judge is built)."""
        import redis

        try:
            await self._redis().ping()
        except (redis.RedisError, OSError) as exc:
            raise ConfigError(f"judge cache {self.description}: cannot connect ({exc})") from None
        finally:
            await self.aclose()

    def _remember(self, key: str, label: str) -> None:
        if len(self._memo) >= self.memo_size:
            self._memo.clear()
        self._memo[key] = label

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        import redis

        if not keys:
            return {}
        try:
            values = await self._redis().mget([self.prefix + k for k in keys])
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)
            return {}
        return {k: v for k, v in zip(keys, values, strict=True) if v in LABELS}

    async def lookup(self, keys: Sequence[str], limit: int | None = None) -> Lookup:
        import redis

        self._redis()
        memo, found = self._memo, {}
        ask = []
        for k in keys:
            label = memo.get(k)
            if label is None:
                ask.append(k)
            else:
                found[k] = label
        if not ask:
            return Lookup(found, [], [], [])
        try:
            answers = await self._scripts["lookup"](args=[self.prefix, self._token, self.lock_ttl_ms,
                                                          -1 if limit is None else limit, *ask])
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)
            return Lookup(found, ask, [], [])  # grade without the cache
        owned, elsewhere, pending = [], [], []
        for k, answer in zip(ask, answers, strict=True):
            if answer == 1:
                owned.append(k)
            elif answer == 2:
                elsewhere.append(k)
            elif answer == 0:
                pending.append(k)
            elif answer in LABELS:
                found[k] = answer
                self._remember(k, answer)
            else:  # not a label this version knows: grade it again (and overwrite)
                owned.append(k)
        # registered now, and the futures handed back: the holder's note may be read before the caller
        # gets to `wait_for`, and must not be lost then (the wait would last until the next check)
        waits = self._expect(elsewhere) if elsewhere else {}
        return Lookup(found, owned, elsewhere, pending, waits)

    def _expect(self, keys: Sequence[str]) -> dict[str, asyncio.Future[str | None]]:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.lock_ttl_ms / 1000 + 1
        waits = {}
        for key in keys:
            entry = self._waiting.get(key)
            if entry is None:
                entry = self._waiting[key] = (loop.create_future(), deadline)
            waits[key] = entry[0]
            early = self._early.pop(key, None)
            if early is not None:
                self._settle_wait(key, early or None)
        if self._waiting and (self._watcher is None or self._watcher.done()):
            self._watcher = asyncio.ensure_future(self._watch())
        return waits

    async def wait_for(self, keys: Sequence[str],
                       waits: dict[str, asyncio.Future[str | None]] | None = None) -> dict[str, str]:
        """Wait until each key (from `lookup`'s `elsewhere`, with its `waits`) has a grade or its holder
        is gone; keys without a grade are left out (the caller claims them again)."""
        loop = asyncio.get_running_loop()
        self._redis()  # (re)binds to this loop, forgetting waits of another loop
        waits = {k: f for k, f in (waits or {}).items() if f.get_loop() is loop}
        missing = [k for k in keys if k not in waits]
        if missing:
            waits.update(self._expect(missing))
        found: dict[str, str] = {}
        for key in keys:
            fut = waits[key]
            label = fut.result() if fut.done() else await asyncio.shield(fut)
            if label is not None:
                found[key] = label
        return found

    def _settle_wait(self, key: str, label: str | None) -> None:
        fut, _ = self._waiting.pop(key, (None, 0.0))
        if label is not None:
            self._remember(key, label)
        if fut is not None and not fut.done():
            fut.set_result(label)

    async def _check_waiting(self) -> None:
        keys = list(self._waiting)
        if not keys:
            return
        answers = await self._scripts["check"](args=[self.prefix, *keys])
        now = time.monotonic()
        for k, answer in zip(keys, answers, strict=True):
            if k not in self._waiting:
                continue
            if answer in LABELS:
                self._settle_wait(k, answer)
            elif answer == 0 or now > self._waiting[k][1]:
                self._settle_wait(k, None)  # the holder failed or vanished: the waiter claims it

    async def _watch(self) -> None:
        """Read this worker's notes while it waits for keys (one blocking pop at a time)."""
        import redis

        client, box = self._redis(), self.prefix + "note:" + self._token
        try:
            next_check = time.monotonic() + self.check_interval
            while self._waiting:
                notes = await self._pop_notes(client, box, max(0.01, next_check - time.monotonic()))
                for note in notes:
                    for line in note.split("\n"):
                        k, _, label = line.partition("\t")
                        label = label if label in LABELS else ""
                        if k in self._waiting:
                            self._settle_wait(k, label or None)  # no grade: released, the waiter claims it
                        else:
                            if len(self._early) > 100_000:
                                self._early.clear()
                            self._early[k] = label
                if time.monotonic() >= next_check:
                    await self._check_waiting()
                    next_check = time.monotonic() + self.check_interval
        except (redis.RedisError, OSError, ValueError) as exc:
            self._warn(exc)
        finally:
            for k in list(self._waiting):
                self._settle_wait(k, None)

    async def _pop_notes(self, client: Any, box: str, timeout: float) -> list[str]:
        """Every note in this worker's list, waiting up to `timeout` s for the first: one BLMPOP (Redis >= 7),
        else BLPOP then LPOP for the rest."""
        import redis

        if self._blmpop:
            try:
                popped = await client.blmpop(timeout, 1, box, direction="LEFT", count=1000)
                return list(popped[1]) if popped else []
            except redis.ResponseError as exc:
                if "unknown command" not in str(exc).lower():
                    raise
                self._blmpop = False
        popped = await client.blpop([box], timeout=timeout)
        if not popped:
            return []
        return [popped[1], *(await client.lpop(box, 1000) or [])]

    async def put_many(self, grades: dict[str, str], *, release: Sequence[str] = ()) -> None:
        import redis

        if not grades and not release:
            return
        self._redis()
        for k, v in grades.items():
            self._remember(k, v)
        args: list[Any] = [self.prefix, self._token, int(self.ttl * 1000) if self.ttl else 0, self.lock_ttl_ms * 2,
                           len(grades)]
        for k, v in grades.items():
            args += (k, v)
        args += [k for k in release if k not in grades]
        try:
            await self._scripts["store"](args=args)
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)

    async def aclose(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            try:
                await client.aclose()
            except RuntimeError:  # its loop is gone already
                pass

    def close(self) -> None:
        self._client, self._loop, self._watcher, self._waiting = None, None, None, {}
