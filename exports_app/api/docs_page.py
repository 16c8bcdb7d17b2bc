"""The API's Swagger UI page (only with EXPORTS_API_DOCS=1), with no inline script, so its policy needs no hash.

FastAPI's page starts Swagger UI with an inline script. The guard names inline scripts by the hashes the frontend
build recorded (frontend_bundle.py) and never reads an answer's body, so this page serves the same script as a
file of the origin's own, which `script-src 'self'` lets run.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"
DOCS_SCRIPT_PATH = "/api/docs.js"


def swagger_page() -> tuple[str, str]:
    """(page, start script): FastAPI's own page, its inline start script moved to DOCS_SCRIPT_PATH."""
    # The favicon from this origin's data: the policy's img-src has no other host.
    page = get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="exports_app API", swagger_favicon_url="data:,")
    head, _, rest = bytes(page.body).decode().partition("<script>")
    script, _, tail = rest.partition("</script>")
    return f'{head}<script src="{DOCS_SCRIPT_PATH}"></script>{tail}', script


def add_docs_page(api: FastAPI) -> None:
    """Serve the page at DOCS_PATH and its start script at DOCS_SCRIPT_PATH (made once, here)."""
    page, script = swagger_page()

    @api.get(DOCS_PATH, include_in_schema=False)
    async def _docs() -> HTMLResponse:
        return HTMLResponse(page)

    @api.get(DOCS_SCRIPT_PATH, include_in_schema=False)
    async def _docs_script() -> Response:
        return Response(script, media_type="text/javascript")
