"""The server's client-caused warnings through a real logger: one line per minute, and then how many were held.

The clock is a plain number the test moves, so "a minute later" needs no waiting.
"""

from __future__ import annotations

import logging
import uuid

from exports_app.logs import CLIENT_CAUSED, REPEAT_SECONDS, RepeatedLines


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_flood_of_malformed_requests_writes_one_line_a_minute_with_the_count() -> None:
    now = [1000.0]
    logger = logging.getLogger(f"test.repeated.{uuid.uuid4().hex}")
    logger.propagate = False
    written = Lines()
    logger.addHandler(written)
    logger.addFilter(RepeatedLines(CLIENT_CAUSED, clock=lambda: now[0]))
    invalid, upgrade = CLIENT_CAUSED

    for _ in range(1000):
        logger.warning(invalid)
    logger.warning(upgrade)
    logger.warning("Something else: %s", "kept")
    assert written.lines == [invalid, upgrade, "Something else: kept"]

    now[0] += REPEAT_SECONDS - 1
    logger.warning(invalid)
    assert len(written.lines) == 3, "still inside the minute"

    now[0] += 1
    logger.warning(invalid)
    logger.warning(invalid)
    assert written.lines[3:] == [f"{invalid} (1000 more since the last such line)"]

    now[0] += REPEAT_SECONDS
    logger.warning(invalid)
    assert written.lines[4:] == [f"{invalid} (1 more since the last such line)"]
