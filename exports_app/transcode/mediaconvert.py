"""The MediaConvert transcoder: boto3 CreateJob/GetJob/ListJobs/CancelJob, S3 input and output, SQS events."""

from __future__ import annotations

import json
import logging
import math
import threading
from datetime import datetime, timezone
from typing import Any, Sequence

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from exports_app.config import MediaConvertSettings
from exports_app.transcode.base import JobReport, JobRequest, JobStatus, PendingJob, Rendition, utcnow
from exports_app.transcode.ladder import SEGMENT_SECONDS, choose_renditions
from exports_app.transcode.probe import NotAVideoError, probe_video

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # ListJobs' page; polling N jobs costs about ceil(N/20) calls
GET_JOB_LIMIT = 3  # up to this many pending jobs are asked for one by one
AUDIO_SELECTOR = "Audio Selector 1"
STATUS = {
    "SUBMITTED": JobStatus.SUBMITTED,
    "PROGRESSING": JobStatus.RUNNING,
    "COMPLETE": JobStatus.SUCCEEDED,
    "CANCELED": JobStatus.CANCELED,
    "ERROR": JobStatus.FAILED,
}


def client_config(max_attempts: int = 8) -> Config:
    """Adaptive retries: botocore backs off on throttling and 5xx and rate-limits itself."""
    return Config(retries={"mode": "adaptive", "max_attempts": max_attempts}, connect_timeout=5, read_timeout=30)


def make_client(service: str, settings: MediaConvertSettings, max_attempts: int = 8) -> Any:
    endpoint = settings.endpoint_url if service == "mediaconvert" else settings.s3_endpoint_url
    if service == "sqs":
        endpoint = settings.s3_endpoint_url  # one local endpoint serves S3 and SQS in tests; unset in AWS
    return boto3.client(service, region_name=settings.region, endpoint_url=endpoint or None,
                        config=client_config(max_attempts))


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise FileNotFoundError(uri)
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def short(message: str | None) -> str | None:
    if not message:
        return None
    line = " ".join(message.split())
    return line if len(line) <= 200 else line[:199] + "…"


def hls_settings(input_uri: str, destination: str, source_height: int | None, has_audio: bool) -> dict[str, Any]:
    """Job settings for the same ladder as the local transcoder, H.264/AAC HLS into destination."""
    outputs = []
    for rung in choose_renditions(source_height):
        output: dict[str, Any] = {
            "NameModifier": f"_{rung.height}p",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": {
                "Height": rung.height,
                "ScalingBehavior": "DEFAULT",
                "CodecSettings": {"Codec": "H_264", "H264Settings": {
                    "RateControlMode": "QVBR", "MaxBitrate": rung.video_kbps * 1000,
                    "QvbrSettings": {"QvbrQualityLevel": 7},
                    "GopSize": float(SEGMENT_SECONDS), "GopSizeUnits": "SECONDS",
                    "SceneChangeDetect": "TRANSITION_DETECTION", "CodecProfile": "MAIN",
                }},
            },
            "OutputSettings": {"HlsSettings": {}},
        }
        if has_audio:
            output["AudioDescriptions"] = [{
                "AudioSourceName": AUDIO_SELECTOR,
                "CodecSettings": {"Codec": "AAC", "AacSettings": {
                    "Bitrate": 128000, "CodingMode": "CODING_MODE_2_0", "SampleRate": 48000}},
            }]
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
                "SegmentControl": "SEGMENTED_FILES", "ManifestDurationFormat": "INTEGER",
                "DirectoryStructure": "SINGLE_DIRECTORY", "OutputSelection": "MANIFESTS_AND_SEGMENTS",
            }},
            "Outputs": outputs,
        }],
    }


def _master_from_job(job: dict[str, Any]) -> str | None:
    """The master playlist of a finished job: its HLS group's destination + .m3u8."""
    for group in (job.get("Settings") or {}).get("OutputGroups", []):
        hls = (group.get("OutputGroupSettings") or {}).get("HlsGroupSettings")
        if hls and hls.get("Destination"):
            destination = hls["Destination"]
            return destination + ".m3u8" if not destination.endswith("/") else destination + "master.m3u8"
    return None


def _renditions(job: dict[str, Any]) -> tuple[Rendition, ...]:
    found = []
    for group in job.get("OutputGroupDetails") or []:
        for detail in group.get("OutputDetails") or []:
            height = (detail.get("VideoDetails") or {}).get("HeightInPx")
            if height:
                found.append(Rendition(uri="", height=int(height), bandwidth=0))
    return tuple(found)


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def report_from_job(job: dict[str, Any], media_job_id: int) -> JobReport:
    """Map a GetJob/ListJobs job to a report."""
    status = STATUS.get(job.get("Status", ""), JobStatus.SUBMITTED)
    timing = job.get("Timing") or {}
    moment = _as_utc(timing.get("FinishTime") or timing.get("StartTime") or timing.get("SubmitTime"))
    code = job.get("ErrorCode")
    return JobReport(
        media_job_id=media_job_id,
        status=status,
        percent=job.get("JobPercentComplete"),
        phase=job.get("CurrentPhase") or (job.get("Status") if status.terminal else None),
        error_code=str(code) if code is not None else None,
        error_message=short(job.get("ErrorMessage")),
        master_playlist_uri=_master_from_job(job) if status is JobStatus.SUCCEEDED else None,
        renditions=_renditions(job),
        provider_job_id=job.get("Id"),
        reported_at=moment or utcnow(),
    )


def report_from_event(event: dict[str, Any]) -> JobReport | None:
    """Map an EventBridge "MediaConvert Job State Change" event; None for anything else."""
    detail = event.get("detail") or {}
    meta = detail.get("userMetadata") or {}
    status = STATUS.get(detail.get("status", ""))
    if event.get("detail-type") != "MediaConvert Job State Change" or status is None:
        return None
    try:
        media_job_id = int(meta["mediaJobId"])
    except (KeyError, TypeError, ValueError):
        return None
    master = None
    for group in detail.get("outputGroupDetails") or []:
        for path in group.get("playlistFilePaths") or []:
            master = master or path
    progress = detail.get("jobProgress") or {}
    stamp = detail.get("timestamp")
    moment = datetime.fromtimestamp(stamp / 1000, tz=timezone.utc) if isinstance(stamp, (int, float)) else utcnow()
    code = detail.get("errorCode")
    return JobReport(
        media_job_id=media_job_id,
        status=status,
        percent=progress.get("jobPercentComplete"),
        phase=progress.get("currentPhase"),
        error_code=str(code) if code is not None else None,
        error_message=short(detail.get("errorMessage")),
        master_playlist_uri=master if status is JobStatus.SUCCEEDED else None,
        provider_job_id=detail.get("jobId"),
        reported_at=moment,
    )


class MediaConvertTranscoder:
    """Runs media jobs on AWS Elemental MediaConvert; the app's rows remain the source of truth."""

    name = "mediaconvert"

    def __init__(self, settings: MediaConvertSettings, *, max_attempts: int = 8) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = make_client(service, self.settings, self.max_attempts)
            return self._clients[service]

    def _upload_input(self, request: JobRequest) -> str:
        """Copy the export to the input bucket once per attempt (a retried submit reuses it)."""
        key = f"exports/{request.upload_id}/{request.idempotency_token}/{request.input_path.name}"
        s3 = self.client("s3")
        size = request.input_path.stat().st_size
        try:
            if s3.head_object(Bucket=self.settings.input_bucket, Key=key)["ContentLength"] == size:
                return f"s3://{self.settings.input_bucket}/{key}"
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.upload_file(str(request.input_path), self.settings.input_bucket, key)
        return f"s3://{self.settings.input_bucket}/{key}"

    def submit(self, request: JobRequest) -> str:
        input_uri = self._upload_input(request)
        destination = f"s3://{self.settings.output_bucket}/hls/{request.production_id}/{request.media_job_id}/master"
        try:
            has_audio = probe_video(request.input_path).has_audio
        except NotAVideoError:
            has_audio = True  # let MediaConvert say what is wrong with the input
        params: dict[str, Any] = {
            "Role": self.settings.role_arn,
            "ClientRequestToken": request.idempotency_token,
            "UserMetadata": {"productionId": str(request.production_id), "uploadId": str(request.upload_id),
                             "mediaJobId": str(request.media_job_id)},
            "StatusUpdateInterval": "SECONDS_10",
        }
        if self.settings.queue_arn:
            params["Queue"] = self.settings.queue_arn
        if self.settings.job_template:
            params["JobTemplate"] = self.settings.job_template
            params["Settings"] = {"Inputs": [{"FileInput": input_uri}], "OutputGroups": [{
                "OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS",
                                        "HlsGroupSettings": {"Destination": destination}}}]}
        else:
            params["Settings"] = hls_settings(input_uri, destination, request.source_height, has_audio)
        return str(self.client("mediaconvert").create_job(**params)["Job"]["Id"])

    def poll(self, jobs: Sequence[PendingJob]) -> list[JobReport]:
        wanted = {job.provider_job_id: job.request.media_job_id for job in jobs if job.provider_job_id}
        reports: list[JobReport] = []
        try:
            if len(wanted) > GET_JOB_LIMIT:
                self._poll_pages(wanted, reports)
            for provider_id in list(wanted):
                job = self.client("mediaconvert").get_job(Id=provider_id)["Job"]
                reports.append(report_from_job(job, wanted.pop(provider_id)))
        except (ClientError, BotoCoreError) as exc:
            # Throttled or unavailable past botocore's retries: keep what we have, ask again next tick.
            log.warning("MediaConvert poll stopped early (%s); %d job(s) wait for the next tick", exc, len(wanted))
        return reports

    def _poll_pages(self, wanted: dict[str, int], reports: list[JobReport]) -> None:
        """Walk ListJobs newest first until every wanted job is seen (leftovers fall back to GetJob)."""
        client = self.client("mediaconvert")
        token: str | None = None
        max_pages = math.ceil(len(wanted) / PAGE_SIZE) + 1
        for _ in range(max_pages):
            params: dict[str, Any] = {"MaxResults": PAGE_SIZE, "Order": "DESCENDING"}
            if token:
                params["NextToken"] = token
            if self.settings.queue_arn:
                params["Queue"] = self.settings.queue_arn
            page = client.list_jobs(**params)
            for job in page.get("Jobs", []):
                if job.get("Id") in wanted:
                    reports.append(report_from_job(job, wanted.pop(job["Id"])))
            token = page.get("NextToken")
            if not wanted or not token:
                return

    def cancel(self, job: PendingJob) -> None:
        if not job.provider_job_id:
            return
        try:
            self.client("mediaconvert").cancel_job(Id=job.provider_job_id)
        except ClientError as exc:
            log.info("cancel of MediaConvert job %s: %s", job.provider_job_id, exc)

    def receive_events(self, max_messages: int = 10, wait_seconds: int = 0) -> list[JobReport]:
        """Job state changes from the EventBridge → SQS queue; every message is deleted once read."""
        if not self.settings.sqs_queue_url:
            return []
        sqs = self.client("sqs")
        try:
            answer = sqs.receive_message(QueueUrl=self.settings.sqs_queue_url, MaxNumberOfMessages=max_messages,
                                         WaitTimeSeconds=wait_seconds)
        except (ClientError, BotoCoreError) as exc:
            log.warning("reading MediaConvert events failed (%s); polling covers this tick", exc)
            return []
        reports = []
        for message in answer.get("Messages", []):
            try:
                report = report_from_event(json.loads(message.get("Body") or "{}"))
            except (ValueError, TypeError, AttributeError):
                log.warning("dropping an unreadable MediaConvert event message")
                report = None
            if report is not None:
                reports.append(report)
            sqs.delete_message(QueueUrl=self.settings.sqs_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return reports

    def read_output(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        try:
            return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise FileNotFoundError(uri) from exc

    def close(self) -> None:
        with self._lock:
            self._clients.clear()

