"""Per-record values of the lmms-owc metrics and their means per dataset.

The metrics and where their rules live:

| name | rule | needs |
|---|---|---|
| `text_inclusion` | lmms-owc's substring test (`rules.text_inclusion`) | nothing |
| `text_inclusion_words` | ours, whole normalised words (`rules.text_inclusion_words`) | nothing |
| `semantic_similarity` | cos(MiniLM(truth), MiniLM(answer)) | `encoder` |
| `concept_similarity` | the best cos(MiniLM(truth), MiniLM(concept)) over the answer's concepts | `encoder`, `extractor` |
| `llm_inclusion` | lmms-owc's question and reply scoring (`inclusion.llm_inclusion`) | `judge_config` |
| `llm_inclusion_strict` | ours, the binary judge prompt (`inclusion.llm_inclusion_strict`) | `strict_judge_config` |

A *parse failure* (no `<answer>`, or an empty one) scores 0 on every metric and stays in the mean, as
it counts as not correct in the six-category metrics; lmms-owc has no such notion (it scores the raw
output). The LLM metrics leave out of the mean a pair the server failed on, and count it (`*_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...records import Record
from .models import ConceptExtractor, SentenceEncoder
from .rules import text_inclusion, text_inclusion_words

METRICS = ("text_inclusion", "semantic_similarity", "concept_similarity", "llm_inclusion",
           "text_inclusion_words", "llm_inclusion_strict")
ERRORS = {"llm_inclusion": "llm_errors", "llm_inclusion_strict": "llm_strict_errors"}
OWC_COLUMNS = ("count", "parse_failures", *METRICS, *ERRORS.values())


def record_answer(record: Record) -> str | None:
    """The record's answer (extracted from its completion where missing); None for a parse failure."""
    answer = record.answer
    if answer is None and record.completion is not None:
        from ...answers import extract_answer

        answer = extract_answer(record.completion)
    return answer if answer is not None and answer.strip() else None


@dataclass
class OwcValues:
    """One value per record and metric (None: the LLM failed on that pair), plus each answer's concepts."""

    values: dict[str, list[float | None]]
    concepts: list[list[str]] | None = None
    parse_failures: list[bool] = field(default_factory=list)


def _semantic(pairs: Sequence[tuple[str, str | None]], encoder: SentenceEncoder) -> list[float]:
    scored = encoder.similarities([(gt, ans) for gt, ans in pairs if ans is not None])
    it = iter(scored)
    return [next(it) if ans is not None else 0.0 for _, ans in pairs]


def _concepts(pairs: Sequence[tuple[str, str | None]], encoder: SentenceEncoder,
              extractor: ConceptExtractor) -> tuple[list[float], list[list[str]]]:
    answers = [ans for _, ans in pairs if ans is not None]
    found = iter(extractor.concepts(answers))
    concepts = [next(found) if ans is not None else [] for _, ans in pairs]
    flat = [(gt, c) for (gt, _), cs in zip(pairs, concepts, strict=True) for c in cs]
    sims = iter(encoder.similarities(flat))
    best = [max(next(sims) for _ in cs) if cs else 0.0 for cs in concepts]
    return best, concepts


def owc_values(records: Sequence[Record], **kwargs: Any) -> OwcValues:
    """Every metric that the given models and judge configs allow, per record (see the module table);
    options as in `pair_values`."""
    return pair_values([(r.ground_truth, record_answer(r)) for r in records], **kwargs)


def pair_values(
    pairs: Sequence[tuple[str, str | None]],
    *,
    encoder: SentenceEncoder | None = None,
    extractor: ConceptExtractor | None = None,
    judge_config: dict[str, Any] | None = None,
    strict_judge_config: dict[str, Any] | None = None,
) -> OwcValues:
    """Every metric per (ground truth, answer) pair, on the raw strings as lmms-owc scores them; an
    answer of None is a parse failure (0 everywhere)."""
    values: dict[str, list[float | None]] = {
        "text_inclusion": [float(ans is not None and text_inclusion(gt, ans)) for gt, ans in pairs],
        "text_inclusion_words": [float(ans is not None and text_inclusion_words(gt, ans)) for gt, ans in pairs],
    }
    concepts = None
    if encoder is not None:
        values["semantic_similarity"] = list(_semantic(pairs, encoder))
        if extractor is not None:
            best, concepts = _concepts(pairs, encoder, extractor)
            values["concept_similarity"] = list(best)
    if judge_config is not None:
        from .inclusion import llm_inclusion

        values["llm_inclusion"] = llm_inclusion(pairs, judge_config)
    if strict_judge_config is not None:
        from .inclusion import llm_inclusion_strict

        values["llm_inclusion_strict"] = llm_inclusion_strict(pairs, strict_judge_config)
    return OwcValues(values, concepts, [ans is None for _, ans in pairs])


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def aggregate(values: OwcValues, index: Sequence[int]) -> dict[str, Any]:
    """Means over the records at `index`, in OWC_COLUMNS order (metrics not computed are absent)."""
    out: dict[str, Any] = {"count": len(index), "parse_failures": sum(values.parse_failures[i] for i in index)}
    for name in METRICS:
        if name not in values.values:
            continue
        column = [values.values[name][i] for i in index]
        out[name] = _mean(v for v in column if v is not None)
        if name in ERRORS:
            out[ERRORS[name]] = sum(v is None for v in column)
    return {k: out[k] for k in OWC_COLUMNS if k in out}


def owc_by_dataset_values(records: Sequence[Record], values: OwcValues) -> dict[str, dict[str, Any]]:
    """Per dataset plus "all" (when several), as plain dicts for JSON."""
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(record.dataset, []).append(i)
    out = {name: aggregate(values, index) for name, index in sorted(groups.items())}
    if len(groups) > 1:
        out["all"] = aggregate(values, range(len(records)))
    return out


def owc_by_dataset(records: Sequence[Record], **kwargs: Any) -> dict[str, dict[str, Any]]:
    """`owc_values` then `owc_by_dataset_values`: each metric computed once over all records."""
    return owc_by_dataset_values(records, owc_values(records, **kwargs))


def owc_scores(records: Sequence[Record], **kwargs: Any) -> dict[str, Any]:
    """The metrics over all records (means); options as in `owc_values`."""
    return aggregate(owc_values(records, **kwargs), range(len(records)))


def per_record_rows(records: Sequence[Record], values: OwcValues, source: str | None = None) -> list[dict[str, Any]]:
    """One JSON object per record: its key, truth and answer, each metric's value, the concepts used."""
    rows = []
    for i, record in enumerate(records):
        row: dict[str, Any] = {}
        if source is not None:
            row["source"] = source
        row.update(sample_id=record.sample_id, dataset=record.dataset, prediction_index=record.prediction_index,
                   ground_truth=record.ground_truth, answer=record_answer(record),
                   parse_failure=values.parse_failures[i])
        row.update({name: values.values[name][i] for name in METRICS if name in values.values})
        if values.concepts is not None:
            row["concepts"] = values.concepts[i]
        rows.append(row)
    return rows


__all__ = ["ERRORS", "METRICS", "OWC_COLUMNS", "OwcValues", "aggregate", "owc_by_dataset", "owc_by_dataset_values",
           "owc_scores", "owc_values", "pair_values", "per_record_rows", "record_answer"]
