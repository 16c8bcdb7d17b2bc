"""The app's exception handlers: browser error reports and event-handler errors, each one bounded log line.

Wired into rx.App in exports_app.py (frontend_exception_handler, backend_exception_handler).

- A browser's report (`handle_frontend_exception`) is client text: it is logged only for a signed-in tab (the
  session cookie of the websocket handshake), as one line of at most 500 characters without control characters
  (text.log_text), and at most REPORTS_PER_MEMBER in a burst per member and REPORTS_IN_TOTAL for everyone
  (token buckets that refill over REFILL_SECONDS). Anything else is dropped without a trace.
- An event handler's unexpected error is logged as one line (type, message, place; no multi-line traceback)
  and the member sees a toast saying what to do, instead of Reflex's "An error occurred". A ServiceError's
  message is written for members, so it is shown as is.
"""

from __future__ import annotations

import logging

import reflex as rx
from reflex.event import EventSpec

from exports_app import reflex_bridge
from exports_app.services.errors import ServiceError
from exports_app.state.auth import member_for_cookie
from exports_app.text import log_error, log_text, one_line
from exports_app.token_buckets import TokenBuckets

log = logging.getLogger(__name__)

REPORTS_PER_MEMBER = 5
REPORTS_IN_TOTAL = 30
REFILL_SECONDS = 60.0
UNEXPECTED = "That did not work. Reload the page and try again; if it keeps happening, tell the site's admin."


_per_member = TokenBuckets(REPORTS_PER_MEMBER, REFILL_SECONDS)
_in_total = TokenBuckets(REPORTS_IN_TOTAL, REFILL_SECONDS)


def _reporter() -> tuple[int, str] | None:
    """(member id, tab token) of the tab whose event is running, if that tab is signed in."""
    running = reflex_bridge.running_event()
    if running is None:  # not from an event (e.g. the socket's client_error channel): no tab to vouch for it
        return None
    tab, cookie = running
    member = member_for_cookie(cookie)
    return (member.id, tab) if member is not None else None


def on_frontend_exception(exception: Exception) -> None:
    """Log a browser's error report: signed-in tabs only, one bounded line, rate-limited."""
    reporter = _reporter()
    if reporter is None:
        return
    member_id, tab = reporter
    if not (_per_member.take(member_id) and _in_total.take(None)):
        return
    log.warning("browser error in tab %s of member %s: %s", log_text(tab, 36), member_id, log_text(exception))


def on_backend_exception(exception: Exception) -> EventSpec:
    """Log an event handler's error as one line and tell the member something useful."""
    if isinstance(exception, ServiceError):
        log.warning("event refused: %s", log_error(exception))
        message = one_line(exception.message) or UNEXPECTED
    else:
        log.error("event failed: %s", log_error(exception))
        message = UNEXPECTED
    shown: EventSpec = rx.toast.error(message, fallback_to_alert=True, position="top-center")
    return shown
