"""The judge's request bytes come from a template (the system prompt encoded once): they must be the bytes
of encoding `request_body` whole, whatever the pair, prompt variant, choice field or extra body."""

from __future__ import annotations

import json

import pytest

from speciarl.judges import OpenAIJudge

PAIRS = [("black footed albatross", "albatross"), ("crème brûlée", 'say "x" \\ y'), ("a\x00b\n\t", "\u2028日本"),
         ("", ""), ("\x00speciarl pair\x00", "x")]


@pytest.mark.parametrize("options", [
    {}, {"prompt": "binary"}, {"prompt": "main_subject", "choice_field": "guided_choice"}, {"choice_field": "none"},
    {"extra_body": {"top_p": 0.5, "chat_template_kwargs": {"enable_thinking": False}}},
    {"extra_body": {"messages": [{"role": "user", "content": "replaced"}]}},  # no template: encoded whole
])
def test_payload_is_the_encoded_request_body(options):
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "m", **options)
    for pair in PAIRS:
        expected = json.dumps(judge.request_body(*pair), ensure_ascii=False).encode("utf-8")
        assert judge.request_payload(*pair) == expected
        assert json.loads(expected)["messages"][-1]["content"] == (
            "replaced" if "extra_body" in options and "messages" in options["extra_body"]
            else json.dumps({"ground_truth": pair[0], "prediction": pair[1]}, ensure_ascii=False, separators=(",", ":")))
