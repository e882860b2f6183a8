"""Evaluation commands: report, gallery, verify, eval, classify, owc.

Each `add_<name>` declares a subcommand's arguments and sets `handler` to a small function that
imports its implementation lazily (see speciarl/cli/__init__.py).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import SpeciarlError


def add_report(sub: argparse._SubParsersAction) -> None:
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
        from ..report.run import run_report

        run_report(args.inputs, args.out, names=args.name, plots=not args.no_plots, gallery=not args.no_gallery,
                   reference=args.reference)
        return 0

    p.set_defaults(handler=handler)


def add_gallery(sub: argparse._SubParsersAction) -> None:
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
        from ..report.gallery import run_gallery

        run_gallery(args.inputs, args.out, names=args.name)
        return 0

    p.set_defaults(handler=handler)


def add_verify(sub: argparse._SubParsersAction) -> None:
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
        from ..pipeline.verify import freeze_imports, judge_config_from_args, run_verify

        config = judge_config_from_args(args)
        freeze_imports(config)  # this process ends with the command
        result = run_verify(args.input, args.output, config, progress=not args.no_progress)
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


def add_eval(sub: argparse._SubParsersAction) -> None:
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
        from ..pipeline.eval import run_eval

        result = run_eval(args.config, stages=args.stages, shard=args.shard, output_dir=args.output_dir,
                          progress=not args.no_progress)
        print(f"run directory: {result.run_dir}")
        return 0

    p.set_defaults(handler=handler)


def add_classify(sub: argparse._SubParsersAction) -> None:
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

        from ..pipeline.classify import classify, format_result, model_config
        from ..predict import SamplingParams

        sampled = args.samples > 1
        sampling = SamplingParams(
            n=args.samples, temperature=args.temperature if args.temperature is not None else (0.6 if sampled else 0.0),
            top_p=args.top_p if args.top_p is not None else (0.95 if sampled else 1.0),
            max_new_tokens=args.max_new_tokens, seed=args.seed)
        judge = None
        if args.judge:
            from ..judges import load_judge_config

            judge = load_judge_config(args.judge)
        model = model_config(args.model, backend=args.backend, adapter=args.adapter, base_url=args.base_url,
                             device=args.device)
        results = classify(args.images, model, prompt=args.prompt, sampling=sampling, truth=args.truth, judge=judge)
        for result in results:
            print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json
                  else format_result(result, show_reasoning=not args.no_reasoning))
        return 1 if any(r.error for r in results) else 0

    p.set_defaults(handler=handler)


def add_owc(sub: argparse._SubParsersAction) -> None:
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
        from ..report.owc import run_owc

        judge = None
        if args.judge_config:
            from ..judges import load_judge_config

            judge = load_judge_config(args.judge_config)
        elif args.llm_strict:
            raise SpeciarlError("--llm-strict needs --judge-config (the server that answers)")
        run_owc(args.inputs, args.out, semantic=args.semantic, judge_config=judge, spacy_model=args.spacy_model,
                strict=args.llm_strict)
        return 0

    p.set_defaults(handler=handler)
