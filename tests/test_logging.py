"""Structured logging: JSON lines on demand, secret-looking fields masked."""

from __future__ import annotations

import io
import json
import logging

import structlog

from avisa.logging import REDACTED, configure_logging


def test_json_format_emits_one_object_per_line() -> None:
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    structlog.get_logger("avisa.test").info("job_ran", job="purge", rows=3)
    logging.getLogger("stdlib").warning("plain %s", "message")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "job_ran"
    assert lines[0]["job"] == "purge"
    assert lines[0]["level"] == "info"
    assert lines[1]["event"] == "plain message"


def test_secret_looking_fields_are_redacted() -> None:
    canary = "canary-5f0c1d"
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    log = structlog.get_logger("avisa.test")
    log.debug("calling", authorization=f"Bearer {canary}", password=canary, api_key=canary)
    output = stream.getvalue()
    assert canary not in output
    assert json.loads(output)["password"] == REDACTED


def test_level_filters_debug() -> None:
    stream = io.StringIO()
    configure_logging("human", "info", stream=stream)
    structlog.get_logger("avisa.test").debug("hidden")
    structlog.get_logger("avisa.test").info("shown")
    assert "hidden" not in stream.getvalue()
    assert "shown" in stream.getvalue()
