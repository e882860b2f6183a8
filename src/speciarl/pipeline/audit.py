"""`speciarl judge audit`: grade the gold set with a judge and say how far to trust it.

The judge is built from its usual config with two changes: fast paths off (unless
`with_fast_paths`), so the LLM itself is graded on every pair, and no cache (unless one is given),
so latency, requests and tokens are those of real requests. Each pair is one `agrade` call under
the judge's own concurrency, timed, so the latency percentiles are per pair (retries included).
Writes audit.json, report.md, confusion.md, confusion.png and disagreements.jsonl to the output
folder and prints a table. See docs/judges.md.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..judges import build_judge
from ..judges.agreement import agreement_summary, confusion_matrix
from ..judges.base import BaseJudge, Pair
from ..judges.gold import GOLD_VERSION, GoldItem, default_gold_path, gold_checksum, load_gold
from ..judges.verdict import Verdict
from ..records import write_atomic

FAST_PATHS_OFF = {"length_cap": 0, "exact": False, "refusals": False, "options": False}


def audit_judge_config(config: dict[str, Any], *, with_fast_paths: bool = False, cache: str = "none") -> dict[str, Any]:
    """The judge config as audited: fast paths off unless asked, the given cache (default none)."""
    out = dict(config)
    if not with_fast_paths:
        out["fast_paths"] = dict(FAST_PATHS_OFF)
        out.pop("length_cap", None)
    out["cache"] = cache
    return out


async def grade_timed(judge: BaseJudge, pairs: list[Pair], concurrency: int,
                      progress: bool = True) -> tuple[list[Verdict], list[float]]:
    """One verdict and one latency (seconds) per pair; every pair is its own `agrade` call."""
    from tqdm import tqdm

    semaphore = asyncio.Semaphore(max(1, concurrency))
    verdicts: list[Verdict | None] = [None] * len(pairs)
    latencies = [0.0] * len(pairs)
    bar = tqdm(total=len(pairs), desc="auditing judge", unit="pair", disable=not progress, leave=False)

    async def one(i: int) -> None:
        async with semaphore:
            started = time.perf_counter()
            verdicts[i] = (await judge.agrade([pairs[i]]))[0]
            latencies[i] = time.perf_counter() - started
        bar.update()

    try:
        await asyncio.gather(*(one(i) for i in range(len(pairs))))
    finally:
        bar.close()
        await judge.aclose()
    return verdicts, latencies  # type: ignore[return-value]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def cost_summary(judge: BaseJudge, latencies: list[float], wall: float) -> dict[str, Any]:
    """Latency per pair, requests, retries and the tokens the server reported (None if it did not)."""
    stats, n = judge.stats, len(latencies)
    prompt, completion = stats.extra.get("prompt_tokens"), stats.extra.get("completion_tokens")
    tokens = None if prompt is None and completion is None else (prompt or 0) + (completion or 0)
    ms = [1000 * x for x in latencies]
    return {
        "wall_s": wall, "pairs_per_s": n / wall if wall > 0 else None,
        "latency_ms": {"p50": _percentile(ms, 50), "p95": _percentile(ms, 95), "max": max(ms) if ms else None},
        "requests": stats.requests, "retries": stats.retries, "errors": stats.errors,
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": tokens,
        "tokens_per_pair": tokens / n if tokens is not None and n else None,
    }


def disagreement_rows(items: list[GoldItem], verdicts: list[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for item, verdict in zip(items, verdicts, strict=True):
        judged = verdict.category.value if verdict.ok and verdict.category is not None else None
        if judged != item.category:
            rows.append({"id": item.id, "domain": item.domain, "ground_truth": item.ground_truth,
                         "prediction": item.prediction, "gold": item.category, "judge": judged,
                         "error": verdict.error, "judge_source": verdict.source, "source": item.source,
                         "reason": item.reason})
    return rows


def audit_numbers(items: list[GoldItem], verdicts: list[Verdict]) -> dict[str, Any]:
    """Agreement numbers overall and per domain (no I/O; tests call it directly)."""
    labels = [v.category.value if v.ok and v.category is not None else None for v in verdicts]
    data = agreement_summary(confusion_matrix((i.category, j) for i, j in zip(items, labels, strict=True)))
    by_domain: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for item, label in zip(items, labels, strict=True):
        by_domain[item.domain].append((item.category, label))
    data["by_domain"] = {}
    for domain, pairs in by_domain.items():
        summary = agreement_summary(confusion_matrix(pairs))
        data["by_domain"][domain] = {k: summary[k] for k in ("n", "accuracy", "kappa")}
    return data


def run_audit(judge_config: dict[str, Any], out: str | Path, *, gold: str | Path | None = None,
              with_fast_paths: bool = False, cache: str = "none", progress: bool = True,
              print_table: bool = True) -> dict[str, Any]:
    """Grade the gold set, write the audit files to `out`, return audit.json's content."""
    gold_path = Path(gold) if gold is not None else default_gold_path()
    items = load_gold(gold_path)
    config = audit_judge_config(judge_config, with_fast_paths=with_fast_paths, cache=cache)
    judge = build_judge(config)
    pairs = [(i.ground_truth, i.prediction) for i in items]
    started = time.perf_counter()
    verdicts, latencies = asyncio.run(grade_timed(judge, pairs, int(config.get("concurrency", 64)), progress))
    wall = time.perf_counter() - started

    numbers = audit_numbers(items, verdicts)
    disagreements = disagreement_rows(items, verdicts)
    data = {
        "n": numbers["n"], "accuracy": numbers["accuracy"], "kappa": numbers["kappa"],
        "gold_checksum": gold_checksum(gold_path),
        "gold_version": GOLD_VERSION if gold is None else gold_path.stem,
        "gold_path": str(gold_path),
        "confusion": numbers["confusion"], "per_category": numbers["per_category"],
        "error_effects": numbers["error_effects"], "noise": numbers["noise"], "by_domain": numbers["by_domain"],
        "judge": {"identity": judge.identity, "type": config.get("type"), "model": config.get("model"),
                  "fast_paths": with_fast_paths, "cache": cache},
        "cost": cost_summary(judge, latencies, wall),
        "disagreements": len(disagreements),
    }
    write_outputs(Path(out), data, disagreements)
    if print_table:
        from ..report.audit import print_agreement_table

        print_agreement_table(data, title=f"judge audit: {judge.identity} on gold {data['gold_version']}")
    return data


def write_outputs(out: Path, data: dict[str, Any], disagreements: list[dict[str, Any]]) -> None:
    from ..report.audit import confusion_markdown, effects_lines, per_category_markdown, plot_confusion

    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "audit.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out / "disagreements.jsonl",
                 "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in disagreements))
    confusion = confusion_markdown(data["confusion"])
    write_atomic(out / "confusion.md", confusion + "\n")
    plot_confusion(data["confusion"], out / "confusion.png",
                   title=f"{data['judge']['identity']} vs gold {data['gold_version']}")
    cost = data["cost"]
    lat = cost["latency_ms"]

    def num(x: Any, digits: int = 1) -> str:
        return "–" if x is None else f"{x:.{digits}f}"

    lines = [
        f"# Judge audit: {data['judge']['identity']}", "",
        f"Gold {data['gold_version']} ({data['gold_checksum']}), {data['n']} pairs; fast paths "
        f"{'on' if data['judge']['fast_paths'] else 'off'}.", "",
        f"- accuracy {num(data['accuracy'], 3)}, Cohen's kappa {num(data['kappa'], 3)}",
        *effects_lines(data["error_effects"], data["noise"]),
        f"- latency per pair p50 {num(lat['p50'])} ms, p95 {num(lat['p95'])} ms, max {num(lat['max'])} ms; "
        f"{cost['requests']} requests ({cost['retries']} retries), wall {num(cost['wall_s'], 2)} s",
        f"- tokens: {cost['total_tokens'] if cost['total_tokens'] is not None else 'not reported by the server'}"
        + (f" ({num(cost['tokens_per_pair'])} per pair)" if cost["tokens_per_pair"] is not None else ""),
        "", "## Confusion (rows: gold, columns: judge)", "", confusion, "",
        "## Per category", "", per_category_markdown(data["per_category"]), "",
        "## By domain", "",
        "| domain | n | accuracy | kappa |", "|---|---|---|---|",
        *(f"| {d} | {v['n']} | {num(v['accuracy'], 3)} | {num(v['kappa'], 3)} |" for d, v in data["by_domain"].items()),
        "", f"## Disagreements ({len(disagreements)}; all in disagreements.jsonl)", "",
        "| gold | judge | ground truth | prediction | reason |", "|---|---|---|---|---|",
        *(f"| {r['gold']} | {r['judge'] or 'error'} | {_cell(r['ground_truth'])} | {_cell(r['prediction'])} | "
          f"{_cell(r['reason'])} |" for r in disagreements[:200]),
    ]
    write_atomic(out / "report.md", "\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
