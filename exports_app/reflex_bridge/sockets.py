"""The event socket's namespace: whether a tab has a socket, sending to a tab or to one socket and closing it, and the
Redis records and listeners by which workers relay to each other's tabs."""

from __future__ import annotations

from reflex import constants
from reflex.state import StateUpdate
from reflex.utils.token_manager import RedisTokenManager

from exports_app.reflex_bridge.states import LiveApp


async def connected(app: LiveApp, tab: str) -> bool:
    """Whether a tab has a socket on any worker."""
    namespace = app.event_namespace
    return namespace is not None and await namespace._token_manager.is_token_connected(tab)


async def emit(app: LiveApp, update: StateUpdate, tab: str) -> None:
    """Send an update to a tab (relayed by Reflex to the worker holding its socket)."""
    if app.event_namespace is not None:
        await app.event_namespace.emit_update(update, tab)


async def close_socket(app: LiveApp, sid: str, update: StateUpdate) -> None:
    """Send `update` to the socket `sid` (not to its tab token, which a newer socket may hold now), then end it:
    the namespace first (the page's socket.io client does not reconnect after the server's disconnect; Reflex then
    cleans up as for any disconnect), then its connection, so a client that ignores the disconnect holds nothing."""
    namespace = app.event_namespace
    if namespace is None:
        return
    server = namespace.server
    connection = server.manager.eio_sid_from_sid(sid, namespace.namespace)
    if connection is None:  # already gone
        return
    await namespace.emit(str(constants.SocketEvent.EVENT), update, to=sid)
    await namespace.disconnect(sid)
    await server.eio.disconnect(connection)


async def restore_own_sockets(app: LiveApp) -> list[str]:
    """Write back into Redis the socket records of the tabs whose websockets this worker holds, where Redis has
    none (it restarted empty), so other workers can relay to them again; returns those tabs. Reflex itself only
    restores a record on a deletion it is notified of, and a restart sends none."""
    namespace = app.event_namespace
    manager = namespace._token_manager if namespace is not None else None
    if not isinstance(manager, RedisTokenManager):
        return []
    own = [
        (tab, record)
        for tab, record in list(manager.token_to_socket.items())
        if record.instance_id == manager.instance_id
    ]
    for tab, record in own:
        await manager._store_socket_record(tab, record, nx=True)
    return [tab for tab, _ in own]


def keep_relaying(app: LiveApp) -> None:
    """Start Reflex's two Redis listeners of this worker again if they stopped (a no-op while they run).

    They relay to this worker's tabs what other workers send them, and keep its cache of which worker holds which
    tab. Reflex gives a listener up after five failures within a minute, which is Redis away for five seconds, and
    starts it again only when a new websocket connects: the tabs already open would never again get a push that
    another worker makes."""
    namespace = app.event_namespace
    manager = namespace._token_manager if namespace is not None else None
    if namespace is None or not isinstance(manager, RedisTokenManager):
        return
    manager.ensure_lost_and_found_task(namespace.emit_update)
    manager._ensure_socket_record_task()
