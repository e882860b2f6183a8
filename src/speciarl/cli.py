"""`speciarl <subcommand>`: parse arguments, call one function, print.

Each subcommand has an `_add_<name>` function that declares its arguments and sets `handler` to a
small function importing its implementation lazily, so `speciarl --help` never loads torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import SpeciarlError


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="tables and plots from graded records (one or more runs side by side)",
        description="Read graded JSONL records (see README: record schema) and write summary.json, "
        "summary.md and PNG plots to --out; several files are compared side by side.",
    )
    p.add_argument("inputs", nargs="+", metavar="VERIFIED.jsonl", help="graded record files; each is one run")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--name", action="append", default=None, metavar="NAME",
                   help="display name of each run, in input order (default: file stem)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    def handler(args: argparse.Namespace) -> int:
        from .report.run import run_report

        run_report(args.inputs, args.out, names=args.name, plots=not args.no_plots)
        return 0

    p.set_defaults(handler=handler)


# Subcommand registry, in the order `--help` lists them.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_report,
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
    except SpeciarlError as exc:  # bad input or config: a clear message, no traceback
        print(f"speciarl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
