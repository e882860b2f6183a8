"""Paper-style tables: markdown for summary.md, rich for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..metrics import GROUP_ORDER, SHARE_KEYS

SHORT = {
    "wrong": "wrong", "abstain": "abst.", "generic": "gen.", "less specific": "less sp.",
    "specific": "spec.", "more specific": "more sp.", "parse failure": "parse f.",
}
MAIN_COLUMNS = ["run", "n", *[SHORT[k] for k in SHARE_KEYS], "correct", "specific", "HM", "avg"]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def summary_row(name: str, s: Mapping[str, Any]) -> list[str]:
    shares = s["shares"]
    return [
        name, _count(s["count"]), *[_fmt(shares.get(k)) for k in SHARE_KEYS],
        _fmt(s["correctness"]), _fmt(s["specificity"]), _fmt(s["hm"]), _fmt(s["average_score"]),
    ]


def main_rows(runs: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """One row per run (overall), plus a best-of-N row where a run has several predictions per sample."""
    rows = []
    for name, run in runs.items():
        rows.append(summary_row(name, run["overall"]))
        if "best_of_n" in run:
            rows.append(summary_row(f"{name} best-of-{run['best_of_n']['n']}", run["best_of_n"]["overall"]))
    return rows


def group_columns(runs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    present = {g for run in runs.values() for g in run["groups"]}
    return [g for g in GROUP_ORDER if g in present]


def group_rows(runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The paper's headline layout: specificity / correctness / HM per dataset group."""
    groups = group_columns(runs)
    header = ["run", *[f"{g} (spec / corr / HM)" for g in groups]]
    rows = []
    for name, run in runs.items():
        levels = [(name, run)]
        if "best_of_n" in run:
            levels.append((f"{name} best-of-{run['best_of_n']['n']}", run["best_of_n"]))
        for label, level in levels:
            cells = [label]
            for g in groups:
                s = level["groups"].get(g)
                cells.append("–" if s is None else f"{_fmt(s['specificity'])} / {_fmt(s['correctness'])} / {_fmt(s['hm'])}")
            rows.append(cells)
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(runs: Mapping[str, Mapping[str, Any]]) -> str:
    parts = ["# SpeciaRL report", "", "Shares of each category, correctness (generic or better), specificity "
             "(specific or finer among the correct), HM of the two, average score. Groups and overall are "
             "macro-averages over datasets; HM of a group is the HM of its averaged correctness and specificity.",
             "", "## Overall", "", markdown_table(MAIN_COLUMNS, main_rows(runs)), ""]
    header, rows = group_rows(runs)
    parts += ["## By dataset group", "", markdown_table(header, rows), ""]
    parts += ["## By dataset", ""]
    datasets = sorted({d for run in runs.values() for d in run["datasets"]})
    for dataset in datasets:
        rows = [summary_row(name, run["datasets"][dataset]) for name, run in runs.items() if dataset in run["datasets"]]
        parts += [f"### {dataset}", "", markdown_table(MAIN_COLUMNS, rows), ""]
    with_k = {name: run["best_of_k"] for name, run in runs.items() if "best_of_k" in run}
    if with_k:
        parts += ["## Best-of-k (unbiased estimate from N samples per image)", ""]
        header = ["run", "k", "correct", "specific", "HM"]
        rows = [[name, k, _fmt(s["correctness"]), _fmt(s["specificity"]), _fmt(s["hm"])]
                for name, ks in with_k.items() for k, s in ks.items()]
        parts += [markdown_table(header, rows), ""]
    return "\n".join(parts)


TERMINAL_COLUMNS = ["run", "n", "correct", "specific", "HM", "avg", "wrong", "abst.", "parse f."]


def terminal_row(row: list[str]) -> list[str]:
    by_name = dict(zip(MAIN_COLUMNS, row))
    return [by_name[c] for c in TERMINAL_COLUMNS]


def print_terminal_table(runs: Mapping[str, Mapping[str, Any]], title: str = "SpeciaRL report") -> None:
    """The headline numbers per run (summary.md has every share and every dataset)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(TERMINAL_COLUMNS):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in main_rows(runs):
        table.add_row(*terminal_row(row))
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 110))
    console.print(table)
