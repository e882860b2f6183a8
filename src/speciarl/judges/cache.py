"""Persistent grade cache in front of any judge: the interface, SQLite (one machine) and `open_cache`;
Redis (many nodes) is `redis_cache.RedisCache`.

Keys come from `base.cache_key` (normalised pair + judge identity + prompt hash), values are
category labels. Only graded results are stored, never errors. Redis adds a short-lived in-flight
lock per key so two workers grading the same pair at the same time pay for it once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..categories import LABELS
from ..errors import ConfigError

_CHUNK = 500  # SQLite's host-parameter limit is 999 on old builds


def default_cache_path() -> Path:
    """`$SPECIARL_JUDGE_CACHE`, else `$XDG_CACHE_HOME/speciarl/judge-cache.sqlite` (~/.cache/...)."""
    env = os.environ.get("SPECIARL_JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "speciarl" / "judge-cache.sqlite"


@dataclass
class Lookup:
    """What `Cache.lookup` found: grades, keys claimed by this worker, keys another worker holds (see
    `wait_for`), keys left unclaimed because of the limit (ask again when there is room). `waits`: per
    key held elsewhere, what `wait_for` awaits (registered by `lookup` itself, so a holder's answer that
    arrives before `wait_for` is called is kept, not lost)."""

    found: dict[str, str]
    owned: list[str]
    elsewhere: list[str]
    pending: list[str]
    waits: dict[str, asyncio.Future[str | None]] = field(default_factory=dict)


class Cache:
    """Interface used by `BaseJudge`; every method is safe to call with an empty list."""

    description = "cache"

    async def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        raise NotImplementedError

    async def lookup(self, keys: Sequence[str], limit: int | None = None) -> Lookup:
        """Read keys and claim the misses to grade. A cache without in-flight locks: every miss is
        ours, whatever `limit` (the most misses to claim now; None: all)."""
        found = await self.get_many(keys)
        return Lookup(found, [k for k in keys if k not in found], [], [])

    async def wait_for(self, keys: Sequence[str],
                       waits: dict[str, asyncio.Future[str | None]] | None = None) -> dict[str, str]:
        """Grades of keys `lookup` found held elsewhere, once their holders finish (absent: no grade);
        pass the lookup's `waits`."""
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


def open_cache(spec: str | os.PathLike[str] | None, **redis_options: float) -> Cache | None:
    """'none' → no cache; 'default' or None → SQLite at the default path; 'redis://…' → Redis;
    anything else → a SQLite file path."""
    if spec is None or str(spec) in ("", "default"):
        return SQLiteCache()
    spec = str(spec)
    if spec.lower() in ("none", "off", "false"):
        return None
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from .redis_cache import RedisCache  # a module of its own: SQLite users never import it

        return RedisCache(spec, **redis_options)
    return SQLiteCache(spec)
