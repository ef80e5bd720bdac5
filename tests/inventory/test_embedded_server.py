"""The bundled server launcher (``inventory.server``): what a failed start tells the operator.

Added for the sampled mutation run (docs/mutation.md): the start-failure path had no test.
"""

from __future__ import annotations

import pytest
import redis

from inventory.server import EmbeddedRedis


def test_a_server_that_cannot_start_says_why_from_its_own_log(tmp_path):
    running = EmbeddedRedis(tmp_path / "first").start()
    try:
        second = EmbeddedRedis(tmp_path / "second", port=running.port)
        with pytest.raises(RuntimeError) as failed:
            second.start(timeout=10)
        message = str(failed.value)
        assert message.startswith("Redis-compatible server exited at start:\n"), message
        assert "Address already in use" in message, message  # the log's tail, not a guess
        assert (tmp_path / "second" / "server.log").exists()
        assert redis.Redis(port=running.port).ping()  # the first one is untouched
    finally:
        running.stop()


def test_a_persistent_server_keeps_an_append_only_file(tmp_path):
    server = EmbeddedRedis(tmp_path / "aof", persistent=True).start()
    try:
        client = redis.Redis(port=server.port)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("save") == {"save": "60 1000"}
    finally:
        server.stop()
