"""The grade cache: SQLite (default) and Redis, with a real server counting LLM calls."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from openai_server import RuleTable

from speciarl.errors import ConfigError
from speciarl.judges import SQLiteCache, build_judge, cache_key, default_cache_path

PAIRS = [(f"species {i}", f"answer {i % 7}") for i in range(20)]

CHILD = r"""
import json, sys
from speciarl.judges import build_judge
config, pairs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
judge = build_judge(config)
verdicts = judge.grade([tuple(p) for p in pairs])
print(json.dumps({"labels": [v.category.value if v.ok else None for v in verdicts], "stats": judge.stats.to_dict()}))
"""


def config(server, cache, **extra):
    return {"type": "openai", "base_url": server.base_url, "model": "m", "cache": str(cache), "timeout": 5,
            "backoff_base": 0.01, **extra}


def table_server(server):
    server.reply = RuleTable({(g, a): ("generic" if int(g.split()[1]) % 2 else "wrong") for g, a in PAIRS})


def test_sqlite_cache_serves_a_second_judge_without_llm_calls(server, tmp_path):
    table_server(server)
    path = tmp_path / "c.sqlite"
    first = build_judge(config(server, path))
    labels = [v.category for v in first.grade(PAIRS)]
    assert first.stats.llm == 20 and len(server.requests) == 20
    second = build_judge(config(server, path))
    again = second.grade(PAIRS + [("Species 3", "answer 3!")])  # same pair after normalisation
    assert [v.category for v in again[:20]] == labels and again[20].category == labels[3]
    assert second.stats.cache == 20 and second.stats.llm == 0 and len(server.requests) == 20
    assert {v.source for v in again} == {"cache"}
    assert len(SQLiteCache(path)) == 20


def test_editing_the_prompt_never_serves_stale_grades(server, tmp_path):
    table_server(server)
    prompt = tmp_path / "p.txt"
    prompt.write_text("Grade version 1.")
    cache = tmp_path / "c.sqlite"
    build_judge(config(server, cache, prompt_file=str(prompt))).grade(PAIRS[:5])
    prompt.write_text("Grade version 2.")
    judge = build_judge(config(server, cache, prompt_file=str(prompt)))
    judge.grade(PAIRS[:5])
    assert judge.stats.cache == 0 and judge.stats.llm == 5 and len(server.requests) == 10
    # the key covers pair, identity and prompt hash
    keys = {cache_key("a", "b", "j", "p"), cache_key("a", "b", "j", "q"), cache_key("a", "b", "k", "p"),
            cache_key("b", "a", "j", "p")}
    assert len(keys) == 4


def test_errors_are_never_cached(server, tmp_path):
    table_server(server)
    server.fault_for = lambda body: "500" if "species 4" in body["messages"][-1]["content"] else None
    path = tmp_path / "c.sqlite"
    verdicts = build_judge(config(server, path, max_retries=0)).grade(PAIRS[:6])
    assert not verdicts[4].ok and all(v.ok for i, v in enumerate(verdicts) if i != 4)
    assert len(SQLiteCache(path)) == 5
    server.fault_for = None
    judge = build_judge(config(server, path))
    assert all(v.ok for v in judge.grade(PAIRS[:6]))
    assert (judge.stats.cache, judge.stats.llm) == (5, 1)


def test_concurrent_calls_in_one_process_share_in_flight_pairs(server, tmp_path):
    table_server(server)
    server.latency = 0.05
    judge = build_judge(config(server, tmp_path / "c.sqlite"))

    async def both():
        results = await asyncio.gather(judge.agrade(PAIRS[:12]), judge.agrade(PAIRS[6:]))
        await judge.aclose()
        return results

    a, b = asyncio.run(both())
    assert all(v.ok for v in a + b) and [v.category for v in a[6:]] == [v.category for v in b[:6]]
    assert set(server.answered.values()) == {1} and len(server.answered) == 20
    assert judge.stats.llm == 20 and judge.stats.duplicate == 6


def test_sqlite_shared_by_several_processes(server, tmp_path):
    table_server(server)
    path = tmp_path / "shared.sqlite"
    cfg = json.dumps(config(server, path))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, cfg, json.dumps(PAIRS[i * 5:i * 5 + 10])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    outs = [json.loads(out) for out, _ in results]
    assert all(None not in o["labels"] for o in outs)
    assert len(SQLiteCache(path)) == 20
    judge = build_judge(config(server, path))
    judge.grade(PAIRS)
    assert judge.stats.cache == 20


def test_default_cache_path_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("SPECIARL_JUDGE_CACHE", str(tmp_path / "x.sqlite"))
    assert default_cache_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("SPECIARL_JUDGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "speciarl" / "judge-cache.sqlite"


def test_unusable_cache_path_is_a_config_error(tmp_path, server):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot open"):
        build_judge(config(server, blocker / "sub" / "c.sqlite"))


# -- Redis ---------------------------------------------------------------------------------------------

def test_redis_two_processes_call_the_llm_once_per_pair(server, redis_url):
    table_server(server)
    server.latency = 0.15
    cfg = json.dumps(config(server, redis_url, concurrency=8))
    a, b = PAIRS[:14], PAIRS[6:]  # 8 pairs overlap
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, cfg, json.dumps(p)], stdout=subprocess.PIPE, text=True)
             for p in (a, b)]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(None not in o["labels"] for o in outs)
    assert outs[0]["labels"][6:] == outs[1]["labels"][:8]
    assert len(server.answered) == 20 and set(server.answered.values()) == {1}, server.answered
    assert sum(o["stats"]["llm"] for o in outs) == 20
    assert sum(o["stats"]["cache"] for o in outs) == 8
    # a third worker later: everything from the shared cache
    judge = build_judge(config(server, redis_url))
    judge.grade(PAIRS)
    assert judge.stats.cache == 20 and len(server.requests) == 20


def test_redis_waiter_takes_over_when_the_lock_holder_disappears(server, redis_url):
    import redis

    table_server(server)
    judge = build_judge(config(server, redis_url, cache_lock_ttl=0.4))
    key = cache_key("species 1", "answer 1", judge.identity, judge.prompt_hash)
    redis.Redis.from_url(redis_url).set("speciarl:judge:lock:" + key, "another-worker", px=400)
    started = time.monotonic()
    [verdict] = judge.grade([("species 1", "answer 1")])
    assert verdict.ok and verdict.category.value == "generic"
    assert time.monotonic() - started >= 0.3 and len(server.requests) == 1


def test_unreachable_redis_is_a_config_error(server):
    with pytest.raises(ConfigError, match="cannot connect"):
        build_judge(config(server, "redis://127.0.0.1:1/0"))


def test_redis_waiter_gets_the_lock_holders_grade_and_grades_its_own_meanwhile(server, redis_url):
    import threading

    import redis

    table_server(server)
    judge = build_judge(config(server, redis_url))
    key = cache_key("species 1", "answer 1", judge.identity, judge.prompt_hash)
    client = redis.Redis.from_url(redis_url)
    client.set("speciarl:judge:lock:" + key, "another-worker", px=5000)

    def other_worker_finishes():
        time.sleep(0.3)
        client.set("speciarl:judge:" + key, "more specific")  # a grade this server would never give
        client.delete("speciarl:judge:lock:" + key)

    threading.Thread(target=other_worker_finishes).start()
    held, own = judge.grade([("species 1", "answer 1"), ("species 2", "answer 2")])
    assert (held.category.value, held.source) == ("more specific", "cache")
    assert (own.category.value, own.source) == ("wrong", "llm")
    assert [body["messages"][-1]["content"] for body in server.requests] == [
        '{"ground_truth":"species 2","prediction":"answer 2"}']


def test_redis_claims_follow_free_request_slots(server, redis_url):
    """Two workers asked for the same pairs: each claims only what it can send at once, so the one
    with more room grades more, and every pair is graded once."""
    table_server(server)
    server.latency = 0.1
    narrow = build_judge(config(server, redis_url, concurrency=2))
    wide = build_judge(config(server, redis_url, concurrency=8))
    pairs = PAIRS[:10]
    futures = [narrow.submit(pairs), wide.submit(pairs)]
    a, b = (f.result(30) for f in futures)
    assert [v.category for v in a] == [v.category for v in b] and all(v.ok for v in a)
    assert len(server.answered) == 10 and set(server.answered.values()) == {1}, server.answered
    assert narrow.stats.llm + wide.stats.llm == 10
    assert narrow.stats.llm <= 4 < wide.stats.llm, (narrow.stats.llm, wide.stats.llm)


@pytest.fixture(params=["redis 7", "redis 6"])
def redis_any_url(request, tmp_path):
    """A real redis-server as it is (7: BLMPOP), and one without BLMPOP as Redis 6 lacks it."""
    from redis_server import RedisServer, redis_binary

    if redis_binary() is None:
        pytest.skip("redis-server binary not installed (Debian package redis-server)")
    extra = ("--rename-command", "BLMPOP", "") if request.param == "redis 6" else ()
    srv = RedisServer(tmp_path / "redis", extra_args=extra).start()
    yield srv.url, not extra
    srv.stop()


def test_redis_waiter_is_told_when_the_holder_releases_without_a_grade(server, redis_any_url):
    """The holder's release reaches the waiting worker at once (its own note, not the periodic
    check), and the waiter claims and grades the pair itself; notes are read with BLMPOP where the
    server has it, else BLPOP + LPOP."""
    import threading

    from speciarl.judges import RedisCache

    redis_url, has_blmpop = redis_any_url
    table_server(server)
    judge = build_judge(config(server, redis_url))
    key = cache_key("species 1", "answer 1", judge.identity, judge.prompt_hash)
    holder = RedisCache(redis_url)

    async def hold():
        found = await holder.lookup([key], 1)
        assert found.owned == [key]
        await holder.aclose()

    asyncio.run(hold())
    result = {}
    thread = threading.Thread(target=lambda: result.update(v=judge.grade([("species 1", "answer 1")])))
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    assert not server.requests  # waiting for the holder

    async def release():
        await holder.put_many({}, release=[key])
        await holder.aclose()

    asyncio.run(release())
    thread.join(10)
    [verdict] = result["v"]
    assert verdict.ok and verdict.source == "llm" and len(server.requests) == 1
    assert time.monotonic() - started < 0.3 + judge.cache.check_interval  # woken by the note
    assert judge.cache._blmpop is has_blmpop  # the fallback was taken only where BLMPOP is missing


def test_redis_connections_do_not_read_package_metadata(server, redis_url, monkeypatch):
    """redis-py >= 7.1 would look its own version up in the installed packages for every new connection
    (a scan of sys.path); the judge hands it the version once. Several connections open here: lookups,
    stores and the note watcher overlap while 20 pairs are graded 4 at a time."""
    import importlib.metadata

    pytest.importorskip("redis.driver_info", reason="redis-py < 7.1 reads its version once, at import")
    table_server(server)
    server.latency = 0.05
    reads = []
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: reads.append(name) or real_version(name))
    judge = build_judge(config(server, redis_url, concurrency=4))
    verdicts = judge.grade(PAIRS)

    async def opened():
        pool = judge.cache._client.connection_pool
        return len(pool._available_connections) + len(pool._in_use_connections)

    connections = judge.home.run(opened())
    judge.close()
    assert all(v.ok for v in verdicts) and connections >= 1
    assert "redis" not in reads


def test_redis_holders_answer_read_before_wait_for_is_not_lost(redis_url):
    """The judge registers its waits in `lookup` and awaits them later, in a task of its own. A holder's
    note read in between (a grade or a release) must still end the wait at once; it once started a new
    wait that only the periodic check (1 s by default) ended, a stall seen in the verl benchmark."""
    from speciarl.judges import RedisCache

    async def scenario():
        holder, waiter = RedisCache(redis_url), RedisCache(redis_url, check_interval=30)
        graded, released = "a" * 64, "b" * 64
        try:
            assert (await holder.lookup([graded, released])).owned == [graded, released]
            found = await waiter.lookup([graded, released])
            assert found.elsewhere == [graded, released] and set(found.waits) == {graded, released}
            await holder.put_many({graded: "specific"}, release=[released])
            for _ in range(500):  # the waiter's watcher reads the note before wait_for is called
                if all(f.done() for f in found.waits.values()):
                    break
                await asyncio.sleep(0.01)
            assert not waiter._waiting
            return await asyncio.wait_for(waiter.wait_for(found.elsewhere, found.waits), 5)
        finally:
            await holder.aclose()
            await waiter.aclose()

    assert asyncio.run(scenario()) == {"a" * 64: "specific"}  # the released key: absent, the caller claims it
