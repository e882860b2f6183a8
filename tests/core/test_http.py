"""The shared retry discipline's Retry-After reading (judge and OpenAI prediction backend)."""

import pytest

from speciarl.http import RetryPolicy, retry_after_seconds


@pytest.mark.parametrize(
    "value, expected",
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None), ("-1", None),
     ("1e3", None), ("Wed, 21 Oct 2026 07:28:00 GMT", None)],
)
def test_retry_after_seconds(value, expected):
    headers = {} if value is None else {"Retry-After": value}
    assert retry_after_seconds(headers) == expected
    assert retry_after_seconds(None) is None


def test_retry_after_wins_when_larger_but_stays_capped():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=10.0)
    assert policy.delay(0, retry_after=4.0) == 4.0
    assert policy.delay(0, retry_after=99.0) == 10.0
    assert 0.25 <= policy.delay(0, retry_after=0.0) <= 0.5


@pytest.mark.parametrize("base, url", [
    ("http://h:8000/v1", "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1/", "http://h:8000/v1/chat/completions"),
    ("http://h:8000", "http://h:8000/v1/chat/completions"),
    ("http://h:8000/v1/chat/completions", "http://h:8000/v1/chat/completions"),
    ("https://api.example.com/openai/v2", "https://api.example.com/openai/v2/chat/completions"),
])
def test_one_url_builder_for_judge_and_predictor(base, url):
    from speciarl.http import chat_completions_url
    from speciarl.judges import OpenAIJudge
    from speciarl.predict.openai_backend import OpenAIPredictor

    assert chat_completions_url(base) == url
    assert OpenAIJudge(base, "m").url == url == OpenAIPredictor(base, "m").url


def test_retry_core_counts_server_failures_and_unusable_replies_apart():
    import asyncio

    from speciarl.http import HTTPError, Retryable, with_retries

    script = [Retryable("HTTP 503", retry_after=0.0), Retryable("junk", reply=True), Retryable("HTTP 500"), "ok"]
    seen = []

    async def attempt():
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    policy = RetryPolicy(max_retries=2, reply_retries=1, backoff_base=0.001, backoff_max=0.002)
    assert asyncio.run(with_retries(attempt, policy, on_retry=seen.append)) == "ok"
    assert [str(e) for e in seen] == ["HTTP 503", "junk", "HTTP 500"]

    async def always(exc):
        raise exc

    with pytest.raises(HTTPError, match="server failed 3 times, giving up: HTTP 502"):
        asyncio.run(with_retries(lambda: always(Retryable("HTTP 502")), policy))
    with pytest.raises(HTTPError, match="unparseable reply after 2 tries"):
        asyncio.run(with_retries(lambda: always(Retryable("junk", reply=True)), policy))
