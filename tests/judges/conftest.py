"""Fixtures for judge tests: a real OpenAI-compatible server and a real redis-server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
if str(HELPERS) not in sys.path:
    sys.path.insert(0, str(HELPERS))

from openai_server import OpenAIServer, RuleTable  # noqa: E402
from redis_server import RedisServer, redis_binary  # noqa: E402


@pytest.fixture
def server():
    srv = OpenAIServer(RuleTable()).start()
    yield srv
    srv.stop()


@pytest.fixture
def redis_url(tmp_path):
    if redis_binary() is None:
        pytest.skip("redis-server binary not installed (Debian package redis-server)")
    srv = RedisServer(tmp_path / "redis").start()
    yield srv.url
    srv.stop()

