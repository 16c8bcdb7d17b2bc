"""The MediaConvert transcoder: exports go to S3, HLS ladders come back from AWS Elemental MediaConvert.

submit() uploads the export and calls CreateJob, idempotent by the media job's token: ClientRequestToken
dedupes for a minute, and past that (or when an answer was lost) the job is looked up by the token its
UserMetadata carries before another is made. poll() reads many jobs with few calls (GetJob for a handful,
ListJobs pages for more); receive_events() reads EventBridge job state changes from SQS. Throttling and 5xx
are retried by botocore's adaptive mode; what still fails is logged and left for the next refresh tick, so
nothing is lost and nothing escapes poll(). Job settings live in mediaconvert.settings, the mapping of jobs
and events to reports in mediaconvert.reports.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from exports_app.config import MediaConvertSettings
from exports_app.transcode.base import JobReport, JobRequest, Pass, PendingJob, utcnow
from exports_app.transcode.mediaconvert.client import (
    HIDDEN_OBJECT,
    RETRIES,
    error_code,
    make_client,
    object_missing,
    queue_name,
    split_s3_uri,
    sqs_endpoint,
    transient,
)
from exports_app.transcode.mediaconvert.reports import event_from_body, report_from_event, report_from_job
from exports_app.transcode.mediaconvert.settings import (
    PASS_METADATA,
    frame_capture_group,
    job_destination,
    ladder_settings,
    template_settings,
)
from exports_app.transcode.probe import DEFAULT_MAX_DURATION_SECONDS, VideoProbe, probe_video

# report_from_event stays importable from here, where callers have always found it.
__all__ = ["MediaConvertTranscoder", "report_from_event"]

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # ListJobs' largest page; polling N jobs costs about ceil(N/20) calls
GET_JOB_LIMIT = 3  # up to this many pending jobs are asked for one by one
# CancelJob on a job that already ended or is gone: nothing left to stop.
ALREADY_ENDED = frozenset({"ConflictException", "NotFoundException", "BadRequestException"})
TOKEN_METADATA = "idempotencyToken"  # the UserMetadata key that finds a job again by its media job's token
# How much older than its input a job for that input may look (S3's and MediaConvert's clocks, second precision).
CLOCK_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredInput:
    """The export's copy in the input bucket for one attempt (one idempotency token)."""

    uri: str
    since: datetime  # when it reached S3: no job made from it is older
    earlier: bool  # an earlier submit of this attempt stored it, so its CreateJob may have made a job


# -- the transcoder ----------------------------------------------------------------------------------


class MediaConvertTranscoder:
    """Runs media jobs on AWS Elemental MediaConvert; the app's rows remain the source of truth.

    `clients` may hold pre-built boto3 clients by service name ("mediaconvert", "s3", "sqs") for tests;
    the rest are made on first use with adaptive retries (`max_attempts` each).
    """

    name = "mediaconvert"
    hd_after_fast = False

    def __init__(
        self,
        settings: MediaConvertSettings,
        *,
        clients: Mapping[str, Any] | None = None,
        max_attempts: int = RETRIES,
        max_duration_seconds: float = DEFAULT_MAX_DURATION_SECONDS,
    ) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self.max_duration_seconds = max_duration_seconds  # the media gate's bound, as at import
        self._clients: dict[str, Any] = dict(clients or {})
        self._made: dict[str, Any] = {}  # the clients close() may close (never the caller's)
        self._templates: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._list_jobs_failure: str | None = None  # the error code while ListJobs fails, for logging it once
        self._told_hidden_object = False  # an S3 403 taken as a missing object has been logged

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._made[service] = make_client(
                    service, self.settings.region, self._endpoint(service), self.max_attempts
                )
            return self._clients[service]

    def _endpoint(self, service: str) -> str | None:
        if service == "mediaconvert":
            return self.settings.endpoint_url or None
        if service == "s3":
            return self.settings.s3_endpoint_url or None
        return sqs_endpoint(self.settings.sqs_queue_url)

    # -- submit --------------------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        """Upload the export (once per attempt) and create the job; a repeated call returns the same job.

        Only a file that passes the media gate goes to S3: one stored before the gate fails here, unread.
        """
        probe = probe_video(request.input_path, max_duration_seconds=self.max_duration_seconds)
        stored = self._upload_input(request)
        params = self._create_params(request, stored.uri, probe)
        if stored.earlier:
            # An earlier submit got as far as the upload; its job, if it made one, may be more than a minute
            # old, past what ClientRequestToken dedupes (a crash before the row was written, a deferred retry).
            found = self._find_job(request.idempotency_token, stored.since)
            if found is not None:
                return found
        mediaconvert = self.client("mediaconvert")
        try:
            return str(mediaconvert.create_job(**params)["Job"]["Id"])
        except HTTPClientError as exc:
            # A read timeout or a closed connection after botocore's retries: the request went out, so the
            # job may exist (and be billed). Look before deciding; within the minute the token still dedupes.
            found = self._find_job(request.idempotency_token, stored.since)
            if found is not None:
                log.info(
                    "CreateJob for media job %s ended in %s; adopted job %s made with its token",
                    request.media_job_id,
                    type(exc).__name__,
                    found,
                )
                return found
            log.warning(
                "CreateJob for media job %s ended in %s and no job carries its token; submitting again",
                request.media_job_id,
                type(exc).__name__,
            )
            return str(mediaconvert.create_job(**params)["Job"]["Id"])

    def _create_params(self, request: JobRequest, input_uri: str, probe: VideoProbe) -> dict[str, Any]:
        """CreateJob's parameters. A pass's job encodes its pass's outputs in its own folder, and says which pass it
        is in its UserMetadata, which its reports read back; the fast pass (or the whole ladder) makes the poster."""
        destination = job_destination(self.settings.output_bucket, request.production_id, request.media_job_id)
        which = request.pass_name
        params: dict[str, Any] = {
            "Role": self.settings.role_arn,
            # MediaConvert answers a token repeated within a minute with the job it already made; later
            # repeats are caught by _find_job, which reads the token back from UserMetadata.
            "ClientRequestToken": request.idempotency_token,
            "UserMetadata": {
                "productionId": str(request.production_id),
                "uploadId": str(request.upload_id),
                "mediaJobId": str(request.media_job_id),
                TOKEN_METADATA: request.idempotency_token,
                **({PASS_METADATA: which.value} if which is not Pass.FULL else {}),
            },
            "StatusUpdateInterval": "SECONDS_10",
        }
        if self.settings.queue_arn:
            params["Queue"] = self.settings.queue_arn
        if self.settings.job_template:
            params["JobTemplate"] = self.settings.job_template
            template = self._template(self.settings.job_template)
            params["Settings"] = template_settings(template, input_uri, destination, which)
        else:
            params["Settings"] = ladder_settings(input_uri, destination, probe, which)
        if which is not Pass.HD:
            poster = frame_capture_group(destination, request.duration_seconds)
            params["Settings"].setdefault("OutputGroups", []).append(poster)
        return params

    def _find_job(self, token: str, since: datetime) -> str | None:
        """The id of the job that carries this idempotency token in its UserMetadata, if there is one.

        Walks ListJobs newest first and stops at jobs made before the input reached S3: a job for this
        token is never older than its input. Errors are left to the caller's rules (throttling waits for
        the next tick; a role without mediaconvert:ListJobs fails the submit and says so).
        """
        horizon = since - CLOCK_MARGIN
        for page in self._list_pages():
            for job in page:
                if (job.get("UserMetadata") or {}).get(TOKEN_METADATA) == token:
                    return str(job["Id"])
            oldest = page[-1].get("CreatedAt") if page else None
            if isinstance(oldest, datetime) and oldest < horizon:
                return None
        return None

    def _upload_input(self, request: JobRequest) -> StoredInput:
        """Copy the export to the input bucket; skipped when this attempt's copy is already there."""
        filename = re.sub(r"[^A-Za-z0-9._-]", "_", request.input_path.name)
        key = f"exports/{request.upload_id}/{request.idempotency_token}/{filename}"
        uri = f"s3://{self.settings.input_bucket}/{key}"
        s3 = self.client("s3")
        size = request.input_path.stat().st_size
        try:
            head = s3.head_object(Bucket=self.settings.input_bucket, Key=key)
            if head["ContentLength"] == size:
                return StoredInput(uri, head["LastModified"], earlier=True)
        except ClientError as exc:
            if not object_missing(exc):  # a 403 here is a missing key, or an upload that fails on its own
                raise
        started = utcnow()
        try:
            s3.upload_file(str(request.input_path), self.settings.input_bucket, key)
        except S3UploadFailedError as exc:
            # boto3 wraps the S3 error; the caller tells transient ones (throttling, 5xx) by the error inside.
            if isinstance(exc.__context__, (ClientError, BotoCoreError)):
                raise exc.__context__ from exc
            raise
        return StoredInput(uri, started, earlier=False)

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
        if len(wanted) > GET_JOB_LIMIT:
            self._poll_pages(wanted, reports)
        try:
            self._poll_each(wanted, reports)
        except (ClientError, BotoCoreError) as exc:
            log.warning(
                "MediaConvert poll stopped early (%s: %s); %d job(s) wait for the next tick",
                error_code(exc),
                exc,
                len(wanted),
            )
        return reports

    def _list_pages(self) -> Iterator[list[dict[str, Any]]]:
        """ListJobs pages, newest first, of the app's queue (of all queues when none is set)."""
        params: dict[str, Any] = {"MaxResults": PAGE_SIZE, "Order": "DESCENDING"}
        if self.settings.queue_arn:
            params["Queue"] = queue_name(self.settings.queue_arn)
        while True:
            page = self.client("mediaconvert").list_jobs(**params)
            yield page.get("Jobs", [])
            if not page.get("NextToken"):
                return
            params["NextToken"] = page["NextToken"]

    def _poll_pages(self, wanted: dict[str, int], reports: list[JobReport]) -> None:
        """Walk ListJobs newest first, moving wanted jobs from `wanted` to `reports` as they are seen.

        Pending jobs are recent, so ceil(N/20)+1 pages nearly always hold them all; older leftovers
        fall back to GetJob. So does everything when ListJobs fails (a role without mediaconvert:ListJobs,
        an outage): this tick then costs one GetJob per job, but no job goes unpolled.
        """
        try:
            for page in itertools.islice(self._list_pages(), math.ceil(len(wanted) / PAGE_SIZE) + 1):
                for job in page:
                    # A finished job's master playlist comes from its settings; without them GetJob asks again.
                    if job.get("Id") in wanted and (job.get("Settings") or job.get("Status") != "COMPLETE"):
                        reports.append(report_from_job(job, wanted.pop(job["Id"])))
                if not wanted:
                    break
        except (ClientError, BotoCoreError) as exc:
            self._list_jobs_failed(exc, len(wanted))
            return
        if self._list_jobs_failure is not None:
            log.info("MediaConvert ListJobs works again")
            self._list_jobs_failure = None

    def _list_jobs_failed(self, exc: Exception, left: int) -> None:
        # Once per failure, not once per tick: a missing permission would otherwise log every 2 s.
        code = error_code(exc)
        if code != self._list_jobs_failure:
            log.warning(
                "MediaConvert ListJobs failed (%s: %s); polling %d job(s) with GetJob until it works", code, exc, left
            )
        self._list_jobs_failure = code

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
            answer = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=max(1, min(max_messages, 10)), WaitTimeSeconds=wait_seconds
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning("reading MediaConvert events failed (%s); polling covers this tick", exc)
            return []
        messages = answer.get("Messages", [])
        reports = [report for report in map(self._event_report, messages) if report is not None]
        self._delete_messages(messages)
        return reports

    def _event_report(self, message: Mapping[str, Any]) -> JobReport | None:
        try:
            return report_from_event(event_from_body(message.get("Body") or ""))
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("dropping an unreadable MediaConvert event message %s: %s", message.get("MessageId"), exc)
            return None

    def _delete_messages(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if not messages:
            return
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            failed = (
                self.client("sqs")
                .delete_message_batch(QueueUrl=self.settings.sqs_queue_url, Entries=entries)
                .get("Failed", [])
            )
        except (ClientError, BotoCoreError) as exc:
            failed = [{"Message": str(exc)}]
        if failed:
            # They come back after the visibility timeout; applying a report twice is harmless.
            log.warning("could not delete %d MediaConvert event message(s): %s", len(failed), failed[0])

    def is_transient(self, exc: Exception) -> bool:
        return transient(exc)

    def open_output(self, uri: str) -> bytes:
        """Bytes of an output object ("s3://bucket/key"), for serving HLS; FileNotFoundError if absent."""
        bucket, key = split_s3_uri(uri)
        try:
            body: bytes = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()  # boto3 is untyped
            return body
        except ClientError as exc:
            if not object_missing(exc):
                raise
            if error_code(exc) in HIDDEN_OBJECT and not self._told_hidden_object:
                # Usually a missing file asked for by its owner; but if every file 404s, this says why.
                self._told_hidden_object = True
                log.warning(
                    "S3 answered 403 for %s; taken as missing (without s3:ListBucket S3 answers 403 "
                    "for a missing key). If it exists, the app's role lacks s3:GetObject on it.",
                    uri,
                )
            raise FileNotFoundError(uri) from exc

    def close(self) -> None:
        """Close the HTTP pools of the clients made here; a later call makes new ones."""
        with self._lock:
            made, self._made = self._made, {}
            self._clients = {name: c for name, c in self._clients.items() if name not in made}
        for client in made.values():
            client.close()
