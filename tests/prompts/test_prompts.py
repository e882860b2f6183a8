"""The prompt registry: built-in texts, user files, content hashes."""

from __future__ import annotations

import hashlib

import pytest

from speciarl.answers import extract_answer
from speciarl.errors import ConfigError
from speciarl.prompts import get_prompt, list_prompts


def test_builtin_prompts_exist_use_think_answer_tags_and_differ():
    names = list_prompts()
    assert names == ["base", "be_specific", "calibrated", "elimination", "high_precision", "max_correctness",
                     "max_specificity"]
    prompts = [get_prompt(n) for n in names]
    for p in prompts:
        assert "<think>" in p.text and "<answer>" in p.text and "</answer>" in p.text
        assert p.hash == hashlib.sha256(p.text.encode()).hexdigest()[:12]
    assert len({p.hash for p in prompts}) == len(prompts)
    # each prompt shows the answer format with an example that our own parser reads as a label
    for p in prompts:
        example = p.text[p.text.index("for example <answer>"):]
        assert extract_answer(example) == "label"


def test_abstention_is_offered_except_by_max_specificity():
    assert "<answer>None</answer>" in get_prompt("base").text
    assert "Never answer None" in get_prompt("max_specificity").text
    assert "answer None" in get_prompt("high_precision").text


def test_user_prompt_file_and_hash_follows_the_text(tmp_path):
    path = tmp_path / "terse.txt"
    path.write_text("Name it. <think>..</think> then <answer>label</answer>\n")
    first = get_prompt(str(path))
    assert first.name == "terse" and first.text.endswith("</answer>")
    path.write_text("Name it precisely. <think>..</think> then <answer>label</answer>\n")
    assert get_prompt(str(path)).hash != first.hash
    plain = tmp_path / "plain.txt"
    plain.write_text("What is this?")
    with pytest.warns(UserWarning, match="<answer>"):
        get_prompt(str(plain))


def test_unknown_prompt_lists_known_names(tmp_path):
    with pytest.raises(ConfigError, match="base, be_specific"):
        get_prompt("be-specific")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        get_prompt(str(empty))
