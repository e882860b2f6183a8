"""One grade of one pair, shared by every judge and the fast paths."""

from __future__ import annotations

from dataclasses import dataclass

from ..categories import Category

Pair = tuple[str, str]  # (ground truth, answer), raw strings


@dataclass(frozen=True)
class Verdict:
    """One grade: a category, or an error message (category None); `source` says who decided."""

    category: Category | None
    error: str | None = None
    source: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.category is not None
