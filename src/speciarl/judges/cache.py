"""Persistent grade cache in front of any judge: SQLite (one machine) or Redis (many nodes).

Keys come from `base.cache_key` (normalised pair + judge identity + prompt hash), values are
category labels. Only graded results are stored, never errors. Redis adds a short-lived in-flight
lock per key so two workers grading the same pair at the same time pay for it once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..categories import LABELS
from ..errors import ConfigError

log = logging.getLogger(__name__)

_CHUNK = 500  # SQLite's host-parameter limit is 999 on old builds


def default_cache_path() -> Path:
    """`$SPECIARL_JUDGE_CACHE`, else `$XDG_CACHE_HOME/speciarl/judge-cache.sqlite` (~/.cache/...)."""
    env = os.environ.get("SPECIARL_JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "speciarl" / "judge-cache.sqlite"


class Cache:
    """Interface used by `BaseJudge`; every method is safe to call with an empty list."""

    description = "cache"

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        raise NotImplementedError

    async def claim(self, keys: Sequence[str]) -> tuple[list[str], list[str]]:
        """Split keys into (ours to grade, being graded elsewhere). No lock: all are ours."""
        return list(keys), []

    async def wait_for(self, keys: Sequence[str]) -> dict[str, str]:
        return {}

    async def put_many(self, grades: dict[str, str], *, release: Sequence[str] = ()) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        pass


class SQLiteCache(Cache):
    """WAL-mode SQLite file; several processes (training workers) may share it.

    Thread contract: every use of the connection runs on this cache's own single worker thread, so
    the event loop never blocks on SQLite, and `close()` cannot race a lookup: it queues behind it.
    Safe to share between threads; a forked child opens its own connection and worker.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, timeout: float = 60.0):
        self.path = Path(path).expanduser() if path else default_cache_path()
        self.timeout = timeout
        self.description = f"sqlite:{self.path}"
        self._conn: sqlite3.Connection | None = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._pid = -1
        self._lock = threading.Lock()  # guards creating/retiring the worker, not the connection
        self._call(self._connect)  # fail now, at the boundary, if the path is unusable

    # -- the worker thread ---------------------------------------------------------------------------
    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._worker is None or self._pid != os.getpid():
                self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="speciarl-sqlite")
                self._conn, self._pid = None, os.getpid()  # a forked child never reuses the parent's
            return self._worker

    def _call(self, fn, *args):
        """Run fn on the worker thread and wait (sync callers)."""
        return self._executor().submit(fn, *args).result()

    async def _acall(self, fn, *args):
        """Run fn on the worker thread without blocking the running event loop."""
        return await asyncio.wrap_future(self._executor().submit(fn, *args))

    # -- on the worker thread only ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
                # Switching to WAL can report "locked" without waiting while another process does the same.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("CREATE TABLE IF NOT EXISTS grades (key TEXT PRIMARY KEY, category TEXT NOT NULL,"
                             " created REAL NOT NULL)")
                break
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise self._unusable(exc) from None
            except (OSError, sqlite3.Error) as exc:
                raise self._unusable(exc) from None
        self._conn = conn
        return conn

    def _unusable(self, exc: Exception) -> ConfigError:
        return ConfigError(f"judge cache {self.path}: cannot open ({exc}); pass another path or 'none'")

    def _get_many(self, keys: Sequence[str]) -> dict[str, str]:
        conn = self._connect()
        found: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, label in conn.execute(f"SELECT key, category FROM grades WHERE key IN ({marks})", chunk):
                if label in LABELS:
                    found[key] = label
        return found

    def _put_many(self, grades: dict[str, str]) -> None:
        conn = self._connect()
        now = time.time()
        with conn:  # one transaction: a kill leaves all or nothing
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO grades (key, category, created) VALUES (?, ?, ?)",
                             [(k, v, now) for k, v in grades.items()])

    def _count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM grades").fetchone()[0]

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    # -- Cache interface -------------------------------------------------------------------------------
    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._acall(self._get_many, list(keys)) if keys else {}

    async def put_many(self, grades: dict[str, str], *, release: Sequence[str] = ()) -> None:
        if grades:
            await self._acall(self._put_many, dict(grades))

    def __len__(self) -> int:
        return self._call(self._count)

    async def aclose(self) -> None:
        if self._worker is not None and self._pid == os.getpid():
            await self._acall(self._disconnect)

    def close(self) -> None:
        """Close the connection after the calls queued before it (a later call reopens it)."""
        if self._worker is not None and self._pid == os.getpid():
            self._call(self._disconnect)


class RedisCache(Cache):
    """Shared cache for multi-node training, with in-flight locks (`SET NX PX`) per key.

    Thread contract: the client is bound to the event loop that first uses it (the judge's I/O loop);
    used from another loop it is replaced, never shared.

    A worker that finds a key locked waits (polling) for the holder's grade; if the lock expires or
    is released without a grade (the holder failed), the waiter grades the pair itself.
    """

    def __init__(self, url: str, *, prefix: str = "speciarl:judge:", lock_ttl: float = 60.0,
                 poll_interval: float = 0.02, ttl: float | None = None):
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:
            raise ConfigError("a redis:// judge cache needs the redis client: pip install 'speciarl[redis]'") from None
        self.url, self.prefix = url, prefix
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self.poll_interval = poll_interval
        self.ttl = ttl
        self.description = f"redis:{url.split('@')[-1]}"  # never show a password
        self._client = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._token = uuid.uuid4().hex
        self._warned = False
        self._waiting: dict[str, tuple[asyncio.Future[str | None], float]] = {}  # key -> (grade, deadline)
        self._poller: asyncio.Task[None] | None = None

    def _redis(self):
        import redis.asyncio as aredis

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:  # clients are bound to one event loop
            self._client = aredis.Redis.from_url(self.url, decode_responses=True)
            self._loop = loop
            self._waiting, self._poller = {}, None
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

    async def claim(self, keys: Sequence[str]) -> tuple[list[str], list[str]]:
        import redis

        if not keys:
            return [], []
        try:
            pipe = self._redis().pipeline(transaction=False)
            for k in keys:
                pipe.set(self.prefix + "lock:" + k, self._token, nx=True, px=self.lock_ttl_ms)
            got = await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)
            return list(keys), []
        owned = [k for k, ok in zip(keys, got, strict=True) if ok]
        return owned, [k for k, ok in zip(keys, got, strict=True) if not ok]

    async def wait_for(self, keys: Sequence[str]) -> dict[str, str]:
        """Wait until each key has a grade or its lock is gone; keys without a grade are left out.

        One watcher per cache serves every waiting call: lock holders announce what they stored or
        released on a pub/sub channel, and a check of all waited-for keys every `poll_interval` x 10
        (and right after subscribing) catches a missed message or a holder that died."""
        loop = asyncio.get_running_loop()
        self._redis()  # (re)binds to this loop, forgetting waits of another loop
        deadline = time.monotonic() + self.lock_ttl_ms / 1000 + 1
        futures = []
        for key in keys:
            entry = self._waiting.get(key)
            if entry is None:
                entry = self._waiting[key] = (loop.create_future(), deadline)
            futures.append((key, entry[0]))
        if self._poller is None or self._poller.done():
            self._poller = asyncio.ensure_future(self._watch())
        found: dict[str, str] = {}
        for key, fut in futures:
            label = await asyncio.shield(fut)
            if label is not None:
                found[key] = label
        return found

    def _settle_wait(self, key: str, label: str | None) -> None:
        fut, _ = self._waiting.pop(key, (None, 0.0))
        if fut is not None and not fut.done():
            fut.set_result(label)

    async def _check_waiting(self) -> None:
        keys = list(self._waiting)
        if not keys:
            return
        pipe = self._redis().pipeline(transaction=False)
        for k in keys:
            pipe.get(self.prefix + k)
            pipe.exists(self.prefix + "lock:" + k)
        answers = await pipe.execute()
        now = time.monotonic()
        for j, k in enumerate(keys):
            value, locked = answers[2 * j], answers[2 * j + 1]
            if value in LABELS:
                self._settle_wait(k, value)
            elif (not locked or now > self._waiting[k][1]) and k in self._waiting:
                self._settle_wait(k, None)  # the holder failed or vanished: the waiter grades it

    async def _watch(self) -> None:
        import redis

        pubsub = self._redis().pubsub()
        try:
            await pubsub.subscribe(self.prefix + "done")
            await self._check_waiting()
            next_check = time.monotonic() + self.poll_interval * 10
            while self._waiting:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.poll_interval * 10)
                if message is not None:
                    done = json.loads(message["data"])
                    for k, label in done["grades"].items():
                        if k in self._waiting and label in LABELS:
                            self._settle_wait(k, label)
                    for k in done["released"]:
                        if k in self._waiting:
                            self._settle_wait(k, None)  # released without a grade: the waiter grades it
                if time.monotonic() >= next_check:
                    await self._check_waiting()
                    next_check = time.monotonic() + self.poll_interval * 10
        except (redis.RedisError, OSError, ValueError, KeyError) as exc:
            self._warn(exc)
        finally:
            for k in list(self._waiting):
                self._settle_wait(k, None)
            try:
                await pubsub.aclose()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass

    async def put_many(self, grades: dict[str, str], *, release: Sequence[str] = ()) -> None:
        import redis

        if not grades and not release:
            return
        try:
            pipe = self._redis().pipeline(transaction=False)
            for k, v in grades.items():
                pipe.set(self.prefix + k, v, px=int(self.ttl * 1000) if self.ttl else None)
            for k in release:  # only our own locks (compare-and-delete)
                pipe.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
                          "end return 0", 1, self.prefix + "lock:" + k, self._token)
            # wake the workers waiting for these keys (a failed pair is released without a grade)
            pipe.publish(self.prefix + "done", json.dumps({"grades": grades, "released": [
                k for k in release if k not in grades]}))
            await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._warn(exc)

    async def aclose(self) -> None:
        if self._poller is not None and not self._poller.done():
            self._poller.cancel()
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            try:
                await client.aclose()
            except RuntimeError:  # its loop is gone already
                pass

    def close(self) -> None:
        self._client, self._loop, self._poller, self._waiting = None, None, None, {}


def open_cache(spec: str | os.PathLike[str] | None, **redis_options: float) -> Cache | None:
    """'none' → no cache; 'default' or None → SQLite at the default path; 'redis://…' → Redis;
    anything else → a SQLite file path."""
    if spec is None or str(spec) in ("", "default"):
        return SQLiteCache()
    spec = str(spec)
    if spec.lower() in ("none", "off", "false"):
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(spec, **redis_options)
    return SQLiteCache(spec)
