"""How far two gradings agree: confusion matrix, accuracy, Cohen's κ, per-category precision and
recall, and what the disagreements would do to rewards and correctness.

Used by `speciarl judge audit` (gold labels vs a judge) and `speciarl judge agree` (two judges on
the same predictions). Rows are the reference grading, columns the other one; a column `error`
holds pairs the other grading could not grade — they count as disagreements, never as a label.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..categories import LABELS, Category, is_correct, rank
from ..rewards import STATIC_TABLES

ERROR = "error"
COLUMNS = (*LABELS, ERROR)
NOISE_LEVELS = (0.05, 0.10, 0.25)  # the paper's judge-noise ablation

# The noise ablation's ladder (more specific counts as specific): position 0 = specific .. 4 = wrong.
_LADDER = {"specific": 0, "more specific": 0, "less specific": 1, "generic": 2, "abstain": 3, "wrong": 4}

Confusion = dict[str, dict[str, int]]


def confusion_matrix(pairs: Iterable[tuple[str, str | None]], rows: Iterable[str] = LABELS) -> Confusion:
    """reference label -> other label (None = could not grade → `error`) -> count; every cell present."""
    matrix = {r: dict.fromkeys(COLUMNS, 0) for r in rows}
    for reference, other in pairs:
        if reference not in matrix:
            raise ValueError(f"unknown reference label {reference!r}; expected one of {', '.join(matrix)}")
        column = ERROR if other is None else other
        if column not in matrix[reference]:
            raise ValueError(f"unknown label {other!r}; expected one of {', '.join(LABELS)}")
        matrix[reference][column] += 1
    return matrix


def total(matrix: Confusion) -> int:
    return sum(sum(row.values()) for row in matrix.values())


def accuracy(matrix: Confusion) -> float | None:
    n = total(matrix)
    return sum(matrix[r].get(r, 0) for r in matrix) / n if n else None


def cohen_kappa(matrix: Confusion) -> float | None:
    """κ = (p_o − p_e) / (1 − p_e) over all pairs, `error` being one more (never matching) label.

    None when undefined (no pairs, or both gradings put everything in one and the same label).
    """
    n = total(matrix)
    if not n:
        return None
    observed = sum(matrix[r].get(r, 0) for r in matrix) / n
    columns = {c: sum(row[c] for row in matrix.values()) for c in COLUMNS}
    expected = sum(sum(matrix[r].values()) * columns.get(r, 0) for r in matrix) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def per_category(matrix: Confusion) -> dict[str, dict[str, float | int | None]]:
    """Precision (of the other grading's label) and recall (of the reference label), with support."""
    out = {}
    for label in LABELS:
        support = sum(matrix.get(label, {}).values())
        predicted = sum(row[label] for row in matrix.values())
        hit = matrix.get(label, {}).get(label, 0)
        out[label] = {"support": support, "predicted": predicted,
                      "precision": hit / predicted if predicted else None,
                      "recall": hit / support if support else None}
    return out


def disagreement_effects(matrix: Confusion) -> dict[str, Any]:
    """What the graded disagreements would change, as shares of them.

    - `correctness`: one side is correct (generic or better) and the other not;
    - `speciarl_reward`: one side is specific/more specific and the other not — the reward changes
      when the group's best rollout is `specific` (the usual case once best-of-N correctness is high);
      `generic` ↔ `less specific` then earns 0 either way, `specific` ↔ `more specific` 1 either way;
    - `binary`, `scala1`, ...: the static reward tables differ for the two labels; `scala1_mean_abs`
      is the mean absolute change of the scala1 reward.
    Pairs the other grading could not grade are counted apart (`ungraded`): they become an error,
    never a reward.
    """
    mismatches = [(r, c, n) for r, row in matrix.items() for c, n in row.items() if c != ERROR and c != r and n]
    count = sum(n for _, _, n in mismatches)
    ungraded = sum(row[ERROR] for row in matrix.values())

    def share(test) -> float | None:
        return sum(n for r, c, n in mismatches if test(Category(r), Category(c))) / count if count else None

    out: dict[str, Any] = {"disagreements": count, "ungraded": ungraded,
                           "correctness": share(lambda a, b: is_correct(a) != is_correct(b)),
                           "speciarl_reward": share(lambda a, b: (rank(a) == 4) != (rank(b) == 4))}
    for scheme, table in STATIC_TABLES.items():
        out[scheme] = share(lambda a, b, t=table: t[a] != t[b])
    scala1 = STATIC_TABLES["scala1"]
    out["scala1_mean_abs"] = (sum(n * abs(scala1[Category(r)] - scala1[Category(c)]) for r, c, n in mismatches) / count
                              if count else None)
    return out


def noise_equivalent(matrix: Confusion) -> dict[str, Any]:
    """The judge as the paper's noise ablation sees it: the share of graded pairs whose label sits on
    another rung of specific → less specific → generic → abstain → wrong (`rate`, comparable with
    p = 0.05 / 0.10 / 0.25), how many of those moves are one step (all of the ablation's are), and
    the nearest ablation level."""
    graded = [(r, c, n) for r, row in matrix.items() for c, n in row.items() if c != ERROR and n]
    n_graded = sum(n for _, _, n in graded)
    moved = [(abs(_LADDER[r] - _LADDER[c]), n) for r, c, n in graded if _LADDER[r] != _LADDER[c]]
    n_moved = sum(n for _, n in moved)
    rate = n_moved / n_graded if n_graded else None
    out: dict[str, Any] = {"rate": rate, "one_step_share": (sum(n for d, n in moved if d == 1) / n_moved
                                                           if n_moved else None)}
    if rate is None:
        out["nearest_level"], out["compared"] = None, "no graded pairs"
    else:
        nearest = min(NOISE_LEVELS, key=lambda p: abs(p - rate))
        out["nearest_level"] = nearest
        if rate < NOISE_LEVELS[0]:
            out["compared"] = f"below the ablation's smallest level p = {NOISE_LEVELS[0]}"
        elif rate > NOISE_LEVELS[-1]:
            out["compared"] = f"above the ablation's largest level p = {NOISE_LEVELS[-1]}"
        else:
            out["compared"] = f"nearest to p = {nearest}"
    return out


def agreement_summary(matrix: Confusion) -> dict[str, Any]:
    """Every number above for one confusion matrix (the body of audit.json and agree.json)."""
    return {"n": total(matrix), "accuracy": accuracy(matrix), "kappa": cohen_kappa(matrix),
            "confusion": matrix, "per_category": per_category(matrix),
            "error_effects": disagreement_effects(matrix), "noise": noise_equivalent(matrix)}


def label_of(value: Any) -> str | None:
    """A Category, a label string or None, as a confusion-matrix key."""
    if value is None:
        return None
    return value.value if isinstance(value, Category) else str(value)

