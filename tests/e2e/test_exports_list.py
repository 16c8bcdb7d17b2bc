"""Signed-in members see exactly their own exports on /exports; signed-out visits go to /login."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.members import MEMBER_PASSWORD
from tests.e2e.screenshots import screenshot
from tests.support.app_process import RunningApp, sign_in
from tests.support.clips import make_clip

pytestmark = pytest.mark.e2e


def test_signed_out_visit_goes_to_login(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/exports")
    page.wait_for_url("**/login**", timeout=30_000)
    expect(page.get_by_test_id("login-submit")).to_be_visible()


def test_wrong_password_shows_an_error(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/login")
    page.get_by_test_id("login-username").fill("demo")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")


def test_member_sees_exactly_their_rows(context: BrowserContext, app_server: RunningApp, tmp_path: Path) -> None:
    app_server.cli("user", "create", "carol", "--password", MEMBER_PASSWORD)
    app_server.cli("user", "create", "dave", "--password", MEMBER_PASSWORD)
    clip = make_clip(tmp_path / "c.mp4", seconds=1.0)
    carols = [
        app_server.cli("export", "import", "--user", "carol", str(clip), "--title", f"Carol {i}") for i in range(2)
    ]
    daves = app_server.cli("export", "import", "--user", "dave", str(clip), "--title", "Dave only")

    page = context.new_page()
    sign_in(page, "carol", MEMBER_PASSWORD)
    rows = page.locator("[data-testid^='export-row-']")
    expect(rows).to_have_count(2)
    ids = [row.get_attribute("data-testid") for row in rows.all()]
    assert ids == [f"export-row-{carols[1]}", f"export-row-{carols[0]}"]  # newest first
    expect(page.get_by_test_id(f"export-row-{daves}")).to_have_count(0)
    expect(page.get_by_test_id(f"export-row-{carols[0]}")).to_contain_text(re.compile("Not started"))
    screenshot(page, "01-exports-list")
