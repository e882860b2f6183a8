"""Prediction speed of the tiny model on CPU, and the predict stage's own overhead per record.

    python benchmarks/bench_predict.py [--samples 32] [--max-new-tokens 32] [--batch-sizes 1,4,16]
                                       [--threads 1] [--repeats 3] [--sampled [--n 4]]

Builds the tiny offline Qwen2.5-VL (random weights: it never emits EOS, so every prediction is
exactly --max-new-tokens tokens and batch sizes compare fairly) and the synthetic shapes benchmark
in a temp folder, then for each batch size runs the full predict stage (`run_predict`: requests,
generation, records appended and flushed to predictions.jsonl) with a timing wrapper around the
backend's iterator. Prints a table: predictions/s (best of --repeats), speed-up over batch size 1,
and the stage's time outside the model per record and as a share of the model's time (target < 5 %).

--sampled decodes with temperature 0.6, top_p 0.95 and --n predictions per image, and runs each batch
size twice: with the backend's per-(sample, index) seeded sampling (one generator per row, see
`RowSeededSampler`) and with HF's own `do_sample` multinomial draw from one global RNG (the per-batch seeding used
before), so the cost of per-row seeds shows as the "vs HF multinomial" column.
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
from speciarl.predict import SamplingParams
from speciarl.predict.transformers_backend import TransformersPredictor
from speciarl.prompts import get_prompt


class HFMultinomial(TransformersPredictor):
    """Baseline: HF `do_sample=True` (one global RNG for the batch), no per-row processors."""

    def _generation_config(self, sampling: SamplingParams) -> Any:
        config = super()._generation_config(sampling)
        if not sampling.greedy:
            config.do_sample, config.top_k = True, 0
            config.temperature, config.top_p = sampling.temperature, sampling.top_p
        return config

    def _logits_processors(self, batch: Any, sampling: SamplingParams) -> Any:
        return None


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
    ap.add_argument("--sampled", action="store_true", help="temperature 0.6, top_p 0.95; compare with HF multinomial")
    ap.add_argument("--n", type=int, default=4, help="predictions per image with --sampled")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    work = Path(tempfile.mkdtemp(prefix="bench_predict."))
    bench = write_synthetic(work / "bench", per_class=max(1, -(-args.samples // 9)), splits=("test",))
    samples = list(load_benchmark("synthetic", bench.root, "test"))[: args.samples]
    model = build_tiny_vlm(work / "model", words=bench.labels)
    prompt = get_prompt("base")
    sampling = (SamplingParams(n=args.n, temperature=0.6, top_p=0.95, max_new_tokens=args.max_new_tokens)
                if args.sampled else SamplingParams(max_new_tokens=args.max_new_tokens))
    variants = [("per-row seeds", TransformersPredictor)] + ([("HF multinomial", HFMultinomial)] if args.sampled else [])
    predictions = len(samples) * sampling.n
    rows = []
    base_rate = None
    for bs in [int(x) for x in args.batch_sizes.split(",")]:
        rates: dict[str, float] = {}
        for label, cls in variants:
            predictor = cls(str(model), batch_size=bs, device="cpu", num_threads=args.threads)
            best = None
            for rep in range(args.repeats + 1):  # first round warms up
                timed = Timed(predictor)
                run_dir = work / f"run-{cls.__name__}-bs{bs}-{rep}"
                t0 = time.perf_counter()
                summary = run_predict(samples, prompt, sampling, timed, run_dir, progress=False)
                total = time.perf_counter() - t0
                assert summary.written == predictions, summary.to_dict()
                if rep and (best is None or total < best[0]):
                    best = (total, timed.inside)
            total, inside = best
            rate = rates[label] = predictions / total
            base_rate = base_rate or rate
            outside = total - inside
            rows.append([str(bs), label, f"{rate:.1f}", f"{rate / base_rate:.2f}x",
                         f"{inside / predictions * 1e3:.1f}", f"{outside / predictions * 1e3:.3f}",
                         f"{100 * outside / inside:.2f} %", "-"])
        if args.sampled:  # fill the comparison now that both variants ran
            rows[-1][-1] = "baseline"
            rows[-2][-1] = f"{100 * (rates['per-row seeds'] / rates['HF multinomial'] - 1):+.1f} %"
    mode = f"sampled T=0.6 top_p=0.95 n={sampling.n}" if args.sampled else "greedy"
    table = Table(title=f"predict stage, tiny Qwen2.5-VL on CPU ({len(samples)} images, {mode}, "
                        f"{args.max_new_tokens} new tokens each, {args.threads} thread(s), best of {args.repeats})")
    for col in ("batch size", "decoding", "predictions/s", "speed-up", "model ms/pred", "stage overhead ms/pred",
                "overhead / model", "vs HF multinomial"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
