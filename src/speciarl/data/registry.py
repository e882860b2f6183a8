"""The benchmark registry: each benchmark is a small declarative unit registered by name.

A benchmark module declares where the data comes from, what to unpack where, the marker files that
identify its root, its splits and their expected sizes, and one loader function
``load(root: Path, split: str, *, <options>) -> (samples, skipped)``. `load_benchmark` does the common
work: find the root (the folder the user passed, or the archive's own folder inside it), check options,
call the loader, skip unreadable images with a count, and warn when a full split has the wrong size.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpeciarlError
from .sample import BenchmarkSplit, Sample, Skipped, check_unique_ids

log = logging.getLogger(__name__)

Loader = Callable[..., tuple[list[Sample], list[Skipped]]]


class MissingDataError(SpeciarlError):
    """A benchmark's files are not where the user said: the message says what to download and where."""


class BenchmarkSizeWarning(UserWarning):
    """A full split whose image count differs from the published size (docs/method.md#benchmarks)."""


@dataclass(frozen=True)
class Benchmark:
    """One registered benchmark: metadata for `speciarl data list` plus its loader."""

    name: str
    title: str
    loader: Loader
    splits: tuple[str, ...]
    expected_sizes: dict[str, int] = field(default_factory=dict)
    markers: tuple[str, ...] = ()
    subdirs: tuple[str, ...] = ()
    source: str = ""
    unpack: str = ""
    label: str = ""
    group: str | None = None
    default_split: str = "test"
    train_split: str = "train"
    root_kind: str = "dir"  # "dir": a folder with the markers; "file": a file; "any": a path or a name

    def options(self) -> list[str]:
        """Keyword options the loader accepts (beyond root and split)."""
        params = list(inspect.signature(self.loader).parameters.values())[2:]
        return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def how_to_get(self) -> str:
        return f"Download: {self.source}. Unpack: {self.unpack}."

    def resolve_root(self, root: str | Path) -> Path:
        """The folder holding the markers: `root` itself or the archive's folder inside it."""
        root = Path(root).expanduser()
        if self.root_kind == "any":
            return root.resolve() if root.exists() else root
        if self.root_kind == "file" or not self.markers:
            want_file = self.root_kind == "file"
            if (root.is_file() if want_file else root.is_dir()):
                return root.resolve()
            kind = "file" if want_file else "folder"
            raise MissingDataError(f"{self.title} ({self.name}): {root} is not an existing {kind}. {self.unpack}")
        candidates = [root, *(root / sub for sub in self.subdirs)]
        for candidate in candidates:
            if all((candidate / marker).exists() for marker in self.markers):
                return candidate.resolve()
        if not root.exists():
            problem = f"{root} does not exist (expected {root / self.markers[0]})"
        else:
            missing = [m for m in self.markers if not (root / m).exists()]
            problem = f"{root / missing[0]} not found" + (
                f" (nor under {', '.join(str(root / s) for s in self.subdirs)})" if self.subdirs else ""
            )
        raise MissingDataError(
            f"{self.title} ({self.name}): {problem}. {self.how_to_get()} Then pass that folder as the root."
        )


_REGISTRY: dict[str, Benchmark] = {}


def register_benchmark(name: str, **meta: Any) -> Callable[[Loader], Loader]:
    """Decorator: register the decorated loader under `name` with its metadata (see `Benchmark`)."""

    def decorate(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        _REGISTRY[name] = Benchmark(name=name, loader=loader, **meta)
        return loader

    return decorate


def _ensure_loaded() -> None:
    # Importing the modules registers them; they import only the standard library at module level.
    from . import (  # noqa: F401
        caltech101,
        cub200,
        fgvc_aircraft,
        flowers102,
        food101,
        hf,
        imagefolder,
        manifest,
        oxford_pets,
        stanford_cars,
        synthetic,
    )


def list_benchmarks() -> list[Benchmark]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def get_benchmark(name: str) -> Benchmark:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def load_benchmark(
    name: str,
    root: str | Path,
    split: str | None = None,
    *,
    verify_images: bool = False,
    limit: int | None = None,
    **options: Any,
) -> BenchmarkSplit:
    """Load one split of a benchmark from a local copy; `split=None` means the benchmark's default.

    `verify_images` decodes every image now (slow on 30,000 images; otherwise unreadable images are
    skipped when first opened, see `images.iter_images`). `limit` keeps the first N samples in the
    dataset's own order (for quick runs; the size check is done before the cut).
    """
    bench = get_benchmark(name)
    split = split or bench.default_split
    if bench.splits and split not in bench.splits:
        raise ConfigError(f"{name}: unknown split {split!r}; known: {', '.join(bench.splits)}")
    unknown = sorted(set(options) - set(bench.options()))
    if unknown:
        raise ConfigError(
            f"{name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(bench.options()) or 'none'}"
        )
    resolved = bench.resolve_root(root)
    samples, skipped = bench.loader(resolved, split, **options)
    if verify_images:
        samples, skipped = _verify(samples, skipped)
    check_unique_ids(samples)
    expected = bench.expected_sizes.get(split)
    found = len(samples) + len(skipped)
    if expected is not None and found != expected:
        message = (
            f"{name}/{split}: found {found} images listed, the published split has {expected}; "
            "check that the archive is complete and the split file is the right one"
        )
        warnings.warn(message, BenchmarkSizeWarning, stacklevel=2)
    if skipped:
        log.warning("%s/%s: %d listed image(s) skipped, first: %s (%s)",
                    name, split, len(skipped), skipped[0].path, skipped[0].reason)
    if limit is not None:
        samples = samples[: max(0, int(limit))]
    return BenchmarkSplit(name=name, split=split, samples=samples, skipped=skipped, expected_size=expected)


def _verify(samples: list[Sample], skipped: list[Skipped]) -> tuple[list[Sample], list[Skipped]]:
    from tqdm import tqdm

    from .images import sample_problem

    kept: list[Sample] = []
    skipped = list(skipped)
    for sample in tqdm(samples, desc="checking images", unit="img", leave=False):
        reason = sample_problem(sample)  # images inside a dataset file are decoded too
        if reason is None:
            kept.append(sample)
        else:
            skipped.append(Skipped(str(sample.image_path or sample.sample_id), reason))
    return kept, skipped
