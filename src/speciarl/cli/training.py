"""Training commands: train, sft, export, demo.

Each `add_<name>` declares a subcommand's arguments and sets `handler` to a small function that
imports its implementation lazily (see speciarl/cli/__init__.py).
"""

from __future__ import annotations

import argparse


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

            from ..train.config import parse_overrides

            if getattr(args, "dry_run", False):
                import json

                from ..train.run import dry_run as resolve

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


add_train = _trainer_command(
    "train",
    help="GRPO / Dr.GRPO / DAPO fine-tuning with the SpeciaRL reward (TRL), on a config file",
    description="RL fine-tuning on TRL's GRPOTrainer: rollouts judged into six categories, rewards from "
    "the configured scheme on whole groups (also across processes). Launch multi-GPU runs with "
    "`accelerate launch --config_file configs/accelerate/<...>.yaml -m speciarl.cli train CONFIG`.",
    runner="..train.run.run_train",
    done="trained model (or LoRA adapter)",
    dry_run=True,
)


add_sft = _trainer_command(
    "sft",
    help="supervised fine-tuning baseline (TRL SFTTrainer): think/answer replies with the true label",
    description="The paper's SFT baseline on the same data, model and LoRA sections as `speciarl train` "
    "(reward and judge are not used); top-level keys are TRL SFTConfig arguments.",
    runner="..train.sft.run_sft",
    done="fine-tuned model (or LoRA adapter)",
)


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="merge a trained LoRA adapter into a full model folder (for the transformers / vLLM backends)",
    )
    p.add_argument("adapter", metavar="RUN_OR_ADAPTER_DIR", help="a training output_dir or a checkpoint folder")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the merged model + processor")
    p.add_argument("--base", default=None, help="base model (default: the one recorded by the training run)")
    p.add_argument("--dtype", default="auto", help="dtype of the saved weights: auto, bfloat16, float16, float32")

    def handler(args: argparse.Namespace) -> int:
        from ..train.export import export_merged

        out = export_merged(args.adapter, args.out, base=args.base, dtype=args.dtype)
        print(f"merged model in {out}")
        return 0

    p.set_defaults(handler=handler)


def add_demo(sub: argparse._SubParsersAction) -> None:
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
                   help="only train the warm start's two phases from scratch (~9 minutes) into a fresh --output-dir "
                   "and say whether each is byte-identical to the checkpoint shipped for seed 0 (see docs/demo.md)")
    p.add_argument("--rebuild-warm-start", action="store_true",
                   help="the same for the habit phase alone (under a minute), on the shipped perception checkpoint")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes for the GRPO runs and the warm start's evaluation, which run side by side "
                   "(default: all 4 at once when there are 2+ CPUs; 1: one after another in this process). "
                   "The results are identical for any N")

    def handler(args: argparse.Namespace) -> int:
        from ..demo.curves import print_visibility_table
        from ..demo.run import run_demo
        from ..report.tables import print_terminal_table

        if args.rebuild_perception or args.rebuild_warm_start:
            built = run_demo(args.output_dir, quick=args.quick, seed=args.seed,
                             rebuild="perception" if args.rebuild_perception else "warm start")
            for phase, (folder, verdict) in built["checkpoints"].items():
                print(f"{phase} checkpoint: {folder}: {verdict}")
            return 0
        report = run_demo(args.output_dir, quick=args.quick, seed=args.seed, workers=args.workers)
        print_visibility_table(report["demo"]["by_visibility"])
        print_terminal_table(report["runs"], title="speciarl demo (held-out images, taxonomy judge)")
        print(f"report: {args.output_dir}/report (summary.md, by_visibility.md, *.png, demo.json); "
              f"total {report['demo']['total_s']:.0f} s")
        return 0

    p.set_defaults(handler=handler)
