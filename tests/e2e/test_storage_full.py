"""A full disk against the app as `make run` starts it: the upload folder and the HLS folder on small tmpfs mounts
of their own, filled to the brim. The member is told "out of storage space" (not blamed for the video), the upload's
progress ends with nothing staged, the prep fails with Retry, and once room is back both work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from exports_app.storage_faults import STORAGE_FULL_MESSAGE
from tests.e2e.axe import axe_violations
from tests.support.app_process import RunningApp, start_app
from tests.support.clips import make_clip
from tests.support.tmpfs import fill, small_tmpfs

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
TRANSCODE_TIMEOUT = 180_000


@pytest.fixture(scope="module")
def full_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, Path, Path]]:
    """The app with data_dir/staging and data_dir/hls each on a 1 MiB tmpfs: (app, staging, hls)."""
    data_dir = tmp_path_factory.mktemp("full-data")
    with small_tmpfs(data_dir / "staging", "1m") as staging, small_tmpfs(data_dir / "hls", "1m") as hls:
        # The guard at 0: the writes themselves meet the full disk (the guard has its own tests).
        app = start_app(
            data_dir, {"EXPORTS_MIN_FREE_BYTES": "0", "EXPORTS_SKIP_SEED": "1", "EXPORTS_REFRESH_SECONDS": "1"}
        )
        try:
            app.cli("user", "create", "fay", "--password", PASSWORD)
            yield app, staging, hls
        finally:
            app.stop()


@pytest.fixture
def fay(browser: Browser, full_app: tuple[RunningApp, Path, Path]) -> Iterator[Page]:
    ctx = browser.new_context(base_url=full_app[0].url, viewport={"width": 1280, "height": 900})
    # Signed in through the API (the cookies land in the context): the page's own sign-in has its own tests.
    assert ctx.request.post("/api/auth/login", data={"username": "fay", "password": PASSWORD}).ok
    page = ctx.new_page()
    page.goto("/exports")
    page.get_by_test_id("member-name").wait_for(timeout=30_000)
    yield page
    ctx.close()


def test_upload_on_a_full_disk(fay: Page, full_app: tuple[RunningApp, Path, Path], tmp_path: Path) -> None:
    _, staging, _ = full_app
    ballast = fill(staging)
    clip = make_clip(tmp_path / "big enough.mp4", seconds=2.0, width=640, height=360)
    upload = fay.get_by_test_id("upload-export").locator("input[type=file]")
    upload.set_input_files(str(clip))
    expect(fay.get_by_test_id("upload-error")).to_have_text(STORAGE_FULL_MESSAGE, timeout=30_000)
    expect(fay.get_by_test_id("upload-progress")).to_have_count(0)  # the progress ended
    assert [p.name for p in staging.iterdir()] == [ballast.name], "nothing staged"
    assert axe_violations(fay, "/exports (upload on a full disk)") == []
    ballast.unlink()
    again = clip.rename(clip.with_name("with room.mp4"))  # another file: choosing the same one again changes nothing
    upload.set_input_files(str(again))
    expect(fay.locator("[data-testid^='export-row-']").filter(has_text="with room")).to_have_count(1, timeout=60_000)


def test_prep_on_a_full_disk(fay: Page, full_app: tuple[RunningApp, Path, Path], tmp_path: Path) -> None:
    app, _, hls = full_app
    clip = make_clip(tmp_path / "prep.mp4", seconds=2.0, width=640, height=360)
    upload_id = app.cli("export", "import", "--user", "fay", str(clip), "--title", "Prep on a full disk")
    ballast = fill(hls)
    fay.goto("/exports")
    fay.get_by_test_id(f"export-cog-{upload_id}").click()
    fay.get_by_test_id("btn-prep").click()
    expect(fay.get_by_test_id("hls-status")).to_have_text("HLS: Failed (Retry available)", timeout=TRANSCODE_TIMEOUT)
    expect(fay.get_by_test_id("hls-detail")).to_contain_text(STORAGE_FULL_MESSAGE)
    assert axe_violations(fay, "modal (prep on a full disk)") == []
    ballast.unlink()
    fay.get_by_test_id("btn-prep").click()  # Retry, with room again
    expect(fay.get_by_test_id("hls-status")).to_have_text("HLS: Ready", timeout=TRANSCODE_TIMEOUT)
