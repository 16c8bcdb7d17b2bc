"""The app's log lines: plain text by default, or one JSON object per line (EXPORTS_LOG_FORMAT=json).

Each line written while a request is served carries that request's id, the one also returned to the client in
the X-Request-ID header (api/observe.py sets it), so an operator can find a member's failed call in the logs.

The server writes a fixed warning for each malformed request or odd upgrade a client sends; those lines are let
through once a minute per worker, with how many were held back (RepeatedLines), so no client can fill the log.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json as jsonlogger

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
APP_LOGGER = "exports_app"
SERVER_LOGGER = "uvicorn.error"
# uvicorn's fixed warnings that any client can cause, once per request: a request it cannot parse, an Upgrade
# other than a websocket's.
CLIENT_CAUSED = ("Invalid HTTP request received.", "Unsupported upgrade request.")
REPEAT_SECONDS = 60.0
_configured = False


class RepeatedLines(logging.Filter):
    """Lets each of some fixed messages through at most once per interval; the next one let through says how many
    were held back since ("Invalid HTTP request received. (41 more since the last such line)")."""

    def __init__(
        self, messages: Iterable[str], interval: float = REPEAT_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval, self.clock = interval, clock
        self._due = dict.fromkeys(messages, float("-inf"))  # when each may next be written
        self._held = dict.fromkeys(messages, 0)
        self._lock = threading.Lock()  # the server logs from its event loop, the app's threads may too

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str) or message not in self._due or record.args:
            return True
        with self._lock:
            now = self.clock()
            if now < self._due[message]:
                self._held[message] += 1
                return False
            held, self._held[message], self._due[message] = self._held[message], 0, now + self.interval
        if held:
            record.msg = f"{message} ({held} more since the last such line)"
        return True


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per record, all ASCII so that no character in it ends the line: time, level, logger,
    message, the request id, every `extra` the call gave (api/observe.py's method, route, status, duration_ms),
    and the exception if any.

    Extras are written as given, so client text goes through text.log_text before it reaches one, as before it
    reaches a message.
    """

    def __init__(self) -> None:
        super().__init__((), rename_fields={"exc_info": "exception"}, json_ensure_ascii=True)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        fixed = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.message,  # format() has just set it
        }
        if request_id := getattr(record, "request_id", "") or REQUEST_ID.get():
            fixed["request_id"] = request_id
        log_data.update(fixed)  # first in each line, in this order (one test looks for lines starting '{"time"')
        super().add_fields(log_data, record, message_dict)  # every extra, and the exception
        log_data.update(fixed)  # an extra of the same name does not replace them


def configure(log_format: str) -> None:
    """Route the app's loggers to stderr as log_format says ("json" or "text"), and bound the server's lines that
    clients cause (RepeatedLines); once per process.

    Text keeps the server's own set-up (warnings and up). JSON adds info lines (one per HTTP request, from
    api/observe.py) and stops them going up to the server's plain handlers, so each line is JSON.
    """
    global _configured
    if _configured:
        return
    _configured = True
    logging.getLogger(SERVER_LOGGER).addFilter(RepeatedLines(CLIENT_CAUSED))
    if log_format != "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    app_logger = logging.getLogger(APP_LOGGER)
    app_logger.handlers = [handler]
    app_logger.setLevel(logging.INFO)
    app_logger.propagate = False
