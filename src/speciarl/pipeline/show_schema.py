"""`speciarl config show-schema [eval|judge|train]`: every config key with its type, default and help,
printed from the schemas themselves (so the reference can never drift from what is checked)."""

from __future__ import annotations

import textwrap
from typing import Any

KINDS = ("eval", "judge", "train")


def schema_sections(kind: str) -> list[tuple[str, Any]]:
    """(section title, schema class) pairs of one config kind, in file order."""
    from ..judges.config import JUDGE_TYPES

    judges = [(f"judge (type: {name})", cls) for name, cls in JUDGE_TYPES.items()]
    if kind == "judge":
        return judges
    if kind == "eval":
        from ..predict.config import BACKEND_SCHEMAS
        from .config import EvalFile, OwcSection

        return [("top level", EvalFile),
                *[(f"model (backend: {name})", cls) for name, cls in BACKEND_SCHEMAS.items()],
                *judges, ("owc", OwcSection)]
    if kind == "train":
        from ..train.config import SECTION_SCHEMAS

        return [*SECTION_SCHEMAS.items(), *judges]
    raise ValueError(f"unknown config kind {kind!r}; choose one of {', '.join(KINDS)}")


def render_schema(kind: str, width: int = 100) -> str:
    """Plain text: one block per section, one line per key (`key  type  = default`), help indented below."""
    from ..configfile import schema_rows

    out: list[str] = []
    if kind == "train":
        out += ["Top-level keys other than these sections are TRL GRPOConfig / SFTConfig arguments, spelled and",
                "typed as TRL's dataclass fields (https://huggingface.co/docs/trl).", ""]
    for title, cls in schema_sections(kind):
        out.append(f"[{title}]")
        for key, type_, default, help_ in schema_rows(cls):
            if key in ("model", "judge", "owc") and title == "top level":
                help_ += " (own section below)"
            if title == "judge" and key == "options":  # the judge keys themselves, beside the retry keys
                out.append("  (the keys of a [judge (type: ...)] section below, plus:)")
                continue
            out.append(f"  {key}: {type_}" + (f" = {default}" if default else ""))
            if help_:
                out += textwrap.wrap(help_, width, initial_indent="      ", subsequent_indent="      ")
        out.append("")
    return "\n".join(out)
