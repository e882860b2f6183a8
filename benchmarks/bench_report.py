"""`speciarl verify` and `speciarl report` at paper scale: wall time and peak memory, 1 M and 3.4 M records.

    python benchmarks/bench_report.py [--sizes 1024000,3400000] [--dir /tmp] [--keep] [--skip-verify]

Per size it writes that many prediction records (best-of-64 over the six benchmarks, about 1 kB each
with the reasoning, like a real best-of-64 run) under --dir, then runs, each in its own process:

- `speciarl verify` with the OpenAI judge against the test server (tests/helpers/openai_server.py) and a
  SQLite cache warmed beforehand with every distinct pair, so the judge does no LLM work and what is
  measured is the record path (read, validate, dedup, resume keys, write);
- `speciarl report` on the graded file (tables and the three plots);
- a bare parse of the graded file with orjson, and with the standard json module: every line decoded,
  nothing kept (the floor any reader pays).

`--skip-verify` writes graded records directly (random categories) and measures report and parse only.
Peak memory is the largest RSS of the command's processes (wait4; report reads files >= 128 MB with one
process per CPU, so on N CPUs up to N such processes exist at once); CPU is user + sys of the command
and its children. Targets (issue 11): peak memory <= 500 MB at 3.4 M records
and flat from 1 M; report wall <= 2x the orjson parse of the same file. The files are deleted at the end
unless --keep. The machine's load is printed: timings on a shared machine are noisy.
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

N = 64  # predictions per image (the paper's best-of-64)
DATASETS = ("cub200", "flowers102", "food101", "oxford_pets", "stanford_cars", "fgvc_aircraft")
REASONING = ("Looking at the image: the overall shape, the colour pattern of the head and wings, the bill and the "
             "legs. The markings rule out the closest look-alikes; the proportions and the background fit the "
             "usual habitat. Weighing what is visible against what would distinguish the candidates, ") * 3

PARSE = """
import sys, time
loads = __import__(sys.argv[2]).loads
t = time.perf_counter()
n = 0
with open(sys.argv[1], "rb", buffering=1 << 20) as fh:
    for raw in fh:
        loads(raw)
        n += 1
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


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "speciarl.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024000,3400000", help="comma-separated record counts")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the big files go (deleted after)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--skip-verify", action="store_true", help="write graded records directly; time report only")
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
                report_wall, report_mb, _, report_cpu = timed(
                    cli("report", str(graded), "--out", str(work / f"report-{size}"), "--no-gallery"), env)
                print(f"  report: {report_wall:.1f} s, CPU {report_cpu:.1f} s, {report_mb:.0f} MB", flush=True)
                parsed = {}
                for library in ("orjson", "json"):
                    wall, mb, out, cpu = timed([sys.executable, "-c", PARSE, str(graded), library], env)
                    count, seconds = out.split()
                    parsed[library] = (float(seconds), cpu)
                    print(f"  parse with {library}: {float(seconds):.1f} s, CPU {cpu:.1f} s ({count} lines), "
                          f"{mb:.0f} MB", flush=True)
                rows.append((size, graded.stat().st_size / 1e9, verify_wall, verify_cpu, verify_mb, report_wall,
                             report_cpu, report_mb, *parsed["orjson"], parsed["json"][0]))
                graded.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = ("records", "GB", "verify s", "verify CPU s", "verify MB", "report s", "report CPU s", "report MB",
              "orjson parse s", "orjson parse CPU s", "json parse s", "report / parse (wall)", "report / parse (CPU)")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for size, gb, vw, vc, vm, rw, rc, rm, pw, pc, pj in rows:
        print(f"| {size:,} | {gb:.2f} | {vw:.1f} | {vc:.1f} | {vm:.0f} | {rw:.1f} | {rc:.1f} | {rm:.0f} | {pw:.1f} | "
              f"{pc:.1f} | {pj:.1f} | {rw / pw:.2f} | {rc / pc:.2f} |")
    print("targets: peak MB <= 500 at 3.4 M and flat from 1 M; report / orjson parse <= 2 (wall)")


if __name__ == "__main__":
    main()
