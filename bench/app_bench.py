"""Shared set-up of the browser benchmarks: the app as `make run` starts it, a member, Chromium."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.common import ROOT  # noqa: F401  (puts the repo on sys.path)
from tests.support.app_process import CHROMIUM, CHROMIUM_ARGS, RunningApp, sign_in, start_app

PASSWORD = "bench password 1"


@contextmanager
def running_app(extra_env: dict[str, str] | None = None, data_dir: Path | None = None) -> Iterator[RunningApp]:
    """The app on a free port with a fresh data dir (or data_dir) and extra_env; this process's services point at
    the same data."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="bench-app-"))
    app = start_app(data_dir, {"EXPORTS_DEMO_PASSWORD": PASSWORD, **(extra_env or {})})
    try:
        with app.in_this_process():
            yield app
    finally:
        app.stop()


@contextmanager
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in_page(chromium: Browser, app: RunningApp, username: str) -> Page:
    page = chromium.new_context(base_url=app.url, viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, username, PASSWORD)
    return page
