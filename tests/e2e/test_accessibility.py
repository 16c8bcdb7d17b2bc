"""axe-core (WCAG 2.1 A/AA) finds nothing on any page or modal state, and the list works from the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.axe import axe_violations
from tests.e2e.members import (
    MEMBER_PASSWORD,
    corrupt_export,
    fail_hd,
    project_with_export,
    queue_prep,
    queue_prep_hd_held,
)
from tests.support.app_process import RunningApp, sign_in
from tests.support.clips import make_clip

pytestmark = pytest.mark.e2e

TRANSCODE_TIMEOUT = 180_000
HD_CLIPS = (("hd_coming", "Wide clip, HD on its way"), ("hd_failed", "Wide clip without HD"))


@pytest.fixture(scope="module")
def world(app_server: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """ally: an export in each of the four states, two ready above 540p whose HD pass is on its way or failed, and a
    timeline project; nell: no exports at all; otto: a production and a space that are not ally's."""
    for name in ("ally", "nell", "otto"):
        app_server.cli("user", "create", name, "--password", MEMBER_PASSWORD)
    clips = tmp_path_factory.mktemp("a11y")
    clip = str(make_clip(clips / "a11y.mp4", seconds=1.0, width=320, height=180))
    wide = str(make_clip(clips / "wide.mp4", seconds=1.0, width=1280, height=720))
    ottos = app_server.cli("export", "import", "--user", "otto", clip, "--title", "Otto's clip")
    # The oldest exports, listed last: the keyboard walk to the not_ready row's cog passes none of them.
    made = {hd: app_server.cli("export", "import", "--user", "ally", wide, "--title", title) for hd, title in HD_CLIPS}
    made.update(
        {
            state: app_server.cli("export", "import", "--user", "ally", clip, "--title", f"Clip {state}")
            for state in ("not_ready", "ready", "in_progress")
        }
    )
    made["failed"] = corrupt_export(app_server, "ally", "Clip failed")
    made.update(
        {
            key: str(value)
            for key, value in project_with_export(
                app_server, "ally", "Ally's timeline", clip, "Clip from timeline"
            ).items()
        }
    )
    made["production"] = queue_prep(app_server, "ally", made["ready"])
    for hd, _ in HD_CLIPS:
        made[f"{hd}_production"] = queue_prep_hd_held(app_server, "ally", made[hd])
    fail_hd(app_server, made["hd_failed_production"])
    queue_prep(app_server, "ally", made["failed"])
    queue_prep(app_server, "ally", made["in_progress"], provider="mediaconvert")
    made["others_production"] = queue_prep(app_server, "otto", ottos, provider="mediaconvert")
    made["others_space"] = app_server.cli("space", "create", "--user", "otto", "Otto's space")
    return made


@pytest.fixture(scope="module")
def ally(browser: Browser, app_server: RunningApp, world: dict[str, str]) -> Iterator[Page]:
    """One signed-in tab of ally's for the module (signing in once per state would only add time)."""
    ctx = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, "ally", MEMBER_PASSWORD)
    yield page
    ctx.close()


def test_login_page(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/login")
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    assert axe_violations(page, "/login") == []


def test_exports_empty(context: BrowserContext, world: dict[str, str]) -> None:
    page = context.new_page()
    sign_in(page, "nell", MEMBER_PASSWORD)
    expect(page.get_by_test_id("exports-empty")).to_be_visible()
    assert axe_violations(page, "/exports (empty)") == []


def test_exports_full(ally: Page, world: dict[str, str]) -> None:
    ally.goto("/exports")
    expect(ally.get_by_test_id(f"export-row-{world['failed']}")).to_contain_text("Failed", timeout=TRANSCODE_TIMEOUT)
    expect(ally.get_by_test_id(f"export-row-{world['ready']}")).to_contain_text("Ready", timeout=TRANSCODE_TIMEOUT)
    assert axe_violations(ally, "/exports (full)") == []


@pytest.mark.parametrize(
    "state,status",
    [
        ("not_ready", "HLS: Not started"),
        ("in_progress", "HLS: In progress\u2026"),
        ("ready", "HLS: Ready"),
        ("failed", "HLS: Failed (Retry available)"),
    ],
)
def test_modal(ally: Page, world: dict[str, str], state: str, status: str) -> None:
    ally.goto("/exports")
    ally.get_by_test_id(f"export-cog-{world[state]}").click()
    expect(ally.get_by_test_id("hls-status")).to_have_text(status, timeout=TRANSCODE_TIMEOUT)
    assert axe_violations(ally, f"modal ({state})") == []


@pytest.mark.parametrize(
    "export,line",
    [
        ("hd_coming", "HD on its way · 0 %"),
        ("hd_failed", "HD versions could not be made: The transcode timed out. It plays up to 360p."),
    ],
)
def test_modal_with_the_hd_line(ally: Page, world: dict[str, str], export: str, line: str) -> None:
    """A ready export above 540p: the HD line under the status line passes axe, and the keyboard works as ever (Tab
    stays in the modal, Esc closes it and focus is back on the cog)."""
    ally.goto("/exports")
    expect(ally.get_by_test_id(f"export-row-{world[export]}")).to_contain_text("Ready", timeout=TRANSCODE_TIMEOUT)
    cog = ally.get_by_test_id(f"export-cog-{world[export]}")
    cog.click()
    expect(ally.get_by_test_id("hls-status")).to_have_text("HLS: Ready")
    expect(ally.get_by_test_id("hls-hd")).to_have_text(line)
    assert axe_violations(ally, f"modal (ready, {export})") == []
    ally.keyboard.press("Tab")
    assert ally.evaluate("() => !!document.activeElement?.closest('[role=dialog]')"), ally.evaluate(
        "() => 'focus outside the modal, on ' + document.activeElement?.outerHTML.slice(0, 200)"
    )
    ally.keyboard.press("Escape")
    expect(ally.get_by_test_id("export-modal")).to_have_count(0)
    expect(cog).to_be_focused()


@pytest.mark.parametrize(
    "export,production,title,renditions",
    [
        ("ready", "production", "Clip ready", "Renditions: 320×180 · 160×90"),
        (
            "hd_coming",
            "hd_coming_production",
            HD_CLIPS[0][1],
            "Renditions: 640×360 · 416×234 · 1280×720 and 960×540 on their way",
        ),
    ],
)
def test_publish_page(
    ally: Page, world: dict[str, str], export: str, production: str, title: str, renditions: str
) -> None:
    ally.goto("/exports")
    expect(ally.get_by_test_id(f"export-row-{world[export]}")).to_contain_text("Ready", timeout=TRANSCODE_TIMEOUT)
    ally.goto(f"/publish?production={world[production]}")
    expect(ally.get_by_test_id("publish-title")).to_contain_text(title)
    expect(ally.get_by_test_id("publish-renditions")).to_have_text(renditions)  # axe checks it
    assert axe_violations(ally, f"/publish ({export})") == []


@pytest.mark.parametrize(
    "path,testid,text",
    [
        ("/publish?production={others_production}", "publish-error", "Production not found."),
        ("/publish", "publish-error", "Production not found."),  # no id at all
        ("/space?space={others_space}", "space-error", "Space not found."),
        ("/timeline?project=x", "timeline-error", "Project not found."),
    ],
)
def test_error_states(ally: Page, world: dict[str, str], path: str, testid: str, text: str) -> None:
    """A production or space that is not the member's, a missing or malformed id: the refusal passes axe too."""
    ally.goto(path.format(**world))
    expect(ally.get_by_test_id(testid)).to_contain_text(text)
    assert axe_violations(ally, f"{path.split('?')[0]} ({testid})") == []


def test_failed_upload(ally: Page, tmp_path_factory: pytest.TempPathFactory) -> None:
    notes = tmp_path_factory.mktemp("a11y-upload") / "notes.mp4"
    notes.write_text("just some notes, renamed to .mp4\n")
    ally.goto("/exports")
    ally.get_by_test_id("upload-export").locator("input[type=file]").set_input_files(str(notes))
    expect(ally.get_by_test_id("upload-error")).to_contain_text("Not a supported video")
    assert axe_violations(ally, "/exports (failed upload)") == []


def test_timeline_page(ally: Page, world: dict[str, str]) -> None:
    ally.goto(f"/timeline?project={world['project']}")
    expect(ally.get_by_test_id("timeline-title")).to_have_text("Ally's timeline")
    assert axe_violations(ally, "/timeline") == []


def test_keyboard_only(ally: Page, world: dict[str, str]) -> None:
    """Tab to a cog, Enter opens the modal (focus inside), Esc closes it, and focus is back on that cog."""
    ally.goto("/exports")
    cog = f"export-cog-{world['not_ready']}"
    expect(ally.get_by_test_id(cog)).to_be_visible()
    focused = ""
    for _ in range(60):  # the header, the upload control, then the rows' cogs
        ally.keyboard.press("Tab")
        focused = ally.evaluate("() => document.activeElement?.dataset?.testid || ''")
        if focused == cog:
            break
    assert focused == cog, f"Tab never reached {cog}"
    ally.keyboard.press("Enter")
    expect(ally.get_by_test_id("hls-status")).to_have_text("HLS: Not started")
    assert ally.evaluate("() => !!document.activeElement?.closest('[role=dialog]')"), "focus stayed outside the modal"
    ally.keyboard.press("Escape")
    expect(ally.get_by_test_id("export-modal")).to_have_count(0)
    ally.wait_for_function("id => document.activeElement?.dataset?.testid === id", arg=cog)
