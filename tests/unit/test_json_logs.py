"""EXPORTS_LOG_FORMAT=json through a real logger: one JSON object per line, with whatever `extra` a call gives.

Before python-json-logger, the formatter wrote only the extras on its own list (method, route, status,
duration_ms), so a new one was dropped, and a U+2028 in a message was written raw, ending the line for any
reader that splits lines as Python does.
"""

from __future__ import annotations

import io
import json
import logging
import uuid

from exports_app.logs import CLIENT_CAUSED, REPEAT_SECONDS, REQUEST_ID, JsonFormatter, RepeatedLines


def json_logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"exports_app.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    written = stream.getvalue()
    assert written.endswith("\n") and len(written.splitlines()) == written.count("\n"), "one line per record"
    return [json.loads(line) for line in written.splitlines()]


def test_an_extra_nobody_listed_is_its_own_key_and_the_fixed_fields_keep_their_names() -> None:
    logger, stream = json_logger()
    token = REQUEST_ID.set("a-request-id-1")
    try:
        logger.info("export %s ready", 7, extra={"rendition_count": 4, "level": "forged"})
    finally:
        REQUEST_ID.reset(token)
    [line] = lines(stream)
    assert list(line)[:5] == ["time", "level", "logger", "message", "request_id"]
    assert line["rendition_count"] == 4
    assert (line["level"], line["logger"], line["message"]) == ("info", logger.name, "export 7 ready")
    assert line["request_id"] == "a-request-id-1"
    assert str(line["time"]).endswith("+00:00")


def test_a_multi_line_message_and_its_exception_are_one_line() -> None:
    logger, stream = json_logger()
    message = "first\nsecond\r\nthird\u2028fourth\x85fifth"
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception(message)
    [line] = lines(stream)
    assert line["message"] == message and line["level"] == "error"
    assert "request_id" not in line  # none outside a request
    assert str(line["exception"]).startswith("Traceback") and "ValueError: bad\nvalue" in str(line["exception"])


def test_repeated_client_caused_lines_are_bounded_in_json_too() -> None:
    logger, stream = json_logger()
    now = [0.0]
    logger.addFilter(RepeatedLines(CLIENT_CAUSED, clock=lambda: now[0]))
    invalid = CLIENT_CAUSED[0]
    for _ in range(5):
        logger.warning(invalid)
    now[0] += REPEAT_SECONDS
    logger.warning(invalid)
    assert [line["message"] for line in lines(stream)] == [invalid, f"{invalid} (4 more since the last such line)"]
