"""The shipped warm-start checkpoints: what the demo's two SFT phases train, built once, verified.

The warm start (docs/demo.md) is two `speciarl sft` phases: *perception* (3,000 steps on honest
labels, the stand-in for the pretraining that gives a real VLM its knowledge) and *habit* (200
steps on the mixed replies: the "mostly correct, often generic, sometimes guessing" model that a
real run would download). Neither is what the demo compares, yet they were most of its time.
Training is deterministic (CPU, one torch thread): the same world sample, initial weights and
recipe give the same bytes. So the project ships both results for the default demo (seed 0) in
`checkpoints/perception-seed0/` and `checkpoints/warm-start-seed0/`, each with a manifest naming
everything it was built from (`recipe`: the seed, the sizes the phase uses, the sha256 of the
weights it starts from and of its training data). `speciarl demo` installs a shipped checkpoint only
when the run's own recipe is the same, and trains the phase otherwise (another seed or other
sizes). `speciarl demo --rebuild-perception` trains both phases from scratch and
`--rebuild-warm-start` the habit phase on the shipped perception checkpoint; each says whether the
result is byte-identical to the shipped one (tests do the same).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKPOINTS = Path(__file__).with_name("checkpoints")
WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class Phase:
    """One shipped phase: its folder in the package, its manifest file, the DemoSettings it uses."""

    name: str
    run_folder: str  # under the run's models/
    folder: Path
    manifest: str
    fields: tuple[str, ...]


# The DemoSettings fields each phase depends on (the GRPO and evaluation sizes do not).
PERCEPTION = Phase("perception", "perception", CHECKPOINTS / "perception-seed0", "perception.json",
                   ("sft_images", "perception_steps", "sft_batch", "sft_lr", "hidden_size", "num_layers",
                    "vision_hidden_size", "vision_layers", "threads"))
WARM_START = Phase("warm start", "warm_start", CHECKPOINTS / "warm-start-seed0", "warm_start.json",
                   ("sft_images", "habit_steps", "sft_batch", "habit_lr", "hidden_size", "num_layers",
                    "vision_hidden_size", "vision_layers", "threads"))


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


def recipe(phase: Phase, settings: Any, seed: int, init_model: Path, sft_file: Path, prompt: str,
           target: str) -> dict[str, Any]:
    """Everything the phase's checkpoint is a function of (with the code of the trainers)."""
    return {"seed": seed, "settings": {k: getattr(settings, k) for k in phase.fields},
            "init_weights_sha256": sha256_file(init_model / WEIGHTS),
            "data_sha256": data_digest(sft_file, prompt, target)}


def shipped_manifest(phase: Phase) -> dict[str, Any] | None:
    path = phase.folder / phase.manifest
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def likely_shipped(phase: Phase, settings: Any, seed: int) -> bool:
    """Whether the shipped checkpoint is meant for this seed and these sizes (before the data exists)."""
    manifest = shipped_manifest(phase)
    return manifest is not None and manifest["recipe"]["seed"] == seed and manifest["recipe"]["settings"] == {
        k: getattr(settings, k) for k in phase.fields}


def shipped_for(phase: Phase, run_recipe: dict[str, Any]) -> Path | None:
    """The shipped checkpoint folder when it was built from exactly this recipe, else None."""
    manifest = shipped_manifest(phase)
    if manifest is None or manifest["recipe"] != run_recipe:
        return None
    if sha256_file(phase.folder / WEIGHTS) != manifest["weights_sha256"]:
        return None  # a damaged install: train instead of trusting it
    return phase.folder


def install(shipped: Path, target: Path) -> None:
    """Copy the shipped model folder into the run (written to a side folder, then renamed)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(shipped, partial)
    partial.rename(target)


def write_manifest(phase: Phase, model_dir: Path, run_recipe: dict[str, Any]) -> dict[str, Any]:
    """The manifest beside a freshly trained checkpoint: its recipe, weights hash and library versions."""
    import torch
    import transformers
    import trl

    flag = "--rebuild-perception" if phase is PERCEPTION else "--rebuild-warm-start"
    manifest = {"recipe": run_recipe, "weights_sha256": sha256_file(model_dir / WEIGHTS),
                "built_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                               "trl": trl.__version__},
                "rebuild": f"speciarl demo {flag} --output-dir DIR; to ship it, copy "
                           f"DIR/models/{phase.run_folder}/* but training_args.bin (docs/demo.md)"}
    (model_dir / phase.manifest).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def compare_with_shipped(phase: Phase, model_dir: Path) -> str:
    """One sentence: is this rebuilt checkpoint the shipped one, byte for byte (and if not, how far)?"""
    manifest = shipped_manifest(phase)
    rebuilt = json.loads((model_dir / phase.manifest).read_text(encoding="utf-8"))
    if manifest is None:
        return f"no {phase.name} checkpoint is shipped with this installation"
    if rebuilt["recipe"] != manifest["recipe"]:
        return (f"built from another recipe than the shipped {phase.name} checkpoint (seed, sizes, data or "
                "initial weights differ)")
    if rebuilt["weights_sha256"] == manifest["weights_sha256"]:
        return f"identical to the shipped checkpoint (sha256 {manifest['weights_sha256'][:16]}…)"
    from safetensors.torch import load_file

    ours, theirs = load_file(str(model_dir / WEIGHTS)), load_file(str(phase.folder / WEIGHTS))
    worst = max((ours[k] - theirs[k]).abs().max().item() for k in theirs)
    return f"DIFFERS from the shipped checkpoint (largest weight difference {worst:.3g})"
