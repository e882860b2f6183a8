"""The shipped perception checkpoint: used only for its own recipe, and a rebuild gives the same bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from speciarl.cli import main
from speciarl.demo import perception


@pytest.fixture()
def shipped_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "shipped"
    shutil.copytree(perception.SHIPPED, copy)
    monkeypatch.setattr(perception, "SHIPPED", copy)
    return copy


def test_shipped_checkpoint_is_complete_and_small() -> None:
    manifest = perception.shipped_manifest()
    assert manifest is not None, "the package ships the seed-0 perception checkpoint"
    assert perception.sha256_file(perception.SHIPPED / perception.WEIGHTS) == manifest["weights_sha256"]
    for name in ("config.json", "tokenizer.json", "preprocessor_config.json", "chat_template.jinja"):
        assert (perception.SHIPPED / name).is_file(), name
    assert sum(p.stat().st_size for p in perception.SHIPPED.iterdir()) < 2_000_000


def test_used_only_for_its_own_recipe(shipped_copy: Path, tmp_path: Path) -> None:
    recipe = perception.shipped_manifest()["recipe"]
    assert perception.shipped_for(recipe) == shipped_copy
    for changed in ({**recipe, "seed": recipe["seed"] + 1}, {**recipe, "data_sha256": "0" * 64},
                    {**recipe, "settings": {**recipe["settings"], "perception_steps": 1}}):
        assert perception.shipped_for(changed) is None
    # damaged weights are not trusted
    weights = shipped_copy / perception.WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert perception.shipped_for(recipe) is None
    target = tmp_path / "run" / "perception"
    target.parent.mkdir()
    perception.install(perception.SHIPPED, target)
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in shipped_copy.iterdir())


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_rebuild_is_byte_identical_to_the_shipped_checkpoint(tmp_path: Path, capsys) -> None:
    """`speciarl demo --rebuild-perception` trains the phase from scratch (3,000 steps: ~8 minutes on 2 cores)."""
    out = tmp_path / "rebuild"
    assert main(["demo", "--rebuild-perception", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "identical to the shipped checkpoint" in printed, printed
    rebuilt = json.loads((out / "models" / "perception" / perception.MANIFEST).read_text())
    assert rebuilt["recipe"] == perception.shipped_manifest()["recipe"]
    assert (out / "models" / "perception" / "model.safetensors").read_bytes() == \
        (perception.SHIPPED / "model.safetensors").read_bytes()
    # the rebuild stops after the perception phase, and refuses to overwrite a checkpoint
    assert not (out / "models" / "warm_start").exists()
    assert main(["demo", "--rebuild-perception", "--output-dir", str(out)]) == 2
