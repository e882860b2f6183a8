"""Tables and the confusion plot of `speciarl judge audit` and `speciarl judge agree`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..judges.agreement import COLUMNS
from .plots import _pyplot, _save
from .tables import _fmt, markdown_table

SHORT = {"wrong": "wrong", "abstain": "abst.", "generic": "gen.", "less specific": "less sp.",
         "specific": "spec.", "more specific": "more sp.", "error": "error"}


def confusion_markdown(matrix: Mapping[str, Mapping[str, int]], rows_are: str = "gold", columns_are: str = "judge") -> str:
    header = [f"{rows_are} \\ {columns_are}", *COLUMNS, "total"]
    body = [[r, *(str(row[c]) for c in COLUMNS), str(sum(row.values()))] for r, row in matrix.items()]
    return markdown_table(header, body)


def per_category_markdown(per_category: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [[label, str(v["support"]), str(v["predicted"]), _fmt(v["precision"]), _fmt(v["recall"])]
            for label, v in per_category.items()]
    return markdown_table(["category", "support", "predicted", "precision", "recall"], rows)


def effects_lines(effects: Mapping[str, Any], noise: Mapping[str, Any]) -> list[str]:
    lines = [
        f"- disagreements: {effects['disagreements']}; ungraded (errors): {effects['ungraded']}",
        f"- of the disagreements, share that changes correctness: {_fmt(effects['correctness'])}",
        f"- ... that changes the SpeciaRL reward (group best = specific): {_fmt(effects['speciarl_reward'])}",
        *(f"- ... that changes the `{scheme}` reward: {_fmt(effects[scheme])}"
          for scheme in ("binary", "scala1", "scala2", "scala3") if scheme in effects),
        f"- mean absolute change of the scala1 reward per disagreement: {_fmt(effects['scala1_mean_abs'])}",
        f"- judge-noise equivalent: {_fmt(noise['rate'])} of graded pairs on another rung of the ladder "
        f"({noise['compared']}); one-step moves: {_fmt(noise['one_step_share'])}",
    ]
    return lines


def plot_confusion(matrix: Mapping[str, Mapping[str, int]], path: Path, title: str, rows_are: str = "gold",
                   columns_are: str = "judge") -> Path:
    """A heatmap of counts, rows normalised for colour (so rare rows still show), counts written in."""
    plt = _pyplot()
    rows = list(matrix)
    counts = [[matrix[r][c] for c in COLUMNS] for r in rows]
    shares = [[n / max(1, sum(row)) for n in row] for row in counts]
    fig, ax = plt.subplots(figsize=(8, 5.6))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=9,
                        color="white" if shares[i][j] > 0.6 else "black")
    from matplotlib.patches import Rectangle

    for i, r in enumerate(rows):  # outline the cells where both gradings agree
        if r in COLUMNS:
            ax.add_patch(Rectangle((COLUMNS.index(r) - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#1a9850", lw=2))
    ax.set_xticks(range(len(COLUMNS)), [SHORT[c] for c in COLUMNS])
    ax.set_yticks(range(len(rows)), [SHORT.get(r, r) for r in rows])
    ax.set_xlabel(columns_are)
    ax.set_ylabel(rows_are)
    ax.set_title(title)
    return _save(fig, path)


def print_agreement_table(data: Mapping[str, Any], title: str) -> None:
    """Headline numbers and per-category precision / recall in the terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 110))
    head = Table(title=title)
    for column in ("n", "accuracy", "kappa", "noise rate", "errors change correctness", "change SpeciaRL reward",
                   "ungraded"):
        head.add_column(column, justify="right")
    effects, noise = data["error_effects"], data["noise"]
    head.add_row(str(data["n"]), _fmt(data["accuracy"]), _fmt(data["kappa"]), _fmt(noise["rate"]),
                 _fmt(effects["correctness"]), _fmt(effects["speciarl_reward"]), str(effects["ungraded"]))
    console.print(head)
    table = Table()
    for column in ("category", "support", "predicted", "precision", "recall"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for label, v in data["per_category"].items():
        table.add_row(label, str(v["support"]), str(v["predicted"]), _fmt(v["precision"]), _fmt(v["recall"]))
    console.print(table)
