"""`speciarl --help` is a newcomer's map: the one-line help of `data` names every data subcommand."""

from __future__ import annotations

import argparse

from speciarl.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_data_help_line_names_every_data_subcommand() -> None:
    top = _subparsers(build_parser())
    line = next(a.help for a in top._choices_actions if a.dest == "data")
    names = list(_subparsers(top.choices["data"]).choices)
    assert {"list", "prompts", "export-verl"} <= set(names)
    missing = [name for name in names if name not in line]
    assert not missing, f"`speciarl --help` data line {line!r} omits {missing}"
