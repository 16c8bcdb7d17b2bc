"""Which origins may drive the app with a member's cookie: its own (the request's Host) and the configured ones."""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_parts(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an Origin header, or None when it is not a plain scheme://host[:port]."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(origin: str, host: str) -> bool:
    """True when origin names the host (and port) this request was sent to.

    A Host without a port matches an origin on its scheme's default port, so the check holds behind a
    proxy that terminates TLS and passes the public Host on.
    """
    found = _origin_parts(origin)
    if found is None or not host:
        return False
    scheme, origin_host, origin_port = found
    try:
        target = urlsplit(f"//{host.strip()}")
        host_port = target.port
    except ValueError:
        return False
    if not target.hostname or target.hostname.lower() != origin_host:
        return False
    if host_port is None:
        return origin_port == _DEFAULT_PORTS[scheme]
    return origin_port == host_port


def origin_allowed(origin: str | None, host: str, allowed: list[str]) -> bool:
    """No Origin (not a browser's cross-site request), the app's own origin, or one of the allowed ones."""
    if origin is None:
        return True
    if same_origin(origin, host):
        return True
    found = _origin_parts(origin)
    if found is None:
        return False
    scheme, name, port = found
    return any(_origin_parts(extra) == (scheme, name, port) for extra in allowed)
