"""OpenAIJudge against a real local OpenAI-compatible server with scripted faults."""

from __future__ import annotations

import asyncio
import json

import pytest
from openai_server import RuleTable

from speciarl.categories import LABELS, Category
from speciarl.errors import ConfigError
from speciarl.judges import OpenAIJudge, build_judge, parse_reply

TABLE = {
    ("samoyed", "dog"): "generic",
    ("dog", "samoyed"): "more specific",
    ("golden winged warbler", "warbler"): "less specific",
    ("lion", "panthera leo"): "specific",
    ("boeing 747", "airbus a380"): "wrong",
    ("f a-18", "f-16a b"): "wrong",
}


def judge_for(server, **options) -> OpenAIJudge:
    config = {"type": "openai", "base_url": server.base_url, "model": "judge-model", "cache": "none",
              "timeout": 1.0, "backoff_base": 0.01, "backoff_max": 0.05, **options}
    return build_judge(config)


PAIRS = [("Samoyed", "dog"), ("dog", "Samoyed"), ("Golden winged Warbler", "Warbler"), ("lion", "Panthera leo"),
         ("Boeing 747", "Airbus A380"), ("F/A-18", "F-16A/B")]
EXPECTED = ["generic", "more specific", "less specific", "specific", "wrong", "wrong"]


def test_grades_by_the_server_with_fast_paths_first(server):
    server.reply = RuleTable(TABLE)
    judge = judge_for(server)
    pairs = PAIRS + [("samoyed", "SAMOYED"), ("samoyed", "none"), ("samoyed", "husky or malamute"),
                     ("Samoyed", "dog"), ("samoyed", "Dog!")]
    verdicts = judge.grade(pairs)
    assert [v.category.value for v in verdicts] == EXPECTED + ["specific", "abstain", "wrong", "generic", "generic"]
    assert [v.source for v in verdicts[-5:]] == ["exact", "refusal", "cap", "llm", "llm"]
    s = judge.stats
    assert (s.llm, s.exact, s.refusal, s.cap, s.errors, s.duplicate) == (6, 1, 1, 1, 0, 2)
    assert len(server.requests) == 6 and set(server.answered.values()) == {1}


def test_request_carries_the_pair_as_compact_json_and_asks_for_a_choice(server):
    server.reply = RuleTable(TABLE)
    judge_for(server).grade([("Samoyed", "a dog, says \"me\"")])
    body = server.requests[0]
    assert body["temperature"] == 0 and body["model"] == "judge-model"
    assert body["structured_outputs"] == {"choice": list(LABELS)}
    system, user = body["messages"]
    assert system["role"] == "system" and "more specific" in system["content"]
    assert user == {"role": "user", "content": '{"ground_truth":"samoyed","prediction":"a dog says me"}'}
    assert json.loads(user["content"]) == {"ground_truth": "samoyed", "prediction": "a dog says me"}


@pytest.mark.parametrize("field, expected", [("guided_choice", {"guided_choice": list(LABELS)}), ("none", {})])
def test_choice_field_variants(server, field, expected):
    judge_for(server, choice_field=field).grade([("a", "b")])
    body = server.requests[0]
    assert {k: body[k] for k in ("structured_outputs", "guided_choice") if k in body} == expected


def test_every_fault_is_retried_and_every_pair_graded_once(server):
    server.reply = RuleTable(TABLE)
    server.hang_seconds = 5
    server.faults.extend(["500", "429", "hang", "malformed", "drop", "garbage", "503", "500"])
    judge = judge_for(server, concurrency=3)
    verdicts = judge.grade(PAIRS)
    assert [v.category.value for v in verdicts] == EXPECTED
    assert all(v.source == "llm" for v in verdicts)
    assert judge.stats.llm == len(PAIRS) and judge.stats.errors == 0
    assert judge.stats.retries == 8 and judge.stats.requests == len(PAIRS) + 8
    # the server answered each pair exactly once with a grade (faults aside)
    assert server.answered == {(g, a): 1 for g, a in TABLE}


def test_concurrency_is_bounded(server):
    server.latency = 0.05
    judge_for(server, concurrency=4).grade([(f"gt {i}", f"answer {i}") for i in range(24)])
    assert server.max_in_flight == 4


def test_a_pair_that_keeps_failing_is_an_error_and_the_others_are_kept(server):
    server.reply = RuleTable(TABLE)
    server.fault_for = lambda body: "500" if "airbus" in body["messages"][-1]["content"] else None
    judge = judge_for(server, max_retries=2)
    verdicts = judge.grade(PAIRS)
    bad = verdicts[4]
    assert bad.category is None and not bad.ok and "HTTP 500" in bad.error and "3 times" in bad.error
    assert [v.category.value for i, v in enumerate(verdicts) if i != 4] == EXPECTED[:4] + EXPECTED[5:]
    assert judge.stats.errors == 1


def test_unparseable_replies_are_retried_then_reported(server):
    server.reply = lambda body: "The prediction is more specific than the ground truth."
    judge = judge_for(server, unparseable_retries=2)
    [verdict] = judge.grade([("dog", "samoyed")])
    assert verdict.category is None and "unparseable" in verdict.error and "more specific than" in verdict.error
    assert len(server.requests) == 3


def test_free_text_under_a_choice_constraint_says_the_server_ignored_it(server):
    """vLLM >= 0.12 answers a `guided_choice` request with HTTP 200 and unconstrained text."""
    server.reply = lambda body: "The prediction is more specific than the ground truth."
    [verdict] = judge_for(server, choice_field="guided_choice", unparseable_retries=0).grade([("dog", "samoyed")])
    assert "the server ignored the choice constraint (choice_field: guided_choice" in verdict.error
    assert "use structured_outputs" in verdict.error and server.requests[0]["guided_choice"]
    [verdict] = judge_for(server, choice_field="none", unparseable_retries=0).grade([("dog", "samoyed")])
    assert "unparseable" in verdict.error and "ignored the choice constraint" not in verdict.error


def test_a_rejected_request_is_not_retried_and_says_what_to_do(server):
    async def handler(request):
        from aiohttp import web
        return web.json_response({"error": {"message": "extra fields not permitted: structured_outputs"}}, status=400)

    server.stop()
    server._chat = handler  # an OpenAI-style server that rejects the vLLM field
    server.start()
    [verdict] = judge_for(server).grade([("dog", "samoyed")])
    assert verdict.category is None and "HTTP 400" in verdict.error and "choice_field: none" in verdict.error


def test_server_down_then_back(server):
    server.reply = RuleTable(TABLE)
    judge = judge_for(server, max_retries=20, backoff_base=0.05, backoff_max=0.1)

    async def scenario():
        server.stop()
        task = asyncio.ensure_future(judge.agrade(PAIRS))
        await asyncio.sleep(0.3)
        assert not task.done()
        await asyncio.to_thread(server.start)
        verdicts = await task
        await judge.aclose()
        return verdicts

    verdicts = asyncio.run(scenario())
    assert [v.category.value for v in verdicts] == EXPECTED
    assert judge.stats.retries > 0


def test_api_key_from_env_is_sent_but_never_shown(server, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY_FOR_TEST", "sk-secret-123")
    server.fault_for = lambda body: "500"
    judge = judge_for(server, api_key_env="JUDGE_KEY_FOR_TEST", max_retries=0)
    [verdict] = judge.grade([("dog", "samoyed")])
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in verdict.error and "sk-secret" not in repr(judge) and "sk-secret" not in judge.identity
    monkeypatch.delenv("JUDGE_KEY_FOR_TEST")
    judge_for(server, api_key_env="JUDGE_KEY_FOR_TEST", max_retries=0).grade([("dog", "samoyed")])
    assert "Authorization" not in server.headers[-1]


def test_binary_variant_maps_to_specific_or_wrong(server):
    server.reply = RuleTable({("lion", "panthera leo"): "correct"}, default="wrong")
    judge = judge_for(server, prompt="binary")
    verdicts = judge.grade([("lion", "Panthera leo"), ("samoyed", "dog"), ("lion", "lion")])
    assert [v.category for v in verdicts] == [Category.SPECIFIC, Category.WRONG, Category.SPECIFIC]
    assert server.requests[0]["structured_outputs"] == {"choice": ["correct", "wrong"]}
    assert "binary" in judge.identity


def test_main_subject_variant_allows_descriptive_answers(server):
    scene = "A fluffy white samoyed playing in deep fresh snow next to a red sled"
    server.reply = RuleTable({("samoyed", scene.lower()): "specific"})
    judge = judge_for(server, prompt="main_subject")
    [verdict] = judge.grade([("samoyed", scene)])
    assert verdict.category is Category.SPECIFIC and verdict.source == "llm"
    assert "main subject" in server.requests[0]["messages"][0]["content"]


def test_user_prompt_file_changes_identity(server, tmp_path):
    prompt = tmp_path / "mine.txt"
    prompt.write_text("Grade it. Reply with one of the six labels.")
    mine = judge_for(server, prompt_file=str(prompt))
    mine.grade([("dog", "samoyed")])
    assert server.requests[0]["messages"][0]["content"] == "Grade it. Reply with one of the six labels."
    prompt.write_text("Grade it carefully. Reply with one of the six labels.")
    assert judge_for(server, prompt_file=str(prompt)).identity != mine.identity


@pytest.mark.parametrize("reply, label", [
    ("specific", "specific"), ("More specific", "more specific"), (" less_specific.\n", "less specific"),
    ("**generic**", "generic"), ('"abstain"', "abstain"), ('{"category": "wrong"}', "wrong"),
    ("<think>hmm, finer</think>more specific", "more specific"),
    ("not specific", None), ("more specific than needed", None), ("specific or generic", None),
    ("The answer is specific", None), ("", None), ('{"a": "specific", "b": "wrong"}', None),
])
def test_reply_parsing_is_strict(reply, label):
    assert parse_reply(reply, LABELS) == label


def test_bad_config_is_a_config_error(server):
    with pytest.raises(ConfigError, match="unknown key `judge.temprature`; known: api_key_env"):
        build_judge({"type": "openai", "base_url": server.base_url, "model": "m", "temprature": 0})
    with pytest.raises(ConfigError, match="choice_field"):
        judge_for(server, choice_field="json")
    with pytest.raises(ConfigError, match="unknown judge prompt"):
        judge_for(server, prompt="batched")
    with pytest.raises(ConfigError, match="base_url"):
        build_judge({"type": "openai", "model": "m", "cache": "none"})
    with pytest.raises(ConfigError, match="unknown judge type 'regex'"):
        build_judge({"type": "regex"})


def test_judge_protocol_and_stats_per_call(server):
    from speciarl.judges import Judge

    server.reply = RuleTable(TABLE)
    judge = judge_for(server)
    assert isinstance(judge, Judge)
    judge.grade(PAIRS[:2])
    judge.grade(PAIRS[:3] + [("x", "none")])
    stats = judge.stats.to_dict()
    assert (stats["pairs"], stats["calls"], stats["llm"], stats["refusal"], stats["fast_path"]) == (6, 2, 5, 1, 1)
    assert stats["last_call_seconds"] > 0 and stats["seconds"] >= stats["last_call_seconds"]
    judge.stats.reset()
    assert judge.stats.pairs == 0 and judge.stats.llm == 0


def test_async_context_manager_closes_the_session(server):
    judge = judge_for(server)

    async def use():
        async with judge:
            await judge.agrade([("a", "b")])
            assert judge._session is not None and not judge._session.closed
        assert judge._session is None

    asyncio.run(use())


def test_sync_grade_inside_an_event_loop_says_to_use_agrade(server):
    judge = judge_for(server)

    async def wrong_use():
        with pytest.raises(RuntimeError, match="agrade"):
            judge.grade([("a", "b")])

    asyncio.run(wrong_use())


def test_restart_on_the_same_port_keeps_the_judge_working(server):
    server.reply = RuleTable(TABLE)
    judge = judge_for(server)
    port = server.port
    assert judge.grade(PAIRS[:1])[0].category.value == "generic"
    server.restart()
    assert server.port == port
    assert judge.grade(PAIRS[1:2])[0].category.value == "more specific"
