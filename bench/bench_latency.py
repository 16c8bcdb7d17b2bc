"""Status latency: from ffmpeg's exit to `HLS: Ready` in an open modal, pushed live vs the plan's 2 s polling.

Both are measured on the same jobs in the same page: the modal's status line (pushed over the websocket)
and a 2 s fetch loop of GET hls-status (the baseline the plan describes).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from sqlmodel import col, select

from bench.app_bench import PASSWORD, browser, running_app, signed_in_page
from bench.common import report
from exports_app.db import session_scope
from exports_app.models import MediaJob, Production
from exports_app.services import auth, exports
from exports_app.transcode.clips import make_clip
from tests.support.figures import percentile

JOBS = 20
WATCH = """uploadId => {
  const el = document.querySelector('[data-testid=hls-status]');
  const seen = {};
  window.__latency = new Promise(resolve => {
    const check = () => {
      if (seen.push && seen.poll) { observer.disconnect(); clearInterval(poller); resolve(seen); }
    };
    const observer = new MutationObserver(() => {
      if (!seen.push && el.textContent === 'HLS: Ready') { seen.push = Date.now(); check(); }
    });
    observer.observe(el, {childList: true, characterData: true, subtree: true});
    const poller = setInterval(async () => {
      const body = await (await fetch(`/api/exports/${uploadId}/hls-status`)).json();
      if (!seen.poll && body.state === 'ready') { seen.poll = Date.now(); check(); }
    }, 2000);
  });
}"""


def ffmpeg_finished_ms(production_dir: Path) -> float:
    """When ffmpeg finished the ladder: the last write of a variant playlist (it gets ENDLIST as ffmpeg ends).

    Not the job's last_report_at, which is kept in whole seconds (report ordering) and would add up to 1 s.
    """
    return max(playlist.stat().st_mtime for playlist in production_dir.glob("v*/index.m3u8")) * 1000


def main() -> None:
    with running_app() as app, browser() as chromium:
        with session_scope() as s:
            member = auth.create_user(session=s, username="latency", password=PASSWORD)
        clip = make_clip(Path(tempfile.mkdtemp()) / "tiny.mp4", seconds=1.0, width=160, height=120)
        ids: list[int] = []
        for i in range(JOBS):
            with session_scope() as s:
                upload_id = exports.import_export(session=s, member=member, source=clip, title=f"latency {i}").id
            assert upload_id is not None
            ids.append(upload_id)
        page = signed_in_page(chromium, app, "latency")
        seen: dict[int, dict[str, int]] = {}
        for upload_id in ids:
            page.get_by_test_id(f"export-cog-{upload_id}").click()
            page.get_by_test_id("hls-status").wait_for()
            page.evaluate(WATCH, upload_id)
            page.get_by_test_id("btn-prep").click()
            seen[upload_id] = page.evaluate("window.__latency")
            page.keyboard.press("Escape")
            page.get_by_test_id("export-modal").wait_for(state="detached")
        push, poll = [], []
        with session_scope() as s:
            for upload_id, times in seen.items():
                job = s.exec(
                    select(MediaJob)
                    .join(Production, col(Production.id) == MediaJob.production_id)
                    .where(col(Production.upload_id) == upload_id)
                ).one()
                assert job.status == "succeeded"
                ended_ms = ffmpeg_finished_ms(app.data_dir / "hls" / str(job.production_id))
                push.append(times["push"] - ended_ms)
                poll.append(times["poll"] - ended_ms)
    report(
        f"Status latency, ffmpeg exit → DOM, {JOBS} jobs (ms)",
        push_median_ms=statistics.median(push),
        push_p95_ms=percentile(push, 95),
        polling_2s_median_ms=statistics.median(poll),
        polling_2s_p95_ms=percentile(poll, 95),
        ratio_p95_push_vs_polling=percentile(push, 95) / percentile(poll, 95),
    )


if __name__ == "__main__":
    main()
