"""Benchmarks and training sets: read the official archives (or your own images) into `Sample`s.

    from speciarl.data import load_benchmark
    split = load_benchmark("cub200", "/data/CUB_200_2011", split="test")
    for sample in split: ...            # Sample(sample_id, dataset, split, ground_truth, image_path, attributes)
    split.skipped                       # images listed but missing/unreadable, with reasons

See docs/benchmarks.md for where each benchmark comes from and what to unpack where.
"""

from .images import ImageError, ImageProblems, iter_images, open_image
from .registry import (
    Benchmark,
    BenchmarkSizeWarning,
    MissingDataError,
    get_benchmark,
    list_benchmarks,
    load_benchmark,
    register_benchmark,
)
from .sample import BenchmarkSplit, Sample, Skipped, clean_label, make_sample_id

__all__ = [
    "Benchmark",
    "BenchmarkSizeWarning",
    "BenchmarkSplit",
    "ImageError",
    "ImageProblems",
    "MissingDataError",
    "Sample",
    "Skipped",
    "clean_label",
    "get_benchmark",
    "iter_images",
    "list_benchmarks",
    "load_benchmark",
    "make_sample_id",
    "open_image",
    "register_benchmark",
]
