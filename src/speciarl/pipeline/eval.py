"""`speciarl eval CONFIG.yaml`: benchmarks → predict → verify → report in one run directory.

Why one command: an evaluation should be one reproducible step, not a chain of services. The run
directory is `<output_dir>/<name>-<hash>` where the hash covers everything that can change a number
(see `config.results_hash`), so a changed config never reuses stale files, while rerunning the same
config resumes: each stage checks its output and is skipped when complete. A new run whose
predictions would be identical to a sibling run's (only the judge changed) starts from a copy of them.

    run.json              resolved config, hash, prompt, versions (written once; checked on reuse)
    predictions.jsonl     one record per (sample, prediction index), appended as produced
    skipped_images.jsonl  unreadable images (path, reason), counted in the summary
    verified.jsonl        graded records (`speciarl.pipeline.verify.run_verify`)
    report/               summary.json, summary.md, plots (`speciarl.report.run.run_report`);
                          owc.json + owc_per_record.jsonl with the `owc:` section (lmms-owc metrics, also in summary.md)
    eval_summary.json     what the last invocation did per stage, skipped images included
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SpeciarlError
from ..records import completed_keyset, write_atomic
from .config import EvalConfig, load_eval_config, predict_hash, results_hash
from .predict import PREDICTIONS, SKIPPED, known_bad_images, merge_shards, parse_shard, run_predict

STAGES = ("predict", "verify", "report")
VERIFIED = "verified.jsonl"
REPORT = "report"
OWC = "owc.json"
OWC_PER_RECORD = "owc_per_record.jsonl"


@dataclass
class EvalResult:
    run_dir: Path
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped_images: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] | None = None


def parse_stages(text: str | Sequence[str] | None) -> tuple[str, ...]:
    if text is None:
        return STAGES
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(s.strip() for s in items if s.strip())
    bad = [s for s in names if s not in STAGES]
    if bad or not names:
        raise ConfigError(f"--stages: unknown stage(s) {', '.join(bad) or '(none)'}; choose from {', '.join(STAGES)}")
    return tuple(s for s in STAGES if s in names)


def load_samples(config: EvalConfig) -> tuple[list[Any], list[dict[str, str]]]:
    """Every configured benchmark's samples (ids unique across benchmarks) and loader-level skips."""
    from ..data import load_benchmark

    samples: list[Any] = []
    skipped: list[dict[str, str]] = []
    seen: set[str] = set()
    for spec in config.benchmarks:
        if spec.generate is not None and not (Path(spec.root) / "test.jsonl").exists():
            from ..data.synthetic import write_synthetic

            write_synthetic(spec.root, **spec.generate)
        split = load_benchmark(spec.name, spec.root, spec.split, limit=spec.limit, **spec.options)
        for s in split.samples:
            if s.sample_id in seen:
                raise ConfigError(f"sample id {s.sample_id!r} appears in two benchmarks; give each a distinct split/name")
            seen.add(s.sample_id)
        samples += split.samples
        skipped += [{"path": k.path, "reason": k.reason, "dataset": spec.name} for k in split.skipped]
    return samples, skipped


def resolve_model(config: EvalConfig, samples: Sequence[Any]) -> dict[str, Any]:
    """The model section with `tiny: {dir, words?, ...}` turned into a built tiny model's `path`."""
    model = dict(config.model)
    tiny = model.pop("tiny", None)
    if tiny is not None:
        if not isinstance(tiny, dict) or "dir" not in tiny:
            raise ConfigError("model.tiny must be a mapping with at least `dir` (where to build the tiny model)")
        from ..models.tiny import build_tiny_vlm

        if model.get("num_threads"):  # the tiny build trains a few steps: same thread setting
            import torch

            torch.set_num_threads(int(model["num_threads"]))
        options = dict(tiny)
        out = options.pop("dir")
        words = options.pop("words", None)
        if words is None:  # the benchmark's labels become whole tokens of the tiny tokenizer
            words = sorted({s.ground_truth for s in samples})
        model["path"] = str(build_tiny_vlm(out, words=words, **options))
        model.setdefault("name", "tiny-" + Path(out).name)
    return model


def _write_run_json(run_dir: Path, config: EvalConfig, digest: str, pdigest: str, prompt: Any) -> None:
    from .. import __version__

    info = {"name": config.name, "hash": digest, "predict_hash": pdigest, "config_file": str(config.path),
            "config": config.to_dict(),
            "prompt": {"name": prompt.name, "hash": prompt.hash, "text": prompt.text},
            "speciarl": __version__, "python": sys.version.split()[0]}
    path = run_dir / "run.json"
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("hash") != digest:
            raise SpeciarlError(f"{path} belongs to another config (hash {old.get('hash')} != {digest}); "
                                "pick another output_dir or name")
        if old.get("config") == info["config"]:
            return
    write_atomic(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")


def run_eval(
    config_path: str | os.PathLike[str],
    *,
    stages: str | Sequence[str] | None = None,
    shard: str | None = None,
    output_dir: str | None = None,
    progress: bool = True,
    log: Any = print,
) -> EvalResult:
    """Run the selected stages of one eval config; returns what each stage did."""
    from ..prompts import get_prompt

    config = load_eval_config(config_path, output_dir)
    wanted = parse_stages(stages)
    shard_t = parse_shard(shard)
    if shard_t is not None and wanted != ("predict",):
        if stages is not None:
            raise ConfigError("--shard runs the predict stage only; verify and report need every shard "
                              "(rerun without --shard once all shards are done)")
        wanted = ("predict",)
    prompt = get_prompt(config.prompt)
    samples, load_skips = load_samples(config)
    if not samples:
        raise SpeciarlError("no samples to evaluate: every configured benchmark is empty")
    digest = results_hash(config, prompt.hash)
    run_dir = config.output_dir / f"{config.name}-{digest}"
    run_dir.mkdir(parents=True, exist_ok=True)
    pdigest = predict_hash(config, prompt.hash)
    _write_run_json(run_dir, config, digest, pdigest, prompt)
    result = EvalResult(run_dir=run_dir)
    log(f"run directory: {run_dir} ({len(samples)} samples, {len(config.benchmarks)} benchmark(s), "
        f"prompt {prompt.name}, n={config.sampling.n})")
    sample_ids = [s.sample_id for s in samples]  # each with predictions 0 .. n-1

    if "predict" in wanted:
        t0 = time.perf_counter()
        _reuse_predictions(run_dir, pdigest, log)
        summary = run_predict(samples, prompt, config.sampling, lambda: resolve_model(config, samples), run_dir,
                              shard=shard_t, progress=progress)
        result.skipped_images = summary.skipped_images
        if not summary.ran:
            log("predict: complete, skipped")
            result.stages["predict"] = {"status": "skipped (complete)", **summary.to_dict()}
        else:
            result.stages["predict"] = {"status": "ran", **summary.to_dict()}
            log(f"predict: {summary.written} new, {summary.already_done} already done, "
                f"{len(summary.skipped_images)} image(s) skipped, {summary.backend_failures} failed "
                f"in {time.perf_counter() - t0:.1f} s")
        if summary.backend_failures:
            _write_summary(run_dir, result, load_skips)
            raise SpeciarlError(f"predict: {summary.backend_failures} predictions failed (first: "
                                f"{summary.first_failure}); rerun the same command to retry them")
    if "verify" in wanted:
        _verify_stage(run_dir, config, sample_ids, result, load_skips, progress, log)
    if "report" in wanted:
        result.report = _report(run_dir, config, result, log)
    _write_summary(run_dir, result, load_skips)
    if result.skipped_images or load_skips:
        first = (result.skipped_images or load_skips)[0]
        log(f"skipped images: {len(result.skipped_images)} unreadable + {len(load_skips)} missing at load "
            f"(first: {first['path']}: {first['reason']}); see {run_dir / 'eval_summary.json'}")
    return result


def _verify_stage(run_dir: Path, config: EvalConfig, sample_ids: list[str], result: EvalResult,
                  load_skips: list[dict[str, str]], progress: bool, log: Any) -> None:
    """Merge shard files, check every readable image has its predictions, grade what is not graded.
    Keys are checked against compact key sets (`records.KeySet`): 3.4 M keys cost a few MB, not GBs."""
    from .verify import run_verify

    n = config.sampling.n
    bad = known_bad_images(run_dir)
    result.skipped_images = result.skipped_images or [
        {"sample_id": r.sample_id, "path": str(r.extra.get("image")), "reason": str(r.extra.get("reason"))}
        for r in bad.values()]
    good = [sid for sid in sample_ids if sid not in bad]
    if not good:
        raise SpeciarlError("verify: no predictions to grade (every image was skipped)")
    if any(run_dir.glob("predictions.shard-*-of-*.jsonl")):
        merge_shards(run_dir, ((sid, i) for sid in good for i in range(n)))
    merged = run_dir / PREDICTIONS
    have = completed_keyset(merged)
    missing = [(sid, i) for sid in good if not have.covers(sid, n) for i in range(n) if (sid, i) not in have]
    if missing:
        raise SpeciarlError(f"verify: {len(missing)} predictions missing in {merged} (e.g. {min(missing)}); "
                            "run the predict stage first")
    verified = run_dir / VERIFIED
    graded = completed_keyset(verified)
    if all(graded.covers(sid, n) for sid in good):
        log("verify: complete, skipped")
        result.stages["verify"] = {"status": "skipped (complete)"}
        return
    vres = run_verify(merged, verified, config.judge, progress=progress)
    log("verify: " + vres.summary_line())
    result.stages["verify"] = {"status": "ran", "written": vres.written, "errors": len(vres.errors),
                               "judge": vres.judge, "seconds": round(vres.seconds, 3)}
    if not vres.ok:
        _write_summary(run_dir, result, load_skips)
        first = vres.errors[0]
        raise SpeciarlError(f"verify: {len(vres.errors)} pairs could not be graded (first: {first[0]} "
                            f"#{first[1]}: {first[2]}); rerun the same command to retry them")


def _reuse_predictions(run_dir: Path, pdigest: str, log: Any) -> None:
    """Seed an empty run with the predictions of a sibling run that predicted the same way.

    The run directory's hash covers the judge too (a new judge must never reuse old grades), but the
    predictions do not depend on the judge: regrading with another judge costs no GPU time.
    """
    from ..records import iter_records, write_records_atomic

    if any(run_dir.glob("predictions*.jsonl")):
        return
    for other in sorted(run_dir.parent.glob("*/run.json")):
        if other.parent == run_dir or any(other.parent.glob("predictions.shard-*")):
            continue
        try:
            if json.loads(other.read_text(encoding="utf-8")).get("predict_hash") != pdigest:
                continue
        except (OSError, ValueError):
            continue
        source = other.parent / PREDICTIONS
        if not source.exists():
            continue
        if (other.parent / SKIPPED).exists():
            write_atomic(run_dir / SKIPPED, (other.parent / SKIPPED).read_bytes())
        write_records_atomic(run_dir / PREDICTIONS, iter_records(source, allow_partial_tail=True))  # streamed
        log(f"predict: reusing the predictions of {other.parent.name} (same model, data, prompt, sampling)")
        return


def _report(run_dir: Path, config: EvalConfig, result: EvalResult, log: Any) -> dict[str, Any]:
    from ..report.run import run_report
    from ..report.tables import print_terminal_table

    verified = run_dir / VERIFIED
    if not verified.exists():
        raise SpeciarlError(f"report: {verified} does not exist; run the verify stage first")
    out = run_dir / REPORT
    summary = out / "summary.json"
    owc_file = out / OWC
    fresh = summary.exists() and summary.stat().st_mtime >= verified.stat().st_mtime
    owc_rows_file = out / OWC_PER_RECORD
    if fresh and (config.owc is None or (owc_file.exists() and owc_rows_file.exists())):
        report = json.loads(summary.read_text(encoding="utf-8"))
        log("report: up to date, skipped")
        result.stages["report"] = {"status": "skipped (complete)"}
        print_terminal_table(report["runs"], title=f"{config.name} ({run_dir.name})")
        if config.owc is not None:
            from ..report.owc import print_owc_table

            report["owc"] = json.loads(owc_file.read_text(encoding="utf-8"))
            print_owc_table({config.name: report["owc"]}, source="run")
        return report
    owc = _owc(verified, owc_file, owc_rows_file, config.owc, log) if config.owc is not None else None
    extra = ""
    if owc is not None:
        from ..report.owc import owc_markdown

        extra = owc_markdown({config.name: owc})
    report = run_report([verified], out, names=[config.name], plots=config.plots, extra_markdown=extra)
    if owc is not None:
        from ..report.owc import print_owc_table

        print_owc_table({config.name: owc}, source="run")
        report["owc"] = owc
    result.stages["report"] = {"status": "ran", "dir": str(out)}
    return report


def _owc(verified: Path, out: Path, rows_out: Path, options: dict[str, Any], log: Any) -> dict[str, Any]:
    """The lmms-owc secondary metrics of the graded records, per dataset, written to report/owc.json,
    and per record to report/owc_per_record.jsonl."""
    from ..records import read_records
    from ..report.owc import build_models, owc_by_dataset_values, owc_values, per_record_rows

    t0 = time.perf_counter()
    models = build_models(options["semantic"], options.get("spacy_model") or "en_core_web_lg")
    records = read_records(verified)
    llm = options["llm_inclusion"]
    values = owc_values(records, **models, judge_config=llm,
                        strict_judge_config=llm if options.get("llm_inclusion_strict") else None)
    scores = owc_by_dataset_values(records, values)
    write_atomic(rows_out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in per_record_rows(records, values)))
    write_atomic(out, json.dumps(scores, indent=2, ensure_ascii=False) + "\n")
    log(f"report: open-world metrics in {time.perf_counter() - t0:.1f} s -> {out}")
    return scores


def _write_summary(run_dir: Path, result: EvalResult, load_skips: list[dict[str, str]]) -> None:
    data = {"run_dir": str(run_dir), "stages": result.stages,
            "skipped_images": len(result.skipped_images) + len(load_skips),
            "unreadable_images": result.skipped_images, "missing_at_load": load_skips}
    write_atomic(run_dir / "eval_summary.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")


__all__ = ["PREDICTIONS", "STAGES", "VERIFIED", "EvalResult", "parse_stages", "run_eval"]
