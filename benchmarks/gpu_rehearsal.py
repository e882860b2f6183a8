"""GPU rehearsal of the paper's run on a bare box: random Qwen2.5-VL-7B, a few GRPO steps, the eval backend.

    bash benchmarks/gpu_rehearsal.sh                 # one GPU: the 7B layer sizes, the paper preset's settings
    bash benchmarks/gpu_rehearsal.sh --cpu-dry-run   # CI: the same path at tiny sizes on the CPU

No internet and no weights needed: the model is built here with Qwen2.5-VL-7B's layer sizes and
random weights (speciarl.models.random_vlm, the offline tokenizer), saved to --workdir, then
1. GRPO: `configs/train/paper_cub200_grpo.yaml` as it is (LoRA r64/α32, G = 10, T = 1.0, β 0.01,
   token-mean loss, the recipe section, bf16, gradient checkpointing) with only what a rehearsal must
   change: the built model, generated shape images with the taxonomy judge instead of CUB and a judge
   server, a short schedule (--images images per generation, half of them per update, one epoch) and
   --completion tokens per rollout (a random model never stops, so every rollout runs to the limit).
   Generation is TRL's colocated vLLM when vLLM is importable, else transformers' generate (said in
   the output). Prints seconds per optimizer step, rollout tokens per second and peak GPU memory.
2. Evaluation: the transformers prediction backend on the same model and images (greedy), prints
   images per second and generated tokens per second.
Each part fails loudly (a traceback and exit status 1) at the first error; parts run in order.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs" / "train" / "paper_cub200_grpo.yaml"


def part(name: str):
    print(f"\n== {name}", flush=True)
    return time.perf_counter()


def build_model(args: argparse.Namespace, workdir: Path, words: list[str]) -> Path:
    from speciarl.models.random_vlm import QWEN25_VL_7B_TEXT, QWEN25_VL_7B_VISION, build_random_vlm

    if args.cpu_dry_run:  # tiny sizes, but a vocabulary larger than the tokenizer's, as the 7B's is
        text = {**QWEN25_VL_7B_TEXT, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 4096,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]}}
        vision = {**QWEN25_VL_7B_VISION, "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                  "out_hidden_size": 64, "fullatt_block_indexes": [1]}
    else:
        text, vision = QWEN25_VL_7B_TEXT, QWEN25_VL_7B_VISION
    return build_random_vlm(workdir / "model", text=text, vision=vision, image_size=args.image_size, words=words,
                            device="cpu" if args.cpu_dry_run else "cuda",
                            dtype="float32" if args.cpu_dry_run else "bfloat16")


def grpo_config(args: argparse.Namespace, model: Path, workdir: Path, use_vllm: bool) -> dict[str, Any]:
    from speciarl.configfile import load_yaml_config

    raw = load_yaml_config(PRESET)
    raw["model"].update(name_or_path=str(model), dtype="float32" if args.cpu_dry_run else "bfloat16",
                        attn_implementation="sdpa")
    raw["data"] = {"synthetic": {"n_images": 2 * args.images, "seed": 0, "image_size": args.image_size}}
    raw["judge"] = {"type": "taxonomy", "cache": "none"}
    raw["recipe"] = {"images_per_generation": args.images, "images_per_update": max(1, args.images // 2), "epochs": 1}
    raw.update(output_dir=str(workdir / "run"), max_completion_length=args.completion, save_strategy="no",
               report_to="none", logging_steps=1, use_vllm=use_vllm)
    raw["logging"] = {"samples_every": 0}
    if args.cpu_dry_run:
        raw.update(num_generations=args.generations, per_device_train_batch_size=args.generations, bf16=False,
                   use_cpu=True, gradient_checkpointing=False)
        raw["lora"].update(r=8, lora_alpha=16)
    return raw


def run_grpo(args: argparse.Namespace, model: Path, workdir: Path) -> dict[str, Any]:
    import importlib.util

    from speciarl.train.config import parse_config
    from speciarl.train.run import build_grpo_trainer

    use_vllm = not args.cpu_dry_run and importlib.util.find_spec("vllm") is not None
    print(f"generation: {'TRL colocated vLLM' if use_vllm else 'transformers generate (vLLM not importable)'}")
    cfg = parse_config(grpo_config(args, model, workdir, use_vllm), PRESET)
    trainer = build_grpo_trainer(cfg)
    started = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - started
    steps = [h for h in trainer.state.log_history if "step_time" in h]
    gens = [h for h in steps if "time/generation_s" in h]
    if not steps or not gens:
        raise SystemExit("the trainer logged no timed steps")
    completions = cfg.trl.generation_batch_size
    tokens = [h["speciarl/tokens_per_rollout"] * completions / h["time/generation_s"] for h in gens]
    return {"generation": "vllm colocate" if use_vllm else "transformers", "optimizer_steps": len(steps),
            "generations": len(gens), "completions_per_generation": completions,
            "tokens_per_rollout": statistics.mean(h["speciarl/tokens_per_rollout"] for h in gens),
            "s_per_step": statistics.mean(h["step_time"] for h in steps), "train_s": total,
            "rollout_tokens_per_s": statistics.mean(tokens),
            "lora_r": cfg.lora.r, "num_generations": cfg.trl.num_generations, "loss_type": cfg.trl.loss_type}


def run_eval(args: argparse.Namespace, model: Path, workdir: Path) -> dict[str, Any]:
    from speciarl.data import load_benchmark
    from speciarl.predict import PredictRequest, SamplingParams, build_predictor
    from speciarl.prompts import get_prompt

    samples = list(load_benchmark("synthetic", workdir / "run" / "data", "test"))[: 2 * args.images]
    predictor = build_predictor({"backend": "transformers", "path": str(model), "batch_size": len(samples),
                                 "device": "cpu" if args.cpu_dry_run else "cuda",
                                 "dtype": "float32" if args.cpu_dry_run else "bfloat16"})
    prompt = get_prompt("base")
    sampling = SamplingParams(max_new_tokens=args.completion)
    started = time.perf_counter()
    done = list(predictor.predict([PredictRequest(s, prompt) for s in samples], sampling))
    seconds = time.perf_counter() - started
    failed = [c for c in done if c.error]
    if failed or len(done) != len(samples):
        raise SystemExit(f"eval backend: {len(failed)} errors, {len(done)}/{len(samples)} completions: {failed[:1]}")
    tokenizer = getattr(predictor, "processor").tokenizer
    generated = sum(len(tokenizer(c.text)["input_ids"]) for c in done)
    return {"images": len(done), "eval_s": seconds, "images_per_s": len(done) / seconds,
            "tokens_per_s_approx": generated / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny sizes on the CPU (the CI check)")
    parser.add_argument("--workdir", default="runs/gpu_rehearsal", help="model, data and run folder")
    parser.add_argument("--images", type=int, default=4, help="images per generation (half per update)")
    parser.add_argument("--completion", type=int, default=256, help="max tokens per rollout")
    parser.add_argument("--image-size", type=int, default=448, help="pixels per side (448: 256 image tokens)")
    parser.add_argument("--generations", type=int, default=4, help="G in --cpu-dry-run (the GPU run keeps 10)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.cpu_dry_run:
        args.completion, args.image_size = min(args.completion, 16), 56
    import torch

    if not args.cpu_dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU, or pass --cpu-dry-run")
    workdir = Path(args.workdir)
    if (workdir / "run").exists():
        import shutil

        shutil.rmtree(workdir / "run")
    import transformers

    device = "cpu" if args.cpu_dry_run else torch.cuda.get_device_name()
    print(f"rehearsal on {device}: torch {torch.__version__}, transformers {transformers.__version__}, "
          f"python {sys.version.split()[0]}")
    from speciarl.data.synthetic import GENERA, species_names

    started = time.perf_counter()
    t = part("1/3 build a random Qwen2.5-VL" + (" (tiny sizes)" if args.cpu_dry_run else " with the 7B's layer sizes"))
    model = build_model(args, workdir, [*species_names(), *GENERA, "shape"])
    figures: dict[str, Any] = {"device": device, "build_s": time.perf_counter() - t}
    print(f"built and saved in {figures['build_s']:.1f} s: {model}")
    part("2/3 GRPO steps with the paper preset's settings")
    figures.update(run_grpo(args, model, workdir))
    if torch.cuda.is_available() and not args.cpu_dry_run:
        figures["train_peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    part("3/3 the eval backend (transformers) on the same model")
    figures.update(run_eval(args, model, workdir))
    if torch.cuda.is_available() and not args.cpu_dry_run:
        figures["eval_peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30
    figures["total_s"] = time.perf_counter() - started  # the budget on one H200: under 8 minutes
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


def report(figures: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"GPU rehearsal on {figures['device']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
