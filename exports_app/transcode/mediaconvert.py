"""The MediaConvert transcoder: exports go to S3, HLS ladders come back from AWS Elemental MediaConvert.

submit() uploads the export and calls CreateJob (idempotent by ClientRequestToken); poll() reads many jobs
with few calls (GetJob for a handful, ListJobs pages for more); receive_events() reads EventBridge job state
changes from SQS. Throttling and 5xx are retried by botocore's adaptive mode; what still fails is logged and
left for the next refresh tick, so nothing is lost and nothing escapes poll().
"""

from __future__ import annotations

import copy
import json
import logging
import math
import posixpath
import re
import threading
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from exports_app.config import MediaConvertSettings
from exports_app.transcode.base import JobReport, JobRequest, JobStatus, PendingJob, Rendition, utcnow
from exports_app.transcode.ladder import SEGMENT_SECONDS, choose_renditions
from exports_app.transcode.probe import NotAVideoError, probe_video

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # ListJobs' largest page; polling N jobs costs about ceil(N/20) calls
GET_JOB_LIMIT = 3  # up to this many pending jobs are asked for one by one
AUDIO_SELECTOR = "Audio Selector 1"
AUDIO_BITRATE = 128_000
GOP_SECONDS = 2.0  # divides the 6 s segment, so every segment starts on a keyframe
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
# CancelJob on a job that already ended or is gone: nothing left to stop.
ALREADY_ENDED = frozenset({"ConflictException", "NotFoundException", "BadRequestException"})
MISSING_OBJECT = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})


def client_config(max_attempts: int = 8) -> Config:
    """Adaptive retries: botocore backs off on throttling and 5xx and rate-limits the client itself.

    max_attempts counts retries after the first try (botocore's meaning of the key).
    """
    return Config(retries={"mode": "adaptive", "max_attempts": max_attempts}, connect_timeout=5, read_timeout=30)


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def make_client(service: str, region: str, endpoint_url: str | None, max_attempts: int) -> Any:
    """A boto3 client from the process's one session (it caches service models and credentials).

    Sessions are not thread-safe while making clients, so that is done under a lock; clients are.
    """
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(service, region_name=region, endpoint_url=endpoint_url,
                               config=client_config(max_attempts))


def sqs_endpoint(queue_url: str) -> str | None:
    """A non-AWS queue URL (a local test server) names its own endpoint; AWS URLs resolve normally."""
    parts = urlsplit(queue_url)
    if not parts.netloc or parts.hostname is None or parts.hostname.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """("bucket", "key") of "s3://bucket/key"; FileNotFoundError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise FileNotFoundError(uri)
    return bucket, key


def short_message(message: str | None) -> str | None:
    """One line of at most 200 characters (MediaConvert messages can be long and multi-line)."""
    if not message:
        return None
    line = " ".join(str(message).split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


# -- job settings ------------------------------------------------------------------------------------


def _video_output(height: int, kbps: int) -> dict[str, Any]:
    return {
        "Height": height,  # width left out: MediaConvert scales evenly from the source's aspect ratio
        "ScalingBehavior": "DEFAULT",
        "CodecSettings": {"Codec": "H_264", "H264Settings": {
            "RateControlMode": "QVBR", "MaxBitrate": kbps * 1000, "QvbrSettings": {"QvbrQualityLevel": 7},
            "GopSize": GOP_SECONDS, "GopSizeUnits": "SECONDS", "SceneChangeDetect": "TRANSITION_DETECTION",
            "CodecProfile": "MAIN", "CodecLevel": "AUTO",
        }},
    }


def _audio_output() -> dict[str, Any]:
    return {"AudioSourceName": AUDIO_SELECTOR, "CodecSettings": {"Codec": "AAC", "AacSettings": {
        "Bitrate": AUDIO_BITRATE, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}}}


def ladder_settings(input_uri: str, destination: str, source_height: int | None, has_audio: bool) -> dict[str, Any]:
    """Job settings for the app's ladder (the local transcoder's too): H.264/AAC renditions in one HLS group."""
    outputs = []
    for rung in choose_renditions(source_height):
        output: dict[str, Any] = {
            "NameModifier": f"_{rung.height}p",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": _video_output(rung.height, rung.video_kbps),
            "OutputSettings": {"HlsSettings": {}},
        }
        if has_audio:
            output["AudioDescriptions"] = [_audio_output()]
        outputs.append(output)
    job_input: dict[str, Any] = {"FileInput": input_uri, "TimecodeSource": "ZEROBASED", "VideoSelector": {}}
    if has_audio:
        job_input["AudioSelectors"] = {AUDIO_SELECTOR: {"DefaultSelection": "DEFAULT"}}
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "Inputs": [job_input],
        "OutputGroups": [{
            "Name": "HLS",
            "OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {
                "Destination": destination, "SegmentLength": SEGMENT_SECONDS, "MinSegmentLength": 0,
                "SegmentControl": "SEGMENTED_FILES", "ManifestDurationFormat": "FLOATING_POINT",
                "CodecSpecification": "RFC_4281", "DirectoryStructure": "SINGLE_DIRECTORY",
                "OutputSelection": "MANIFESTS_AND_SEGMENTS",
            }},
            "Outputs": outputs,
        }],
    }


def template_settings(template: Mapping[str, Any], input_uri: str, destination: str) -> dict[str, Any]:
    """A job template's settings with our input and our destinations.

    A job's OutputGroups replace its template's, so they are copied from the template and only their
    destinations change: the HLS group must land where the app serves it from, other groups beside it.
    """
    settings = copy.deepcopy(dict(template.get("Settings") or {}))
    inputs = settings.get("Inputs") or [{}]
    settings["Inputs"] = [{**inputs[0], "FileInput": input_uri}]
    folder = destination.rsplit("/", 1)[0]
    for group in settings.get("OutputGroups") or []:
        for kind, group_settings in (group.get("OutputGroupSettings") or {}).items():
            if isinstance(group_settings, dict):
                other = f"{folder}/{kind.removesuffix('GroupSettings').lower()}/"
                group_settings["Destination"] = destination if kind == "HlsGroupSettings" else other
    return settings


def _hls_group(group: Mapping[str, Any]) -> dict[str, Any] | None:
    return (group.get("OutputGroupSettings") or {}).get("HlsGroupSettings")


def _output_base(destination: str, input_uri: str | None) -> str:
    """Where MediaConvert writes: a destination ending in "/" borrows the input file's base name."""
    if not destination.endswith("/"):
        return destination
    stem = posixpath.splitext(posixpath.basename(input_uri or ""))[0] or "index"
    return destination + stem


def _output_bandwidth(output: Mapping[str, Any]) -> int:
    """Peak bits per second from the output's settings (video max/avg bitrate + audio); 0 if unknown."""
    video = ((output.get("VideoDescription") or {}).get("CodecSettings") or {}).get("H264Settings") or {}
    audio = sum(((a.get("CodecSettings") or {}).get("AacSettings") or {}).get("Bitrate", 0)
                for a in output.get("AudioDescriptions") or [])
    video_bps = video.get("MaxBitrate") or video.get("Bitrate") or 0
    return int(video_bps + audio) if video_bps else 0


# -- reports -----------------------------------------------------------------------------------------


def _as_utc(moment: object) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _phase(current: str | None, provider_status: str, status: JobStatus) -> str | None:
    # Like the local transcoder, a terminal job's phase is its final status ("COMPLETE", "ERROR", ...).
    return provider_status if status.terminal else current


def _job_outputs(job: Mapping[str, Any]) -> tuple[str | None, tuple[Rendition, ...]]:
    """(master playlist URI, renditions) of a finished job, from its HLS group and output details."""
    settings = job.get("Settings") or {}
    input_uri = next((i.get("FileInput") for i in settings.get("Inputs") or []), None)
    details = job.get("OutputGroupDetails") or []
    for index, group in enumerate(settings.get("OutputGroups") or []):
        hls = _hls_group(group)
        if not hls or not hls.get("Destination"):
            continue
        base = _output_base(hls["Destination"], input_uri)
        output_details = (details[index].get("OutputDetails") or []) if index < len(details) else []
        renditions = []
        for position, output in enumerate(group.get("Outputs") or []):
            detail = output_details[position] if position < len(output_details) else {}
            height = (detail.get("VideoDetails") or {}).get("HeightInPx") or (
                output.get("VideoDescription") or {}).get("Height")
            if height:  # audio-only outputs are not renditions
                renditions.append(Rendition(f"{base}{output.get('NameModifier', '')}.m3u8", int(height),
                                            _output_bandwidth(output)))
        return f"{base}.m3u8", tuple(renditions)
    return None, ()


def report_from_job(job: Mapping[str, Any], media_job_id: int) -> JobReport:
    """Map a GetJob/ListJobs job (boto3's PascalCase) to a report."""
    provider_status = str(job.get("Status", ""))
    status = STATUS.get(provider_status, JobStatus.SUBMITTED)
    timing = job.get("Timing") or {}
    moment = _as_utc(timing.get("FinishTime") or timing.get("StartTime") or timing.get("SubmitTime"))
    code = job.get("ErrorCode")
    master, renditions = _job_outputs(job) if status is JobStatus.SUCCEEDED else (None, ())
    percent = job.get("JobPercentComplete")
    return JobReport(
        media_job_id=media_job_id,
        status=status,
        percent=100 if status is JobStatus.SUCCEEDED else percent,
        phase=_phase(job.get("CurrentPhase"), provider_status, status),
        error_code=str(code) if code is not None else None,
        error_message=short_message(job.get("ErrorMessage")),
        master_playlist_uri=master,
        renditions=renditions,
        provider_job_id=job.get("Id"),
        reported_at=moment or utcnow(),
    )


def _event_outputs(detail: Mapping[str, Any]) -> tuple[str | None, tuple[Rendition, ...]]:
    """(master, renditions) of a COMPLETE event: the HLS group's playlistFilePaths and outputFilePaths."""
    for group in detail.get("outputGroupDetails") or []:
        playlists = group.get("playlistFilePaths") or []
        if not playlists:
            continue
        renditions = []
        for output in group.get("outputDetails") or []:
            video = output.get("videoDetails") or {}
            paths = output.get("outputFilePaths") or []
            if video.get("heightInPx") and paths:
                renditions.append(Rendition(paths[0], int(video["heightInPx"]), int(video.get("averageBitrate") or 0)))
        return str(playlists[0]), tuple(renditions)
    return None, ()


def _event_time(event: Mapping[str, Any], detail: Mapping[str, Any]) -> datetime:
    stamp = detail.get("timestamp")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
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
    try:
        media_job_id = int((detail.get("userMetadata") or {})["mediaJobId"])
    except (KeyError, TypeError, ValueError):
        return None  # not one of ours (every job the app creates carries mediaJobId)
    if status is None:
        return None  # INPUT_INFORMATION, NEW_WARNING, QUEUE_HOP: nothing the app tracks
    progress = detail.get("jobProgress") or {}
    code = detail.get("errorCode")
    master, renditions = _event_outputs(detail) if status is JobStatus.SUCCEEDED else (None, ())
    return JobReport(
        media_job_id=media_job_id,
        status=status,
        percent=100 if status is JobStatus.SUCCEEDED else progress.get("jobPercentComplete"),
        phase=_phase(progress.get("currentPhase"), provider_status, status),
        error_code=str(code) if code is not None else None,
        error_message=short_message(detail.get("errorMessage")),
        master_playlist_uri=master,
        renditions=renditions,
        provider_job_id=detail.get("jobId"),
        reported_at=_event_time(event, detail),
    )


def _event_from_body(body: str) -> dict[str, Any]:
    """The EventBridge event in an SQS body: sent directly, or wrapped by SNS as a Notification."""
    event = json.loads(body)
    if isinstance(event, dict) and event.get("Type") == "Notification" and isinstance(event.get("Message"), str):
        event = json.loads(event["Message"])
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    return event


# -- the transcoder ----------------------------------------------------------------------------------


class MediaConvertTranscoder:
    """Runs media jobs on AWS Elemental MediaConvert; the app's rows remain the source of truth.

    `clients` may hold pre-built boto3 clients by service name ("mediaconvert", "s3", "sqs") for tests;
    the rest are made on first use with adaptive retries (`max_attempts` each).
    """

    name = "mediaconvert"

    def __init__(self, settings: MediaConvertSettings, *, clients: Mapping[str, Any] | None = None,
                 max_attempts: int = 8) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self._clients: dict[str, Any] = dict(clients or {})
        self._made: dict[str, Any] = {}  # the clients close() may close (never the caller's)
        self._templates: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._made[service] = make_client(
                    service, self.settings.region, self._endpoint(service), self.max_attempts)
            return self._clients[service]

    def _endpoint(self, service: str) -> str | None:
        if service == "mediaconvert":
            return self.settings.endpoint_url or None
        if service == "s3":
            return self.settings.s3_endpoint_url or None
        return sqs_endpoint(self.settings.sqs_queue_url)

    # -- submit --------------------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        """Upload the export (once per attempt) and create the job; a repeated call returns the same job."""
        input_uri = self._upload_input(request)
        destination = f"s3://{self.settings.output_bucket}/hls/{request.production_id}/{request.media_job_id}/master"
        params: dict[str, Any] = {
            "Role": self.settings.role_arn,
            # MediaConvert answers a repeated token with the job it already made: a retried submit never
            # makes a second job, even when the first answer was lost.
            "ClientRequestToken": request.idempotency_token,
            "UserMetadata": {"productionId": str(request.production_id), "uploadId": str(request.upload_id),
                             "mediaJobId": str(request.media_job_id)},
            "StatusUpdateInterval": "SECONDS_10",
        }
        if self.settings.queue_arn:
            params["Queue"] = self.settings.queue_arn
        if self.settings.job_template:
            params["JobTemplate"] = self.settings.job_template
            params["Settings"] = template_settings(self._template(self.settings.job_template), input_uri, destination)
        else:
            params["Settings"] = ladder_settings(input_uri, destination, request.source_height, _has_audio(request))
        return str(self.client("mediaconvert").create_job(**params)["Job"]["Id"])

    def _upload_input(self, request: JobRequest) -> str:
        """Copy the export to the input bucket; skipped when this attempt's copy is already there."""
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", request.input_path.name)
        key = f"exports/{request.upload_id}/{request.idempotency_token}/{filename}"
        uri = f"s3://{self.settings.input_bucket}/{key}"
        s3 = self.client("s3")
        size = request.input_path.stat().st_size
        try:
            if s3.head_object(Bucket=self.settings.input_bucket, Key=key)["ContentLength"] == size:
                return uri
        except ClientError as exc:
            if error_code(exc) not in MISSING_OBJECT:
                raise
        try:
            s3.upload_file(str(request.input_path), self.settings.input_bucket, key)
        except S3UploadFailedError as exc:
            # boto3 wraps the S3 error; the caller tells transient ones (throttling, 5xx) by the error inside.
            if isinstance(exc.__context__, (ClientError, BotoCoreError)):
                raise exc.__context__ from exc
            raise
        return uri

    def _template(self, name: str) -> dict[str, Any]:
        """The job template (read once per process: templates change rarely and deliberately)."""
        if name not in self._templates:
            self._templates[name] = self.client("mediaconvert").get_job_template(Name=name)["JobTemplate"]
        return self._templates[name]

    # -- poll ----------------------------------------------------------------------------------------

    def poll(self, jobs: Sequence[PendingJob]) -> list[JobReport]:
        """Reports for the submitted jobs; after throttling or 5xx past retries, the ones read so far."""
        wanted = {job.provider_job_id: job.request.media_job_id for job in jobs if job.provider_job_id}
        reports: list[JobReport] = []
        try:
            if len(wanted) > GET_JOB_LIMIT:
                self._poll_pages(wanted, reports)
            self._poll_each(wanted, reports)
        except (ClientError, BotoCoreError) as exc:
            log.warning("MediaConvert poll stopped early (%s: %s); %d job(s) wait for the next tick",
                        error_code(exc), exc, len(wanted))
        return reports

    def _poll_pages(self, wanted: dict[str, int], reports: list[JobReport]) -> None:
        """Walk ListJobs newest first, moving wanted jobs from `wanted` to `reports` as they are seen.

        Pending jobs are recent, so ceil(N/20)+1 pages nearly always hold them all; older leftovers
        fall back to GetJob.
        """
        params: dict[str, Any] = {"MaxResults": PAGE_SIZE, "Order": "DESCENDING"}
        if self.settings.queue_arn:
            params["Queue"] = self.settings.queue_arn
        for _ in range(math.ceil(len(wanted) / PAGE_SIZE) + 1):
            page = self.client("mediaconvert").list_jobs(**params)
            for job in page.get("Jobs", []):
                # A finished job's master playlist comes from its settings; without them GetJob asks again.
                if job.get("Id") in wanted and (job.get("Settings") or job.get("Status") != "COMPLETE"):
                    reports.append(report_from_job(job, wanted.pop(job["Id"])))
            if not wanted or not page.get("NextToken"):
                return
            params["NextToken"] = page["NextToken"]

    def _poll_each(self, wanted: dict[str, int], reports: list[JobReport]) -> None:
        for provider_id in list(wanted):
            try:
                job = self.client("mediaconvert").get_job(Id=provider_id)["Job"]
            except ClientError as exc:
                if error_code(exc) != "NotFoundException":
                    raise
                # Left for the app's timeout to fail: a job MediaConvert does not know never reports again.
                log.warning("MediaConvert has no job %s (media job %s)", provider_id, wanted.pop(provider_id))
                continue
            reports.append(report_from_job(job, wanted.pop(provider_id)))

    # -- cancel, events, outputs ---------------------------------------------------------------------

    def cancel(self, job: PendingJob) -> None:
        if not job.provider_job_id:
            return
        try:
            self.client("mediaconvert").cancel_job(Id=job.provider_job_id)
        except (ClientError, BotoCoreError) as exc:
            # An ended job has nothing to stop; anything else must not break the tick (the row is failed anyway).
            level = logging.INFO if error_code(exc) in ALREADY_ENDED else logging.WARNING
            log.log(level, "cancel of MediaConvert job %s: %s", job.provider_job_id, exc)

    def apply_event(self, event: Mapping[str, Any]) -> JobReport | None:
        """The report carried by one EventBridge "MediaConvert Job State Change" event, if any."""
        return report_from_event(event)

    def receive_events(self, max_messages: int = 10, wait_seconds: int = 0) -> list[JobReport]:
        """Job state changes from the EventBridge → SQS queue; every message read is deleted.

        wait_seconds is 0 by default because the refresh tick calls this on every pass (polling covers
        anything a short poll misses); a dedicated reader may long-poll up to 20 s.
        """
        if not self.settings.sqs_queue_url:
            return []
        queue = self.settings.sqs_queue_url
        sqs = self.client("sqs")
        try:
            answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=max(1, min(max_messages, 10)),
                                         WaitTimeSeconds=wait_seconds)
        except (ClientError, BotoCoreError) as exc:
            log.warning("reading MediaConvert events failed (%s); polling covers this tick", exc)
            return []
        messages = answer.get("Messages", [])
        reports = [report for report in map(self._event_report, messages) if report is not None]
        self._delete_messages(messages)
        return reports

    def _event_report(self, message: Mapping[str, Any]) -> JobReport | None:
        try:
            return report_from_event(_event_from_body(message.get("Body") or ""))
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("dropping an unreadable MediaConvert event message %s: %s", message.get("MessageId"), exc)
            return None

    def _delete_messages(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if not messages:
            return
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            failed = self.client("sqs").delete_message_batch(
                QueueUrl=self.settings.sqs_queue_url, Entries=entries).get("Failed", [])
        except (ClientError, BotoCoreError) as exc:
            failed = [{"Message": str(exc)}]
        if failed:
            # They come back after the visibility timeout; applying a report twice is harmless.
            log.warning("could not delete %d MediaConvert event message(s): %s", len(failed), failed[0])

    def open_output(self, uri: str) -> bytes:
        """Bytes of an output object ("s3://bucket/key"), for serving HLS; FileNotFoundError if absent."""
        bucket, key = split_s3_uri(uri)
        try:
            return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) in MISSING_OBJECT:
                raise FileNotFoundError(uri) from exc
            raise

    read_output = open_output  # the name transcode.factory.read_output calls

    def close(self) -> None:
        """Close the HTTP pools of the clients made here; a later call makes new ones."""
        with self._lock:
            made, self._made = self._made, {}
            self._clients = {name: c for name, c in self._clients.items() if name not in made}
        for client in made.values():
            client.close()


def _has_audio(request: JobRequest) -> bool:
    """An audio description with no audio in the input fails the job, so only ask for audio that exists."""
    try:
        return probe_video(request.input_path).has_audio
    except NotAVideoError:
        return True  # let MediaConvert say what is wrong with the input
