"""Short human lines: for members (one truncator, one scrubber of server paths and URLs) and for the server log.

`log_text` is the one way client-controlled text (a username, a file name, a path, a browser's error report)
enters a log line: one line, no control characters, bounded, so no client can forge or flood log lines.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

# An absolute path or a URL (file:, https://, a bucket URL…): server internals a member must never see.
_PATHS = re.compile(r"(?:\b[A-Za-z][A-Za-z0-9+.-]*:(?://)?|(?<![\w.])/)[^\s'\"]*/[^\s'\"]*|(?<![\w.])/[^\s'\"]+")


def redact_paths(text: str) -> str:
    """text with every path or URL replaced by "the file"."""
    return _PATHS.sub("the file", text)


def one_line(text: str | None, limit: int = 200) -> str | None:
    """One line of at most limit characters without paths (… when cut), or None for an empty text."""
    if not text:
        return None
    line = " ".join(redact_paths(text).split())
    if not line:
        return None
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


LOG_TEXT_LIMIT = 500


def log_text(value: object, limit: int = LOG_TEXT_LIMIT) -> str:
    """value as one printable line of at most limit characters (… when cut): newlines, tabs, escape sequences
    and other control or format characters (e.g. U+2028, U+202E) become spaces."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    line = "".join(ch if ch.isprintable() else " " for ch in text[:limit])  # bounded work, whatever the size
    return line[: limit - 1] + "…" if cut else line


def log_error(exc: BaseException) -> str:
    """One log line for an exception: its type, its message (as log_text) and where it was raised.

    No multi-line traceback: the message may carry client input, and the place names the code to look at.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {log_text(exc)}{where}"
