"""The GPU extras resolve to versions that work together: our vLLM range is TRL's, and pip's resolver
(a dry run: nothing downloaded beyond metadata, nothing installed) finds one consistent set for
`.[train,vllm]` in which vLLM sits inside the resolved TRL's supported range."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def extra(name: str) -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["optional-dependencies"][name]]


def vllm_range_of_trl(requires: list[str]) -> Requirement:
    """TRL's own `vllm` extra: the vLLM versions that TRL release supports."""
    found = [Requirement(r) for r in requires if r.startswith("vllm") and 'extra == "vllm"' in r]
    assert len(found) == 1, requires
    return found[0]


def test_our_vllm_extra_is_the_installed_trls_range():
    pytest.importorskip("trl")
    [ours] = [r for r in extra("vllm") if r.name == "vllm"]
    theirs = vllm_range_of_trl(metadata.requires("trl") or [])
    assert ours.specifier == theirs.specifier, f"pyproject vllm extra {ours} != TRL {metadata.version('trl')}'s {theirs}"


def test_train_and_vllm_extras_resolve_to_one_consistent_set(tmp_path):
    """pip's resolver on exactly our declared requirements (the core, `train` and `vllm`)."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *(str(r) for r in extra("train")), *(str(r) for r in extra("vllm"))]
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
           "--report", str(report), *wanted]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip could not resolve .[train,vllm]:\n{proc.stderr[-4000:]}"
    resolved = {item["metadata"]["name"].lower(): item["metadata"] for item in json.loads(report.read_text())["install"]}
    versions = {name: Version(meta["version"]) for name, meta in resolved.items()}
    for requirement in map(Requirement, wanted):
        assert versions[requirement.name.lower()] in requirement.specifier, requirement
    trl_vllm = vllm_range_of_trl(resolved["trl"].get("requires_dist", []))
    assert versions["vllm"] in trl_vllm.specifier, f"vllm {versions['vllm']} outside TRL's {trl_vllm}"
    for requirement in map(Requirement, resolved["vllm"].get("requires_dist", [])):
        if requirement.name.lower() in ("transformers", "torch") and not requirement.marker:
            assert versions[requirement.name.lower()] in requirement.specifier, requirement


def test_demo_extra_is_the_train_extra_without_peft_and_tensorboard():
    """`make demo` installs `demo`; the demo runs `speciarl train`/`sft` code, so the pins must agree."""
    train = {str(r) for r in extra("train")}
    demo = {str(r) for r in extra("demo")}
    assert demo <= train, demo - train
    assert {Requirement(r).name for r in train - demo} == {"peft", "tensorboard"}
