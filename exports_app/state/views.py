"""View data for the pages: export rows, status and rendition texts, built from service results."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from exports_app.hls_states import FAILED, HLS_STATES, IN_PROGRESS, NOT_READY, READY, HlsState
from exports_app.routes import exports_url, publish_url
from exports_app.services.hls_status import WITHOUT_HD_UP_TO, HlsStatus
from exports_app.services.posters import export_poster_url
from exports_app.services.productions import ExportView


@dataclasses.dataclass
class StatusView:
    """An export's HLS status as the modal shows it."""

    state: HlsState = NOT_READY
    text: str = HLS_STATES[NOT_READY].text
    badge: str = HLS_STATES[NOT_READY].badge
    detail: str = ""
    production_id: int = 0
    percent: int = 0
    phase: str = ""
    hls_url: str = ""
    poster_url: str = ""
    attempt: str = ""  # "Attempt 2 failed at 21:04 UTC", shown before the detail
    hd: str = ""  # under a ready status line: "HD on its way · 42 %", or why there is no HD (hd_line)


@dataclasses.dataclass
class ExportRow:
    """A row of the /exports table (its status lives in ExportsLive.statuses, the one status store); /timeline
    lists a project's exports with the same rows (title, duration and size)."""

    id: int = 0
    title: str = ""
    filename: str = ""
    created: str = ""
    duration: str = ""
    size: str = ""
    resolution: str = ""
    project_id: int = 0
    poster_url: str = ""


def status_view(status: HlsStatus) -> StatusView:
    return StatusView(
        state=status.state,
        text=HLS_STATES[status.state].text,
        badge=HLS_STATES[status.state].badge,
        detail=status.detail or "",
        production_id=status.production_id or 0,
        percent=status.percent or 0,
        phase=(status.phase or "").replace("_", " ").title(),
        hls_url=status.hls_url or "",
        poster_url=status.poster_url or "",
        attempt=attempt_text(status.attempt, status.failed_at),
        hd=hd_line(status),
    )


def hd_line(status: HlsStatus) -> str:
    """The line under a ready production's status line about its HD pass: "HD on its way · 42 %" while it waits or
    runs, why there is no HD once it failed (after its one retry); "" once HD is in, for one pass, or not ready."""
    hd = status.hd
    if status.state != READY or hd is None:
        return ""
    if hd.state == IN_PROGRESS:
        return f"HD on its way · {hd.percent or 0} %"
    if hd.state == FAILED:
        why = f": {sentence(hd.detail)}" if hd.detail else "."
        return f"HD versions could not be made{why} It plays up to {WITHOUT_HD_UP_TO}."
    return ""


def sentence(text: str) -> str:
    """text ending as a sentence does (a full stop added unless it has one, or another end)."""
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def attempt_text(attempt: int | None, failed_at: datetime | None) -> str:
    """ "Attempt 2 failed at 21:04 UTC" for a failed status, else ""."""
    if not attempt or failed_at is None:
        return ""
    moment = failed_at.astimezone(UTC) if failed_at.tzinfo else failed_at
    return f"Attempt {attempt} failed at {moment:%H:%M} UTC"


def renditions_text(sizes: Sequence[str], coming: Sequence[str] = ()) -> str:
    """ "Renditions: 1920×1080 · 1280×720" for a ladder's sizes (given largest first), then the sizes still to come:
    "Renditions: 640×360 · 416×234 · 1280×720 and 960×540 on their way"; "" when none is known."""
    if coming:
        listed = " and ".join([", ".join(coming[:-1]), coming[-1]]) if len(coming) > 1 else coming[0]
        sizes = [*sizes, f"{listed} on {'their' if len(coming) > 1 else 'its'} way"]
    return "Renditions: " + " · ".join(sizes) if sizes else ""


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def export_row(view: ExportView) -> ExportRow:
    return ExportRow(
        id=view.id,
        title=view.title,
        filename=view.filename,
        created=view.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        duration=human_duration(view.duration_seconds),
        size=human_size(view.size_bytes),
        resolution=f"{view.width}×{view.height}" if view.width and view.height else "",
        project_id=view.project_id or 0,
        # An export that decoded at import has a poster (or gets one on this first view); one that did not has none.
        poster_url=export_poster_url(view.id) if view.width else "",
    )


@dataclasses.dataclass
class Notice:
    """A toast about a prep that ended, for every tab of the member whose modal of that export is closed."""

    id: int = 0  # increasing per member's live list; a tab shows only those after its page loaded
    upload_id: int = 0
    kind: str = ""  # the state the prep ended in: READY or FAILED (hls_states.ENDED_STATES)
    text: str = ""
    action: str = ""  # the link's label
    href: str = ""


def notice(number: int, upload_id: int, title: str, status: HlsStatus) -> Notice:
    """“Launch teaser” is ready to publish (with Publish), or “Launch teaser” failed (with Open)."""
    if status.state == READY:
        return Notice(
            number,
            upload_id,
            READY,
            f"\u201c{title}\u201d is ready to publish",
            "Publish",
            publish_url(status.production_id or 0),
        )
    return Notice(number, upload_id, FAILED, f"\u201c{title}\u201d failed", "Open", exports_url(open_upload=upload_id))
