"""The lmms-owc metrics as a terminal table and a summary.md section; input `{source: {dataset: scores}}`."""

from __future__ import annotations

from typing import Any

from .compute import OWC_COLUMNS

Result = dict[str, dict[str, dict[str, Any]]]

NOTE = ("Means per prediction, computed as lmms-owc computes them: text inclusion (the lower-cased truth is a "
        "substring of the answer); semantic similarity (cosine of all-MiniLM-L6-v2 embeddings of answer and "
        "truth); concept similarity (the best cosine over the answer's spaCy noun chunks, named entities and "
        "the whole answer); LLM inclusion (lmms-owc's question, a reply of exactly \"1\" scores 1). Our stricter "
        "variants: text inclusion words (whole normalised words) and LLM inclusion strict (the judge's binary "
        "prompt). Parse failures score 0 and stay in the means; pairs the LLM server failed on are left out "
        "and counted in the error columns. See docs/evaluation.md.")


def owc_columns(result: Result) -> list[str]:
    """The columns present in at least one row, in OWC_COLUMNS order."""
    present = {key for per_dataset in result.values() for scores in per_dataset.values() for key in scores}
    return [c for c in OWC_COLUMNS if c in present]


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def owc_rows(result: Result) -> list[list[str]]:
    """[source, dataset, *owc_columns] rows; '-' where a metric was not computed."""
    columns = owc_columns(result)
    return [[source, dataset, *(_cell(scores.get(c)) for c in columns)]
            for source, per_dataset in result.items() for dataset, scores in per_dataset.items()]


def print_owc_table(result: Result, title: str = "open-world secondary metrics (lmms-owc)",
                    source: str = "file") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in (source, "dataset", *owc_columns(result)):
        table.add_column(column.replace("_", " "), justify="right" if column in OWC_COLUMNS else "left")
    for row in owc_rows(result):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # logs and pipes: do not wrap the headers
        console = Console(width=max(console.width, 170))
    console.print(table)


def owc_markdown(result: Result, source: str = "run") -> str:
    """A summary.md section: the secondary metrics beside the six-category tables."""
    header = [source, "dataset", *(c.replace("_", " ") for c in owc_columns(result))]
    lines = ["## Open-world secondary metrics (lmms-owc)", "", NOTE, "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in owc_rows(result)]
    return "\n".join(lines) + "\n"


__all__ = ["owc_columns", "owc_markdown", "owc_rows", "print_owc_table"]
