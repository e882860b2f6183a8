"""Shared fixtures: keep this file minimal; area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import pytest

# Label words the shared tiny model's tokenizer knows as whole tokens (shape/colour demo labels).
TINY_WORDS = ("shape", "circle", "square", "triangle", "red", "blue", "green", "red circle", "blue square")


@pytest.fixture(scope="session")
def tiny_vlm_path(tmp_path_factory: pytest.TempPathFactory):
    """One tiny offline Qwen2.5-VL folder (model + tokenizer + image processor) for the whole session."""
    from speciarl.models.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny_vlm") / "model", words=TINY_WORDS, seed=0)
