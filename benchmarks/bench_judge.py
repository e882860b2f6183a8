"""Judge throughput for one paper training step, and the taxonomy judge's raw speed.

    python benchmarks/bench_judge.py [--latency 0.05] [--concurrency 64] [--repeats 3]

One step = 256 images x 10 rollouts = 2,560 answers, about 30 % distinct pairs and 25 % exact matches,
graded by `OpenAIJudge` against the test server (tests/helpers/openai_server.py, in a subprocess)
answering after a fixed latency. Prints a table: LLM calls (must equal the distinct non-fast-path
pairs), cold wall time vs the ideal ceil(calls / concurrency) x latency, warm-cache wall time, and the
taxonomy judge's pairs/s. With httpx installed it also times a bare httpx vs a bare aiohttp client
on the same requests (why the judge uses aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from openai_server import ServerProcess  # noqa: E402
from steps import training_step  # noqa: E402

from speciarl.answers import normalize  # noqa: E402
from speciarl.judges import FastPaths, OpenAIJudge, SQLiteCache, TaxonomyJudge  # noqa: E402
from speciarl.judges.taxonomy import Taxonomy  # noqa: E402


def expected_calls(pairs: list[tuple[str, str]]) -> int:
    fast = FastPaths()
    distinct = set()
    for gt, ans in pairs:
        g, a = normalize(gt), normalize(ans)
        if fast.check(g, a, ans) is None:
            distinct.add((g, a))
    return len(distinct)


async def _bare(client: str, url: str, bodies: list[bytes], concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            async def one(b: bytes) -> None:
                async with sem:
                    (await http.post(url, content=b, headers={"Content-Type": "application/json"})).json()
            t = time.perf_counter()
            await asyncio.gather(*(one(b) for b in bodies))
            return time.perf_counter() - t
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def one_a(b: bytes) -> None:
            async with sem:
                async with http.post(url, data=b, headers={"Content-Type": "application/json"}) as r:
                    await r.json()
        t = time.perf_counter()
        await asyncio.gather(*(one_a(b) for b in bodies))
        return time.perf_counter() - t


def bench_taxonomy(n_pairs: int = 200_000) -> tuple[float, int]:
    """Pairs/s of TaxonomyJudge.grade on a 4-level tree of ~8,000 nodes, all pairs distinct-ish."""
    rng = random.Random(1)
    roots = []
    leaves: list[str] = []
    inner: list[str] = []
    for a in range(8):
        fam = []
        for b in range(10):
            gen = []
            for c in range(100):
                name = f"species {a} {b} {c}"
                leaves.append(name)
                gen.append({"name": name, "synonyms": [f"sp{a}x{b}x{c}"]})
            inner.append(f"genus {a} {b}")
            fam.append({"name": f"genus {a} {b}", "children": gen})
        inner.append(f"family {a}")
        roots.append({"name": f"family {a}", "children": fam})
    judge = TaxonomyJudge(taxonomy=Taxonomy({"name": "organism", "children": roots}))
    names = leaves + inner + ["organism", "something else"]
    pairs = [(rng.choice(leaves), rng.choice(names)) for _ in range(n_pairs)]
    t = time.perf_counter()
    verdicts = judge.grade(pairs)
    elapsed = time.perf_counter() - t
    assert all(v.ok for v in verdicts)
    return n_pairs / elapsed, judge.stats.taxonomy


def bench_verify(pairs, base_url: str, concurrency: int, calls: int, ideal: float, repeats: int) -> tuple[str, str]:
    """The same step through `run_verify` (records in, graded records appended and flushed), cold: no
    cache, a fresh output file and a fresh judge each time; the median of `repeats` runs."""
    from speciarl.pipeline.verify import run_verify
    from speciarl.records import write_records_atomic

    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.jsonl"
        write_records_atomic(src, [{"sample_id": f"img{i // 10}", "dataset": "bench", "ground_truth": g,
                                    "prediction_index": i % 10, "answer": a} for i, (g, a) in enumerate(pairs)])
        config = {"type": "openai", "base_url": base_url, "model": "bench", "cache": "none"}
        for rep in range(repeats):
            result = run_verify(src, Path(tmp) / f"out{rep}.jsonl", config, concurrency=concurrency, progress=False)
            assert result.ok and result.written == len(pairs) and result.stats["llm"] == calls
            seconds.append(result.seconds)
    cold = statistics.median(seconds)
    return (f"run_verify, {len(pairs)} records, cold (median of {repeats})",
            f"{cold * 1000:.0f} ms = {cold / ideal:.2f}x ideal (target <= 1.25x); best {min(seconds) * 1000:.0f} ms = "
            f"{min(seconds) / ideal:.2f}x (includes reading, writing, flushing)")


def bench_verify_cli(pairs, base_url: str, repeats: int) -> list[tuple[str, str]]:
    """`speciarl verify` from the command line: a warm rerun of all answers (every pair in the SQLite
    cache, a fresh output file) against a one-answer run, each the median of `repeats` processes."""
    import os
    import subprocess

    from speciarl.records import write_records_atomic

    def records(items):
        return [{"sample_id": f"img{i // 10}", "dataset": "bench", "ground_truth": g, "prediction_index": i % 10,
                 "answer": a} for i, (g, a) in enumerate(items)]

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        write_records_atomic(tmp_path / "all.jsonl", records(pairs))
        write_records_atomic(tmp_path / "one.jsonl", records(pairs[:1]))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}

        def run(src: str, out: str) -> float:
            cmd = [sys.executable, "-m", "speciarl.cli", "verify", str(tmp_path / src), "-o", str(tmp_path / out),
                   "--judge", "openai", "--base-url", base_url, "--model", "bench",
                   "--cache", str(tmp_path / "cache.sqlite"), "--no-progress"]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - t

        run("all.jsonl", "cold.jsonl")  # fills the cache
        warm = statistics.median(run("all.jsonl", f"warm{i}.jsonl") for i in range(repeats))
        one = statistics.median(run("one.jsonl", f"one{i}.jsonl") for i in range(repeats))
    return [("speciarl verify CLI, one answer (warm)", f"{one * 1000:.0f} ms"),
            (f"speciarl verify CLI, {len(pairs)} answers (warm)",
             f"{warm * 1000:.0f} ms = one-answer run + {(warm - one) * 1000:.0f} ms (target <= 50 ms)")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    pairs = training_step()
    distinct = len(set(pairs))
    exact = sum(normalize(g) == normalize(a) for g, a in pairs)
    calls_expected = expected_calls(pairs)
    ideal = math.ceil(calls_expected / args.concurrency) * args.latency
    rows: list[tuple[str, str]] = [
        ("answers", f"{len(pairs)}"),
        ("distinct pairs", f"{distinct} ({distinct / len(pairs):.0%})"),
        ("exact matches", f"{exact} ({exact / len(pairs):.0%})"),
        ("expected LLM calls (distinct, non-fast-path)", f"{calls_expected}"),
        ("ideal cold time", f"{ideal * 1000:.0f} ms"),
    ]
    with ServerProcess(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        colds, warms, cpus, calls = [], [], [], set()
        for rep in range(args.repeats):
            cache = SQLiteCache(Path(tmp) / f"cache{rep}.sqlite")
            judge = OpenAIJudge(server.base_url, "bench", concurrency=args.concurrency, cache=cache)

            async def cold_then_warm(judge: OpenAIJudge = judge) -> tuple[float, float]:
                t, c = time.perf_counter(), time.process_time()
                verdicts = await judge.agrade(pairs)
                cold = time.perf_counter() - t
                cpus.append(time.process_time() - c)
                assert all(v.ok for v in verdicts), [v.error for v in verdicts if not v.ok][:3]
                calls.add(judge.stats.llm)
                t = time.perf_counter()
                again = await judge.agrade(pairs)
                warm = time.perf_counter() - t
                assert [v.category for v in again] == [v.category for v in verdicts]
                await judge.aclose()
                return cold, warm

            cold, warm = asyncio.run(cold_then_warm())
            colds.append(cold)
            warms.append(warm)
        cold, warm = statistics.median(colds), statistics.median(warms)
        rows += [
            ("LLM calls made", ", ".join(map(str, sorted(calls)))
             + (" ok" if calls == {calls_expected} else " MISMATCH")),
            (f"cold wall time (median of {args.repeats})",
             f"{cold * 1000:.0f} ms = {cold / ideal:.2f}x ideal (target <= 1.25x); "
             f"best {min(colds) * 1000:.0f} ms = {min(colds) / ideal:.2f}x"),
            ("judge process CPU during the cold run",
             f"{statistics.median(cpus) * 1000:.0f} ms "
             f"({statistics.median(cpus) / calls_expected * 1e6:.0f} us per LLM call)"),
            ("warm-cache wall time, all answers", f"{warm * 1000:.1f} ms (target <= 50 ms)"),
        ]
        try:
            import httpx  # noqa: F401

            judge = OpenAIJudge(server.base_url, "bench", cache=None)
            todo = sorted({(normalize(g), normalize(a)) for g, a in pairs})[:calls_expected]
            bodies = [json.dumps(judge.request_body(g, a)).encode() for g, a in todo]
            for client in ("aiohttp", "httpx"):
                t = min(asyncio.run(_bare(client, judge.url, bodies, args.concurrency)) for _ in range(2))
                rows.append((f"bare {client}, {len(bodies)} requests", f"{t * 1000:.0f} ms = {t / ideal:.2f}x ideal"))
        except ImportError:
            rows.append(("bare httpx vs aiohttp", "skipped (pip install httpx to compare)"))
        rows.append(bench_verify(pairs, server.base_url, args.concurrency, calls_expected, ideal, args.repeats))
        rows += bench_verify_cli(pairs, server.base_url, args.repeats)
    rate, graded = bench_taxonomy()
    rows.append(("taxonomy judge", f"{rate:,.0f} pairs/s ({graded:,} graded by the tree, rest fast paths)"))

    width = max(len(k) for k, _ in rows)
    print(f"judge benchmark: latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
