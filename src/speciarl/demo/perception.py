"""The shipped perception checkpoint: what the demo's perception phase trains, built once, verified.

The perception phase (3,000 `speciarl sft` steps on honest labels, see docs/demo.md) stands in for
the pretraining that gives a real VLM its knowledge; it is not what the demo is about, yet it was
three quarters of its time. Training is deterministic (CPU, one torch thread): the same world
sample, initial weights and recipe give the same bytes. So the project ships its result for the
default demo (seed 0) in `checkpoints/perception-seed0/`, with a manifest naming everything it was
built from (`recipe`). `speciarl demo` installs it only when the run's own recipe is the same, and
trains the phase otherwise (another seed or other sizes). `speciarl demo --rebuild-perception`
trains it from scratch and says whether the result is byte-identical to the shipped one (a test
does the same).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).with_name("checkpoints") / "perception-seed0"
MANIFEST = "perception.json"
WEIGHTS = "model.safetensors"
# The DemoSettings fields the perception phase depends on (the GRPO and evaluation sizes do not).
PERCEPTION_FIELDS = ("sft_images", "perception_steps", "sft_batch", "sft_lr", "hidden_size", "num_layers",
                     "vision_hidden_size", "vision_layers", "threads")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_digest(sft_file: Path, prompt: str, target: str) -> str:
    """sha256 of what the phase trains on: prompt, reply template, and each row's label and pixels."""
    from PIL import Image

    from ..records import read_records

    h = hashlib.sha256(json.dumps([prompt, target]).encode())
    for r in read_records(sft_file):
        with Image.open(r.extra["image"]) as image:
            pixels = image.convert("RGB")
            h.update(json.dumps([r.sample_id, r.ground_truth, pixels.size]).encode())
            h.update(pixels.tobytes())
    return h.hexdigest()


def recipe(settings: Any, seed: int, init_model: Path, sft_file: Path, prompt: str, target: str) -> dict[str, Any]:
    """Everything the perception checkpoint is a function of (with the code of the trainers)."""
    return {"seed": seed, "settings": {k: getattr(settings, k) for k in PERCEPTION_FIELDS},
            "init_weights_sha256": sha256_file(init_model / WEIGHTS),
            "data_sha256": data_digest(sft_file, prompt, target)}


def shipped_manifest() -> dict[str, Any] | None:
    path = SHIPPED / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def likely_shipped(settings: Any, seed: int) -> bool:
    """Whether the shipped checkpoint is meant for this seed and these sizes (before the data exists)."""
    manifest = shipped_manifest()
    return manifest is not None and manifest["recipe"]["seed"] == seed and manifest["recipe"]["settings"] == {
        k: getattr(settings, k) for k in PERCEPTION_FIELDS}


def shipped_for(run_recipe: dict[str, Any]) -> Path | None:
    """The shipped checkpoint folder when it was built from exactly this recipe, else None."""
    manifest = shipped_manifest()
    if manifest is None or manifest["recipe"] != run_recipe:
        return None
    if sha256_file(SHIPPED / WEIGHTS) != manifest["weights_sha256"]:
        return None  # a damaged install: train instead of trusting it
    return SHIPPED


def install(shipped: Path, target: Path) -> None:
    """Copy the shipped model folder into the run (written to a side folder, then renamed)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(shipped, partial)
    partial.rename(target)


def write_manifest(model_dir: Path, run_recipe: dict[str, Any]) -> dict[str, Any]:
    """perception.json beside a freshly trained checkpoint: its recipe, weights hash and library versions."""
    import torch
    import transformers
    import trl

    manifest = {"recipe": run_recipe, "weights_sha256": sha256_file(model_dir / WEIGHTS),
                "built_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                               "trl": trl.__version__},
                "rebuild": "speciarl demo --rebuild-perception --output-dir DIR; to ship it, copy "
                           "DIR/models/perception/* but training_args.bin (docs/demo.md)"}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def compare_with_shipped(model_dir: Path) -> str:
    """One sentence: is this rebuilt checkpoint the shipped one, byte for byte (and if not, how far)?"""
    manifest = shipped_manifest()
    rebuilt = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    if manifest is None:
        return "no checkpoint is shipped with this installation"
    if rebuilt["recipe"] != manifest["recipe"]:
        return "built from another recipe than the shipped checkpoint (seed, sizes, data or initial weights differ)"
    if rebuilt["weights_sha256"] == manifest["weights_sha256"]:
        return f"identical to the shipped checkpoint (sha256 {manifest['weights_sha256'][:16]}…)"
    from safetensors.torch import load_file

    ours, theirs = load_file(str(model_dir / WEIGHTS)), load_file(str(SHIPPED / WEIGHTS))
    worst = max((ours[k] - theirs[k]).abs().max().item() for k in theirs)
    return f"DIFFERS from the shipped checkpoint (largest weight difference {worst:.3g})"
