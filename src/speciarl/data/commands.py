"""What `speciarl data <subcommand>` runs: list, check, build-trainset, mix, synthetic (tables via rich)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .registry import list_benchmarks, load_benchmark


def parse_options(items: Sequence[str] | None) -> dict[str, Any]:
    """`key=value` pairs; values are read as YAML scalars (true, 3, a/path.json)."""
    import yaml

    options: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE")
        options[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return options


def _console():
    from rich.console import Console

    return Console()


def run_list() -> None:
    from rich.table import Table

    table = Table(title="benchmarks")
    for column in ("name", "dataset", "group", "test images", "splits", "label"):
        table.add_column(column, overflow="fold")
    benches = list_benchmarks()
    for bench in benches:
        size = bench.expected_sizes.get("test")
        table.add_row(bench.name, bench.title, bench.group or "-", f"{size:,}" if size else "-",
                      ", ".join(bench.splits) or "any", bench.label)
    console = _console()
    console.print(table)
    for bench in benches:
        console.print(f"[bold]{bench.name}[/bold]: {bench.how_to_get()}", highlight=False, soft_wrap=True)
    console.print("details: docs/benchmarks.md")


def run_check(benchmark: str, root: str, split: str | None, options: dict[str, Any], verify: bool) -> int:
    """Load a split as evaluation would and say what was found; exit 1 when images were skipped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_benchmark(benchmark, root, split, verify_images=verify, **options)
    print(data.summary())
    for w in caught:
        print(f"warning: {w.message}")
    for sample in data.samples[:3]:
        print(f"  {sample.sample_id}  {sample.ground_truth!r}  {sample.image_path}")
    for item in data.skipped[:20]:
        print(f"  skipped {item.path}: {item.reason}")
    return 1 if data.skipped else 0


def _print_summary(summary) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.output} ({summary.rows} rows, prompt {summary.prompt_name} {summary.prompt_hash})")
    table.add_column("dataset")
    table.add_column("images", justify="right")
    for name, count in summary.per_dataset.items():
        table.add_row(name, str(count))
    _console().print(table)
    print(summary.problems.summary())
    for item in summary.problems.items[:20]:
        print(f"  skipped {item.path}: {item.reason}")


def run_build_trainset(
    benchmark: str, root: str, n: int | None, seed: int, prompt: str, output: str,
    split: str | None, options: dict[str, Any], check_images: bool,
) -> None:
    from .trainset import build_trainset

    summary = build_trainset(benchmark, root, n=n, seed=seed, prompt=prompt, output=output, split=split,
                             options=options, check_images=check_images)
    _print_summary(summary)


def parse_sources(items: Sequence[str], options: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """`name=ROOT` items; options `name.key=value` go to that benchmark only."""
    sources = []
    for item in items:
        name, sep, root = item.partition("=")
        if not sep or not name or not root:
            raise ConfigError(f"--source {item!r}: expected BENCHMARK=ROOT")
        own = {k.split(".", 1)[1]: v for k, v in options.items() if k.startswith(name + ".")}
        sources.append((name, root, own))
    known = {name for name, _, _ in sources}
    stray = [k for k in options if k.split(".", 1)[0] not in known or "." not in k]
    if stray:
        raise ConfigError(f"--option {stray[0]!r}: in a mix, options are BENCHMARK.KEY=VALUE for a listed benchmark")
    return sources


def run_mix(sources: list[tuple[str, str, dict[str, Any]]], per_dataset: int, seed: int, prompt: str,
            output: str, check_images: bool) -> None:
    from .trainset import build_mix

    _print_summary(build_mix(sources, per_dataset=per_dataset, seed=seed, prompt=prompt, output=output,
                             check_images=check_images))


def run_synthetic(out: str, per_class: int, seed: int, size: int) -> None:
    from .synthetic import write_synthetic

    bench = write_synthetic(Path(out), per_class=per_class, seed=seed, size=size)
    for split, path in bench.manifests.items():
        print(f"{split}: {path}")
    print(f"taxonomy: {bench.taxonomy}")
    print(f"load with: benchmark 'synthetic', root {bench.root}")


def run_prompts(show: str | None) -> None:
    """The built-in prompts with their hashes, or one prompt's full text."""
    from ..prompts import get_prompt, list_prompts

    if show:
        prompt = get_prompt(show)
        print(f"# {prompt.name} ({prompt.hash})\n{prompt.text}")
        return
    for name in list_prompts():
        prompt = get_prompt(name)
        first = prompt.text.splitlines()[0]
        print(f"{name:<16} {prompt.hash}  {first}")
