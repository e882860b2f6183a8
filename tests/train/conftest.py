"""Fixtures for training tests: one tiny model taught the answer format, the synthetic shapes data,
and config dicts for 2-step runs that reuse both (nothing is rebuilt per test)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from speciarl.data.synthetic import GENERA, species_names, write_synthetic  # noqa: E402
from speciarl.data.trainset import build_trainset  # noqa: E402

WORDS = [*species_names(), *GENERA, "shape"]  # what speciarl.train.run passes for synthetic data
FORMAT_STEPS = 80


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a shared CPU: one thread is steady; several thrash (and slow other users)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_format_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Qwen2.5-VL with the think/answer warm-up (rollouts mix categories)."""
    from speciarl.models.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny_format") / "model", words=WORDS, format_steps=FORMAT_STEPS)


@pytest.fixture(scope="session")
def shapes_trainset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """8 generated shape images as a training file, and their taxonomy."""
    root = tmp_path_factory.mktemp("shapes")
    bench = write_synthetic(root, per_class=1, seed=0)
    out = root / "train.jsonl"
    build_trainset("synthetic", root, n=8, output=out, seed=0, split="train")
    return {"train_file": out, "taxonomy": bench.taxonomy}


BASE: dict[str, Any] = {
    "model": {"name_or_path": None, "dtype": "float32"},
    "data": {"train_file": None},
    "reward": {"scheme": "speciarl"},
    "judge": {"type": "taxonomy", "cache": "none"},
    "lora": {"enabled": True, "r": 4, "lora_alpha": 8},
    "logging": {"samples_every": 0},
    "loss_type": "grpo",
    "beta": 0.01,
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "max_completion_length": 24,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "constant",
    "max_steps": 2,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "use_cpu": True,
    "bf16": False,
    "gradient_checkpointing": False,
    "seed": 0,
}


@pytest.fixture
def make_config(tmp_path, tiny_format_vlm, shapes_trainset):
    """A config dict for a short run in tmp_path; `**changes` are merged into it (a `judge` replaces)."""

    def make(**changes: Any) -> dict[str, Any]:
        raw = copy.deepcopy(BASE)
        raw["model"]["name_or_path"] = str(tiny_format_vlm)
        raw["data"]["train_file"] = str(shapes_trainset["train_file"])
        raw["judge"]["taxonomy"] = str(shapes_trainset["taxonomy"])
        raw["output_dir"] = str(tmp_path / "run")
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict) and key != "judge":
                raw[key].update(value)
            else:
                raw[key] = value
        return raw

    return make
