"""The judges' one concurrency model: every door (grade, submit, agrade) runs on the process's I/O loop.

A judge shared by 32 threads, or by several event loops at once, must neither crash nor mix loops,
must give the same verdicts as one caller would, and must ask the server once per distinct pair.
"""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from openai_server import RuleTable

from speciarl.ioloop import io_loop
from speciarl.judges import OpenAIJudge, SQLiteCache, build_judge

LABELS = ("wrong", "generic", "less specific", "specific", "more specific", "abstain")
GTS = [f"species {i}" for i in range(40)]
ANSWERS = [f"answer {j}" for j in range(12)]
TABLE = {(g, a): LABELS[(i * 7 + j) % 6] for i, g in enumerate(GTS) for j, a in enumerate(ANSWERS)}


def rollouts(seed: int, n: int = 24) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    gt = rng.choice(GTS)
    return [(gt, rng.choice(ANSWERS[:6])) for _ in range(n)]


def judge_for(server, cache, **extra) -> OpenAIJudge:
    return build_judge({"type": "openai", "base_url": server.base_url, "model": "m", "cache": str(cache),
                        "timeout": 2.0, "backoff_base": 0.01, "backoff_max": 0.02, "max_retries": 8, **extra})


@pytest.mark.parametrize("cache", ["sqlite", "none"])
def test_one_judge_shared_by_32_threads(server, tmp_path, cache):
    server.reply = RuleTable(TABLE)
    server.latency = 0.01
    faults = iter(["500", "429", "malformed", "503", "garbage", "drop"] * 4)
    lock = threading.Lock()

    def fault_for(body):
        with lock:
            return next(faults, None) if random.random() < 0.2 else None

    server.fault_for = fault_for
    judge = judge_for(server, tmp_path / "c.sqlite" if cache == "sqlite" else "none", concurrency=16)
    batches = [rollouts(seed) for seed in range(96)]
    with ThreadPoolExecutor(32) as pool:  # as verl's run_in_executor does with a sync reward
        got = list(pool.map(judge.grade, batches))
        closes = [pool.submit(judge.close) for _ in range(4)]  # close racing nothing left: harmless
        [c.result() for c in closes]
    for batch, verdicts in zip(batches, got, strict=True):
        assert [v.category.value for v in verdicts] == [TABLE[p] for p in batch]
    distinct = {p for batch in batches for p in batch}
    assert judge.stats.errors == 0 and len(server.answered) == len(distinct)
    if cache == "sqlite":  # every distinct pair costs one LLM call, however the threads interleave
        assert set(server.answered.values()) == {1} and judge.stats.llm == len(distinct)
    else:  # without a cache only pairs in flight at the same time merge: never more than one call per batch
        assert all(n <= sum(p in b for b in batches) for p, n in server.answered.items())
    # and the judge keeps working after close (the session and connection reopen)
    assert judge.grade(batches[0])[0].ok


def test_close_while_other_threads_grade(server, tmp_path):
    """`close()` waits for the grading in flight: no 'Session is closed', no SQLite crash."""
    server.reply = RuleTable(TABLE)
    server.latency = 0.02
    judge = judge_for(server, tmp_path / "c.sqlite", concurrency=8)
    batches = [rollouts(seed, 12) for seed in range(64)]
    stop = threading.Event()

    def closer():
        while not stop.is_set():
            judge.close()

    thread = threading.Thread(target=closer)
    thread.start()
    try:
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(judge.grade, batches))
    finally:
        stop.set()
        thread.join()
    assert all(v.ok for verdicts in got for v in verdicts)
    assert [[v.category.value for v in vs] for vs in got] == [[TABLE[p] for p in b] for b in batches]


def test_agrade_from_several_event_loops_at_once(server, tmp_path):
    """Each thread runs its own event loop (as verl's Ray actors do) and awaits the same judge."""
    server.reply = RuleTable(TABLE)
    server.latency = 0.02
    judge = judge_for(server, tmp_path / "c.sqlite")
    batches = [rollouts(seed, 8) for seed in range(48)]

    def one_loop(part: list[list[tuple[str, str]]]):
        async def main():
            return await asyncio.gather(*(judge.agrade(b) for b in part))
        return asyncio.run(main())

    with ThreadPoolExecutor(6) as pool:
        parts = list(pool.map(one_loop, [batches[i::6] for i in range(6)]))
    for i, part in enumerate(parts):
        for batch, verdicts in zip(batches[i::6], part, strict=True):
            assert [v.category.value for v in verdicts] == [TABLE[p] for p in batch]
    distinct = {p for b in batches for p in b}
    assert set(server.answered.values()) == {1} and len(server.answered) == len(distinct)


def test_identical_pairs_in_flight_are_graded_once_across_threads(server):
    server.reply = RuleTable(TABLE)
    server.latency = 0.2
    judge = judge_for(server, "none")
    pair = [("species 1", "answer 1")]
    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(judge.grade, [pair] * 32))
    assert {v[0].category.value for v in got} == {TABLE[pair[0]]}
    assert len(server.requests) == 1 and judge.stats.llm == 1 and judge.stats.duplicate == 31


def test_blocking_grade_on_the_io_loop_is_refused_with_the_async_name(server):
    judge = judge_for(server, "none")

    async def on_the_loop():
        with pytest.raises(RuntimeError, match="agrade"):
            judge.grade([("a", "b")])
        return (await judge.agrade([("species 1", "answer 1")]))[0]

    assert io_loop().run(on_the_loop()).ok


def test_sqlite_never_runs_on_an_event_loop_thread(server, tmp_path, monkeypatch):
    server.reply = RuleTable(TABLE)
    threads: list[str] = []
    real_get, real_put = SQLiteCache._get_many, SQLiteCache._put_many

    def get(self, keys):
        threads.append(threading.current_thread().name)
        return real_get(self, keys)

    def put(self, grades):
        threads.append(threading.current_thread().name)
        return real_put(self, grades)

    monkeypatch.setattr(SQLiteCache, "_get_many", get)
    monkeypatch.setattr(SQLiteCache, "_put_many", put)
    judge = judge_for(server, tmp_path / "c.sqlite")
    judge.grade(rollouts(1))
    asyncio.run(judge.agrade(rollouts(2)))
    assert threads and all(name.startswith("speciarl-sqlite") for name in threads), threads


def test_a_forked_child_grades_with_its_own_loop_and_connection(server, tmp_path):
    import multiprocessing

    server.reply = RuleTable(TABLE)
    judge = judge_for(server, tmp_path / "c.sqlite")
    assert judge.grade(rollouts(3))[0].ok  # parent's loop, session and connection are live
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put([v.category.value for v in judge.grade(rollouts(4))]))
    child.start()
    labels = queue.get(timeout=30)
    child.join(30)
    assert child.exitcode == 0 and labels == [TABLE[p] for p in rollouts(4)]
    assert judge.grade(rollouts(4))[0].ok


def test_a_cancelled_agrade_leaves_the_shared_grading_running(server):
    """Cancelling one caller (a verl rollout that timed out) cancels its wait, not the pair's request,
    which other callers may be waiting for."""
    server.reply = RuleTable(TABLE)
    server.latency = 0.3
    judge = judge_for(server, "none")
    pair = [("species 2", "answer 2")]

    async def impatient():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(judge.agrade(pair), 0.05)

    waiter = threading.Thread(target=lambda: results.append(judge.grade(pair)))
    results: list = []
    waiter.start()
    asyncio.run(impatient())
    waiter.join(10)
    assert results and results[0][0].category.value == TABLE[pair[0]]
    assert len(server.requests) == 1
