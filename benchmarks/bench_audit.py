"""Cost of `speciarl judge audit` on the packaged gold set, and what the taxonomy judges score on it.

    python benchmarks/bench_audit.py [--latency 0.05] [--concurrency 16 64]

Part 1: the gold set graded by `OpenAIJudge` against the test server (tests/helpers/openai_server.py,
in a subprocess) answering after a fixed latency: wall time vs the ideal n x latency / concurrency,
per-pair latency p50 / p95, tokens per pair (the test server counts words). Part 2: the taxonomy judge
built from each benchmark hierarchy (the trees of `speciarl data taxonomy`) audited on that domain's
gold items, fast paths off and on: how far a no-LLM judge gets, and what it misses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from openai_server import ServerProcess  # noqa: E402

from speciarl.judges.gold import load_gold  # noqa: E402
from speciarl.judges.gold.generate import _facts  # noqa: E402
from speciarl.judges.hierarchy import LESS_SPECIFIC_LEVELS, aircraft_tree, cars_tree, pets_tree, to_yaml  # noqa: E402
from speciarl.pipeline.audit import run_audit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    items = load_gold()
    print(f"gold: {len(items)} pairs; server latency {args.latency * 1000:.0f} ms\n")
    print("| concurrency | wall s | ideal s | p50 ms | p95 ms | requests | tokens/pair |")
    print("|---|---|---|---|---|---|---|")
    with ServerProcess(latency=args.latency) as server:
        for concurrency in args.concurrency:
            config = {"type": "openai", "base_url": server.base_url, "model": "bench", "concurrency": concurrency}
            cost = run_audit(config, tmp / f"c{concurrency}", progress=False, print_table=False)["cost"]
            ideal = len(items) * args.latency / concurrency
            print(f"| {concurrency} | {cost['wall_s']:.2f} | {ideal:.2f} | {cost['latency_ms']['p50']:.0f} | "
                  f"{cost['latency_ms']['p95']:.0f} | {cost['requests']} | {cost['tokens_per_pair']:.0f} |")

    trees = {"aircraft": ("fgvc_aircraft", aircraft_tree((v, f, m) for v, f, m, _ in _facts("fgvc_aircraft.tsv"))),
             "cars": ("stanford_cars", cars_tree((n, m) for n, m in _facts("stanford_cars.tsv"))),
             "pets": ("oxford_pets", pets_tree((b, s) for b, s in _facts("oxford_pets.tsv")))}
    print("\n| taxonomy judge | gold items | accuracy (fast paths off) | kappa | accuracy (on) | kappa |")
    print("|---|---|---|---|---|---|")
    for domain, (bench, tree) in trees.items():
        (tmp / f"{bench}.yaml").write_text(to_yaml(tree))
        gold = tmp / f"gold-{domain}.jsonl"
        gold.write_text("".join(i.to_json() + "\n" for i in items if i.domain == domain))
        config = {"type": "taxonomy", "taxonomy": str(tmp / f"{bench}.yaml"),
                  "less_specific_levels": LESS_SPECIFIC_LEVELS[bench]}
        off = run_audit(config, tmp / f"{domain}-off", gold=gold, progress=False, print_table=False)
        on = run_audit(config, tmp / f"{domain}-on", gold=gold, with_fast_paths=True, progress=False,
                       print_table=False)
        print(f"| {bench} | {off['n']} | {off['accuracy']:.3f} | {off['kappa']:.3f} | {on['accuracy']:.3f} | "
              f"{on['kappa']:.3f} |")
    print(f"\n(audit folders in {tmp})")


if __name__ == "__main__":
    main()
