"""`speciarl verify` and `speciarl report` at paper scale: wall time and peak memory, 1 M and 3.4 M records.

    python benchmarks/bench_report.py [--sizes 1024000,3400000] [--dir /tmp] [--keep] [--skip-verify]

Per size it writes that many prediction records (best-of-64 over the six benchmarks, about 1 kB each
with the reasoning, like a real best-of-64 run) under --dir, then runs, each in its own process:

- `speciarl verify` with the OpenAI judge against the test server (tests/helpers/openai_server.py) and a
  SQLite cache warmed beforehand with every distinct pair, so the judge does no LLM work and what is
  measured is the record path (read, validate, dedup, resume keys, write);
- `speciarl report` on the graded file (tables and the three plots);
- a bare parse of the graded file with msgspec (the library report's hot loop decodes with), orjson
  and the standard json module: every line decoded into Python objects, nothing kept (the floor any
  reader pays); one process, and msgspec also with as many processes as report uses (same ranges).

`--skip-verify` writes graded records directly (random categories) and measures report and parse only.
With `--repeat N` report and the parses run N times, alternating, and the table shows each one's
least wall and least CPU over its runs (on a shared machine, the runs least disturbed by other load;
report's largest peak memory of all).
Peak memory is the largest RSS of the command's processes (wait4; report reads files >= 128 MB with one
process per CPU, so on N CPUs up to N such processes exist at once); CPU is user + sys of the command
and its children. Targets (issue 11): peak memory <= 500 MB at 3.4 M records and flat from 1 M; report
wall <= 2x the time the same JSON library needs to parse the file. What is compared, all printed:
report's wall (its whole run: interpreter start, parallel read, plots, files) against the one-process
parse (the target as the issue states it), against the parse in as many processes as report uses (the
like-for-like reading of it), and report's CPU against the parse's CPU (independent of processes).
The files are deleted at the end unless --keep. The machine's load is printed: timings on a shared
machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from openai_server import ServerProcess  # noqa: E402

sys.path.insert(0, str(ROOT / "src"))
from speciarl.report.summary import default_workers  # noqa: E402

N = 64  # predictions per image (the paper's best-of-64)
DATASETS = ("cub200", "flowers102", "food101", "oxford_pets", "stanford_cars", "fgvc_aircraft")
REASONING = ("Looking at the image: the overall shape, the colour pattern of the head and wings, the bill and the "
             "legs. The markings rule out the closest look-alikes; the proportions and the background fit the "
             "usual habitat. Weighing what is visible against what would distinguish the candidates, ") * 3

PARSE = """
import sys, time
path, library, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
if library == "msgspec":
    import msgspec
    loads = msgspec.json.decode
else:
    loads = __import__(library).loads

def parse(job):
    start, end = job
    n = 0
    with open(path, "rb", buffering=1 << 20) as fh:
        fh.seek(start)
        for raw in fh:
            if start >= end:
                break
            start += len(raw)
            loads(raw)
            n += 1
    return n

t = time.perf_counter()
if workers == 1:
    n = parse((0, float("inf")))
else:  # the byte ranges and process pool report uses (speciarl.report.summary)
    import concurrent.futures, multiprocessing
    from speciarl.records import line_ranges
    jobs = line_ranges(path, workers * 4)
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        n = sum(pool.map(parse, jobs))
print(n, time.perf_counter() - t)
"""


def labels() -> dict[str, list[str]]:
    data = ROOT / "tests" / "judges" / "data"
    return {d: [x.strip() for x in (data / f"{d}.txt").read_text().splitlines() if x.strip()] for d in DATASETS}


def answer_for(gt: str, classes: list[str], rng: random.Random) -> str | None:
    """Exact label, a broader word, a confusion, a refusal, or no answer tag (parse failure)."""
    r = rng.random()
    if r < 0.3:
        return gt
    if r < 0.55:
        return gt.split()[-1]
    if r < 0.9:
        return classes[(classes.index(gt) + 1) % len(classes)]
    return "None" if r < 0.97 else None


CATEGORIES = ("wrong", "abstain", "generic", "less specific", "specific", "more specific")


def write_predictions(path: Path, size: int, seed: int = 0, graded: bool = False) -> set[tuple[str, str]]:
    """`size` prediction records (size // 64 images x 64); returns the distinct (truth, answer) pairs.
    With `graded`, records as verify writes them (answer, normalised fields, a random category)."""
    rng = random.Random(seed)
    by_dataset = labels()
    pairs: set[tuple[str, str]] = set()
    with open(path, "w", encoding="utf-8") as fh:
        for image in range(size // N):
            dataset = DATASETS[image % len(DATASETS)]
            classes = by_dataset[dataset]
            gt = classes[image // len(DATASETS) % len(classes)]
            head = (f'{{"sample_id":"{dataset}:test:{image}","dataset":"{dataset}","split":"test",'
                    f'"ground_truth":{json.dumps(gt)},"prediction_index":')
            lines = []
            for k in range(N):
                answer = answer_for(gt, classes, rng)
                tail = "" if answer is None else f"<answer>{answer}</answer>"
                if answer is not None:
                    pairs.add((gt, answer))
                completion = f"<think>{REASONING}sample {k}.</think>{tail}"
                grade = ""
                if graded:
                    category = "null" if answer is None else json.dumps(rng.choice(CATEGORIES))
                    grade = (f',"answer":{json.dumps(answer)},"answer_normalized":{json.dumps(answer and answer.lower())},'
                             f'"ground_truth_normalized":{json.dumps(gt.lower())},"category":{category},"judge":"bench"')
                lines.append(f'{head}{k},"completion":{json.dumps(completion)},"prompt_name":"base",'
                             f'"model":"bench/qwen2.5-vl-7b"{grade}}}\n')
            fh.write("".join(lines))
    return pairs


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS MB, stdout, CPU seconds) of one child process (and its children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def _least(seen: tuple[float, float] | None, wall: float, cpu: float) -> tuple[float, float]:
    """The least wall and the least CPU seen so far (each the run least disturbed by other load)."""
    return (wall, cpu) if seen is None else (min(seen[0], wall), min(seen[1], cpu))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "speciarl.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024000,3400000", help="comma-separated record counts")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the big files go (deleted after)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--skip-verify", action="store_true", help="write graded records directly; time report only")
    parser.add_argument("--quick", action="store_true", help="parse baselines with msgspec only (not orjson, json)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run report and each parse this many times, alternating; the table shows the least times")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    work = Path(tempfile.mkdtemp(prefix="speciarl-bench-report-", dir=args.dir))
    rows = []
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; files under {work}", flush=True)
    try:
        with ServerProcess() as server:
            judge = ["--judge", "openai", "--base-url", server.base_url, "--model", "bench",
                     "--cache", str(work / "cache.sqlite"), "--no-progress"]
            for size in (int(s) for s in args.sizes.split(",")):
                predictions, graded = work / f"pred-{size}.jsonl", work / f"graded-{size}.jsonl"
                t0 = time.perf_counter()
                pairs = write_predictions(graded if args.skip_verify else predictions, size, graded=args.skip_verify)
                written = graded if args.skip_verify else predictions
                print(f"{size:,} records: wrote {written.stat().st_size / 1e9:.2f} GB in "
                      f"{time.perf_counter() - t0:.0f} s; {len(pairs)} distinct pairs", flush=True)
                verify_wall = verify_mb = verify_cpu = float("nan")
                if not args.skip_verify:
                    warm = work / "warm.jsonl"  # every distinct pair once: the cache then answers all of them
                    warm.write_text("".join(json.dumps({"sample_id": f"w{i}", "dataset": "warm", "ground_truth": g,
                                                        "answer": a}) + "\n" for i, (g, a) in enumerate(sorted(pairs))))
                    timed(cli("verify", str(warm), "-o", str(work / "warm-out.jsonl"), *judge), env)
                    verify_wall, verify_mb, verify_out, verify_cpu = timed(
                        cli("verify", str(predictions), "-o", str(graded), *judge), env)
                    print(f"  verify: {verify_wall:.1f} s, CPU {verify_cpu:.1f} s, {verify_mb:.0f} MB | "
                          f"{verify_out.strip()}", flush=True)
                    if "LLM calls 0" not in verify_out:
                        print("  (warning: the judge made LLM calls: the cache was not warm)", flush=True)
                    predictions.unlink()
                workers = default_workers()
                cases = [("msgspec", 1), ("msgspec", workers)] + ([] if args.quick else [("orjson", 1), ("json", 1)])
                best: dict[object, tuple[float, float]] = {}  # case -> (least wall, least CPU) over the runs
                peak_mb = 0.0  # report's largest peak over the runs
                for _ in range(args.repeat):  # alternating, so a burst of load hits each case alike
                    wall, mb, _, cpu = timed(
                        cli("report", str(graded), "--out", str(work / f"report-{size}"), "--no-gallery"), env)
                    print(f"  report: {wall:.1f} s, CPU {cpu:.1f} s, {mb:.0f} MB", flush=True)
                    best["report"] = _least(best.get("report"), wall, cpu)
                    peak_mb = max(peak_mb, mb)
                    for library, procs in cases:
                        _, mb, out, cpu = timed([sys.executable, "-c", PARSE, str(graded), library, str(procs)], env)
                        count, seconds = out.split()
                        wall = float(seconds)
                        best[library, procs] = _least(best.get((library, procs)), wall, cpu)
                        print(f"  parse with {library} in {procs} process{'es' if procs > 1 else ''}: {wall:.1f} s, "
                              f"CPU {cpu:.1f} s ({count} lines), {mb:.0f} MB", flush=True)
                (report_wall, report_cpu), report_mb = best["report"], peak_mb
                parsed = {case: values for case, values in best.items() if case != "report"}
                nan = (float("nan"), float("nan"))
                rows.append((size, graded.stat().st_size / 1e9, verify_wall, verify_cpu, verify_mb, report_wall,
                             report_cpu, report_mb, *parsed["msgspec", 1], parsed["msgspec", workers][0],
                             *parsed.get(("orjson", 1), nan), parsed.get(("json", 1), nan)[0]))
                graded.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    workers = default_workers()
    header = ("records", "GB", "verify s", "verify CPU s", "verify MB", "report s", "report CPU s", "report MB",
              "msgspec parse s", "msgspec parse CPU s", f"msgspec parse s, {workers} procs", "orjson parse s",
              "orjson parse CPU s", "json parse s")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for size, gb, vw, vc, vm, rw, rc, rm, pw, pc, ppw, ow, oc, jw in rows:
        print(f"| {size:,} | {gb:.2f} | {vw:.1f} | {vc:.1f} | {vm:.0f} | {rw:.1f} | {rc:.1f} | {rm:.0f} | {pw:.1f} | "
              f"{pc:.1f} | {ppw:.1f} | {ow:.1f} | {oc:.1f} | {jw:.1f} |")
    ratios = ("records", "report / msgspec parse (wall, 1 proc)", f"report / msgspec parse (wall, {workers} procs)",
              "report / msgspec parse (CPU)", "report / orjson parse (wall, 1 proc)", "report / orjson parse (CPU)")
    print("\n| " + " | ".join(ratios) + " |\n|" + "---|" * len(ratios))
    for size, gb, vw, vc, vm, rw, rc, rm, pw, pc, ppw, ow, oc, jw in rows:
        print(f"| {size:,} | {rw / pw:.2f} | {rw / ppw:.2f} | {rc / pc:.2f} | {rw / ow:.2f} | {rc / oc:.2f} |")
    print("targets: peak MB <= 500 at 3.4 M and flat from 1 M; report <= 2x the parse by the same JSON library "
          f"(report decodes with msgspec; report reads in {workers} processes here)")

if __name__ == "__main__":
    main()
