"""`speciarl data ...`: benchmarks, training sets, prompts, verl export, taxonomies.

Each `add_<name>` declares a subcommand's arguments and sets `handler` to a small function that
imports its implementation lazily (see speciarl/cli/__init__.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _add_data_list(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("list", help="registered benchmarks, expected sizes, where to download them")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import run_list

        run_list()
        return 0

    p.set_defaults(handler=handler)


def _add_benchmark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", required=True, help="registered name (see `speciarl data list`)")
    p.add_argument("--root", required=True, help="the unpacked archive folder (or manifest file, HF copy)")
    p.add_argument("--split", help="split to read (default: test for check, the training split for build-trainset)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="loader option, e.g. split_file=PATH")


def _add_data_check(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("check", help="load a benchmark split and report size, samples and skipped images")
    _add_benchmark_args(p)
    p.add_argument("--verify-images", action="store_true", help="decode every image (slow on large splits)")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import parse_options, run_check

        return run_check(args.benchmark, args.root, args.split, parse_options(args.option), args.verify_images)

    p.set_defaults(handler=handler)


def _add_data_build_trainset(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("build-trainset", help="a seeded random subset of N images as a training JSONL file",
                        description="Write N random images of one benchmark split (default: its training split) "
                        "with prompt and ground truth per row: the file `speciarl train` reads.")
    _add_benchmark_args(p)
    p.add_argument("--n", type=int, help="number of images (default: all, shuffled)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt", default="base", help="prompt name or prompt file (default: base)")
    p.add_argument("--output", "-o", required=True, metavar="TRAIN.jsonl")
    p.add_argument("--no-check-images", action="store_true", help="do not decode the chosen images first")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import parse_options, run_build_trainset

        run_build_trainset(args.benchmark, args.root, args.n, args.seed, args.prompt, args.output, args.split,
                           parse_options(args.option), not args.no_check_images)
        return 0

    p.set_defaults(handler=handler)


def _add_data_mix(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("mix", help="N random training images from each of several benchmarks in one file",
                        description="The paper's mixed set: --per-dataset images (500) from the training split "
                        "of each --source, shuffled together.")
    p.add_argument("--source", action="append", required=True, metavar="BENCHMARK=ROOT",
                   help="a benchmark and its root; repeat for each")
    p.add_argument("--per-dataset", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt", default="base", help="prompt name or prompt file (default: base)")
    p.add_argument("--option", action="append", metavar="BENCHMARK.KEY=VALUE", help="e.g. food101.split_file=PATH")
    p.add_argument("--output", "-o", required=True, metavar="MIX.jsonl")
    p.add_argument("--no-check-images", action="store_true", help="do not decode the chosen images first")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import parse_options, parse_sources, run_mix

        sources = parse_sources(args.source, parse_options(args.option))
        run_mix(sources, args.per_dataset, args.seed, args.prompt, args.output, not args.no_check_images)
        return 0

    p.set_defaults(handler=handler)


def _add_data_synthetic(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("synthetic", help="write the tiny generated benchmark (shapes) with its taxonomy")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--per-class", type=int, default=4, help="images per class and split (9 classes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=32, help="image side in pixels")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import run_synthetic

        run_synthetic(args.out, args.per_class, args.seed, args.size)
        return 0

    p.set_defaults(handler=handler)


def _add_data_prompts(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("prompts", help="the built-in VLM prompts and their hashes (--show NAME|FILE for the text)")
    p.add_argument("--show", metavar="NAME|FILE", help="print one prompt's full text")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import run_prompts

        run_prompts(args.show)
        return 0

    p.set_defaults(handler=handler)


def _add_data_export_verl(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("export-verl", help="a training JSONL as verl's RL parquet (prompt, images, reward_model)")
    p.add_argument("train_file", metavar="TRAIN.jsonl", help="a file from `speciarl data build-trainset` / `mix`")
    p.add_argument("--out", required=True, metavar="TRAIN.parquet")
    p.add_argument("--prompt", default="base", help="prompt for rows without one (name or file)")

    def handler(args: argparse.Namespace) -> int:
        from ..integrations.verl import export_verl_parquet

        n = export_verl_parquet(args.train_file, args.out, prompt=args.prompt)
        print(f"wrote {n} rows to {args.out}")
        return 0

    p.set_defaults(handler=handler)


def _add_data_taxonomy(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("taxonomy", help="the taxonomy-judge file of a benchmark with a label hierarchy "
                        "(fgvc_aircraft, stanford_cars, oxford_pets)",
                        description="Read every split of the archive and write the label hierarchy (FGVC-Aircraft "
                        "manufacturer > family > variant, Stanford Cars make > model > model year, Oxford Pets "
                        "species > breed) as a TaxonomyJudge YAML file: grade those benchmarks with no LLM, or audit "
                        "an LLM judge against it on a whole test set.")
    p.add_argument("--benchmark", required=True, choices=("fgvc_aircraft", "stanford_cars", "oxford_pets"))
    p.add_argument("--root", required=True, help="the unpacked archive folder")
    p.add_argument("--out", required=True, metavar="TAXONOMY.yaml")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="loader option")

    def handler(args: argparse.Namespace) -> int:
        from ..data.commands import parse_options
        from ..data.taxonomy_builder import build_taxonomy

        done = build_taxonomy(args.benchmark, args.root, args.out, **parse_options(args.option))
        print(f"wrote {done['labels']} labels ({', '.join(done['splits'])}) to {done['out']}; judge config: "
              f"type: taxonomy, taxonomy: {done['out']}, less_specific_levels: {done['judge']['less_specific_levels']}")
        return 0

    p.set_defaults(handler=handler)


# `speciarl data <sub-subcommand>`: add one `_add_data_<name>(dsub)` function and append it here.
DATA_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_data_list,
    _add_data_check,
    _add_data_build_trainset,
    _add_data_mix,
    _add_data_synthetic,
    _add_data_prompts,
    _add_data_export_verl,
    _add_data_taxonomy,
]


def add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="benchmarks and training sets: list, check, build-trainset, mix, synthetic, "
                       "prompts, export-verl, taxonomy",
                       description="Benchmarks from the official archives (see docs/benchmarks.md) and the "
                       "training-set files `speciarl train` reads.")
    dsub = p.add_subparsers(dest="data_command", metavar="<data command>")
    for add in DATA_SUBCOMMANDS:
        add(dsub)

    def handler(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=handler)
