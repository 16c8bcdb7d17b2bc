"""The one place that touches Reflex's internals: a small typed surface, and the patches of patches.py.

The live push, the tab guard and the socket guard, the tab address book, the upload gate, the HLS player and the app
wiring need a few things Reflex 0.10 keeps to itself. Each is named once, in one module of this package:
- states.py: a tab's state tree and the shared states linked into it (writing one out of band, its links and
  unlinking, its token), Reflex's Redis client and how long it keeps a tab's state;
- events.py: the event being processed, the handler a client's event names, its hints and arguments as the handler
  gets them, the name a client sends for a handler, the frontend events a middleware answers with;
- sockets.py: the socket namespace's connection table, sending to a tab or to one socket and closing it, and the
  Redis records and listeners by which workers relay to each other's tabs;
- wire.py: Reflex's names outside Python (its upload route and headers, the health route, the script that has the
  browser forget a tab's token, its frontend's backend URLs and same-host names, a component's import path), its
  web dir and its command line;
- patches.py: every change the app makes to Reflex's own code, put in place by one call, patches.install().
`tests/unit/test_reflex_bridge.py` runs every name of this surface, and `tests/unit/test_reflex_patches.py` every
name of patches.py, against a real `rx.App` with its memory and Redis state managers, so a Reflex upgrade that
renames or reshapes one of them fails there, loudly, and nowhere else (tests/unit/test_test_layout.py keeps every
other module of the app off Reflex's internals).
"""

from exports_app.reflex_bridge.events import (
    Event,
    EventMiddleware,
    client_events,
    event_in_progress,
    event_name,
    handler_function,
    handler_hints,
    handler_payload,
    registered_handler,
    running_event,
)
from exports_app.reflex_bridge.patches import hydrated_by_its_one_load_event, keep_to_this_tab
from exports_app.reflex_bridge.sockets import close_socket, connected, emit, keep_relaying, restore_own_sockets
from exports_app.reflex_bridge.states import (
    BaseState,
    LiveApp,
    StateUpdate,
    linked_from,
    linked_tokens,
    redis_client,
    root_of,
    sent_delta,
    shared_state,
    state_expiry_seconds,
    substates_of,
    tab_token,
    unlink,
)
from exports_app.reflex_bridge.wire import (
    CLIENT_TOKEN_HEADER,
    FORGET_TAB_TOKEN,
    HANDLER_HEADER,
    HEALTH_PATH,
    SAME_HOST_NAMES,
    UPLOAD_PATH,
    ImportVar,
    backend_urls,
    imported_from,
    run_reflex,
    web_dir,
)

__all__ = [
    "CLIENT_TOKEN_HEADER",
    "FORGET_TAB_TOKEN",
    "HANDLER_HEADER",
    "HEALTH_PATH",
    "SAME_HOST_NAMES",
    "UPLOAD_PATH",
    "BaseState",
    "Event",
    "EventMiddleware",
    "ImportVar",
    "LiveApp",
    "StateUpdate",
    "backend_urls",
    "client_events",
    "close_socket",
    "connected",
    "emit",
    "event_in_progress",
    "event_name",
    "handler_function",
    "handler_hints",
    "handler_payload",
    "hydrated_by_its_one_load_event",
    "imported_from",
    "keep_relaying",
    "keep_to_this_tab",
    "linked_from",
    "linked_tokens",
    "redis_client",
    "registered_handler",
    "restore_own_sockets",
    "root_of",
    "run_reflex",
    "running_event",
    "sent_delta",
    "shared_state",
    "state_expiry_seconds",
    "substates_of",
    "tab_token",
    "unlink",
    "web_dir",
]
