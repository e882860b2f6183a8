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
    p.add_argument("--no-gallery", action="store_true",
                   help="skip OUT/gallery/ (written when the records' images are reachable; see docs/gallery.md)")
    p.add_argument("--reference", metavar="paper|FILE.json",
                   help="add published rows (the paper's Qwen2.5-VL-7B numbers per dataset group) to the group "
                   "table and the correctness-specificity plot, marked as published")

    def handler(args: argparse.Namespace) -> int:
        from .report.run import run_report

        run_report(args.inputs, args.out, names=args.name, plots=not args.no_plots, gallery=not args.no_gallery,
                   reference=args.reference)
        return 0

    p.set_defaults(handler=handler)


def _add_gallery(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gallery",
        help="a static HTML gallery of the answers (runs side by side, filters, per-class page)",
        description="Build a static site (open DIR/index.html from disk: no server, no network) showing each "
        "image with its ground truth and every run's answer and category; filters by dataset, class, category "
        "and transitions between runs, text search, counts, completions, and a per-class page. See docs/gallery.md.",
    )
    p.add_argument("inputs", nargs="+", metavar="RUN", help="graded records files or `speciarl eval` run directories")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (thumbnails there are reused)")
    p.add_argument("--name", action="append", default=None, metavar="NAME",
                   help="display name of each run, in input order (default: run name or file stem)")

    def handler(args: argparse.Namespace) -> int:
        from .report.gallery import run_gallery

        run_gallery(args.inputs, args.out, names=args.name)
        return 0

    p.set_defaults(handler=handler)


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="grade prediction records with a judge (LLM server or taxonomy)",
        description="Read prediction records (JSONL with a 'completion' or an 'answer'), grade each answer "
        "against its ground truth and append graded records to --output. Reruns skip records already in "
        "--output. Exits 1 (listing them) if some pairs could not be graded; they get no category.",
    )
    p.add_argument("input", metavar="IN.jsonl", help="prediction records")
    p.add_argument("--output", "-o", required=True, metavar="OUT.jsonl", help="graded records (appended, resumable)")
    p.add_argument("--judge", choices=("openai", "taxonomy"), help="judge type (or give --judge-config)")
    p.add_argument("--judge-config", metavar="YAML", help="a judge config file: a mapping, or a config with a judge: section (see docs/judges.md); flags override it")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", help="model name the server serves")
    p.add_argument("--prompt", help="judge prompt: single (default), main_subject, binary, or a prompt file path")
    p.add_argument("--taxonomy", metavar="FILE", help="label hierarchy (YAML/JSON) for --judge taxonomy")
    p.add_argument("--less-specific-levels", type=int, metavar="N",
                   help="taxonomy judge: an ancestor up to N levels up is 'less specific', farther 'generic' "
                   "(default 2)")
    p.add_argument("--cache", metavar="PATH|redis://...|none",
                   help="grade cache (default: SQLite at $SPECIARL_JUDGE_CACHE or ~/.cache/speciarl/judge-cache.sqlite "
                   "for LLM judges, none for the taxonomy judge)")
    p.add_argument("--concurrency", type=int, help="parallel judge requests (default 64)")
    p.add_argument("--timeout", type=float, help="seconds per judge request (default 60)")
    p.add_argument("--max-retries", type=int,
                   help="retries per pair on connection errors, timeouts, 429, 5xx (default 6)")
    p.add_argument("--choice-field", choices=("structured_outputs", "guided_choice", "none"),
                   help="choice-constrained output field (default structured_outputs, vLLM >= 0.12; none for "
                   "servers that reject it)")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--length-cap", type=int, metavar="WORDS", help="answers longer than this are wrong (0: off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handler(args: argparse.Namespace) -> int:
        from .pipeline.verify import judge_config_from_args, run_verify

        result = run_verify(args.input, args.output, judge_config_from_args(args), progress=not args.no_progress)
        for sample_id, index, message in result.errors[:20]:
            print(f"not graded: sample {sample_id!r} prediction {index}: {message}", file=sys.stderr)
        if len(result.errors) > 20:
            print(f"... and {len(result.errors) - 20} more not graded", file=sys.stderr)
        print(result.summary_line())
        if not result.ok:
            print(f"{len(result.errors)} pairs could not be graded; rerun the same command to retry them",
                  file=sys.stderr)
        return 0 if result.ok else 1

    p.set_defaults(handler=handler)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="benchmarks -> predict -> verify -> report in one run directory (resumable)",
        description="Run an evaluation config (see configs/eval/): predict with the configured backend "
        "(transformers, vllm, openai), grade with the judge, write the report and print the paper-style "
        "table. The run directory is <output_dir>/<name>-<hash of the config>; rerunning resumes it and "
        "skips every stage whose output is complete.",
    )
    p.add_argument("config", metavar="CONFIG.yaml", help="eval config file")
    p.add_argument("--stages", metavar="LIST", help="comma-separated subset of predict,verify,report (default: all)")
    p.add_argument("--shard", metavar="i/n", help="predict only this shard of the samples (one job per GPU); "
                   "rerun without --shard afterwards to verify and report")
    p.add_argument("--output-dir", metavar="DIR", help="override the config's output_dir")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handler(args: argparse.Namespace) -> int:
        from .pipeline.eval import run_eval

        result = run_eval(args.config, stages=args.stages, shard=args.shard, output_dir=args.output_dir,
                          progress=not args.no_progress)
        print(f"run directory: {result.run_dir}")
        return 0

    p.set_defaults(handler=handler)


def _add_data_list(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("list", help="registered benchmarks, expected sizes, where to download them")

    def handler(args: argparse.Namespace) -> int:
        from .data.commands import run_list

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
        from .data.commands import parse_options, run_check

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
        from .data.commands import parse_options, run_build_trainset

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
        from .data.commands import parse_options, parse_sources, run_mix

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
        from .data.commands import run_synthetic

        run_synthetic(args.out, args.per_class, args.seed, args.size)
        return 0

    p.set_defaults(handler=handler)


def _add_owc(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "owc",
        help="secondary open-world metrics as lmms-owc computes them (text inclusion, semantic/concept "
        "similarity, LLM inclusion)",
        description="The lmms-owc secondary metrics of record files, per dataset, computed as lmms-owc computes "
        "them: text inclusion always; semantic and concept similarity with all-MiniLM-L6-v2 and spaCy (--semantic, "
        "needs the owc extra); LLM inclusion with lmms-owc's question (--judge-config, an OpenAI-compatible "
        "server). Our stricter variants (text_inclusion_words, llm_inclusion_strict) sit beside them; "
        "docs/evaluation.md compares them.",
    )
    p.add_argument("inputs", nargs="+", metavar="RECORDS.jsonl", help="prediction or graded records")
    p.add_argument("--semantic", action="store_true", help="semantic and concept similarity (MiniLM + spaCy, CPU)")
    p.add_argument("--spacy-model", default="en_core_web_lg", metavar="NAME_OR_FOLDER",
                   help="spaCy pipeline for concept extraction (default: en_core_web_lg, as lmms-owc)")
    p.add_argument("--judge-config", metavar="YAML",
                   help="OpenAI-compatible server for LLM inclusion (an openai judge mapping; prompt keys ignored)")
    p.add_argument("--llm-strict", action="store_true",
                   help="also llm_inclusion_strict: our binary judge prompt on the same server")
    p.add_argument("--out", metavar="DIR", help="write DIR/summary.json and DIR/per_record.jsonl")

    def handler(args: argparse.Namespace) -> int:
        from .report.owc import run_owc

        judge = None
        if args.judge_config:
            from .judges import load_judge_config

            judge = load_judge_config(args.judge_config)
        elif args.llm_strict:
            raise SpeciarlError("--llm-strict needs --judge-config (the server that answers)")
        run_owc(args.inputs, args.out, semantic=args.semantic, judge_config=judge, spacy_model=args.spacy_model,
                strict=args.llm_strict)
        return 0

    p.set_defaults(handler=handler)


def _trainer_command(name: str, help: str, description: str, runner: str, done: str, dry_run: bool = False):
    """`speciarl train` and `speciarl sft` take the same arguments and differ only in the runner
    (`train` adds --dry-run: the resolved schedule and GRPOConfig as JSON, no model)."""

    def add(sub: argparse._SubParsersAction) -> None:
        p = sub.add_parser(name, help=help, description=description)
        p.add_argument("config", metavar="CONFIG.yaml", help="our sections (model, data, reward, judge, lora, "
                       "logging) plus TRL trainer arguments at the top level; see configs/train/")
        p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                       help="resume from the latest checkpoint in output_dir (or the given checkpoint folder)")
        p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                       help="override a config key (dotted for sections, e.g. reward.scheme=binary; value is YAML)")
        if dry_run:
            p.add_argument("--dry-run", action="store_true",
                           help="print the resolved schedule and the final GRPOConfig as one JSON object; load no model")
            p.add_argument("--world-size", type=int, default=1, metavar="N",
                           help="with --dry-run: the number of processes (GPUs) to resolve the schedule for (1)")
            p.add_argument("--train-size", type=int, default=None, metavar="M",
                           help="with --dry-run: training images, when data.train_file does not exist here")

        def handler(args: argparse.Namespace) -> int:
            import importlib

            from .train.config import parse_overrides

            if getattr(args, "dry_run", False):
                import json

                from .train.run import dry_run as resolve

                print(json.dumps(resolve(args.config, world_size=args.world_size, train_size=args.train_size,
                                         overrides=parse_overrides(args.set)), indent=1))
                return 0
            module, function = runner.rsplit(".", 1)
            run = getattr(importlib.import_module(module, __package__), function)
            out = run(args.config, resume=args.resume, overrides=parse_overrides(args.set))
            print(f"{done} in {out}")
            return 0

        p.set_defaults(handler=handler)

    return add


_add_train = _trainer_command(
    "train",
    help="GRPO / Dr.GRPO / DAPO fine-tuning with the SpeciaRL reward (TRL), on a config file",
    description="RL fine-tuning on TRL's GRPOTrainer: rollouts judged into six categories, rewards from "
    "the configured scheme on whole groups (also across processes). Launch multi-GPU runs with "
    "`accelerate launch --config_file configs/accelerate/<...>.yaml -m speciarl.cli train CONFIG`.",
    runner=".train.run.run_train",
    done="trained model (or LoRA adapter)",
    dry_run=True,
)
_add_sft = _trainer_command(
    "sft",
    help="supervised fine-tuning baseline (TRL SFTTrainer): think/answer replies with the true label",
    description="The paper's SFT baseline on the same data, model and LoRA sections as `speciarl train` "
    "(reward and judge are not used); top-level keys are TRL SFTConfig arguments.",
    runner=".train.sft.run_sft",
    done="fine-tuned model (or LoRA adapter)",
)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="merge a trained LoRA adapter into a full model folder (for the transformers / vLLM backends)",
    )
    p.add_argument("adapter", metavar="RUN_OR_ADAPTER_DIR", help="a training output_dir or a checkpoint folder")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the merged model + processor")
    p.add_argument("--base", default=None, help="base model (default: the one recorded by the training run)")
    p.add_argument("--dtype", default="auto", help="dtype of the saved weights: auto, bfloat16, float16, float32")

    def handler(args: argparse.Namespace) -> int:
        from .train.export import export_merged

        out = export_merged(args.adapter, args.out, base=args.base, dtype=args.dtype)
        print(f"merged model in {out}")
        return 0

    p.set_defaults(handler=handler)


def _add_data_export_verl(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("export-verl", help="a training JSONL as verl's RL parquet (prompt, images, reward_model)")
    p.add_argument("train_file", metavar="TRAIN.jsonl", help="a file from `speciarl data build-trainset` / `mix`")
    p.add_argument("--out", required=True, metavar="TRAIN.parquet")
    p.add_argument("--prompt", default="base", help="prompt for rows without one (name or file)")

    def handler(args: argparse.Namespace) -> int:
        from .integrations.verl import export_verl_parquet

        n = export_verl_parquet(args.train_file, args.out, prompt=args.prompt)
        print(f"wrote {n} rows to {args.out}")
        return 0

    p.set_defaults(handler=handler)


def _add_data_prompts(dsub: argparse._SubParsersAction) -> None:
    p = dsub.add_parser("prompts", help="the built-in VLM prompts and their hashes (--show NAME|FILE for the text)")
    p.add_argument("--show", metavar="NAME|FILE", help="print one prompt's full text")

    def handler(args: argparse.Namespace) -> int:
        from .data.commands import run_prompts

        run_prompts(args.show)
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
        from .data.commands import parse_options
        from .data.taxonomy_builder import build_taxonomy

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


def _add_data(sub: argparse._SubParsersAction) -> None:
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


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole method end to end on a CPU in minutes (synthetic world, tiny VLM, 3 rewards)",
        description="Build a synthetic fine-grained world, SFT a tiny Qwen2.5-VL into a warm start, run GRPO "
        "with the speciarl, binary and scala1 rewards, evaluate everything with the taxonomy judge and "
        "write the report (table, plots, training curves) to --output-dir/report. See docs/demo.md.",
    )
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes (well under 2 minutes): every stage runs, nothing is learned (for tests)")
    p.add_argument("--output-dir", default="runs/demo", help="run directory (default: runs/demo; reruns resume)")
    p.add_argument("--seed", type=int, default=0, help="seed of the world, the models and sampling (default: 0)")
    p.add_argument("--rebuild-perception", action="store_true",
                   help="only train the perception phase from scratch (minutes) into a fresh --output-dir and say "
                   "whether it is byte-identical to the checkpoint shipped for seed 0 (see docs/demo.md)")

    def handler(args: argparse.Namespace) -> int:
        from .demo.curves import print_visibility_table
        from .demo.run import run_demo
        from .report.tables import print_terminal_table

        if args.rebuild_perception:
            built = run_demo(args.output_dir, quick=args.quick, seed=args.seed, rebuild_perception=True)
            print(f"perception checkpoint: {built['perception']}: {built['verdict']}")
            return 0
        report = run_demo(args.output_dir, quick=args.quick, seed=args.seed)
        print_visibility_table(report["demo"]["by_visibility"])
        print_terminal_table(report["runs"], title="speciarl demo (held-out images, taxonomy judge)")
        print(f"report: {args.output_dir}/report (summary.md, by_visibility.md, *.png, demo.json); "
              f"total {report['demo']['total_s']:.0f} s")
        return 0

    p.set_defaults(handler=handler)


def _add_judge(sub: argparse._SubParsersAction) -> None:
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
        from .judges import load_judge_config
        from .pipeline.audit import run_audit

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
        from .pipeline.agree import run_agree

        run_agree(args.records[0], args.records[1], out=args.out, names=args.name)
        return 0

    g.set_defaults(handler=agree)

    def handler(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=handler)


def _add_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="config files: every key with its type, default and help (show-schema)",
                       description="The config reference, printed from the schemas the files are checked "
                       "against: `speciarl config show-schema KIND`.")
    csub = p.add_subparsers(dest="config_command", metavar="<config command>")
    show = csub.add_parser("show-schema", help="keys, types, defaults and help of one config kind")
    from .pipeline.show_schema import KINDS  # a constant; the module imports nothing at load

    show.add_argument("kind", choices=KINDS, help="which config file")

    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "config_command", None) != "show-schema":
            p.print_help()
            return 2
        from .pipeline.show_schema import render_schema

        print(render_schema(args.kind))
        return 0

    p.set_defaults(handler=handler)
    show.set_defaults(handler=handler)


def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="ask a model about your own images: answer and reasoning (and categories, given a truth and a judge)",
        description="Print each image's answer and reasoning, with the same backends, prompts and judges as "
        "`speciarl eval`. With --samples N, the spread of N sampled answers; with --truth and --judge, the "
        "category of each answer. Nothing is written.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--model", required=True, metavar="PATH_OR_ID",
                   help="model folder or hub id (transformers, vllm), or the served model name (openai)")
    p.add_argument("--adapter", metavar="DIR", help="a LoRA adapter folder (e.g. a speciarl train output)")
    p.add_argument("--backend", choices=("transformers", "vllm", "openai"), default="transformers")
    p.add_argument("--base-url", help="openai backend: the server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--device", help="transformers backend: cpu, cuda, ... (default auto)")
    p.add_argument("--prompt", default="base", help="prompt name or file (default base; see speciarl data prompts)")
    p.add_argument("--samples", type=int, default=1, metavar="N", help="answers per image (default 1, greedy)")
    p.add_argument("--temperature", type=float,
                   help="sampling temperature (default 0 for one answer, 0.6 for --samples > 1, as best-of-64)")
    p.add_argument("--top-p", type=float, help="default 1.0 for one answer, 0.95 for --samples > 1")
    p.add_argument("--max-new-tokens", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truth", metavar="LABEL", help="the ground truth (of every image given), to grade each answer with --judge")
    p.add_argument("--judge", metavar="JUDGE.yaml", help="judge config (a mapping or a config with judge:; see docs/judges.md)")
    p.add_argument("--no-reasoning", action="store_true", help="print answers only")
    p.add_argument("--json", action="store_true", help="one JSON object per image instead of text")

    def handler(args: argparse.Namespace) -> int:
        import json

        from .pipeline.classify import classify, format_result, model_config
        from .predict import SamplingParams

        sampled = args.samples > 1
        sampling = SamplingParams(
            n=args.samples, temperature=args.temperature if args.temperature is not None else (0.6 if sampled else 0.0),
            top_p=args.top_p if args.top_p is not None else (0.95 if sampled else 1.0),
            max_new_tokens=args.max_new_tokens, seed=args.seed)
        judge = None
        if args.judge:
            from .judges import load_judge_config

            judge = load_judge_config(args.judge)
        model = model_config(args.model, backend=args.backend, adapter=args.adapter, base_url=args.base_url,
                             device=args.device)
        results = classify(args.images, model, prompt=args.prompt, sampling=sampling, truth=args.truth, judge=judge)
        for result in results:
            print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json
                  else format_result(result, show_reasoning=not args.no_reasoning))
        return 1 if any(r.error for r in results) else 0

    p.set_defaults(handler=handler)


# Subcommand registry, in the order `--help` lists them.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_report,
    _add_gallery,
    _add_verify,
    _add_eval,
    _add_classify,
    _add_data,
    _add_owc,
    _add_judge,
    _add_train,
    _add_sft,
    _add_export,
    _add_demo,
    _add_config,
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


if __name__ == "__main__":
    sys.exit(main())
