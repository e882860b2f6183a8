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
