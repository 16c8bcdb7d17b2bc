"""/exports with 1,000 exports vs 10: time until the list is interactive (a row's cog opens the modal)."""

from __future__ import annotations

import statistics
import time

from playwright.sync_api import Page

from bench.app_bench import PASSWORD, browser, running_app, signed_in_page
from bench.common import REPEATS, report
from exports_app.db import session_scope
from exports_app.models import Upload
from exports_app.services import auth
from tests.support.records import flushed_id


def add_exports(username: str, count: int) -> int:
    """count export rows for a new member (listing never reads the files); returns the newest id."""
    with session_scope() as s:
        member = auth.create_user(session=s, username=username, password=PASSWORD)
        rows = [
            Upload(
                user_id=member.id,
                video_role="export",
                title=f"Export {i}",
                filename=f"e{i}.mp4",
                storage_key=f"uploads/{member.id}/e{i}.mp4",
                size_bytes=10_000_000 + i,
                duration_seconds=60.0 + i,
                width=1280,
                height=720,
            )
            for i in range(count)
        ]
        s.add_all(rows)
        s.flush()
        return max(flushed_id(r.id) for r in rows)


def time_to_interactive(page: Page, newest: int) -> float:
    start = time.perf_counter()
    page.goto("/exports")
    page.get_by_test_id(f"export-cog-{newest}").click()
    page.get_by_test_id("hls-status").wait_for()
    elapsed = time.perf_counter() - start
    page.keyboard.press("Escape")
    page.get_by_test_id("export-modal").wait_for(state="detached")
    return elapsed


def main() -> None:
    with running_app() as app, browser() as chromium:
        newest = {10: add_exports("few", 10), 1000: add_exports("many", 1000)}
        pages = {n: signed_in_page(chromium, app, "few" if n == 10 else "many") for n in newest}
        times: dict[int, list[float]] = {10: [], 1000: []}
        for _ in range(max(REPEATS, 3)):
            for n, page in pages.items():  # alternate, so noise hits both alike
                times[n].append(time_to_interactive(page, newest[n]))
        rows = pages[1000].locator("[data-testid^='export-row-']").count()
    few, many = statistics.median(times[10]), statistics.median(times[1000])
    report(
        "/exports time to interactive (median)",
        exports_10_s=few,
        exports_1000_s=many,
        rows_rendered_for_1000=rows,
        ratio_1000_vs_10=many / few,
    )


if __name__ == "__main__":
    main()
