"""boto3 clients for the MediaConvert transcoder, and the small facts about AWS names and errors it needs."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MISSING_OBJECT = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
# S3 will not tell a caller without s3:ListBucket whether a key exists: a missing one answers 403 (HEAD has
# no body, so its code is the bare status; GET says AccessDenied). The same 403 also means "no s3:GetObject".
HIDDEN_OBJECT = frozenset({"403", "AccessDenied", "Forbidden"})


# Retries after the first try of one call. Few on purpose: the refresh tick that makes the call is shared by every
# job, and botocore's backoff doubles up to 20 s a retry (8 retries held a throttled tick for about a minute). A
# call still failing after these is put off to the next tick as a whole (services/media_jobs.submit_queued), which
# is the long backoff.
RETRIES = 3


def client_config(max_attempts: int = RETRIES) -> Config:
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
        client = _session.client(
            service, region_name=region, endpoint_url=endpoint_url, config=client_config(max_attempts)
        )
    if service == "mediaconvert":
        client.meta.events.register("before-parse.mediaconvert.ListJobs", trim_unfinished_jobs)
    return client


# What is read of a job that has not finished (ListJobs, wire names): the poll's report (reports.report_from_job)
# and the token lookup (transcoder._find_job). A finished job keeps everything: its Settings and OutputGroupDetails
# give the master playlist and the renditions.
UNFINISHED_JOB_FIELDS = frozenset(
    {
        "id",
        "status",
        "timing",
        "jobPercentComplete",
        "currentPhase",
        "errorCode",
        "errorMessage",
        "userMetadata",
        "createdAt",
    }
)


def trim_unfinished_jobs(response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's before-parse hook for ListJobs: a job that has not finished keeps only what the app reads of it.

    A job's Settings (every output of the ladder, a few KB of nested JSON) is most of a ListJobs page, and botocore
    walks what is left member by member against the service model, timestamps and all: with 250 jobs in progress
    that was most of a refresh tick's CPU, every tick, in the web worker's process.
    """
    if response_dict.get("status_code") != 200:
        return
    try:
        page = json.loads(response_dict["body"])
        jobs = page.get("jobs") or []
    except (KeyError, TypeError, ValueError, AttributeError):
        return  # not a page this hook understands: botocore parses (or refuses) it as it is
    unfinished = [job for job in jobs if isinstance(job, dict) and job.get("status") != "COMPLETE"]
    if all(UNFINISHED_JOB_FIELDS.issuperset(job) for job in unfinished):
        return
    for job in unfinished:
        for name in [name for name in job if name not in UNFINISHED_JOB_FIELDS]:
            del job[name]
    response_dict["body"] = json.dumps(page).encode()


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


def queue_name(queue: str) -> str:
    """The name of a queue given by ARN ("arn:aws:mediaconvert:…:queues/Name" → "Name") or by name.

    CreateJob takes either; ListJobs documents its Queue filter as a name.
    """
    if not queue.startswith("arn:"):
        return queue
    return queue.split(":", 5)[-1].removeprefix("queues/")


def object_missing(exc: ClientError) -> bool:
    """Whether an S3 read's error may mean "no such object": a 404, or the 403 of a role without s3:ListBucket."""
    return error_code(exc) in MISSING_OBJECT | HIDDEN_OBJECT


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def transient(exc: Exception) -> bool:
    """Errors worth another submit on the next tick: throttling, 5xx, the network.

    A lost answer (read timeout, closed connection) is one too: the next submit finds the job by its token.
    """
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in {"TooManyRequestsException", "ThrottlingException", "Throttling"} or status >= 500
    return False
