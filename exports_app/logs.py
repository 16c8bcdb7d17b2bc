"""The app's log lines: plain text by default, or one JSON object per line (EXPORTS_LOG_FORMAT=json).

Each line written while a request is served carries that request's id, the one also returned to the client in
the X-Request-ID header (api/observe.py sets it), so an operator can find a member's failed call in the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
APP_LOGGER = "exports_app"
_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "") or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        for name in ("method", "route", "status", "duration_ms"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str) -> None:
    """Route the app's loggers to stderr as log_format says ("json" or "text"); once per process.

    Text keeps the server's own set-up (warnings and up). JSON adds info lines (one per HTTP request, from
    api/observe.py) and stops them going up to the server's plain handlers, so each line is JSON.
    """
    global _configured
    if _configured or log_format != "json":
        return
    _configured = True
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    app_logger = logging.getLogger(APP_LOGGER)
    app_logger.handlers = [handler]
    app_logger.setLevel(logging.INFO)
    app_logger.propagate = False
