"""`speciarl owc`: the lmms-owc metrics of record files, a table, and (with --out DIR) the numbers on disk.

DIR/summary.json: `{"settings": {...}, "results": {input path: {dataset: means}}}`;
DIR/per_record.jsonl: one line per record (source file, sample id, prediction index, every metric's
value, the concepts concept similarity used), so any mean can be traced to its pairs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .compute import owc_by_dataset_values, owc_values, per_record_rows
from .models import DEFAULT_SPACY_MODEL, MAX_WORD_PIECES
from .tables import print_owc_table

SUMMARY, PER_RECORD = "summary.json", "per_record.jsonl"


def build_models(semantic: bool, spacy_model: str = DEFAULT_SPACY_MODEL) -> dict[str, Any]:
    """The encoder and concept extractor for `owc_values` (none without `semantic`); spaCy first, so a
    missing pipeline fails before the encoder loads."""
    if not semantic:
        return {}
    from .models import ConceptExtractor, SentenceEncoder

    extractor = ConceptExtractor(spacy_model)
    return {"extractor": extractor, "encoder": SentenceEncoder()}


def settings(semantic: bool, spacy_model: str, judge_config: dict[str, Any] | None, strict: bool) -> dict[str, Any]:
    """What produced the numbers (no keys, no URLs' secrets: the model names only)."""
    out: dict[str, Any] = {"semantic": semantic}
    if semantic:
        out.update(encoder="all-MiniLM-L6-v2", max_word_pieces=MAX_WORD_PIECES, spacy_model=spacy_model)
    if judge_config is not None:
        out["llm_inclusion_model"] = judge_config.get("model")
        out["llm_inclusion_strict"] = strict
    return out


def run_owc(inputs: Sequence[str], out: str | None, *, semantic: bool, judge_config: dict[str, Any] | None,
            spacy_model: str = DEFAULT_SPACY_MODEL, strict: bool = False) -> dict[str, Any]:
    """The metrics of each input file per dataset; prints the table, writes DIR/summary.json and
    DIR/per_record.jsonl when `out` is given. `strict` adds llm_inclusion_strict (same server)."""
    from ...records import read_records, write_atomic

    models = build_models(semantic, spacy_model)
    result: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for path in inputs:
        records = read_records(path)
        values = owc_values(records, **models, judge_config=judge_config,
                            strict_judge_config=judge_config if strict else None)
        result[str(path)] = owc_by_dataset_values(records, values)
        rows += per_record_rows(records, values, source=str(path))
    print_owc_table({Path(p).name: v for p, v in result.items()})
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        summary = {"settings": settings(semantic, spacy_model, judge_config, strict), "results": result}
        write_atomic(folder / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        write_atomic(folder / PER_RECORD, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return result


__all__ = ["PER_RECORD", "SUMMARY", "build_models", "run_owc", "settings"]
