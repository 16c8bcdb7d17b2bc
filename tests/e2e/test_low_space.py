"""Less free space than EXPORTS_MIN_FREE_BYTES does not keep the app from starting. With its data dir on a 160 MB
volume and the default minimum of 1 GiB, the app as `make run` starts it (the demo seed included) starts, skipping
the seed with one warning line; a member signs in, sees the list and a Ready export's status and HLS, publishes it,
and is refused a new prep and a new upload with the words of a full disk; /readyz says why, the log says it once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from exports_app import cli, config
from exports_app.db import session_scope
from exports_app.services import auth, exports, productions, publish
from exports_app.storage_faults import STORAGE_FULL_MESSAGE
from tests.support.app_process import RunningApp, sign_in, start_app
from tests.support.clips import make_clip
from tests.support.environment import environ
from tests.support.http import app_client
from tests.support.tmpfs import small_tmpfs

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
MINIMUM = 1024**3  # EXPORTS_MIN_FREE_BYTES' default, set here so the test does not hang on the default's value
TRANSCODE_TIMEOUT = 180_000
TOKEN = "an operator's metrics token, long enough"  # /readyz says why to its bearer only


@pytest.fixture(scope="module")
def short_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with small_tmpfs(tmp_path_factory.mktemp("short") / "data", "160m") as data_dir:
        app = start_app(
            data_dir,
            {"EXPORTS_MIN_FREE_BYTES": str(MINIMUM), "EXPORTS_REFRESH_SECONDS": "1", "EXPORTS_METRICS_TOKEN": TOKEN},
        )
        try:
            yield app
        finally:
            app.stop()


def stored_before_the_disk_ran_low(app: RunningApp, clip: Path) -> dict[str, str]:
    """A member with a space and two exports, one of them prepped, as they were before the disk ran low: written in
    this process with the minimum lifted for it alone (the app keeps its own). Their ids, and the space's."""
    ids = {}
    with app.in_this_process(), environ({"EXPORTS_MIN_FREE_BYTES": "0"}):
        config.get_settings.cache_clear()
        assert cli.main(["user", "create", "ida", "--password", PASSWORD]) == 0
        with session_scope() as session:
            member = auth.find_member(session=session, username="ida")
            assert member is not None
            ids["space"] = str(publish.create_space(session=session, member=member, name="Site").id)
            for title in ("Prepped before", "Refused a prep"):
                upload = exports.import_export(session=session, member=member, source=clip, title=title)
                ids[title] = str(upload.id)
            productions.prep_hls(session=session, member=member, upload_id=ids["Prepped before"], provider="local")
        config.get_settings.cache_clear()
    return ids


def open_modal(page: Page, upload_id: str) -> None:
    page.get_by_test_id(f"export-cog-{upload_id}").click()
    expect(page.get_by_test_id("export-modal")).to_be_visible()


def test_the_app_starts_and_serves_with_less_room_than_the_minimum(
    short_app: RunningApp, browser: Browser, tmp_path: Path
) -> None:
    app = short_app
    said = app.log.read_text().splitlines()
    assert [line for line in said if "seed" in line] == [
        next(line for line in said if line.startswith("warning: demo seed skipped: "))
    ], "the seed skipped, in one line"
    assert "below EXPORTS_MIN_FREE_BYTES" in next(line for line in said if "seed" in line)
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=180)
    ids = stored_before_the_disk_ran_low(app, clip)

    ready = httpx.get(app.url + "/readyz", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert ready.status_code == 503 and "below EXPORTS_MIN_FREE_BYTES" in ready.json()["checks"]["data_dir"]["detail"]

    ctx = browser.new_context(base_url=app.url, viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        sign_in(page, "ida", PASSWORD)
        for upload_id in ids.values():
            expect(page.get_by_test_id(f"export-row-{upload_id}")).to_be_visible()
        open_modal(page, ids["Prepped before"])  # the job queued before: it runs, room or not
        expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Ready", timeout=TRANSCODE_TIMEOUT)
        expect(page.get_by_test_id("hls-preview")).to_be_visible()
        page.get_by_test_id("btn-publish").click()
        page.wait_for_url("**/publish*", timeout=30_000)
        page.get_by_test_id(f"space-{ids['space']}").click()
        page.get_by_test_id("btn-publish-confirm").click()
        expect(page.get_by_test_id("publish-message")).to_have_text("Published to 1 space.")

        page.goto("/exports")
        open_modal(page, ids["Refused a prep"])
        page.get_by_test_id("btn-prep").click()
        expect(page.get_by_test_id("modal-message")).to_have_text(STORAGE_FULL_MESSAGE)
        expect(page.get_by_test_id("hls-status")).to_have_text("HLS: Not started")
        page.keyboard.press("Escape")
        page.get_by_test_id("upload-export").locator("input[type=file]").set_input_files(str(clip))
        expect(page.get_by_test_id("upload-error")).to_have_text(STORAGE_FULL_MESSAGE, timeout=30_000)
    finally:
        ctx.close()

    client = app_client(base_url=app.url, timeout=30)
    assert client.post("/api/auth/login", json={"username": "ida", "password": PASSWORD}).status_code == 200
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    refused = client.post(f"/api/exports/{ids['Refused a prep']}/prep-hls")
    assert refused.status_code == 503 and refused.json() == {"error": STORAGE_FULL_MESSAGE}
    master = client.get(client.get(f"/api/exports/{ids['Prepped before']}/hls-status").json()["hlsUrl"])
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    told = [line for line in app.log.read_text().splitlines() if "new uploads and preps refused" in line]
    assert len(told) == 1, told  # refused three times, said once
