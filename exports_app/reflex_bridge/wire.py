"""Reflex's names outside Python: its routes and upload headers, the tab token in the browser, the backend URLs
and host names its frontend knows, where a component's package is imported from, its web dir and its command line."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from reflex import constants
from reflex.utils import prerequisites
from reflex.utils.imports import ImportVar as ImportVar  # re-exported: a component's import

UPLOAD_PATH = str(constants.Endpoint.UPLOAD)  # where the page posts files for an upload handler
HEALTH_PATH = str(constants.Endpoint.HEALTH)
# The two headers of an upload (utils/helpers/upload.js): the tab's token and the handler the files are for.
CLIENT_TOKEN_HEADER = "reflex-client-token"
HANDLER_HEADER = "reflex-event-handler"
TAB_TOKEN_KEY = "token"  # the browser keeps the tab's token under this sessionStorage key (TOKEN_KEY, utils/state.js)
# A script that has the browser forget the tab's token: its next page load starts a fresh tab, holding nothing.
FORGET_TAB_TOKEN = f"window.sessionStorage.removeItem('{TAB_TOKEN_KEY}');"
# The host names Reflex's frontend takes for "the page's own host" (SAME_DOMAIN_HOSTNAMES in utils/state.js).
SAME_HOST_NAMES = ("localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0")


def backend_urls() -> dict[str, str]:
    """The backend URLs Reflex writes into the frontend's env.json, by endpoint name (EVENT, UPLOAD, …)."""
    return {endpoint.name: endpoint.get_url() for endpoint in constants.Endpoint}


def imported_from(import_var: ImportVar, subpath: str) -> ImportVar:
    """A component's import from a subpath of its package ("/react": `import X from "package/react"`)."""
    return dataclasses.replace(import_var, package_path=subpath)


def web_dir() -> Path:
    """The frontend work dir Reflex compiles into, builds in and serves the pages from (REFLEX_WEB_WORKDIR)."""
    return prerequisites.get_web_dir()


def run_reflex(args: Sequence[str]) -> None:
    """Reflex's own command line (`reflex <args>`) in this process."""
    from reflex.reflex import cli

    cli.main(args=list(args), prog_name="reflex")
