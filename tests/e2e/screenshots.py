"""Screenshots of the pages at the steps a person reviewing a run wants to see, kept in test-artifacts/."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.paths import ARTIFACTS


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
