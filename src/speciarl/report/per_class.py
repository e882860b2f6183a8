"""Per-class numbers of a run: the metrics of each class (dataset, ground truth), what the model says
instead of the right label, and which classes gained or lost most between two runs.

The numbers come from `speciarl.metrics.per_class_counts` / `summarize_counts` — the same code as
summary.json — fed one (dataset, ground truth, category) triple per prediction while the records
stream past, so nothing but counts is kept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..categories import Category
from ..metrics import PARSE_FAILURE, per_class_counts, summarize_counts
from ..records import GRADED_FIELDS, iter_json_lines, key_fields

TOP_ANSWERS = 5
# Distinct answers counted per class and kind; later new answers are not tracked (the top answers of a
# class with more distinct wrong answers than this are then those among the first MAX_DISTINCT seen).
MAX_DISTINCT = 200


def _count_key(category: Category | None) -> str:
    return PARSE_FAILURE if category is None else category.value


class ClassAccumulator:
    """Collects one run's predictions class by class: categories, wrong and less-specific answers.

    Not thread-safe: one accumulator per run, fed from one thread.
    """

    FOLD_EVERY = 65536  # triples buffered before they are folded into counts (bounded memory)

    def __init__(self) -> None:
        self._triples: list[tuple[str, str, Category | None]] = []
        self._counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._wrong: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._less: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def add(self, dataset: str, ground_truth: str, category: Category | None, answer: str | None) -> None:
        self._triples.append((dataset, ground_truth, category))
        if len(self._triples) >= self.FOLD_EVERY:
            self._fold()
        self.add_answer(dataset, ground_truth, category, answer)

    def add_count(self, dataset: str, ground_truth: str, category: Category | None, count: int) -> None:
        """`count` predictions of one class in one category, already tallied (answers go to `add_answer`)."""
        self._counts[(dataset, ground_truth)][_count_key(category)] += count

    def merge(self, other: ClassAccumulator) -> None:
        """Fold in the accumulator of a later part of the same run (parallel reading). Answers keep the
        first-seen rule per part: a class with more than MAX_DISTINCT distinct answers may keep
        another (equally arbitrary) subset than one serial pass would."""
        other._fold()
        self._fold()
        for key, counts in other._counts.items():
            self._counts[key].update(counts)
        for mine, theirs in ((self._wrong, other._wrong), (self._less, other._less)):
            for key, counter in theirs.items():
                _merge_answers(mine[key], counter)

    def add_answer_counts(self, dataset: str, ground_truth: str, category: Category | None,
                          counts: Mapping[str, int]) -> None:
        """`add_answer` for answers already counted (stripped, non-empty, in first-seen order), with the
        rule of `merge`."""
        if category is Category.WRONG:
            _merge_answers(self._wrong[(dataset, ground_truth)], counts)
        elif category is Category.LESS_SPECIFIC:
            _merge_answers(self._less[(dataset, ground_truth)], counts)

    def add_answer(self, dataset: str, ground_truth: str, category: Category | None, answer: str | None) -> None:
        """Remember the answer text of a wrong or less-specific prediction (other categories: ignored)."""
        if category is Category.WRONG:
            counter = self._wrong[(dataset, ground_truth)]
        elif category is Category.LESS_SPECIFIC:
            counter = self._less[(dataset, ground_truth)]
        else:
            return
        text = (answer or "").strip()
        if text and (text in counter or len(counter) < MAX_DISTINCT):
            counter[text] += 1

    def _fold(self) -> None:
        for key, value in per_class_counts(self._triples).items():
            self._counts[key].update(value)
        self._triples.clear()

    def finish(self) -> dict[tuple[str, str], dict[str, Any]]:
        """class → {summary, wrong_answers, less_specific_answers} (answers as [text, count], most frequent first)."""
        self._fold()
        counts = self._counts
        return {
            key: {
                "summary": summarize_counts(dict(value)).to_dict(),
                "wrong_answers": [list(p) for p in self._wrong[key].most_common(TOP_ANSWERS)] if key in self._wrong else [],
                "less_specific_answers": [list(p) for p in self._less[key].most_common(TOP_ANSWERS)]
                if key in self._less else [],
            }
            for key, value in sorted(counts.items())
        }


def _merge_answers(target: Counter[str], counts: Mapping[str, int]) -> None:
    for text, count in counts.items():
        if text in target or len(target) < MAX_DISTINCT:
            target[text] += count


def per_class_from_records(records: Iterable[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The per-class table of one run's graded records (Record objects)."""
    acc = ClassAccumulator()
    for r in records:
        acc.add(r.dataset, r.ground_truth, r.category, r.answer)
    return acc.finish()


def class_changes(
    base: Mapping[tuple[str, str], Mapping[str, Any]], other: Mapping[tuple[str, str], Mapping[str, Any]],
    metric: str = "hm",
) -> list[dict[str, Any]]:
    """Classes present in both runs with the change of each metric, sorted by the change of `metric`
    (largest gain first; the tail holds the largest losses)."""
    rows = []
    for key in sorted(base.keys() & other.keys()):
        a, b = base[key]["summary"], other[key]["summary"]
        if a["count"] == 0 or b["count"] == 0:
            continue
        rows.append({
            "dataset": key[0], "class": key[1],
            **{f"delta_{m}": b[m] - a[m] for m in ("correctness", "specificity", "hm")},
            "base": {m: a[m] for m in ("count", "correctness", "specificity", "hm")},
            "other": {m: b[m] for m in ("count", "correctness", "specificity", "hm")},
        })
    rows.sort(key=lambda r: (-r[f"delta_{metric}"], r["dataset"], r["class"]))
    return rows


def per_class_json(runs: Mapping[str, Mapping[tuple[str, str], Mapping[str, Any]]]) -> dict[str, Any]:
    """A JSON-friendly form: {"runs": {name: [{dataset, class, ...}]}, "changes": {"B vs A": [...]}}."""
    names: Sequence[str] = list(runs)
    out: dict[str, Any] = {"runs": {
        name: [{"dataset": k[0], "class": k[1], **v} for k, v in sorted(table.items())] for name, table in runs.items()
    }}
    if len(names) > 1:
        base = names[0]
        out["changes"] = {f"{name} vs {base}": class_changes(runs[base], runs[name]) for name in names[1:]}
    return out


CATEGORY_OF_CODE: tuple[Category | None, ...] = (None, *Category)  # records.CATEGORY_CODES, inverted


def iter_graded(path: Any) -> Iterator[tuple[str, str, str, int, Category | None, str | None, dict[str, Any]]]:
    """(sample_id, dataset, ground truth, prediction_index, category, answer, raw object) per graded
    record, validated like `Record.from_dict` (errors name file, line and field) by the streaming
    fast path of `speciarl.records` (no Record built per line)."""
    required = frozenset(GRADED_FIELDS)
    for number, data in iter_json_lines(path):
        sample_id, dataset, index, code = key_fields(data, path, number, GRADED_FIELDS, required)
        truth = data["ground_truth"]
        yield (sample_id, str(dataset), truth if type(truth) is str else str(truth), index,
               CATEGORY_OF_CODE[code or 0], data.get("answer"), data)
