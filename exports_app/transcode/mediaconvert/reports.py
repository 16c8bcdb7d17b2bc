"""MediaConvert's news in the app's words: GetJob/ListJobs jobs and EventBridge events become JobReports."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from exports_app.transcode.base import JobReport, JobStatus, Pass, Rendition, utcnow
from exports_app.transcode.mediaconvert.settings import (
    PASS_METADATA,
    hls_group,
    output_bandwidth,
    output_base,
    output_frame_rate,
    poster_uri,
    production_master_uri,
)

MESSAGE_LIMIT = 200  # the UI's detail line

STATUS = {
    "SUBMITTED": JobStatus.SUBMITTED,
    "PROGRESSING": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCEEDED,
    "CANCELED": JobStatus.CANCELED,
    "ERROR": JobStatus.FAILED,
}
# EventBridge adds STATUS_UPDATE (progress every StatusUpdateInterval); it never sends SUBMITTED.
EVENT_STATUS = {**STATUS, "STATUS_UPDATE": JobStatus.RUNNING}
EVENT_DETAIL_TYPE = "MediaConvert Job State Change"
EVENT_HLS_GROUP = "HLS_GROUP"  # outputGroupDetails[].type of an Apple HLS group in a COMPLETE event
Outputs = tuple[str | None, tuple[Rendition, ...]]  # (master playlist URI, renditions) of a finished job


def short_message(message: str | None) -> str | None:
    """One line of at most 200 characters (MediaConvert messages can be long and multi-line)."""
    if not message:
        return None
    line = " ".join(str(message).split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


def _as_utc(moment: object) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _job_outputs(job: Mapping[str, Any]) -> Outputs:
    """(master playlist URI, renditions) of a finished job, from its HLS group and output details."""
    settings = job.get("Settings") or {}
    input_uri = next((i.get("FileInput") for i in settings.get("Inputs") or []), None)
    details = job.get("OutputGroupDetails") or []
    for index, group in enumerate(settings.get("OutputGroups") or []):
        hls = hls_group(group)
        if not hls or not hls.get("Destination"):
            continue
        base = output_base(hls["Destination"], input_uri)
        output_details = (details[index].get("OutputDetails") or []) if index < len(details) else []
        renditions = []
        for position, output in enumerate(group.get("Outputs") or []):
            detail = output_details[position] if position < len(output_details) else {}
            video = output.get("VideoDescription") or {}
            height = (detail.get("VideoDetails") or {}).get("HeightInPx") or video.get("Height")
            width = (detail.get("VideoDetails") or {}).get("WidthInPx") or video.get("Width") or 0
            if height:  # audio-only outputs are not renditions
                renditions.append(
                    Rendition(
                        f"{base}{output.get('NameModifier', '')}.m3u8",
                        int(height),
                        output_bandwidth(output),
                        int(width),
                        output_frame_rate(output),
                    )
                )
        return f"{base}.m3u8", tuple(renditions)
    return None, ()


def _pass_of(metadata: object) -> Pass:
    """The pass a job encodes, from the UserMetadata it was created with (the whole ladder when it says none)."""
    try:
        return Pass(metadata.get(PASS_METADATA, Pass.FULL.value) if isinstance(metadata, Mapping) else Pass.FULL)
    except (ValueError, TypeError):  # not a pass this app names
        return Pass.FULL


def _report(
    media_job_id: int,
    provider_status: str,
    status: JobStatus,
    *,
    pass_name: Pass,
    percent: Any,
    phase: Any,
    error_code: Any,
    error_message: Any,
    outputs: Callable[[], Outputs],
    provider_job_id: Any,
    reported_at: datetime,
) -> JobReport:
    """The rules a GetJob job and an event share, whatever their spelling of the fields.

    A finished job is at 100 % and its outputs (read only then) give the master, renditions and poster;
    like the local transcoder, a terminal job's phase is its final status ("COMPLETE", "ERROR", ...).
    A pass's job names its own master, and the production's that merges both passes (the folder above its
    own); the HD pass makes no poster (the fast pass does).
    """
    master, renditions = outputs() if status is JobStatus.SUCCEEDED else (None, ())
    production_master = production_master_uri(master) if master and pass_name is not Pass.FULL else None
    return JobReport(
        media_job_id=media_job_id,
        status=status,
        percent=100 if status is JobStatus.SUCCEEDED else percent,
        phase=provider_status if status.terminal else phase,
        error_code=str(error_code) if error_code is not None else None,
        error_message=short_message(error_message),
        master_playlist_uri=master,
        production_master_uri=production_master,
        poster_uri=poster_uri(master) if master and pass_name is not Pass.HD else None,
        renditions=renditions,
        provider_job_id=provider_job_id,
        reported_at=reported_at,
    )


def report_from_job(job: Mapping[str, Any], media_job_id: int) -> JobReport:
    """Map a GetJob/ListJobs job (boto3's PascalCase) to a report."""
    provider_status = str(job.get("Status", ""))
    timing = job.get("Timing") or {}
    moment = _as_utc(timing.get("FinishTime") or timing.get("StartTime") or timing.get("SubmitTime"))
    return _report(
        media_job_id,
        provider_status,
        STATUS.get(provider_status, JobStatus.SUBMITTED),
        pass_name=_pass_of(job.get("UserMetadata")),
        percent=job.get("JobPercentComplete"),
        phase=job.get("CurrentPhase"),
        error_code=job.get("ErrorCode"),
        error_message=job.get("ErrorMessage"),
        outputs=lambda: _job_outputs(job),
        provider_job_id=job.get("Id"),
        reported_at=moment or utcnow(),
    )


def _event_outputs(detail: Mapping[str, Any]) -> Outputs:
    """(master, renditions) of a COMPLETE event: the HLS group's playlistFilePaths and outputFilePaths.

    The group is chosen by its type, as the poll path does: a job template may put a CMAF or DASH group
    first, and their playlistFilePaths hold an .mpd.
    """
    for group in detail.get("outputGroupDetails") or []:
        playlists = group.get("playlistFilePaths") or []
        if group.get("type") != EVENT_HLS_GROUP or not playlists:
            continue
        renditions = []
        for output in group.get("outputDetails") or []:
            video = output.get("videoDetails") or {}
            paths = output.get("outputFilePaths") or []
            if video.get("heightInPx") and paths:
                renditions.append(
                    Rendition(
                        paths[0],
                        int(video["heightInPx"]),
                        int(video.get("averageBitrate") or 0),
                        int(video.get("widthInPx") or 0),
                    )
                )
        return str(playlists[0]), tuple(renditions)
    return None, ()


def _event_time(event: Mapping[str, Any], detail: Mapping[str, Any]) -> datetime:
    stamp = detail.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return utcnow()


def report_from_event(event: Mapping[str, Any]) -> JobReport | None:
    """Map an EventBridge "MediaConvert Job State Change" event; None for events that are not job news.

    Ordering is left to the app: reported_at is the event's own timestamp, so a stale event loses.
    """
    if event.get("detail-type") != EVENT_DETAIL_TYPE:
        return None
    detail = event.get("detail") or {}
    provider_status = str(detail.get("status", ""))
    status = EVENT_STATUS.get(provider_status)
    metadata = detail.get("userMetadata") or {}
    try:
        media_job_id = int(metadata["mediaJobId"])
    except (KeyError, TypeError, ValueError):
        return None  # not one of ours (every job the app creates carries mediaJobId)
    if status is None:
        return None  # INPUT_INFORMATION, NEW_WARNING, QUEUE_HOP: nothing the app tracks
    progress = detail.get("jobProgress") or {}
    return _report(
        media_job_id,
        provider_status,
        status,
        pass_name=_pass_of(metadata),
        percent=progress.get("jobPercentComplete"),
        phase=progress.get("currentPhase"),
        error_code=detail.get("errorCode"),
        error_message=detail.get("errorMessage"),
        outputs=lambda: _event_outputs(detail),
        provider_job_id=detail.get("jobId"),
        reported_at=_event_time(event, detail),
    )


def event_from_body(body: str) -> dict[str, Any]:
    """The EventBridge event in an SQS body: sent directly, or wrapped by SNS as a Notification."""
    event = json.loads(body)
    if isinstance(event, dict) and event.get("Type") == "Notification" and isinstance(event.get("Message"), str):
        event = json.loads(event["Message"])
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    return event
