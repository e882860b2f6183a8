"""Prediction speed of the tiny model on CPU, and the predict stage's own overhead per record.

    python benchmarks/bench_predict.py [--samples 32] [--max-new-tokens 32] [--batch-sizes 1,4,16]
                                       [--threads 1] [--repeats 3]

Builds the tiny offline Qwen2.5-VL (random weights: it never emits EOS, so every prediction is
exactly --max-new-tokens tokens and batch sizes compare fairly) and the synthetic shapes benchmark
in a temp folder, then for each batch size runs the full predict stage (`run_predict`: requests,
generation, records appended and flushed to predictions.jsonl) with a timing wrapper around the
backend's iterator. Prints a table: predictions/s (best of --repeats), speed-up over batch size 1,
and the stage's time outside the model per record and as a share of the model's time (target < 5 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from speciarl.data import load_benchmark
from speciarl.data.synthetic import write_synthetic
from speciarl.models.tiny import build_tiny_vlm
from speciarl.pipeline.predict import run_predict
from speciarl.predict import SamplingParams, build_predictor
from speciarl.prompts import get_prompt


class Timed:
    """Wraps a predictor; `inside` accumulates the seconds spent producing completions."""

    def __init__(self, inner: Any):
        self.inner, self.inside, self.model_name = inner, 0.0, inner.model_name

    def predict(self, requests: Any, sampling: SamplingParams) -> Iterator[Any]:
        it = iter(self.inner.predict(requests, sampling))
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                self.inside += time.perf_counter() - t0
                return
            self.inside += time.perf_counter() - t0
            yield item

    def close(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", default="1,4,16")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the tiny model is fastest on 1)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    work = Path(tempfile.mkdtemp(prefix="bench_predict."))
    bench = write_synthetic(work / "bench", per_class=max(1, -(-args.samples // 9)), splits=("test",))
    samples = list(load_benchmark("synthetic", bench.root, "test"))[: args.samples]
    model = build_tiny_vlm(work / "model", words=bench.labels)
    prompt = get_prompt("base")
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens)
    rows = []
    base_rate = None
    for bs in [int(x) for x in args.batch_sizes.split(",")]:
        predictor = build_predictor({"backend": "transformers", "path": str(model), "batch_size": bs,
                                     "device": "cpu", "num_threads": args.threads})
        list(predictor.predict([], sampling))  # nothing: builds the generation config
        best = None
        for rep in range(args.repeats + 1):  # first round warms up
            timed = Timed(predictor)
            run_dir = work / f"run-bs{bs}-{rep}"
            t0 = time.perf_counter()
            summary = run_predict(samples, prompt, sampling, timed, run_dir, progress=False)
            total = time.perf_counter() - t0
            assert summary.written == len(samples), summary.to_dict()
            if rep and (best is None or total < best[0]):
                best = (total, timed.inside)
        total, inside = best
        rate = len(samples) / total
        base_rate = base_rate or rate
        outside = total - inside
        rows.append([str(bs), f"{rate:.1f}", f"{rate / base_rate:.2f}x", f"{inside / len(samples) * 1e3:.1f}",
                     f"{outside / len(samples) * 1e3:.3f}", f"{100 * outside / inside:.2f} %"])
    table = Table(title=f"predict stage, tiny Qwen2.5-VL on CPU ({len(samples)} images, greedy, "
                        f"{args.max_new_tokens} new tokens each, {args.threads} thread(s), best of {args.repeats})")
    for col in ("batch size", "predictions/s", "speed-up", "model ms/pred", "stage overhead ms/pred",
                "overhead / model"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
