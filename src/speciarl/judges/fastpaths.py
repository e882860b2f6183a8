"""Decisions that need no judge: exact match, refusal, over-long or several-option answers.

Each rule is cheaper than an LLM call and at least as reliable, and they blunt judge hacking: an
answer that lists candidates or writes a paragraph at the judge never reaches it. The rules are
checked against real benchmark label lists (tests/judges/data) so they do not misfire on names such
as "F/A-18", "bird of paradise" or "Ram C/V Cargo Van Minivan 2012".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..answers import normalize
from ..categories import Category
from .verdict import Verdict

# Verdicts are immutable: the fast paths hand out shared instances.
EXACT = Verdict(Category.SPECIFIC, source="exact")
REFUSAL = Verdict(Category.ABSTAIN, source="refusal")
CAPPED = Verdict(Category.WRONG, source="cap")

# Normalised refusal phrases (docs/method.md#categories `abstain`). Whole-answer matches only, never substrings:
# "unknown" is a refusal, "unknown warbler" is not.
DEFAULT_REFUSALS = frozenset({
    "none", "none of the above", "no", "nothing", "unknown", "unsure", "uncertain", "unclear",
    "undetermined", "unidentified", "unidentifiable", "n a", "na", "not sure", "no idea", "no answer",
    "not applicable", "i don t know", "i do not know", "don t know", "dont know", "i dont know", "idk", "dunno",
    "i have no idea", "no clue", "not known", "cannot answer", "can t answer", "i cannot answer",
    "i m not sure", "i am not sure", "not certain", "i m unsure", "i am unsure",
    "cannot tell", "can t tell", "can not tell", "i cannot tell", "i can t tell",
    "cannot determine", "can t determine", "cannot be determined", "can t be determined",
    "cannot identify", "can t identify", "i cannot identify", "i can t identify",
    "cannot say", "can t say", "hard to say", "impossible to tell", "not enough information",
    "insufficient information", "abstain", "i abstain", "pass", "skip",
})

DEFAULT_LENGTH_CAP = 12

# "robin/cardinal": a slash between two real words (>= 3 letters each) — "F/A-18", "C/V" stay labels.
_SLASH = re.compile(r"[^\W\d_]{3,}\s*/\s*[^\W\d_]{3,}")
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def loose(text_norm: str) -> str:
    """A normalised label with dashes read as spaces: "golden-winged warbler" = "golden winged warbler"."""
    return " ".join(text_norm.replace("-", " ").split()) if "-" in text_norm else text_norm


def lists_options(raw_answer: str, answer_norm: str | None = None) -> bool:
    """True when the answer offers several candidates instead of one label.

    Text in parentheses is ignored ("lion (or Panthera leo)" gives a synonym, not a choice).
    """
    text = raw_answer
    if "(" in text or "[" in text or answer_norm is None:
        text = _PARENS.sub(" ", raw_answer)
        answer_norm = normalize(text)
    # "robin or cardinal", "a, b or c", "a and/or b": the word "or" between two words.
    return " or " in answer_norm or ("/" in text and _SLASH.search(text) is not None)


class FastPaths:
    """The pre-judge rules, configurable; `check` returns a Verdict or None (ask the judge).

    `length_cap`: answers with more normalised words are `wrong` (None or 0 disables).
    `exact`, `refusals`, `options`: switch single rules off (e.g. for an audit of the LLM alone).
    A rule that would also fire on the ground truth itself is skipped for that pair, so a label
    that happens to be long or to contain "or" is still graded by the judge.
    """

    def __init__(
        self,
        *,
        length_cap: int | None = DEFAULT_LENGTH_CAP,
        exact: bool = True,
        refusals: Iterable[str] | bool = True,
        options: bool = True,
    ):
        self.length_cap = length_cap or None
        self.exact = exact
        if refusals is True:
            self.refusals = DEFAULT_REFUSALS
        elif refusals is False:
            self.refusals = frozenset()
        else:
            self.refusals = frozenset(refusals)
        self.options = options

    def describe(self) -> str:
        """A short stable string, part of judge identities (fast paths change grades)."""
        parts = [f"cap={self.length_cap or 0}", f"exact={int(self.exact)}", f"options={int(self.options)}",
                 f"refusals={len(self.refusals)}"]
        return ",".join(parts)

    def check(self, gt_norm: str, answer_norm: str, raw_answer: str) -> Verdict | None:
        if self.exact and answer_norm and (answer_norm == gt_norm or loose(answer_norm) == loose(gt_norm)):
            return EXACT
        if not answer_norm:  # only punctuation ("?", "..."): malformed, not a label
            return CAPPED
        if answer_norm in self.refusals:
            return REFUSAL
        if self.length_cap and answer_norm.count(" ") + 1 > self.length_cap \
                and gt_norm.count(" ") + 1 <= self.length_cap:
            return CAPPED
        if self.options and lists_options(raw_answer, answer_norm) and " or " not in gt_norm:
            return CAPPED
        return None
