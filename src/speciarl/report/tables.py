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


def group_columns(runs: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any] | None = None) -> list[str]:
    present = {g for run in runs.values() for g in run["groups"]}
    if reference:
        present |= {g for row in reference["rows"] for g in row["groups"]}
    return [g for g in GROUP_ORDER if g in present]


def _group_cell(s: Mapping[str, Any] | None) -> str:
    if s is None:
        return "–"
    return f"{_fmt(s.get('specificity'))} / {_fmt(s.get('correctness'))} / {_fmt(s.get('hm'))}"


def group_rows(runs: Mapping[str, Mapping[str, Any]],
               reference: Mapping[str, Any] | None = None) -> tuple[list[str], list[list[str]]]:
    """The paper's headline layout: specificity / correctness / HM per dataset group; with a
    `reference` (report/reference.py), its published rows follow, labelled as published."""
    groups = group_columns(runs, reference)
    header = ["run", *[f"{g} (spec / corr / HM)" for g in groups]]
    rows = []
    for name, run in runs.items():
        levels = [(name, run)]
        if "best_of_n" in run:
            levels.append((f"{name} best-of-{run['best_of_n']['n']}", run["best_of_n"]))
        for label, level in levels:
            rows.append([label, *[_group_cell(level["groups"].get(g)) for g in groups]])
    if reference:
        from .reference import row_label

        for row in reference["rows"]:
            rows.append([row_label(reference, row["method"]), *[_group_cell(row["groups"].get(g)) for g in groups]])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(runs: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any] | None = None) -> str:
    parts = ["# SpeciaRL report", "", "Shares of each category, correctness (generic or better), specificity "
             "(specific or finer among the correct), HM of the two, average score. Groups and overall are "
             "macro-averages over datasets; HM of a group is the HM of its averaged correctness and specificity.",
             "", "## Overall", "", markdown_table(MAIN_COLUMNS, main_rows(runs)), ""]
    header, rows = group_rows(runs, reference)
    parts += ["## By dataset group", "", markdown_table(header, rows), ""]
    if reference:
        parts += [f"Rows marked ({reference['label']}, {reference['name']}) are published numbers, not computed "
                  f"here (– where not published). Source: {reference['source']}", ""]
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


def print_group_table(runs: Mapping[str, Mapping[str, Any]], reference: Mapping[str, Any] | None = None,
                      title: str = "by dataset group (spec / corr / HM)") -> None:
    """The paper's layout in the terminal, published rows (dimmed) after the runs."""
    from rich.console import Console
    from rich.table import Table

    header, rows = group_rows(runs, reference)
    table = Table(title=title)
    for i, column in enumerate(header):
        table.add_column(column.removesuffix(" (spec / corr / HM)"), justify="left" if i == 0 else "right",
                         no_wrap=i == 0)
    published = len(reference["rows"]) if reference else 0
    for i, row in enumerate(rows):
        table.add_row(*row, style="dim" if i >= len(rows) - published else None)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 130))
    console.print(table)
