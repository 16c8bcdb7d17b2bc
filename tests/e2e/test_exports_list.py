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


LONG_TITLE = (
    "Quarterly all-hands recording with the full product roadmap walkthrough, customer stories from three regions "
    "and the questions and answers session that ran well past the hour"
)


def test_a_long_title_stays_inside_its_card_on_a_phone(
    context: BrowserContext, app_server: RunningApp, tmp_path: Path
) -> None:
    """At 375 px each export is a card; a title of many lines is cut to three, with the whole of it kept as its
    text (the accessible name) and its hover title, and the card holds what it shows."""
    app_server.cli("user", "create", "erin", "--password", MEMBER_PASSWORD)
    clip = make_clip(tmp_path / "e.mp4", seconds=1.0)
    upload = app_server.cli("export", "import", "--user", "erin", str(clip), "--title", LONG_TITLE)
    page = context.new_page()
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "erin", MEMBER_PASSWORD)
    card = page.get_by_test_id(f"export-row-{upload}")
    title = card.locator(".export-title")
    expect(title).to_have_text(LONG_TITLE)
    expect(title).to_have_attribute("title", LONG_TITLE)
    card_box, title_box, cell_box = card.bounding_box(), title.bounding_box(), card.locator(".col-title").bounding_box()
    assert card_box and title_box and cell_box
    for inner in (title_box, cell_box):
        assert card_box["x"] <= inner["x"] and inner["x"] + inner["width"] <= card_box["x"] + card_box["width"]
        assert card_box["y"] <= inner["y"] and inner["y"] + inner["height"] <= card_box["y"] + card_box["height"], (
            f"{inner} inside the card {card_box}"
        )
    lines = page.evaluate(
        "(el) => Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight))",
        title.element_handle(),
    )
    assert lines == 3, "cut to three lines"
    screenshot(page, "02-exports-list-phone-long-title")
