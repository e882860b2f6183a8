"""Judge and config commands: judge audit/agree, config show-schema.

Each `add_<name>` declares a subcommand's arguments and sets `handler` to a small function that
imports its implementation lazily (see speciarl/cli/__init__.py).
"""

from __future__ import annotations

import argparse


def add_judge(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge", help="how far to trust a judge: audit it on the gold set, or compare two gradings",
                       description="`audit` grades the packaged gold set (or --gold) with a judge and writes "
                       "accuracy, Cohen's kappa, the confusion matrix, reward effects, latency and tokens; `agree` "
                       "compares two gradings of the same predictions. See docs/judges.md.")
    jsub = p.add_subparsers(dest="judge_command", metavar="<judge command>")
    a = jsub.add_parser("audit", help="grade the gold set with a judge and report its agreement and cost")
    a.add_argument("--judge", required=True, metavar="JUDGE.yaml",
                   help="a judge config file (a mapping, or a config with a judge: section)")
    a.add_argument("--gold", metavar="GOLD.jsonl", help="gold file (default: the packaged gold set)")
    a.add_argument("--out", required=True, metavar="DIR", help="audit.json, report.md, confusion.md/.png, "
                   "disagreements.jsonl")
    a.add_argument("--with-fast-paths", action="store_true",
                   help="keep the judge's fast paths (the judge as used in training); default: the LLM alone")
    a.add_argument("--cache", default="none", metavar="PATH|redis://...|none",
                   help="grade cache (default none, so latency and tokens are real)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")

    def audit(args: argparse.Namespace) -> int:
        from ..judges import load_judge_config
        from ..pipeline.audit import run_audit

        data = run_audit(load_judge_config(args.judge), args.out, gold=args.gold, with_fast_paths=args.with_fast_paths,
                         cache=args.cache, progress=not args.no_progress)
        print(f"audit of {data['n']} gold pairs in {args.out} (audit.json, report.md, confusion.png)")
        return 0

    a.set_defaults(handler=audit)
    g = jsub.add_parser("agree", help="agreement of two gradings of the same predictions, and how metrics move")
    g.add_argument("records", nargs=2, metavar="RECORDS.jsonl", help="graded records A (reference) and B")
    g.add_argument("--out", metavar="DIR", help="write agree.json, confusion.md and confusion.png here")
    g.add_argument("--name", action="append", metavar="NAME", help="names of A and B (default: file stems)")

    def agree(args: argparse.Namespace) -> int:
        from ..pipeline.agree import run_agree

        run_agree(args.records[0], args.records[1], out=args.out, names=args.name)
        return 0

    g.set_defaults(handler=agree)

    def handler(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=handler)


def add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="config files: every key with its type, default and help (show-schema)",
                       description="The config reference, printed from the schemas the files are checked "
                       "against: `speciarl config show-schema KIND`.")
    csub = p.add_subparsers(dest="config_command", metavar="<config command>")
    show = csub.add_parser("show-schema", help="keys, types, defaults and help of one config kind")
    from ..pipeline.show_schema import KINDS  # a constant; the module imports nothing at load

    show.add_argument("kind", choices=KINDS, help="which config file")

    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "config_command", None) != "show-schema":
            p.print_help()
            return 2
        from ..pipeline.show_schema import render_schema

        print(render_schema(args.kind))
        return 0

    p.set_defaults(handler=handler)
    show.set_defaults(handler=handler)
