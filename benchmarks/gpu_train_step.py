"""GPU benchmark of GRPO training steps with a small random Qwen2.5-VL at realistic sequence lengths.

    python benchmarks/gpu_train_step.py [--steps 6] [--hidden 1024] [--layers 8] [--completion 512]

One prepared run, well under 10 minutes on one H100: builds a random Qwen2.5-VL (hidden 1024, 8 layers,
a 4-layer vision tower, 448x448 images = 256 image tokens per prompt) with the offline tiny builder,
then times `--steps` steps of `speciarl train`'s trainer (bf16, LoRA, G = 8, 4 images = 32 completions
per step, completions of up to 512 tokens — a random model rarely stops, so they run to the limit,
the realistic worst case) with the taxonomy judge on generated images. Prints the same table as
bench_train.py: steps/s and the split into generation, judging, reward and optimisation.
Generation uses transformers' `generate` here; set `--vllm` to use TRL's colocated vLLM instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import config, measure, report  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--images", type=int, default=4, help="images per step")
    parser.add_argument("--generations", type=int, default=8, help="G")
    parser.add_argument("--completion", type=int, default=512, help="max_completion_length")
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=448, help="pixels per side (multiple of 28)")
    parser.add_argument("--vllm", action="store_true", help="TRL colocate vLLM generation (needs vllm)")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark is for a GPU (bench_train.py runs on the CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        model = {"name_or_path": "tiny", "dtype": "bfloat16",
                 "tiny": {"hidden_size": args.hidden, "num_layers": args.layers, "image_size": args.image_size,
                          "vision_hidden_size": 256, "vision_layers": 4, "format_steps": 0,
                          "path": str(Path(tmp) / "model")}}
        device = {"bf16": True, **({"use_vllm": True, "vllm_mode": "colocate",
                                    "vllm_gpu_memory_utilization": 0.3} if args.vllm else {})}
        raw = config(Path(tmp) / "run", images=args.images, generations=args.generations,
                     completion=args.completion, steps=args.steps, model=model, device=device)
        raw["data"]["synthetic"]["image_size"] = args.image_size
        result = measure(raw)
        report(result, f"random Qwen2.5-VL h{args.hidden} x{args.layers} on {torch.cuda.get_device_name()}, "
                       f"{args.image_size}px images")
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
