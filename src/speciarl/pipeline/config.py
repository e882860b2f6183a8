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

from pydantic import ConfigDict

from ..configfile import (Section, check_section, load_yaml_config, operational_keys, option, redact_secrets,
                          redact_url_passwords)
from ..errors import ConfigError
from ..judges.config import JUDGE_TYPES, parse_judge_options
from ..predict.base import SamplingParams
from ..predict.config import BACKEND_SCHEMAS, parse_model_section


class BenchmarkSpec(Section):
    """One entry of `benchmarks:`."""

    model_config = ConfigDict(frozen=True)

    name: str = option(..., "registered benchmark name (`speciarl data list`)")
    root: str = option(..., "the unpacked archive folder, manifest file or HF copy")
    split: str | None = option(None, "split to read (default: test)")
    limit: int | None = option(None, "the first N samples only, for a quick run", ge=1)
    options: dict[str, Any] = option(help="loader options, e.g. {split_file: PATH}", default_factory=dict)
    generate: dict[str, Any] | None = option(None, "`synthetic` only: write the benchmark into root when absent "
                                                   "(write_synthetic options)")


class ReportSection(Section):
    plots: bool = option(True, "write the PNG plots")


class OwcSection(Section):
    """`owc:` lmms-owc secondary metrics into report/owc.json (`owc: true` is text inclusion only)."""

    enabled: bool = option(True, "false: off (as if the section were absent)")
    semantic: bool = option(False, "semantic and concept similarity (all-MiniLM-L6-v2, the owc extra)")
    spacy_model: str = option("en_core_web_lg", "spaCy pipeline (name or folder) for concept similarity; "
                              "lmms-owc's is en_core_web_lg", min_length=1)
    llm_inclusion: bool | dict[str, Any] | None = option(
        False, "lmms-owc's LLM inclusion: true asks the eval's (openai) judge server, a mapping is a server of its "
        "own")
    llm_inclusion_strict: bool = option(False, "also our stricter variant: the judge's binary prompt, same server")


class EvalFile(Section):
    """The top level of an eval config; `model` and `judge` are checked by their own schemas
    (`speciarl.predict.config`, `speciarl.judges.config`): one per backend and per judge type."""

    name: str | None = option(None, "run name; the run dir is <output_dir>/<name>-<hash> (default: file stem)")
    output_dir: str = option("runs/eval", "where run directories go")
    model: dict[str, Any] = option(..., "the VLM: `backend` (transformers, vllm, openai) and its keys")
    benchmarks: list[BenchmarkSpec] = option(..., "what to evaluate on", min_length=1)
    prompt: str = option("base", "VLM prompt: a built-in name (`speciarl data prompts`) or a file")
    sampling: SamplingParams = option(help="decoding", default_factory=SamplingParams)
    judge: dict[str, Any] = option(..., "how answers are graded: `type` (taxonomy, openai) and its keys")
    report: ReportSection = option(help="the report stage", default_factory=ReportSection)
    owc: bool | dict[str, Any] | None = option(None, "lmms-owc secondary metrics: true (text inclusion) or a "
                                                     "mapping")


# Keys that only change speed or plumbing, never a prediction or a grade: left out of the run hash.
OPERATIONAL_KEYS = operational_keys(*BACKEND_SCHEMAS.values(), *JUDGE_TYPES.values())


@dataclass
class EvalConfig:
    """A validated eval config; `model` and `judge` are the mappings as written (checked by their schemas)."""

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
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as written to run.json: secrets (a literal `model.api_key`, the password
        of a `redis://:pw@host` cache or any other URL) redacted."""
        backend = BACKEND_SCHEMAS[self.model.get("backend", "transformers")]
        return redact_url_passwords({
            "name": self.name,
            "output_dir": str(self.output_dir),
            "model": redact_secrets(self.model, backend),
            "benchmarks": [b.model_dump() for b in self.benchmarks],
            "prompt": self.prompt,
            "sampling": self.sampling.to_dict(),
            "judge": self.judge,
            "report": {"plots": self.plots},
            **({"owc": self.owc} if self.owc is not None else {}),  # absent when off: older run.json stay equal
        })

    def __repr__(self) -> str:  # never shows a literal key
        return f"EvalConfig({self.to_dict()!r})"


def parse_owc(value: Any, judge: dict[str, Any], path: Path | str) -> dict[str, Any] | None:
    """The `owc:` section: None (off, the default) or {"semantic": bool, "spacy_model": name | None,
    "llm_inclusion": judge config | None, "llm_inclusion_strict": bool}.

    `owc: true` is text inclusion only; `llm_inclusion: true` reuses the eval's judge's server (it must be
    an openai judge: lmms-owc's question goes to an LLM), a mapping is a server config of its own;
    `llm_inclusion_strict: true` adds our binary-judge variant on the same server. `spacy_model` (default
    en_core_web_lg, as lmms-owc) counts only with `semantic`.
    """
    if value is None or value is False:
        return None
    section = check_section(OwcSection, {} if value is True else value, "owc", path)
    if not section.enabled:
        return None
    llm = section.llm_inclusion
    if llm is True:
        llm = {k: v for k, v in judge.items() if k not in ("prompt", "prompt_file", "labels")}
    elif llm is False or llm is None:
        llm = None
    if llm is not None:
        if llm.get("type") != "openai":
            raise ConfigError(f"{path}: owc.llm_inclusion needs an openai judge (the binary prompt is an LLM "
                              f"prompt), got type {llm.get('type')!r}; give llm_inclusion an openai judge mapping")
        parse_judge_options(llm, "owc.llm_inclusion", path)
    if section.llm_inclusion_strict and llm is None:
        raise ConfigError(f"{path}: owc.llm_inclusion_strict needs owc.llm_inclusion (the server that answers)")
    return {"semantic": section.semantic, "spacy_model": section.spacy_model if section.semantic else None,
            "llm_inclusion": llm, "llm_inclusion_strict": section.llm_inclusion_strict}


def parse_eval_config(data: Any, path: Path | str = "<config>", output_dir: str | None = None) -> EvalConfig:
    """Validate a loaded YAML mapping into an EvalConfig; errors name the file, key, type and value."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    top = check_section(EvalFile, data, "", path)
    name = top.name or Path(str(path)).stem
    if "/" in name:
        raise ConfigError(f"{path}: `name` must not contain '/', got {name!r}")
    model = dict(top.model)
    parse_model_section(model, "model", path)
    judge = dict(top.judge)
    parse_judge_options(judge, "judge", path)
    for i, spec in enumerate(top.benchmarks):
        if spec.generate is not None and spec.name != "synthetic":
            raise ConfigError(f"{path}: benchmarks[{i}]: `generate` is a mapping of write_synthetic options, "
                              "only for the `synthetic` benchmark")
    return EvalConfig(name=name, output_dir=Path(output_dir or top.output_dir), model=model,
                      benchmarks=list(top.benchmarks), prompt=top.prompt, sampling=top.sampling, judge=judge,
                      plots=top.report.plots, owc=parse_owc(top.owc, judge, path), path=Path(str(path)), raw=data)


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
        "benchmarks": [{**b.model_dump(), "root": str(Path(b.root).expanduser().resolve())} for b in config.benchmarks],
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
