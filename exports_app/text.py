"""Short human lines for members: one truncator and one scrubber of server paths and URLs."""

from __future__ import annotations

import re

# An absolute path or a URL (file:, s3://, https://…): server internals a member must never see.
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
