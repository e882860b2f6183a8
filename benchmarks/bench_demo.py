"""Benchmark `speciarl demo`: wall time per stage, against the issue's budget (full ≤ 10 min, quick ≤ 2 min).

    python benchmarks/bench_demo.py [--quick] [--seed 0] [--keep DIR]

Runs the whole demo in a fresh directory (a temporary one unless --keep) and prints the stage timings
the demo records in report/demo.json, plus the total and the budget. Other work on the machine slows
every stage: note the load average printed with the table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

from speciarl.demo.run import run_demo

BUDGET_S = {"quick": 120, "full": 600}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="run directory to keep (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "demo"
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            report = run_demo(out, quick=args.quick, seed=args.seed, log=lambda *_: None)
        wall = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"speciarl demo ({mode}, seed {args.seed}), load average {os.getloadavg()[0]:.1f}")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in report["demo"]["timings_s"].items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row("total (wall, incl. imports)", f"{wall:.1f}")
    table.add_row("budget", f"{BUDGET_S[mode]}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
