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


# ---- the committed lock (locks/*.txt, written by `make lock`) ----

ROOT = PYPROJECT.parent
LOCKS = ROOT / "locks"


def read_lock(name: str) -> dict[str, Version]:
    """A lock file's pins, by canonical name; every line that is not a comment is `name==version`."""
    from packaging.utils import canonicalize_name

    pins = {}
    for number, line in enumerate((LOCKS / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"locks/{name}:{number}: {line!r} is not an exact pin"
        pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def expanded(extras: list[str]) -> list[Requirement]:
    """The core dependencies and the named extras, with `speciarl[...]` self-references expanded."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    found, todo, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in extra(name):
            if requirement.name == "speciarl":
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def makefile_value(name: str) -> str:
    import re

    match = re.search(rf"^{name} \?= (.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert match, f"Makefile sets no {name}"
    return match.group(1).strip()


@pytest.mark.parametrize(("lock", "extras"), [("main.txt", ["all", "demo"]), ("verl.txt", ["redis"])])
def test_lock_pins_every_declared_requirement_within_its_range(lock, extras):
    """A lock that no longer satisfies pyproject.toml (a range edited without `make lock`) fails here, not
    as a resolver error in CI. torch is never pinned: TORCH_SPEC chooses the build."""
    from packaging.utils import canonicalize_name

    pins = read_lock(lock)
    assert "torch" not in pins and "speciarl" not in pins
    for requirement in expanded(extras):
        name = canonicalize_name(requirement.name)
        if name == "torch":
            continue
        assert name in pins, f"locks/{lock} pins no {requirement.name}: run `make lock`"
        assert pins[name] in requirement.specifier, f"locks/{lock}: {name}=={pins[name]} outside {requirement}"


def test_verl_lock_pins_the_verl_release_the_makefile_and_tests_name():
    verl_spec = Requirement(makefile_value("VERL_SPEC"))
    (spec,) = verl_spec.specifier
    assert spec.operator == "==" and read_lock("verl.txt")["verl"] == Version(spec.version)
    assert read_lock("verl.txt")["transformers"] < Version("5.11")  # why verl has a venv of its own


def test_the_running_environment_is_the_lock():
    """`make test` (LOCK=1) names the lock it installed with in SPECIARL_LOCK: every pinned package that is
    installed here has exactly the pinned version (a venv built from an older lock, or by hand, fails)."""
    import os

    from packaging.utils import canonicalize_name

    lock = os.environ.get("SPECIARL_LOCK")
    if not lock:
        pytest.skip("not run by `make test` with the lock (LOCK=0 resolves fresh)")
    pins = read_lock(Path(lock).name)
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()}
    differ = {name: (str(pins[name]), str(version)) for name, version in installed.items()
              if name in pins and version != pins[name]}
    assert not differ, f"installed versions differ from {lock} (pinned, installed): {differ}: rebuild the venv"
    missing = [name for name in pins if name not in installed]
    assert not missing, f"pinned in {lock} but not installed: {missing}"
