"""`speciarl judge agree A B`: two gradings of the same predictions (e.g. the training judge and the
evaluation judge on one eval run) — agreement, Cohen's κ, confusion, and how far each headline
metric moves between them.

Records are matched by (sample_id, prediction_index); both files must grade the same answers to the
same ground truths (a mismatch is an error naming the record). Parse failures are the same in both
(they come from the prediction, not the judge) and are left out of the agreement, but stay in the
metrics. Records only one side graded are counted and left out of both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import SpeciarlError
from ..judges.agreement import agreement_summary, confusion_matrix
from ..records import Record, read_records, write_atomic
from ..rewards import STATIC_TABLES, group_anchored_rewards, static_rewards

METRICS = ("correctness", "specificity", "hm", "average_score")


class AgreeError(SpeciarlError):
    """The two files do not grade the same predictions."""


def _graded(path: str | Path) -> dict[tuple[str, int], Record]:
    return {r.key: r for r in read_records(path) if r.graded}


def _answer(record: Record) -> str | None:
    return record.answer if record.answer is not None else record.answer_normalized


def match(a: dict[tuple[str, int], Record], b: dict[tuple[str, int], Record],
          names: tuple[str, str]) -> list[tuple[Record, Record]]:
    pairs = []
    for key in sorted(a.keys() & b.keys()):
        ra, rb = a[key], b[key]
        if ra.ground_truth != rb.ground_truth or (_answer(ra) is not None and _answer(rb) is not None
                                                   and _answer(ra) != _answer(rb)):
            raise AgreeError(f"sample {key[0]!r} prediction {key[1]}: {names[0]} grades "
                             f"({ra.ground_truth!r}, {_answer(ra)!r}) but {names[1]} grades "
                             f"({rb.ground_truth!r}, {_answer(rb)!r}); these are not gradings of the same predictions")
        pairs.append((ra, rb))
    return pairs


def metric_moves(pairs: list[tuple[Record, Record]]) -> dict[str, Any]:
    """Headline metrics of A and B on the matched records, overall (macro over datasets) and per dataset,
    with B − A."""
    from ..report.summary import summarize_run

    sa, sb = summarize_run(a for a, _ in pairs), summarize_run(b for _, b in pairs)

    def moves(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
        return {m: {"a": x[m], "b": y[m], "delta": None if x[m] is None or y[m] is None else y[m] - x[m]}
                for m in METRICS}

    return {"overall": moves(sa["overall"], sb["overall"]),
            "datasets": {d: moves(sa["datasets"][d], sb["datasets"][d]) for d in sa["datasets"]}}


def reward_moves(pairs: list[tuple[Record, Record]]) -> dict[str, Any]:
    """The share of predictions whose reward differs between the two gradings, with each sample's
    predictions (in prediction_index order) as one SpeciaRL group — exact for best-of-N runs and
    training logs, where the group is what anchors the reward."""
    groups: dict[str, list[tuple[int, Record, Record]]] = {}
    for ra, rb in pairs:
        groups.setdefault(ra.sample_id, []).append((ra.prediction_index, ra, rb))
    ga, gb = [], []
    for members in groups.values():
        members.sort(key=lambda m: m[0])
        ga.append([ra.category for _, ra, _ in members])
        gb.append([rb.category for _, _, rb in members])
    flat_a = [c for g in ga for c in g]
    flat_b = [c for g in gb for c in g]
    n = len(flat_a)

    def changed(x: list[float], y: list[float]) -> float | None:
        return sum(1 for u, v in zip(x, y, strict=True) if u != v) / n if n else None

    speciarl_a = [r for g in group_anchored_rewards(ga) for r in g]
    speciarl_b = [r for g in group_anchored_rewards(gb) for r in g]
    out: dict[str, Any] = {"samples": len(groups), "predictions": n,
                           "max_group_size": max((len(g) for g in ga), default=0),
                           "speciarl": changed(speciarl_a, speciarl_b)}
    for scheme in STATIC_TABLES:
        out[scheme] = changed(static_rewards(flat_a, scheme), static_rewards(flat_b, scheme))
    return out


def agree_numbers(path_a: str | Path, path_b: str | Path, names: tuple[str, str] | None = None) -> dict[str, Any]:
    names = names or (Path(path_a).stem, Path(path_b).stem)
    a, b = _graded(path_a), _graded(path_b)
    pairs = match(a, b, names)
    if not pairs:
        raise AgreeError(f"{path_a} and {path_b} share no graded (sample_id, prediction_index)")
    both = [(ra.category.value, rb.category.value) for ra, rb in pairs
            if ra.category is not None and rb.category is not None]
    data = agreement_summary(confusion_matrix(both))
    data.update({
        "a": {"name": names[0], "path": str(path_a), "judge": sorted({r.judge for r, _ in pairs if r.judge})},
        "b": {"name": names[1], "path": str(path_b), "judge": sorted({r.judge for _, r in pairs if r.judge})},
        "matched": len(pairs), "only_a": len(a.keys() - b.keys()), "only_b": len(b.keys() - a.keys()),
        "parse_failures": sum(1 for ra, rb in pairs if ra.category is None or rb.category is None),
        "metrics": metric_moves(pairs),
        "rewards_changed": reward_moves(pairs),
    })
    return data


def run_agree(path_a: str | Path, path_b: str | Path, *, out: str | Path | None = None,
              names: list[str] | None = None, print_table: bool = True) -> dict[str, Any]:
    if names is not None and len(names) != 2:
        raise AgreeError(f"--name: give two names (A and B), got {len(names)}")
    data = agree_numbers(path_a, path_b, tuple(names) if names else None)  # type: ignore[arg-type]
    na, nb = data["a"]["name"], data["b"]["name"]
    if out is not None:
        from ..report.audit import confusion_markdown, plot_confusion

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "agree.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        write_atomic(out / "confusion.md", confusion_markdown(data["confusion"], na, nb) + "\n")
        plot_confusion(data["confusion"], out / "confusion.png", f"{na} vs {nb}", rows_are=na, columns_are=nb)
    if print_table:
        print_agree(data)
    return data


def print_agree(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..report.audit import print_agreement_table

    na, nb = data["a"]["name"], data["b"]["name"]
    print_agreement_table(data, title=f"judge agreement: {na} (rows) vs {nb} (columns), "
                          f"{data['matched']} matched, {data['parse_failures']} parse failures left out")
    table = Table(title="headline metrics: how far they move from A to B")
    for column in ("level", "metric", na, nb, "B − A"):
        table.add_column(column, justify="left" if column in ("level", "metric") else "right")
    levels = {"overall": data["metrics"]["overall"], **data["metrics"]["datasets"]}

    def fmt(x: float | None, sign: bool = False) -> str:
        return "–" if x is None else (f"{x:+.3f}" if sign else f"{x:.3f}")

    for level, moves in levels.items():
        for metric, v in moves.items():
            table.add_row(level, metric, fmt(v["a"]), fmt(v["b"]), fmt(v["delta"], sign=True))
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 110))
    console.print(table)
    rc = data["rewards_changed"]
    console.print(f"rewards that change from A to B ({rc['predictions']} predictions, {rc['samples']} samples as "
                  f"groups of up to {rc['max_group_size']}): SpeciaRL {fmt(rc['speciarl'])}, binary {fmt(rc['binary'])}, "
                  f"scala1 {fmt(rc['scala1'])}")
