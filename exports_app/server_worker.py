"""The gunicorn worker that serves the app (scripts/serve.sh names it): Reflex's uvicorn h11 worker, whose
proxy-header step is api/proxy_trust.py's, so the app knows which requests came through a trusted proxy."""

from __future__ import annotations

from typing import Any

from uvicorn.workers import UvicornH11Worker

from exports_app.api.proxy_trust import ProxyTrust


class Worker(UvicornH11Worker):
    """UvicornH11Worker with uvicorn's proxy headers off and ProxyTrust, the same step with the same setting
    (gunicorn's FORWARDED_ALLOW_IPS), outermost in their place."""

    CONFIG_KWARGS: dict[str, Any] = {**UvicornH11Worker.CONFIG_KWARGS, "proxy_headers": False}
    wsgi: Any  # the app gunicorn loaded (an ASGI app here, whatever the name says)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = ProxyTrust(self.wsgi, self.cfg.forwarded_allow_ips)
