"""The plan's testing checklist in a browser, plus live push to a second tab, colors and isolation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.members import DEMO_PASSWORD, MEMBER_PASSWORD, queue_prep_hd_held, release_hd
from tests.e2e.screenshots import screenshot
from tests.support.app_process import RunningApp, csrf_of, sign_in
from tests.support.clips import make_clip

pytestmark = pytest.mark.e2e

BLUE = "rgb(37, 99, 235)"
DARK_GRAY = "rgb(75, 85, 99)"
BURGUNDY = "rgb(128, 0, 32)"
TRANSCODE_TIMEOUT = 180_000


def background(page: Page, test_id: str) -> str:
    color: str = page.get_by_test_id(test_id).evaluate("el => getComputedStyle(el).backgroundColor")
    return color


def open_modal(page: Page, upload_id: str) -> None:
    page.get_by_test_id(f"export-cog-{upload_id}").click()
    expect(page.get_by_test_id("export-modal")).to_be_visible()


def row_id(page: Page, title: str) -> str:
    """The upload id of the export row on the page that shows this title."""
    row = page.locator("[data-testid^='export-row-']").filter(has_text=title)
    return (row.get_attribute("data-testid") or "").rsplit("-", 1)[-1]


def demo_modal(context: BrowserContext, title: str) -> tuple[Page, str]:
    """A new tab signed in as demo with the modal of the demo export of this title open: (the tab, its upload id)."""
    page = context.new_page()
    sign_in(page, "demo", DEMO_PASSWORD)
    upload_id = row_id(page, title)
    open_modal(page, upload_id)
    return page, upload_id


@pytest.fixture(scope="module")
def member(app_server: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A member with a good export (from a project) and a corrupt one."""
    app_server.cli("user", "create", "gina", "--password", MEMBER_PASSWORD)
    clip = make_clip(tmp_path_factory.mktemp("clips") / "good.mp4", seconds=3.0, width=640, height=360)
    good = app_server.cli("export", "import", "--user", "gina", str(clip), "--title", "Good export")
    space = app_server.cli("space", "create", "--user", "gina", "Gina's channel")
    return {"good": good, "space": space}


def test_create_export_from_the_page(context: BrowserContext, member: dict[str, str], tmp_path: Path) -> None:
    page = context.new_page()
    sign_in(page, "gina", MEMBER_PASSWORD)
    clip = make_clip(tmp_path / "uploaded.mp4", seconds=1.0)
    page.get_by_test_id("upload-export").locator("input[type=file]").set_input_files(str(clip))
    expect(page.locator("[data-testid^='export-row-']").filter(has_text="uploaded")).to_have_count(1, timeout=30_000)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    page.get_by_test_id("upload-export").locator("input[type=file]").set_input_files(str(text))
    expect(page.get_by_test_id("upload-error")).to_contain_text("Not a supported video")
    screenshot(page, "02-created-export")


def test_checklist_prep_ready_publish(context: BrowserContext, member: dict[str, str]) -> None:
    page = context.new_page()
    sign_in(page, "gina", MEMBER_PASSWORD)
    second_tab = context.new_page()
    second_tab.goto("/exports")
    expect(second_tab.get_by_test_id(f"export-row-{member['good']}")).to_be_visible()

    open_modal(page, member["good"])
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Not started")
    expect(page.get_by_test_id("btn-prep")).to_have_text("Prep for Publish (HLS)")
    expect(page.get_by_test_id("btn-prep")).to_be_enabled()
    expect(page.get_by_test_id("btn-publish")).to_be_disabled()
    assert background(page, "btn-prep") == BLUE
    assert background(page, "btn-publish") == DARK_GRAY
    assert background(page, "btn-delete") == BURGUNDY
    screenshot(page, "03-modal-not-started")

    page.get_by_test_id("btn-prep").click()
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: In progress\u2026")
    expect(page.get_by_test_id("btn-prep")).to_be_disabled()
    assert background(page, "btn-prep") == DARK_GRAY
    screenshot(page, "04-modal-in-progress")

    # The second tab, never reloaded, learns of Ready by push.
    open_modal(second_tab, member["good"])
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Ready", timeout=TRANSCODE_TIMEOUT)
    expect(second_tab.get_by_test_id("hls-status")).to_have_text("HLS: Ready", timeout=30_000)
    expect(second_tab.get_by_test_id(f"export-row-{member['good']}")).to_contain_text("Ready")
    expect(page.get_by_test_id("btn-prep")).to_be_disabled()
    expect(page.get_by_test_id("btn-publish")).to_be_enabled()
    assert background(page, "btn-publish") == BLUE
    assert background(page, "btn-prep") == DARK_GRAY
    expect(page.get_by_test_id("hls-preview")).to_be_visible()
    screenshot(page, "05-modal-ready")

    page.get_by_test_id("btn-publish").click()
    page.wait_for_url(re.compile(r"/publish/?\?production=\d+"), timeout=30_000)
    expect(page.get_by_test_id("publish-title")).to_contain_text("Good export")
    expect(page.get_by_test_id("publish-renditions")).to_have_text("Renditions: 640×360 · 416×234")  # 360p + cellular
    publish_url = page.url
    member["production"] = publish_url.rsplit("=", 1)[-1]
    page.get_by_test_id(f"space-{member['space']}").click()
    page.get_by_test_id("btn-publish-confirm").click()
    expect(page.get_by_test_id("publish-message")).to_have_text("Published to 1 space.")
    screenshot(page, "06-publish")
    page.goto(publish_url)
    expect(page.get_by_test_id(f"space-{member['space']}")).to_be_disabled()  # published once, not twice
    expect(page.get_by_test_id("btn-publish-confirm")).to_be_disabled()


def test_hd_comes_after_ready(context: BrowserContext, app_server: RunningApp, tmp_path: Path) -> None:
    """A source above 540p is ready with its fast pass: under HLS: Ready the modal says HD is on its way, and /publish
    names the sizes still to come. When the HD pass lands, the push takes the line away and /publish lists them."""
    app_server.cli("user", "create", "hedy", "--password", MEMBER_PASSWORD)
    clip = make_clip(tmp_path / "wide.mp4", seconds=2.0, width=1280, height=720)
    upload = app_server.cli("export", "import", "--user", "hedy", str(clip), "--title", "Wide export")
    production = queue_prep_hd_held(app_server, "hedy", upload)  # the fast pass runs; the HD pass waits for us
    page = context.new_page()
    sign_in(page, "hedy", MEMBER_PASSWORD)
    open_modal(page, upload)
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Ready", timeout=TRANSCODE_TIMEOUT)
    expect(page.get_by_test_id("hls-hd")).to_have_text("HD on its way · 0 %")
    expect(page.get_by_test_id("btn-publish")).to_be_enabled()
    screenshot(page, "17-modal-hd-on-its-way")
    publish = context.new_page()
    publish.goto(f"/publish?production={production}")
    renditions = publish.get_by_test_id("publish-renditions")
    expect(renditions).to_have_text("Renditions: 640×360 · 416×234 · 1280×720 and 960×540 on their way")

    # Every text the HD line shows from now on, as the push brings the HD pass's percent and then its end.
    page.get_by_test_id("export-modal").evaluate(
        """el => { window.__hd = [];
                   new MutationObserver(() => window.__hd.push(
                       document.querySelector('[data-testid="hls-hd"]')?.textContent ?? ''))
                     .observe(el, {childList: true, characterData: true, subtree: true}); }"""
    )
    release_hd(app_server, production)
    expect(page.get_by_test_id("hls-hd")).to_have_count(0, timeout=TRANSCODE_TIMEOUT)  # pushed: no reload
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Ready")
    assert page.request.get(f"/api/exports/{upload}/hls-status").json()["hdState"] == "ready"
    seen: list[str] = page.evaluate("() => window.__hd")
    assert all(re.fullmatch(r"HD on its way · \d{1,3} %|", text) for text in seen), seen
    publish.reload()
    expect(renditions).to_have_text("Renditions: 1280×720 · 960×540 · 640×360 · 416×234")


def test_publish_refuses_unready_and_foreign_productions(context: BrowserContext, member: dict[str, str]) -> None:
    page = context.new_page()
    sign_in(page, "demo", DEMO_PASSWORD)
    page.goto("/publish?production=987654")
    expect(page.get_by_test_id("publish-error")).to_have_text("Production not found.")
    page.goto("/publish?production=abc")
    expect(page.get_by_test_id("publish-error")).to_have_text("Production not found.")


def test_corrupt_export_fails_and_retry_goes_back_in_progress(context: BrowserContext, app_server: RunningApp) -> None:
    page, upload_id = demo_modal(context, "Broken render")
    page.get_by_test_id("btn-prep").click()
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Failed (Retry available)", timeout=TRANSCODE_TIMEOUT)
    expect(page.get_by_test_id("hls-detail")).not_to_be_empty()
    expect(page.get_by_test_id("btn-prep")).to_have_text("Retry Prep (HLS)")
    expect(page.get_by_test_id("btn-prep")).to_be_enabled()
    assert background(page, "btn-prep") == BLUE
    screenshot(page, "07-modal-failed")
    # A corrupt file fails again within milliseconds, so record every text the status line shows.
    page.get_by_test_id("hls-status").evaluate(
        """el => { window.__seen = [];
                   new MutationObserver(() => window.__seen.push(el.textContent))
                     .observe(el, {childList: true, characterData: true, subtree: true}); }"""
    )
    page.get_by_test_id("btn-prep").click()
    page.wait_for_function("() => window.__seen.includes('HLS: In progress\u2026')", timeout=30_000)
    screenshot(page, "08-modal-after-retry")
    expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Failed (Retry available)", timeout=TRANSCODE_TIMEOUT)
    production = page.request.get(f"/api/exports/{upload_id}/hls-status").json()["productionId"]
    page.goto(f"/publish?production={production}")
    expect(page.get_by_test_id("publish-error")).to_have_text("This production is not ready to publish yet.")


def test_open_timeline_and_delete(context: BrowserContext) -> None:
    page, _ = demo_modal(context, "Launch trailer")
    page.get_by_test_id("btn-open-timeline").click()
    page.wait_for_url(re.compile(r"/timeline/?\?project=\d+"), timeout=30_000)
    expect(page.get_by_test_id("timeline-title")).to_have_text("Launch trailer")
    screenshot(page, "09-timeline")

    page.goto("/exports")
    other_tab = context.new_page()
    other_tab.goto("/exports")
    teaser_id = row_id(page, "Teaser")
    expect(other_tab.get_by_test_id(f"export-row-{teaser_id}")).to_be_visible()
    open_modal(page, teaser_id)
    page.get_by_test_id("btn-delete").click()
    expect(page.get_by_test_id("delete-confirm")).to_be_visible()
    screenshot(page, "10-delete-confirm")
    page.get_by_test_id("btn-confirm-delete").click()
    expect(page.get_by_test_id(f"export-row-{teaser_id}")).to_have_count(0)
    expect(other_tab.get_by_test_id(f"export-row-{teaser_id}")).to_have_count(0, timeout=30_000)


def test_another_member_cannot_see_or_act(
    context: BrowserContext, member: dict[str, str], app_server: RunningApp
) -> None:
    app_server.cli("user", "create", "hank", "--password", MEMBER_PASSWORD)
    page = context.new_page()
    sign_in(page, "hank", MEMBER_PASSWORD)
    expect(page.get_by_test_id(f"export-row-{member['good']}")).to_have_count(0)
    # Hank's own session cannot read or prep Gina's export through the API either.
    csrf = csrf_of(context)
    status = page.request.get(f"/api/exports/{member['good']}/hls-status")
    assert status.status == 404
    prep = page.request.post(f"/api/exports/{member['good']}/prep-hls", headers={"X-CSRF-Token": csrf})
    assert prep.status == 404
    media = page.request.get(f"/media/hls/{member['production']}/master.m3u8")
    assert media.status == 404
    page.goto(f"/publish?production={member['production']}")
    expect(page.get_by_test_id("publish-error")).to_have_text("Production not found.")
