"""Benchmark `speciarl demo`: time per stage against the 2-minute target (the issue's budget).

    OMP_NUM_THREADS=1 python benchmarks/bench_demo.py [--quick] [--seed 0] [--keep DIR]

Runs the whole demo in a fresh directory (a temporary one unless --keep) and prints each stage's
wall time, its CPU time (user + sys of the process that ran it: what the stage costs on an idle
machine with one torch thread) and the expected time the live view shows, then the totals against
the target. The stages after the warm start run side by side in worker processes (--workers, default
one per CPU), so the total wall time is less than the sum of the stages' and the total CPU time
includes the workers'. Other work on the machine slows wall times, not CPU times much: the load
averages are printed with the table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import tempfile
import time
from pathlib import Path

from speciarl.demo.run import run_demo

TARGET_S = {"quick": 60, "full": 120}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="run directory to keep (default: a temporary one)")
    parser.add_argument("--workers", type=int, help="processes after the warm start (default: one per CPU)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "demo"
        started, cpu_started, children = time.perf_counter(), time.process_time(), _children_cpu()
        with contextlib.redirect_stdout(io.StringIO()):
            report = run_demo(out, quick=args.quick, seed=args.seed, log=lambda *_: None, live=False,
                              workers=args.workers)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started + _children_cpu() - children
    mode = "quick" if args.quick else "full"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"speciarl demo ({mode}, seed {args.seed}, {report['demo']['workers']} processes after the "
                        f"warm start); load average {load_before:.1f} before, "
                        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    for col in ("stage", "wall s", "CPU s", "expected s"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for stage, t in report["demo"]["stages"].items():
        table.add_row(stage, f"{t['wall_s']:.1f}", f"{t['cpu_s']:.1f}", f"{t['expected_s']:.0f}")
    table.add_row("total (incl. imports)", f"{wall:.1f}", f"{cpu:.1f}", "")
    verdict = "within" if wall <= TARGET_S[mode] else "OVER"
    table.add_row(f"target: {verdict} (wall)", f"{TARGET_S[mode]}", "", "")
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
