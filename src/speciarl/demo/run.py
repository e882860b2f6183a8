"""`speciarl demo`: the whole method on a laptop CPU, through the code a 7B run uses.

world → tiny Qwen2.5-VL → SFT warm start (`speciarl.train.sft`) → GRPO with three rewards
(`speciarl.train.run.build_grpo_trainer`, same trainer and reward bridge as `speciarl train`) →
greedy evaluation of the warm start and the three policies, plus best-of-N samples of the warm start
(`speciarl.pipeline.predict` with the transformers backend, `speciarl.pipeline.verify` with the
taxonomy judge) → `speciarl.report.run.run_report` + training curves + a per-visibility table.

Each stage skips work already on disk, so an interrupted demo resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpeciarlError
from ..records import write_atomic

SCHEMES = ("speciarl", "binary", "scala1")
PROMPT_FILE = Path(__file__).with_name("prompt.txt")
SFT_TARGET = "<think> a glyph </think> <answer> {label} </answer>"


def judge_config(taxonomy: Path) -> dict[str, Any]:
    """The taxonomy judge of the demo world: the genus (parent) is `less specific`, "glyph" `generic`."""
    return {"type": "taxonomy", "taxonomy": str(taxonomy), "less_specific_levels": 1, "cache": "none"}


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run (the world itself is fixed in world.py)."""

    sft_images: int = 2048
    train_images: int = 384
    eval_images: int = 256
    perception_steps: int = 3000
    habit_steps: int = 200
    sft_batch: int = 16
    sft_lr: float = 3e-3
    habit_lr: float = 1e-3
    grpo_steps: int = 48
    grpo_images_per_step: int = 8
    num_generations: int = 8
    grpo_lr: float = 5e-4
    beta: float = 0.01
    temperature: float = 1.0
    max_completion_length: int = 24
    best_of_n: int = 16
    hidden_size: int = 64
    num_layers: int = 2
    vision_hidden_size: int = 32
    vision_layers: int = 2
    threads: int = 1


FULL = DemoSettings()
QUICK = replace(FULL, sft_images=128, train_images=16, eval_images=32, perception_steps=30, habit_steps=10,
                grpo_steps=2,
                grpo_images_per_step=4, num_generations=4, best_of_n=4)


def _trl_common(out: Path, seed: int) -> dict[str, Any]:
    # TRL turns activation checkpointing on by default: on a model this small it only recomputes the
    # forward pass (same numbers, bit for bit; ~15% more CPU per step), so the demo turns it off.
    return {"output_dir": str(out), "report_to": "none", "use_cpu": True, "bf16": False, "seed": seed,
            "save_strategy": "no", "logging_steps": 1, "lr_scheduler_type": "constant", "disable_tqdm": False,
            "activation_checkpointing": False}


def sft_config(settings: DemoSettings, model_path: Path, sft_file: Path, out: Path, seed: int, *, steps: int,
               lr: float, scheduler: str = "constant", freeze_vision: bool = False):
    """The `speciarl sft` config of one warm-start phase.

    Perception trains the vision tower (it starts random); the habit phase freezes it: it teaches a
    reply habit on top of what the model sees (docs/demo.md, design log 5).
    """
    from ..train.config import parse_config

    raw = {
        "model": {"name_or_path": str(model_path), "dtype": "float32", "freeze_vision": freeze_vision},
        "data": {"train_file": str(sft_file), "prompt": str(PROMPT_FILE), "sft_target": SFT_TARGET},
        "logging": {"samples_every": 0},
        **_trl_common(out, seed),
        "per_device_train_batch_size": settings.sft_batch,
        "max_steps": steps,
        "learning_rate": lr,
        "lr_scheduler_type": scheduler,
        "weight_decay": 0.0,
        "logging_steps": 50,
    }
    return parse_config(raw, "<speciarl demo: sft>", trainer="sft")


def grpo_config(settings: DemoSettings, scheme: str, model_path: Path, train_file: Path, taxonomy: Path,
                out: Path, seed: int):
    """The `speciarl train` config of one GRPO run (paper recipe scaled down; vision frozen)."""
    from ..train.config import parse_config

    raw = {
        "model": {"name_or_path": str(model_path), "dtype": "float32", "freeze_vision": True},
        "data": {"train_file": str(train_file), "prompt": str(PROMPT_FILE)},
        "reward": {"scheme": scheme},
        "judge": judge_config(taxonomy),
        "logging": {"samples_every": 0},
        **_trl_common(out, seed),
        "loss_type": "grpo",
        "beta": settings.beta,
        "num_generations": settings.num_generations,
        "per_device_train_batch_size": settings.num_generations * settings.grpo_images_per_step,
        "max_completion_length": settings.max_completion_length,
        "temperature": settings.temperature,
        "learning_rate": settings.grpo_lr,
        "max_steps": settings.grpo_steps,
    }
    return parse_config(raw, f"<speciarl demo: grpo {scheme}>", trainer="grpo")


RUN_FILE = "demo_run.json"


def _claim_run_dir(out: Path, identity: dict[str, Any]) -> None:
    """A rerun resumes only the same demo (seed and sizes); anything else is refused, not mixed in."""
    marker = out / RUN_FILE
    if marker.is_file():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        if previous != identity:
            raise ConfigError(f"{out} holds a demo run with other settings (seed {previous.get('seed')}); "
                              "pick another --output-dir or delete it")
    elif out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not a demo run directory; pick another --output-dir")
    write_atomic(marker, json.dumps(identity, indent=1))


def _warm_start_phase(phase: Any, label: str, train_folder: str, view: Any, settings: DemoSettings, seed: int, out: Path,
                      init: Path, sft_file: Path, *, rebuild: bool, steps: int, **train: Any) -> None:
    """One SFT phase of the warm start into models/<phase>: the shipped checkpoint when the run's
    recipe is its own (and not rebuilding), else trained; skipped when the folder is complete."""
    from . import shipped

    target = out / "models" / phase.run_folder
    if _done(target):
        return
    run_recipe = shipped.recipe(phase, settings, seed, init, sft_file, PROMPT_FILE.read_text(encoding="utf-8"),
                                SFT_TARGET)
    found = None if rebuild else shipped.shipped_for(phase, run_recipe)
    key = "sft perception" if phase is shipped.PERCEPTION else "sft habit (warm start)"
    expected = expected_seconds(settings, shipped_perception=bool(found), shipped_warm_start=bool(found))[key]
    with view.stage(f"{phase.name} (shipped)" if found else label, expected,
                    total=None if found else steps) as stage:
        if found:
            shipped.install(found, target)
        else:
            _sft_phase(sft_config(settings, init, sft_file, out / "train" / train_folder, seed,
                                  steps=steps, **train), target, stage)
            shipped.write_manifest(phase, target, run_recipe)


def _sft_phase(cfg: Any, target: Path, stage: Any) -> None:
    """One `speciarl sft` run into `target`, its progress on the stage's line."""
    from ..train.sft import build_sft_trainer

    trainer = stage.quiet(build_sft_trainer(cfg))
    trainer.train()
    trainer.save_model(str(target))


def _done(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _samples(records: list[Any]) -> list[Any]:
    from ..data.sample import Sample

    return [Sample(sample_id=r.sample_id, dataset=r.dataset, split=r.split, ground_truth=r.ground_truth,
                   image_path=Path(r.extra["image"])) for r in records]


def evaluate(model_path: Path, samples: list[Any], taxonomy: Path, run_dir: Path, settings: DemoSettings,
             *, n: int = 1, seed: int = 0) -> Path:
    """Predict (greedy, or n samples at the paper's best-of-N temperature) and grade; graded file path."""
    from ..pipeline.predict import PREDICTIONS, run_predict
    from ..predict import SamplingParams
    from ..prompts import get_prompt

    sampling = (SamplingParams(max_new_tokens=settings.max_completion_length, seed=seed) if n == 1 else
                SamplingParams(n=n, temperature=0.6, top_p=0.95, max_new_tokens=settings.max_completion_length,
                               seed=seed))
    model = {"backend": "transformers", "path": str(model_path), "name": model_path.name, "batch_size": 64,
             "device": "cpu", "dtype": "float32", "num_threads": settings.threads}
    summary = run_predict(samples, get_prompt(str(PROMPT_FILE)), sampling, model, run_dir, progress=False)
    if summary.backend_failures or summary.skipped_images:
        raise SpeciarlError(f"{run_dir}: prediction failed ({summary.first_failure or summary.skipped_images})")
    return _grade(run_dir / PREDICTIONS, taxonomy)


def _grade(predictions: Path, taxonomy: Path) -> Path:
    """verified.jsonl beside `predictions`, graded by the world's taxonomy judge; every pair or an error."""
    from ..pipeline.verify import run_verify

    graded = predictions.parent / "verified.jsonl"
    result = run_verify(predictions, graded, judge_config(taxonomy), progress=False)
    if not result.ok:
        raise SpeciarlError(f"{graded}: {len(result.errors)} pairs could not be graded")
    return graded


def honest_oracle(split_records: list[Any], taxonomy: Path, run_dir: Path) -> Path:
    """Graded answers of an oracle that says exactly the most specific honest label of each image.

    Not a model: the ceiling of an honest answerer in this world, printed beside the runs because
    specificity (and so HM) counts only correct answers, and a lucky guess on an image that hides
    its species counts as specific.
    """
    from ..records import Record, write_records_atomic

    predictions = run_dir / "predictions.jsonl"
    write_records_atomic(predictions, [
        Record(sample_id=r.sample_id, dataset=r.dataset, ground_truth=r.ground_truth, split=r.split,
               answer=r.extra["honest_label"], model="honest oracle",
               completion=f"<think> oracle </think> <answer> {r.extra['honest_label']} </answer>")
        for r in split_records])
    (run_dir / "verified.jsonl").unlink(missing_ok=True)
    return _grade(predictions, taxonomy)


# CPU seconds per unit of work on the development machine (2 shared cores, one torch thread; measured
# with benchmarks/bench_demo.py, docs/demo.md): each stage's expected time in the live view.
COST_S = {"image": 0.0015, "model": 3.0, "install": 1.0, "sft_step": 0.13, "trainer": 4.0, "rollout": 0.0125,
          "greedy": 0.004, "sample": 0.0033, "report": 5.0}


def expected_seconds(settings: DemoSettings, *, shipped_perception: bool,
                     shipped_warm_start: bool) -> dict[str, float]:
    """What each stage should take here, from COST_S: the live view's "expected" column."""
    c = COST_S
    rollouts = settings.grpo_steps * settings.grpo_images_per_step * settings.num_generations
    images = settings.sft_images + settings.train_images + settings.eval_images
    greedy = c["greedy"] * settings.eval_images
    return {
        "world + tiny model": c["image"] * images + c["model"],
        "sft perception": c["install"] if shipped_perception else c["trainer"] + c["sft_step"] * settings.perception_steps,
        "sft habit (warm start)": c["install"] if shipped_warm_start else c["trainer"] + c["sft_step"] * settings.habit_steps,
        **{grpo_stage(s): c["trainer"] + c["rollout"] * rollouts + greedy for s in SCHEMES},
        warm_eval_stage(settings): greedy + c["sample"] * settings.eval_images * settings.best_of_n,
        "report": c["report"],
    }


def grpo_stage(scheme: str) -> str:
    return f"GRPO {scheme} + greedy eval"


def warm_eval_stage(settings: DemoSettings) -> str:
    return f"warm start greedy + {settings.best_of_n}/image"


def side_by_side_expected(expected: dict[str, float], settings: DemoSettings, workers: int) -> dict[str, float]:
    """`expected` with the side-by-side stages' CPU seconds turned into their wall seconds when
    `workers` processes share this machine's cores; "side by side" is the wall time of them all."""
    from .lanes import expected_schedule

    names = [k for k in _side_by_side_stages(settings) if k in expected]
    schedule = expected_schedule([expected[k] for k in names], workers)
    walls = {k: end - start for k, (start, end) in zip(names, schedule, strict=True)}
    return {**{k: walls.get(k, v) for k, v in expected.items()},
            "side by side": max((end for _, end in schedule), default=0.0)}


def expected_total(expected: dict[str, float], settings: DemoSettings) -> float:
    """Wall seconds of the whole demo from side_by_side_expected's answer."""
    return sum(v for k, v in expected.items() if k not in _side_by_side_stages(settings))


def _side_by_side_stages(settings: DemoSettings) -> tuple[str, ...]:
    return (*(grpo_stage(s) for s in SCHEMES), warm_eval_stage(settings))


def _write_world_files(world: Any, data: Path, sizes: dict[str, int], seed: int) -> dict[str, Path]:
    """The splits' images and records, taxonomy.yaml and the two warm-start SFT files."""
    from .dataset import load_split, write_world
    from .warmstart import write_sft_file

    splits = write_world(world, data, sizes, seed=seed)
    sft_records = load_split(splits["sft"])
    for phase in ("perception", "habit"):
        write_sft_file(world, sft_records, data / f"sft_{phase}.jsonl", seed=seed, phase=phase)
    return splits


def _import_for_workers() -> None:
    """Import here what the side-by-side stages use, so every forked worker starts with it (each
    would otherwise import TRL, accelerate, datasets, the predictor and the judge: ~5 CPU seconds)."""
    import datasets  # noqa: F401
    import trl  # noqa: F401

    from ..judges import build_judge  # noqa: F401
    from ..pipeline import predict, verify  # noqa: F401
    from ..predict import transformers_backend  # noqa: F401
    from ..train import run, trainer  # noqa: F401


def _grpo_job(settings: DemoSettings, scheme: str, out: Path, splits: dict[str, Path], samples: list[Any],
              seed: int, stage: Any) -> Path:
    """One GRPO run from the warm start (skipped when its model exists), then its greedy evaluation."""
    policy = out / "models" / f"grpo_{scheme}"
    if not _done(policy):
        run_dir = out / "train" / f"grpo_{scheme}"
        if run_dir.exists():  # a killed run restarts from the warm start: drop its partial logs
            import shutil

            shutil.rmtree(run_dir)
        from ..train.run import build_grpo_trainer

        with contextlib.redirect_stdout(io.StringIO()):  # its schedule line: the stage line says it
            trainer = stage.quiet(build_grpo_trainer(grpo_config(settings, scheme, out / "models" / "warm_start",
                                                                 splits["train"], splits["taxonomy"], run_dir,
                                                                 seed)))
        trainer.train()
        trainer.save_model(str(policy))
    return evaluate(policy, samples, splits["taxonomy"], out / "eval" / f"GRPO_{scheme}", settings, seed=seed)


def _warm_eval_job(settings: DemoSettings, out: Path, splits: dict[str, Path], samples: list[Any], seed: int,
                   stage: Any) -> tuple[Path, Path]:
    """The warm start's greedy answers and its best-of-N samples (the paper's temperature)."""
    warm, taxonomy = out / "models" / "warm_start", splits["taxonomy"]
    greedy = evaluate(warm, samples, taxonomy, out / "eval" / "warm_start", settings, seed=seed)
    stage.update(1, 2)
    sampled = evaluate(warm, samples, taxonomy, out / "eval" / "warm_start_sampled", settings,
                       n=settings.best_of_n, seed=seed)
    stage.update(2, 2)
    return greedy, sampled


def run_demo(output_dir: str | Path = "runs/demo", *, quick: bool = False, seed: int = 0,
             settings: DemoSettings | None = None, log: Any = print, live: bool = True,
             rebuild: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Run every stage into output_dir; returns the report dict (also in output_dir/report/).

    `workers`: processes for the stages after the warm start (default: all four at once on a
    multi-core machine; 1: one after another in this process; the results are the same, docs/demo.md). `rebuild`: "perception" (both warm-start phases) or
    "warm start" (the habit phase, on the shipped perception checkpoint where it applies) trained from
    scratch even where a shipped checkpoint applies; stop after the warm start and return
    {"checkpoints": {phase name: (folder, comparison with the shipped checkpoint)}}.
    """
    from .lanes import default_workers
    from .progress import StageView, quiet_libraries

    settings = settings or (QUICK if quick else FULL)
    view = StageView(enabled=live)
    with quiet_libraries():
        if rebuild not in (None, "perception", "warm start"):
            raise ValueError(f"unknown rebuild {rebuild!r}")
        return _run(Path(output_dir), quick, seed, settings, log, view, rebuild,
                    max(1, workers or default_workers(len(SCHEMES) + 1)))


def _run(out: Path, quick: bool, seed: int, settings: DemoSettings, log: Any, view: Any,
         rebuild: str | None, workers: int) -> dict[str, Any]:
    import time

    import torch

    from ..models.tiny import build_tiny_vlm
    from ..report.run import run_report
    from . import shipped
    from .curves import plot_training_curves, visibility_table, write_visibility_table
    from .dataset import load_split
    from .lanes import Forked
    from .world import default_world

    started = time.perf_counter()
    torch.set_num_threads(settings.threads)
    _claim_run_dir(out, {"seed": seed, "settings": asdict(settings)})
    perceiving, warm = out / "models" / "perception", out / "models" / "warm_start"
    phases = {shipped.PERCEPTION: perceiving, shipped.WARM_START: warm}
    rebuilt = {"perception": (shipped.PERCEPTION, shipped.WARM_START), "warm start": (shipped.WARM_START,),
               None: ()}[rebuild]
    for phase in rebuilt:
        if phases[phase].exists():
            raise ConfigError(f"{phases[phase]} exists: rebuild the {phase.name} checkpoint into a fresh --output-dir")
    uses_shipped = {phase: phase not in rebuilt and all(shipped.likely_shipped(p, settings, seed) for p in phases
                                                        if p is phase or p is shipped.PERCEPTION)
                    for phase in phases}
    expected = expected_seconds(settings, shipped_perception=uses_shipped[shipped.PERCEPTION],
                                shipped_warm_start=uses_shipped[shipped.WARM_START])
    if rebuild:
        expected = {k: v for k, v in expected.items() if k in ("world + tiny model", "sft perception",
                                                               "sft habit (warm start)")}
    expected = side_by_side_expected(expected, settings, workers)
    log(f"[demo] {len(expected) - 1} stages, expected ~{expected_total(expected, settings) / 60:.1f} min "
        f"with {workers} process{'es' if workers > 1 else ''} (seed {seed}{', quick' if quick else ''}"
        f"{f', {rebuild} rebuild' if rebuild else ''})")

    world = default_world()
    data = out / "data"
    sizes = {"sft": settings.sft_images, "train": settings.train_images, "eval": settings.eval_images}
    with contextlib.ExitStack() as stack:
        # On 2+ cores the images are drawn in a forked process while this one imports the libraries
        # and builds the tiny model (the same files either way: every image has its own seed).
        drawing = stack.enter_context(Forked(_write_world_files, world, data, sizes, seed)) if workers > 1 else None
        with view.stage("world + tiny model", expected["world + tiny model"]) as stage:
            base = build_tiny_vlm(out / "models" / "init", words=world.words(), seed=seed,
                                  hidden_size=settings.hidden_size, num_layers=settings.num_layers,
                                  image_size=world.image_size, vision_hidden_size=settings.vision_hidden_size,
                                  vision_layers=settings.vision_layers)
            if drawing is None:
                splits = _write_world_files(world, data, sizes, seed)
            else:
                _import_for_workers()
                splits, stage.cpu_elsewhere_s = drawing.result()
    taxonomy = data / "taxonomy.yaml"
    perception_file, habit_file = data / "sft_perception.jsonl", data / "sft_habit.jsonl"

    _warm_start_phase(shipped.PERCEPTION, "perception SFT (honest)", "sft_perception", view, settings, seed, out, base,
                      perception_file, rebuild=shipped.PERCEPTION in rebuilt, steps=settings.perception_steps,
                      lr=settings.sft_lr, scheduler="cosine")
    _warm_start_phase(shipped.WARM_START, "habit SFT (warm start)", "sft_habit", view, settings, seed, out, perceiving,
                      habit_file, rebuild=shipped.WARM_START in rebuilt, steps=settings.habit_steps,
                      lr=settings.habit_lr, freeze_vision=True)
    if rebuild:
        return {"checkpoints": {phase.name: (phases[phase], shipped.compare_with_shipped(phase, phases[phase]))
                                for phase in rebuilt}}

    from .lanes import Job, run_side_by_side

    eval_records = load_split(splits["eval"])
    samples = _samples(eval_records)
    files = {**splits, "taxonomy": taxonomy}
    jobs = [Job(grpo_stage(s), _grpo_job, (settings, s, out, files, samples, seed), expected[grpo_stage(s)],
                settings.grpo_steps) for s in SCHEMES]
    jobs.append(Job(warm_eval_stage(settings), _warm_eval_job, (settings, out, files, samples, seed),
                    expected[warm_eval_stage(settings)], 2))
    done = run_side_by_side(view, jobs, workers)
    warm_greedy, warm_sampled = done[warm_eval_stage(settings)]
    graded: dict[str, Path] = {"warm start": warm_greedy, **{f"GRPO {s}": done[grpo_stage(s)] for s in SCHEMES},
                               f"warm start sampled ×{settings.best_of_n}": warm_sampled}
    graded["honest oracle (reference)"] = honest_oracle(eval_records, taxonomy, out / "eval" / "honest_oracle")

    report_dir = out / "report"
    with view.stage("report", expected["report"]):
        report = run_report(list(graded.values()), report_dir, names=list(graded), plots=True, print_table=False)
        curves = plot_training_curves({s: out / "train" / f"grpo_{s}" / "metrics.jsonl" for s in SCHEMES},
                                      report_dir / "training_curves.png")
        by_visibility = visibility_table(graded, eval_records)
        write_visibility_table(by_visibility, report_dir)
    timings = {name: t["wall_s"] for name, t in view.timings.items()}
    info = {"seed": seed, "quick": quick, "settings": asdict(settings), "world": world.describe(),
            "timings_s": timings, "stages": view.timings, "workers": workers,
            "total_s": round(time.perf_counter() - started, 1),
            "total_cpu_s": round(sum(t["cpu_s"] for t in view.timings.values()), 1),
            "graded": {k: str(v) for k, v in graded.items()}, "training_curves": str(curves),
            "by_visibility": by_visibility}
    write_atomic(report_dir / "demo.json", json.dumps(info, indent=1))
    report["demo"] = info
    return report
