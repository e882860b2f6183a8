"""`speciarl <subcommand>`: parse arguments, call one function, print.

Each subcommand has an `add_<name>` function (in this package's modules, one per group: evaluation,
data, training, judging) that declares its arguments and sets `handler` to a small function importing
its implementation lazily, so `speciarl --help` never loads torch. `python -m speciarl.cli` runs
`__main__.py`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import SpeciarlError
from .data import add_data
from .evaluation import add_classify, add_eval, add_gallery, add_owc, add_report, add_verify
from .judging import add_config, add_judge
from .training import add_demo, add_export, add_sft, add_train

# Subcommand registry, in the order `--help` lists them.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_report,
    add_gallery,
    add_verify,
    add_eval,
    add_classify,
    add_data,
    add_owc,
    add_judge,
    add_train,
    add_sft,
    add_export,
    add_demo,
    add_config,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speciarl",
        description="Evaluate and fine-tune VLMs to name what they see as specifically as they truly can.",
    )
    parser.add_argument("--version", action="version", version=f"speciarl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `speciarl ... | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except SpeciarlError as exc:  # bad input or config: a clear message, no traceback
        print(f"speciarl {args.command}: error: {exc}", file=sys.stderr)
        return 2

