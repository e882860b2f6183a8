"""`speciarl report`: graded record files in, summary.json + summary.md + PNG plots out."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import SpeciarlError
from ..records import write_atomic
from .summary import summarize_tally, tally_file
from .tables import markdown_report, print_terminal_table


def run_names(inputs: Sequence[str | os.PathLike[str]], names: Sequence[str] | None) -> list[str]:
    """Display names: given ones, else file stems, made unique with the parent folder when stems clash."""
    if names:
        if len(names) != len(inputs):
            raise SpeciarlError(f"--name given {len(names)} times for {len(inputs)} input files")
        chosen = list(names)
    else:
        paths = [Path(p) for p in inputs]
        stems = [p.stem for p in paths]
        chosen = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    if len(set(chosen)) != len(chosen):
        raise SpeciarlError(f"run names are not unique: {chosen}; pass --name for each input")
    return chosen


def build_report(inputs: Sequence[str | os.PathLike[str]], names: Sequence[str] | None = None,
                 per_class: dict[str, Any] | None = None, meanwhile: Callable[[], object] | None = None
                 ) -> dict[str, Any]:
    """Read and validate every input (one streaming pass each), then compute every number; nothing is
    written here. Given a dict, `per_class` receives run name -> per-class table (report/per_class.py),
    computed in the same pass. `meanwhile` runs while worker processes read a large file (`tally_file`)."""
    from .per_class import ClassAccumulator

    runs: dict[str, Any] = {}
    for name, path in zip(run_names(inputs, names), inputs):
        if not Path(path).is_file():
            raise SpeciarlError(f"{path}: no such file")
        classes = ClassAccumulator() if per_class is not None else None
        tally = tally_file(path, classes, meanwhile=meanwhile)
        if classes is not None:
            per_class[name] = classes.finish()
        if not tally.predictions:
            raise SpeciarlError(f"{path}: no records")
        runs[name] = {"file": str(path), **summarize_tally(tally)}
    return {"runs": runs}


def _fork_is_safe() -> bool:
    """Whether a forked helper process may draw: a second CPU, fork available, and no other thread alive
    (a lock held by one, e.g. in eval's judge I/O loop, would stay held in the child)."""
    import threading

    from .summary import default_workers

    return default_workers() > 1 and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _draw_plots(runs: dict[str, Any], per_class: dict[str, Any], out: Path, published: Any) -> list[str]:
    """The four plots; the per-class one (the slowest) and the category shares in a forked process while
    this one draws the other two, when fork is safe (no other thread alive) and another CPU is there.
    Same files either way."""
    from .plots import (
        plot_category_shares, plot_correctness_specificity, plot_metric_vs_k, plot_per_class_specificity,
    )

    side = None
    if _fork_is_safe():
        side = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        there = [(plot_category_shares, runs, out / "category_shares.png"),
                 (plot_per_class_specificity, per_class, out / "per_class_specificity.png")]
        later = [side.submit(*job) for job in there] if side else []
        made = [
            plot_correctness_specificity(runs, out / "correctness_specificity.png", published),
            plot_metric_vs_k(runs, out / "metric_vs_k.png"),
            *(future.result() for future in later),
            *(draw(*args) for draw, *args in (there if side is None else [])),
        ]
    finally:
        if side is not None:
            side.shutdown()
    return [str(p) for p in (made[2], made[0], made[1], made[3]) if p is not None]  # the order summary.json lists


def run_report(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    plots: bool = True,
    print_table: bool = True,
    extra_markdown: str = "",
    gallery: bool = True,
    reference: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Write DIR/summary.json, DIR/summary.md and the plots; print the main table.

    Also DIR/per_class.json (every class's numbers, confusions, gains and losses; see report/per_class.py)
    and, with `gallery` and images reachable from the records, the browsable DIR/gallery/ (report/gallery.py).

    `extra_markdown` is appended to summary.md (e.g. the eval's open-world metrics section).
    `reference` ("paper" or a JSON file, see report/reference.py) adds published rows to the group
    table and the correctness-specificity plot, and to summary.json under "reference".

    All inputs are read and checked before anything is written, and every file is written
    atomically, so a bad input leaves no partial report behind.
    """
    published = None
    if reference is not None:
        from .reference import load_reference

        published = load_reference(reference)  # a bad reference fails before the inputs are read
    per_class: dict[str, Any] = {}
    if plots:
        from .plots import load_pyplot

        report = build_report(inputs, names, per_class, meanwhile=load_pyplot)  # import while workers read
    else:
        report = build_report(inputs, names, per_class)
    runs = report["runs"]
    if published is not None:
        report["reference"] = published
    out = Path(out_dir)
    files = _draw_plots(runs, per_class, out, published) if plots else []
    from .per_class import per_class_json

    write_atomic(out / "per_class.json", json.dumps(per_class_json(per_class), indent=1, ensure_ascii=False) + "\n")
    report["plots"] = files
    write_atomic(out / "summary.md", markdown_report(runs, published) + (f"\n{extra_markdown}" if extra_markdown else ""))
    write_atomic(out / "summary.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if print_table:
        print_terminal_table(runs)
        if published is not None:
            from .tables import print_group_table

            print_group_table(runs, published)
        print(f"wrote {out / 'summary.json'}, {out / 'summary.md'}, {out / 'per_class.json'}"
              + (f" and {len(files)} plots" if files else ""))
    if gallery:
        from .gallery import build_gallery, images_reachable

        if images_reachable(inputs):
            built = build_gallery(inputs, out / "gallery", names=list(runs), log=print if print_table else None)
            report["gallery"] = str(built.out / "index.html")
    return report
