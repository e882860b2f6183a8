"""`judge.submit_each`: many groups in one call, each handed over as soon as it is complete, with the
verdicts and counters `grade` gives for the same pairs (`speciarl verify` writes chunks this way)."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from openai_server import RuleTable

from speciarl.judges import build_judge

TABLE = {(f"species {i}", f"answer {j}"): ("wrong", "generic", "less specific")[(i + j) % 3]
         for i in range(10) for j in range(6)}


def judge_for(server, cache):
    return build_judge({"type": "openai", "base_url": server.base_url, "model": "m", "cache": str(cache),
                        "timeout": 5.0, "concurrency": 8})


def groups_of(pairs, size):
    return [pairs[i:i + size] for i in range(0, len(pairs), size)]


def collect(judge, groups):
    handed: queue.SimpleQueue = queue.SimpleQueue()
    future = judge.submit_each(groups, lambda done: handed.put((done, time.monotonic())))
    future.result(30)
    got = []
    while not handed.empty():
        done, at = handed.get()
        got += [(index, verdicts, at) for index, verdicts in done]
    return got


@pytest.mark.parametrize("cache", ["sqlite", "none"])
def test_same_verdicts_and_counters_as_grade(server, tmp_path, cache):
    server.reply = RuleTable(TABLE)
    pairs = [(f"species {i % 10}", f"answer {(i * 7) % 6}") for i in range(300)]
    pairs += [("Samoyed", "samoyed"), ("dog", "I don't know"), ("species 1", "Answer 2 ")]  # fast paths, a repeat
    caches = [tmp_path / "a.sqlite", tmp_path / "b.sqlite"] if cache == "sqlite" else ["none", "none"]
    one, each = judge_for(server, caches[0]), judge_for(server, caches[1])
    expected = one.grade(pairs)
    calls = len(server.requests)
    groups = groups_of(pairs, 8)
    got = collect(each, groups)
    assert sorted(index for index, _, _ in got) == list(range(len(groups)))  # each group once
    for index, verdicts, _ in got:
        assert [v.category for v in verdicts] == [v.category for v in expected[index * 8:index * 8 + 8]]
    distinct = {(gt, answer.strip().lower()) for gt, answer in pairs} & set(TABLE)
    assert len(server.requests) - calls == calls == len(distinct) == 31  # one call per distinct pair
    a, b = one.stats.to_dict(), each.stats.to_dict()
    for counter in ("pairs", "exact", "refusal", "cache", "llm", "duplicate", "errors", "calls"):
        assert a[counter] == b[counter], counter
    if cache == "sqlite":  # all cached now: one lookup answers every group, handed over in one burst
        again = collect(each, groups)
        assert len({at for _, _, at in again}) == 1 and len(again) == len(groups)
        assert sorted((i, [v.category for v in vs]) for i, vs, _ in again) == sorted((i, [v.category for v in vs])
                                                                                     for i, vs, _ in got)
    one.close()
    each.close()


def test_each_group_is_handed_over_when_complete(server, tmp_path):
    server.reply = RuleTable(TABLE)
    server.latency = 0.4
    judge = judge_for(server, tmp_path / "c.sqlite")
    groups = [[("species 1", "answer 1")], [("Samoyed", "samoyed"), ("dog", "none")], [("species 2", "answer 3")]]
    started = time.monotonic()
    got = {index: (verdicts, at - started) for index, verdicts, at in collect(judge, groups)}
    assert got[1][1] < 0.2 <= min(got[0][1], got[2][1])  # the fast-path group did not wait for the LLM
    assert [v.category.value for v in got[1][0]] == ["specific", "abstain"]
    assert got[0][0][0].category.value == TABLE[("species 1", "answer 1")]
    judge.close()


def test_a_failing_callback_fails_the_call_after_every_group(server, tmp_path):
    server.reply = RuleTable(TABLE)
    judge = judge_for(server, "none")
    seen = []

    def on_done(done):
        seen.extend(index for index, _ in done)
        if 0 in seen:
            raise KeyError("callback broke")

    server.latency = 0.3
    future = judge.submit_each([[("Samoyed", "samoyed")], [("species 2", "answer 2")]], on_done)
    with pytest.raises(KeyError, match="callback broke"):
        future.result(30)
    assert seen == [0, 1]  # the fast-path group first; the other one still handed over after the error
    judge.close()


def test_cancelling_stops_the_handing_over_not_the_shared_grading(server, tmp_path):
    server.reply = RuleTable(TABLE)
    server.latency = 0.5
    judge = judge_for(server, tmp_path / "c.sqlite")
    handed = []
    future = judge.submit_each([[("species 3", "answer 4")]], handed.extend)
    sharer: list = []
    thread = threading.Thread(target=lambda: sharer.extend(judge.grade([("species 3", "answer 4")])))
    time.sleep(0.2)  # both in flight
    thread.start()
    time.sleep(0.05)
    future.cancel()
    thread.join(30)
    assert sharer[0].category.value == TABLE[("species 3", "answer 4")] and judge.stats.llm == 1
    time.sleep(0.05)
    assert handed == [] and len(server.requests) == 1
    judge.close()


def test_agrade_each_hands_groups_over_on_the_callers_loop(server, tmp_path):
    """The event-loop door: a judge homed on the caller's loop (as verl's reward worker homes it) calls
    `on_done` on that loop's own thread, with the verdicts `grade` gives."""
    import asyncio

    from speciarl.ioloop import running_loop_home

    server.reply = RuleTable(TABLE)
    pairs = [(f"species {i % 10}", f"answer {(i * 7) % 6}") for i in range(40)] + [("Samoyed", "samoyed")]
    expected = judge_for(server, "none").grade(pairs)
    judge = judge_for(server, tmp_path / "c.sqlite")

    async def main():
        judge.rehome(running_loop_home())
        handed, threads = {}, set()

        def on_done(done):
            threads.add(threading.get_ident())
            handed.update(done)

        await judge.agrade_each([[pair] for pair in pairs], on_done)
        await judge.aclose()
        return handed, threads

    handed, threads = asyncio.run(main())
    assert threads == {threading.get_ident()}  # asyncio.run's loop is this thread's
    assert sorted(handed) == list(range(len(pairs)))
    assert [handed[i][0].category for i in range(len(pairs))] == [v.category for v in expected]
