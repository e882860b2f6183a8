"""The demo's own report pieces: training curves per reward, and results split by image visibility.

Why a per-visibility table: the world knows the most specific honest answer of every image, so it
can show *where* a policy gains specificity (on images whose species is visible) and where it starts
guessing (on images whose colour is hidden) — the paper's claim in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..categories import Category
from ..metrics import summarize
from ..records import (
    GRADED_FIELDS,
    Record,
    iter_json_objects,
    read_records,
    write_atomic,
)
from ..report.tables import markdown_table

CURVE_KEYS = ("specific", "less_specific", "generic", "abstain", "wrong", "parse_failure")
CURVE_COLOURS = ("tab:green", "tab:olive", "tab:blue", "tab:gray", "tab:red", "black")
# The category an honest-best answer earns at each visibility.
HONEST = {"full": Category.SPECIFIC, "genus": Category.LESS_SPECIFIC, "generic": Category.GENERIC}
COLUMNS = ("specific", "less specific", "generic", "wrong", "abstain", "parse failure")


def read_curves(metrics_file: str | Path) -> dict[str, list[tuple[int, float]]]:
    """(step, share) per category from a training run's metrics.jsonl (TRL logs, our categories)."""
    curves: dict[str, list[tuple[int, float]]] = {k: [] for k in CURVE_KEYS}
    path = Path(metrics_file)
    if not path.is_file():
        return curves
    for _, row in iter_json_objects(path):
        for key in CURVE_KEYS:
            value = row.get(f"categories/{key}")
            if value is not None:
                curves[key].append((int(row["step"]), float(value)))
    return curves


SMOOTH = 5  # steps in the rolling mean drawn over the raw per-step shares


def _rolling(values: list[float], k: int) -> list[float]:
    return [sum(values[max(0, i - k + 1): i + 1]) / (i + 1 - max(0, i - k + 1)) for i in range(len(values))]


def plot_training_curves(metrics_files: Mapping[str, str | Path], out_png: str | Path) -> Path:
    """One panel per reward: the share of each category among the rollouts, per GRPO step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics_files)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        curves = read_curves(metrics_files[name])
        for key, colour in zip(CURVE_KEYS, CURVE_COLOURS, strict=True):
            points = curves[key]
            if points:
                steps, values = [s for s, _ in points], [v for _, v in points]
                ax.plot(steps, values, color=colour, marker=".", markersize=2, linewidth=0.5, alpha=0.35)
                ax.plot(steps, _rolling(values, SMOOTH), color=colour, linewidth=1.6, label=key.replace("_", " "))
        ax.set_title(f"GRPO, {name} reward (line: {SMOOTH}-step mean)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of rollouts")
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def visibility_table(graded: Mapping[str, str | Path], split_records: list[Record]) -> dict[str, Any]:
    """Per run and visibility: category shares and the share of honest-best answers."""
    visibility = {r.sample_id: r.extra["visibility"] for r in split_records}
    table: dict[str, Any] = {}
    for name, path in graded.items():
        rows: dict[str, Any] = {}
        records = read_records(path, required=GRADED_FIELDS)
        for vis in (*HONEST, "all"):
            picked = [r for r in records if vis == "all" or visibility[r.sample_id] == vis]
            n = len(picked)
            summary = summarize(r.category for r in picked).shares  # shares are None when n == 0
            shares = {c: summary[c] if n else 0.0 for c in COLUMNS}
            if n:  # more specific counts as specific here (the world's species are its leaves)
                shares["specific"] += summary[Category.MORE_SPECIFIC.value]
            honest = sum(r.category is HONEST[visibility[r.sample_id]] for r in picked)
            rows[vis] = {"n": n, **shares, "honest best": honest / n if n else 0.0}
        table[name] = rows
    return table


def write_visibility_table(table: Mapping[str, Any], out_dir: str | Path) -> Path:
    """by_visibility.md (the JSON goes into demo.json)."""
    header = ["run", "visibility", "n", *COLUMNS, "honest best"]
    legend = ("full: the species is visible (honest best = specific); genus: colour hidden (honest best = "
              "less specific, a species is a 1-in-8 guess); generic: fog (honest best = generic); all: every "
              "image, honest best = the share of answers exactly as specific as the image allows.")
    rows = [[name, vis, str(row["n"]), *(f"{row[c]:.3f}" for c in (*COLUMNS, "honest best"))]
            for name, by_vis in table.items() for vis, row in by_vis.items()]
    text = "\n".join(["# Results by image visibility", "", legend, "", markdown_table(header, rows)])
    path = Path(out_dir) / "by_visibility.md"
    write_atomic(path, text + "\n")
    return path


def print_visibility_table(table: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="by image visibility (honest best: full → specific, genus → less specific, "
                    "generic → generic)")
    for i, col in enumerate(("run", "visibility", "n", "specific", "less spec.", "generic", "wrong", "honest best")):
        t.add_column(col, justify="left" if i < 2 else "right")
    for name, rows in table.items():
        for vis, row in rows.items():
            t.add_row(name, vis, str(row["n"]), *(f"{row[c]:.3f}" for c in
                                                  ("specific", "less specific", "generic", "wrong", "honest best")))
    Console().print(t)
