"""The `speciarl eval` config file: what to predict on, with what, how to grade, where to write.

Why a schema module: every key is checked when the file is read (an unknown key is a typo that would
otherwise silently fall back to a default), relative paths are resolved once, and the part of the
config that can change results is hashed into the run directory's name, so editing the config
(or the prompt text, the judge's taxonomy, the model files) starts a new run directory instead of
reusing stale predictions. Operational keys (batch size, concurrency, timeouts, device) do not
change results and are left out of the hash, so tuning them resumes the same run.

```yaml
name: paper-main                      # run name; the run dir is <output_dir>/<name>-<hash>
output_dir: runs/eval
model: {backend: transformers, path: Qwen/Qwen2.5-VL-7B-Instruct, batch_size: 8}
benchmarks:
  - {name: cub200, root: data/CUB_200_2011}            # split: test by default; limit: N for a quick run
prompt: base
sampling: {n: 1, temperature: 0.0, top_p: 1.0, max_new_tokens: 2048, seed: 0}
judge: {type: openai, base_url: http://127.0.0.1:8001/v1, model: judge, cache: runs/judge_cache.sqlite}
report: {plots: true}
owc: {semantic: true, llm_inclusion: false}   # optional: lmms-owc secondary metrics -> report/owc.json
```

`extends: other.yaml` merges this file over another (mappings key by key, lists replaced), so a
prompt baseline is the main config plus `name` and `prompt`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..configfile import load_yaml_config
from ..errors import ConfigError
from ..predict.base import SamplingParams

TOP_KEYS = {"name", "output_dir", "model", "benchmarks", "prompt", "sampling", "judge", "report", "owc", "extends"}
OWC_KEYS = {"enabled", "semantic", "llm_inclusion"}
BENCH_KEYS = {"name", "root", "split", "limit", "options", "generate"}
# Keys that only change speed or plumbing, never a prediction or a grade.
OPERATIONAL_KEYS = {
    "batch_size", "chunk_size", "device", "concurrency", "timeout", "max_retries", "backoff_base",
    "backoff_max", "api_key", "api_key_env", "gpu_memory_utilization", "tensor_parallel_size", "cache",
    "attn_implementation", "engine_kwargs", "progress", "num_threads",
}


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    root: str
    split: str | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    generate: dict[str, Any] | None = None  # `synthetic` only: write the benchmark into root when absent


@dataclass
class EvalConfig:
    """A validated eval config; `raw` is the file's content as read."""

    name: str
    output_dir: Path
    model: dict[str, Any]
    benchmarks: list[BenchmarkSpec]
    prompt: str
    sampling: SamplingParams
    judge: dict[str, Any]
    plots: bool = True
    owc: dict[str, Any] | None = None  # None: off; else {"semantic": bool, "llm_inclusion": judge mapping | None}
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "output_dir": str(self.output_dir),
            "model": self.model,
            "benchmarks": [vars(b) for b in self.benchmarks],
            "prompt": self.prompt,
            "sampling": self.sampling.to_dict(),
            "judge": self.judge,
            "report": {"plots": self.plots},
            **({"owc": self.owc} if self.owc is not None else {}),  # absent when off: older run.json stay equal
        }


def _section(data: dict[str, Any], key: str, path: Path | str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: `{key}` must be a mapping, got {type(value).__name__}")
    return dict(value)


def parse_owc(value: Any, judge: dict[str, Any], path: Path | str) -> dict[str, Any] | None:
    """The `owc:` section: None (off, the default) or {"semantic": bool, "llm_inclusion": judge config | None}.

    `owc: true` is text inclusion only; `llm_inclusion: true` reuses the eval's judge (it must be an
    openai judge: the binary prompt is an LLM prompt), a mapping is a judge config of its own.
    """
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: `owc` must be true/false or a mapping ({', '.join(sorted(OWC_KEYS))}), "
                          f"got {value!r}")
    bad = sorted(set(value) - OWC_KEYS)
    if bad:
        raise ConfigError(f"{path}: owc: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(OWC_KEYS))}")
    for key in ("enabled", "semantic"):
        if not isinstance(value.get(key, False), bool):
            raise ConfigError(f"{path}: owc.{key} must be true or false, got {value[key]!r}")
    if not value.get("enabled", True):
        return None
    llm = value.get("llm_inclusion", False)
    if llm is True:
        llm = {k: v for k, v in judge.items() if k not in ("prompt", "prompt_file", "labels")}
    elif llm is False or llm is None:
        llm = None
    elif not isinstance(llm, dict):
        raise ConfigError(f"{path}: owc.llm_inclusion must be true, false or a judge mapping, got {llm!r}")
    if llm is not None and llm.get("type") != "openai":
        raise ConfigError(f"{path}: owc.llm_inclusion needs an openai judge (the binary prompt is an LLM "
                          f"prompt), got type {llm.get('type')!r}; give llm_inclusion an openai judge mapping")
    return {"semantic": bool(value.get("semantic", False)), "llm_inclusion": llm}


def parse_eval_config(data: Any, path: Path | str = "<config>", output_dir: str | None = None) -> EvalConfig:
    """Validate a loaded YAML mapping into an EvalConfig; errors name the file and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TOP_KEYS))}")
    name = data.get("name") or Path(str(path)).stem
    if not isinstance(name, str) or "/" in name:
        raise ConfigError(f"{path}: `name` must be a string without '/', got {name!r}")
    model = _section(data, "model", path)
    if not model:
        raise ConfigError(f"{path}: `model` section is required (backend + path or tiny)")
    from ..predict import check_model_config

    to_check = {k: v for k, v in model.items() if k != "tiny"}
    if "tiny" in model:
        to_check.setdefault("path", "<built from model.tiny>")
    try:
        check_model_config(to_check)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    judge = _section(data, "judge", path)
    if not judge:
        raise ConfigError(f"{path}: `judge` section is required (e.g. {{type: taxonomy, taxonomy: FILE}})")
    benches = data.get("benchmarks")
    if not isinstance(benches, list) or not benches:
        raise ConfigError(f"{path}: `benchmarks` must be a non-empty list of {{name, root}} entries")
    specs = []
    for i, entry in enumerate(benches):
        if not isinstance(entry, dict) or "name" not in entry or "root" not in entry:
            raise ConfigError(f"{path}: benchmarks[{i}] needs `name` and `root`")
        bad = sorted(set(entry) - BENCH_KEYS)
        if bad:
            raise ConfigError(f"{path}: benchmarks[{i}]: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(BENCH_KEYS))}")
        generate = entry.get("generate")
        if generate is not None and (entry["name"] != "synthetic" or not isinstance(generate, dict)):
            raise ConfigError(f"{path}: benchmarks[{i}]: `generate` is a mapping of write_synthetic options, "
                              "only for the `synthetic` benchmark")
        specs.append(BenchmarkSpec(name=str(entry["name"]), root=str(entry["root"]), split=entry.get("split"),
                                   limit=entry.get("limit"), options=dict(entry.get("options") or {}),
                                   generate=generate))
    sampling_cfg = _section(data, "sampling", path)
    known = set(SamplingParams.__dataclass_fields__)
    bad = sorted(set(sampling_cfg) - known)
    if bad:
        raise ConfigError(f"{path}: sampling: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    try:
        sampling = SamplingParams(**sampling_cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    prompt = data.get("prompt", "base")
    if not isinstance(prompt, str):
        raise ConfigError(f"{path}: `prompt` must be a prompt name or file, got {prompt!r}")
    report = _section(data, "report", path)
    out = output_dir or data.get("output_dir") or "runs/eval"
    return EvalConfig(name=name, output_dir=Path(out), model=model, benchmarks=specs, prompt=prompt,
                      sampling=sampling, judge=judge, plots=bool(report.get("plots", True)),
                      owc=parse_owc(data.get("owc"), judge, path), path=Path(str(path)), raw=data)


def load_eval_config(path: str | os.PathLike[str], output_dir: str | None = None) -> EvalConfig:
    """Read, merge (`extends`) and validate an eval config file."""
    path = Path(path)
    return parse_eval_config(load_yaml_config(path), path, output_dir)


def _fingerprint(value: Any) -> Any:
    """A path to a local file or folder contributes its content stamp (file: sha256; folder: names,
    sizes, mtimes of its top level) so retraining a checkpoint in place or editing a taxonomy counts."""
    if isinstance(value, dict):
        return {k: (v if k == "tiny" else _fingerprint(v))  # a tiny model is defined by its settings
                for k, v in sorted(value.items()) if k not in OPERATIONAL_KEYS}
    if isinstance(value, list):
        return [_fingerprint(v) for v in value]
    if isinstance(value, str) and value and len(value) < 1024:
        p = Path(value).expanduser()
        try:
            if p.is_file():
                return {"path": value, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            if p.is_dir():
                stamp = sorted((c.name, c.stat().st_size, int(c.stat().st_mtime)) for c in p.iterdir() if c.is_file())
                return {"path": value, "files": stamp}
        except OSError:
            pass
    return value


def _predict_content(config: EvalConfig, prompt_hash: str) -> dict[str, Any]:
    model = {k: v for k, v in config.model.items() if k not in OPERATIONAL_KEYS}
    return {
        "model": _fingerprint(model),
        "benchmarks": [{**vars(b), "root": str(Path(b.root).expanduser().resolve())} for b in config.benchmarks],
        "prompt": [config.prompt, prompt_hash],
        "sampling": config.sampling.to_dict(),
    }


def _short_hash(content: Any) -> str:
    blob = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:10]


def predict_hash(config: EvalConfig, prompt_hash: str) -> str:
    """Short hash of what can change a prediction (model, data, prompt text, sampling): runs that share
    it can share predictions, e.g. the same model graded by two judges."""
    return _short_hash(_predict_content(config, prompt_hash))


def results_hash(config: EvalConfig, prompt_hash: str) -> str:
    """Short hash of everything that can change a prediction, a grade or a reported number (see module
    docstring); the `owc` section counts only when enabled, so runs without it keep their directory."""
    content = {**_predict_content(config, prompt_hash), "judge": _fingerprint(config.judge)}
    if config.owc is not None:
        content["owc"] = _fingerprint(config.owc)
    return _short_hash(content)
