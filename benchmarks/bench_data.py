"""Benchmark loading and training-set building at the size of a real split.

    python benchmarks/bench_data.py [--images 30300] [--n 3000] [--corrupt 0.001]

Writes a Food-101 layout (tiny JPEGs, a CoOp split file listing every image as `test` and `train`)
with a share of corrupt files, then times: `load_benchmark` (metadata + one stat per image),
`load_benchmark(verify_images=True)` (decode every image), streaming `iter_images` over the split,
and `build_trainset` of N images. Prints a table; the image-writing time is not counted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))

from archives import write_corrupt, write_image  # noqa: E402

from speciarl.data import BenchmarkSizeWarning, ImageProblems, iter_images, load_benchmark  # noqa: E402
from speciarl.data.trainset import build_trainset  # noqa: E402


def write_food(root: Path, images: int, corrupt: float, seed: int = 0) -> int:
    rng = random.Random(seed)
    classes = [f"dish_{k:03d}" for k in range(101)]
    entries, bad = [], 0
    for i in range(images):
        cls = classes[i % len(classes)]
        rel = f"{cls}/{100000 + i}.jpg"
        path = root / "images" / rel
        if rng.random() < corrupt:
            write_corrupt(path)
            bad += 1
        else:
            write_image(path, i)
        entries.append([rel, i % len(classes), cls])
    (root / "meta").mkdir(parents=True, exist_ok=True)
    split = {"train": entries, "val": [], "test": entries}
    (root / "split_zhou_Food101.json").write_text(json.dumps(split), encoding="utf-8")
    return bad


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30300)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--corrupt", type=float, default=0.001)
    args = parser.parse_args()
    warnings.simplefilter("ignore", BenchmarkSizeWarning)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "food-101"
        bad = write_food(root, args.images, args.corrupt)
        rows = []
        split, t = timed(lambda: load_benchmark("food101", root))
        rows.append(("load_benchmark (stat only)", len(split), t))
        checked, t = timed(lambda: load_benchmark("food101", root, verify_images=True))
        rows.append((f"load_benchmark verify_images ({len(checked.skipped)} skipped)", len(split), t))
        problems = ImageProblems()
        count, t = timed(lambda: sum(1 for _ in iter_images(split, problems)))
        rows.append((f"iter_images ({problems.count} skipped)", len(split), t))
        _, t = timed(lambda: build_trainset("food101", root, n=args.n, seed=0, output=Path(tmp) / "train.jsonl"))
        rows.append((f"build_trainset n={args.n}", args.n, t))
    print(f"Food-101 layout, {args.images} images, {bad} corrupt")
    print(f"| {'step':<46} | {'images':>7} | {'seconds':>8} | {'images/s':>9} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 10}|{'-' * 11}|")
    for name, n, t in rows:
        print(f"| {name:<46} | {n:>7} | {t:>8.2f} | {n / t:>9.0f} |")


if __name__ == "__main__":
    main()
