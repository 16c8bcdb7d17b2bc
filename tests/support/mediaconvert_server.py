"""A MediaConvert-compatible HTTP test server (moto has no MediaConvert): the REST calls boto3 makes.

It speaks the wire format of botocore's service model (rest-json, camelCase members, epoch-second
timestamps), validates CreateJob like the service would (signed request, role ARN, settings or template,
s3:// input and destinations, HLS outputs, H.264 rate control with its bitrate, the model's enums, string
user metadata, an existing queue), dedupes CreateJob by clientRequestToken for one minute only (the window
is `token_window_seconds`), takes ListJobs' queue as a queue name, and sends the EventBridge "MediaConvert
Job State Change" events of the jobs it runs to an SQS queue. Tests move jobs along, write their HLS output
to S3, throttle, inject 5xx, deny an operation, lose answers, and set the server's clock.

    with MediaConvertServer(s3_endpoint_url=moto_url, events_queue_url=queue_url) as server:
        client = boto3.client("mediaconvert", endpoint_url=server.url, region_name="us-east-1")
        job_id = client.create_job(...)["Job"]["Id"]
        server.advance(job_id, "PROGRESSING", percent=40, phase="TRANSCODING")  # events: job started, 40 %
        master_uri = server.complete(job_id)  # COMPLETE, with the groups' playlist paths
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import math
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.session

PREFIX = "/2017-08-29"
ACCOUNT = "123456789012"
ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
STATUSES = ("SUBMITTED", "PROGRESSING", "COMPLETE", "CANCELED", "ERROR")
ENDED = ("COMPLETE", "CANCELED", "ERROR")
PHASES = ("PROBING", "TRANSCODING", "UPLOADING")
TOKEN_WINDOW_SECONDS = 60.0  # "If you reuse a client request token within one minute ..." (CreateJob's model)
EVENT_DETAIL_TYPE = "MediaConvert Job State Change"
# An output group's settings member and its EventBridge type, by the group's outputGroupSettings.type.
GROUP_KINDS = {
    "HLS_GROUP_SETTINGS": ("hlsGroupSettings", "HLS_GROUP"),
    "DASH_ISO_GROUP_SETTINGS": ("dashIsoGroupSettings", "DASH_ISO_GROUP"),
    "FILE_GROUP_SETTINGS": ("fileGroupSettings", "FILE_GROUP"),
    "MS_SMOOTH_GROUP_SETTINGS": ("msSmoothGroupSettings", "MS_SMOOTH_GROUP"),
    "CMAF_GROUP_SETTINGS": ("cmafGroupSettings", "CMAF_GROUP"),
}
# The multivariant manifests a COMPLETE event lists in playlistFilePaths, by group type (the user guide's table).
GROUP_PLAYLISTS = {
    "HLS_GROUP": (".m3u8",),
    "DASH_ISO_GROUP": (".mpd",),
    "CMAF_GROUP": (".mpd", ".m3u8"),
    "MS_SMOOTH_GROUP": (".ism",),
}
# (method, path pattern) → operation name, as in the service model's "http" entries.
ROUTES = (
    ("POST", re.compile(f"{PREFIX}/endpoints"), "DescribeEndpoints"),
    ("POST", re.compile(f"{PREFIX}/jobs"), "CreateJob"),
    ("GET", re.compile(f"{PREFIX}/jobs"), "ListJobs"),
    ("GET", re.compile(f"{PREFIX}/jobs/(?P<id>[^/]+)"), "GetJob"),
    ("DELETE", re.compile(f"{PREFIX}/jobs/(?P<id>[^/]+)"), "CancelJob"),
    ("GET", re.compile(f"{PREFIX}/jobTemplates/(?P<id>[^/]+)"), "GetJobTemplate"),
)


class Refusal(Exception):
    """An error answer: HTTP status, the error type botocore maps to an exception, a message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def bad_request(message: str) -> Refusal:
    return Refusal(400, "BadRequestException", message)


class RequestRecord(NamedTuple):
    """One request as received (kept in MediaConvertServer.requests, in order)."""

    method: str
    path: str
    body: Any
    operation: str
    query: dict[str, list[str]]


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _sqs_client(region: str, endpoint_url: str) -> Any:
    """An SQS client from this module's one boto3 session, made under a lock.

    Not boto3's default session: the tests' threads make clients from it, and a session is not safe to make
    clients from in two threads at once. One session for every server, not one each: a new session reads the
    service models and endpoint rules from disk again, about 0.3 s of CPU per server (a test module starts dozens).
    """
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client("sqs", region_name=region, endpoint_url=endpoint_url)


@functools.cache
def model_enum(shape: str) -> frozenset[str]:
    """An enum of botocore's MediaConvert model, the truth for what the service accepts."""
    model = botocore.session.get_session().get_service_model("mediaconvert")
    return frozenset(model.shape_for(shape).enum)


class MediaConvertServer:
    """A threaded MediaConvert on a free loopback port; start()/stop() or use it as a context manager.

    `s3_endpoint_url` (or an `s3_client` passed to complete()) is where complete() writes HLS files.
    `events_queue_url` is the SQS queue (an EventBridge rule's target) that gets the jobs' state changes.
    `jobs` holds the jobs in wire form (camelCase); `calls` counts HTTP requests by operation, throttled
    and failed ones included (each retry is a call); `requests` is the request log. `clock` gives the
    service's time (epoch seconds) and `token_window_seconds` how long a clientRequestToken dedupes.
    """

    def __init__(
        self, s3_endpoint_url: str | None = None, region: str = "us-east-1", *, events_queue_url: str | None = None
    ) -> None:
        self.s3_endpoint_url = s3_endpoint_url
        self.region = region
        self.events_queue_url = events_queue_url
        self.clock: Callable[[], float] = time.time
        self.token_window_seconds = TOKEN_WINDOW_SECONDS
        self.jobs: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.queues: set[str] = {"Default"}
        self.tokens: dict[str, tuple[str, float]] = {}  # clientRequestToken → (job id, when it was used)
        self.requests: list[RequestRecord] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self._throttle = 0
        self._failures: list[int] = []
        self._denied: set[str] = set()
        self._lost: dict[str, list[str]] = {}
        self._stall_seconds = 0.0
        self._sequence = 0  # creation order (createdAt has one-second ties)
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._sqs: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> MediaConvertServer:
        if self.events_queue_url:
            parts = urlsplit(self.events_queue_url)
            self._sqs = _sqs_client(self.region, f"{parts.scheme}://{parts.netloc}")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() quick (shutdown waits for the serve loop to notice).
        threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="mediaconvert-test-server",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> MediaConvertServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------------------------------------

    def throttle(self, n: int) -> None:
        """The next n requests answer 429 TooManyRequestsException."""
        with self._lock:
            self._throttle = n

    def fail_next(self, n: int, status: int = 500, after: int = 0) -> None:
        """After `after` good requests, the next n answer `status` (InternalServerErrorException)."""
        with self._lock:
            self._failures = [0] * after + [status] * n

    def deny(self, operation: str) -> None:
        """Every `operation` request answers 403 ForbiddenException, as for a role without that permission."""
        with self._lock:
            self._denied.add(operation)

    def lose_answers(self, operation: str, n: int = 1, when: str = "after", stall_seconds: float = 0.0) -> None:
        """The next n `operation` requests get no answer: the connection closes.

        when="after": the request is carried out first (a CreateJob makes its job), then the answer is lost;
        "before": it is not carried out. With stall_seconds the server waits that long before closing (after
        carrying it out), so a client with a shorter read timeout gives up first: botocore's ReadTimeoutError
        instead of ConnectionClosedError.
        """
        if when not in ("before", "after"):
            raise ValueError(f"when is 'before' or 'after', not {when!r}")
        with self._lock:
            self._lost[operation] = [when] * n
            self._stall_seconds = stall_seconds

    def add_queue(self, name: str) -> str:
        """An on-demand queue beside Default; returns its ARN."""
        with self._lock:
            self.queues.add(name)
        return self._queue_arn(name)

    def add_job_template(self, name: str, settings: dict[str, Any]) -> None:
        """A job template (settings in wire form) for CreateJob's jobTemplate and GetJobTemplate."""
        now = int(self.clock())
        with self._lock:
            arn = f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobTemplates/{name}"
            self.templates[name] = {
                "name": name,
                "arn": arn,
                "type": "CUSTOM",
                "createdAt": now,
                "lastUpdated": now,
                "settings": settings,
            }

    def advance(
        self,
        job_id: str,
        status: str,
        percent: int | None = None,
        phase: str | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> None:
        """Move a job to `status` with the timing, progress and error fields MediaConvert would show.

        It sends the events the service would: INPUT_INFORMATION and PROGRESSING when a job starts,
        STATUS_UPDATE for progress, COMPLETE, ERROR or CANCELED when it ends (never one for SUBMITTED).
        """
        if status not in STATUSES or (phase is not None and phase not in PHASES):
            raise ValueError(f"unknown status or phase: {status}, {phase}")
        events = []
        with self._lock:
            job = self.jobs[job_id]
            previous, job["status"] = job["status"], status
            timing = job["timing"]
            now = self.clock()
            if status != "SUBMITTED":
                timing.setdefault("startTime", int(now))
            if status in ENDED:
                timing["finishTime"] = int(now)
                # Like the service: progress fields belong to a running job only.
                job.pop("jobPercentComplete", None)
                job.pop("currentPhase", None)
            for key, value in (
                ("jobPercentComplete", percent),
                ("currentPhase", phase),
                ("errorCode", error_code),
                ("errorMessage", error_message),
            ):
                if value is not None:
                    job[key] = value
            if status == "PROGRESSING" and previous != "PROGRESSING":
                inputs = [{"id": n + 1, "uri": i.get("fileInput")} for n, i in enumerate(job["settings"]["inputs"])]
                events.append(self._event(job, "INPUT_INFORMATION", now, inputDetails=inputs))
                events.append(self._event(job, "PROGRESSING", now))
            if status == "PROGRESSING" and (percent is not None or phase is not None):
                progress = {
                    "jobPercentComplete": job.get("jobPercentComplete", 0),
                    "currentPhase": job.get("currentPhase", "PROBING"),
                    "retryCount": 0,
                }
                events.append(self._event(job, "STATUS_UPDATE", now, jobProgress=progress))
            if status == "COMPLETE":
                events.append(self._event(job, status, now, outputGroupDetails=_event_group_details(job)))
            elif status == "ERROR":
                errors = {key: job[key] for key in ("errorCode", "errorMessage") if key in job}
                events.append(self._event(job, status, now, **errors))
            elif status == "CANCELED":
                events.append(self._event(job, status, now))
        self._send(events)

    def complete(self, job_id: str, s3_client: Any = None) -> str | None:
        """Mark the job COMPLETE and write a small HLS ladder at its HLS destination; returns the master URI.

        Files are written with `s3_client`, else with a client for `s3_endpoint_url`; with neither the
        job completes without files (and None is returned).
        """
        s3 = s3_client or (
            boto3.client("s3", region_name=self.region, endpoint_url=self.s3_endpoint_url)
            if self.s3_endpoint_url
            else None
        )
        with self._lock:
            job = _copy(self.jobs[job_id])
        master, details = None, []
        for group in job["settings"].get("outputGroups", []):
            details.append({"outputDetails": [_output_detail(o) for o in group.get("outputs", [])]})
            file_destination = (group["outputGroupSettings"].get("fileGroupSettings") or {}).get("destination")
            if file_destination is not None and s3 is not None:
                _write_frame_captures(
                    s3,
                    _output_base(file_destination, job["settings"]["inputs"][0]["fileInput"]),
                    group.get("outputs", []),
                )
            destination = (group["outputGroupSettings"].get("hlsGroupSettings") or {}).get("destination")
            if destination is None:
                continue
            base = _output_base(destination, job["settings"]["inputs"][0]["fileInput"])
            if s3 is not None:
                segment_length = int(group["outputGroupSettings"]["hlsGroupSettings"].get("segmentLength") or 10)
                _write_hls(s3, base, group.get("outputs", []), segment_length)
            master = master or f"{base}.m3u8"
        with self._lock:
            self.jobs[job_id]["outputGroupDetails"] = details
        self.advance(job_id, "COMPLETE")
        return master if s3 is not None else None

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()

    # -- events ---------------------------------------------------------------------------------------

    def _event(self, job: dict[str, Any], status: str, now: float, **detail: Any) -> dict[str, Any]:
        """An EventBridge event as MediaConvert sends it (detail.timestamp in epoch milliseconds)."""
        time_text = datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": EVENT_DETAIL_TYPE,
            "source": "aws.mediaconvert",
            "account": ACCOUNT,
            "time": time_text,
            "region": self.region,
            "resources": [job["arn"]],
            "detail": {
                "timestamp": int(now * 1000),
                "accountId": ACCOUNT,
                "queue": job["queue"],
                "jobId": job["id"],
                "status": status,
                "userMetadata": _copy(job["userMetadata"]),
                **detail,
            },
        }

    def _send(self, events: list[dict[str, Any]]) -> None:
        if self._sqs is None:
            return
        for event in events:
            self._sqs.send_message(QueueUrl=self.events_queue_url, MessageBody=json.dumps(event))

    # -- HTTP -----------------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Any, raw_body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """Answer one request: (status, extra headers, JSON body), or None to close the connection unanswered."""
        url = urlsplit(raw_path)
        query = parse_qs(url.query)
        operation, params = _route(method, url.path)
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(RequestRecord(method, url.path, body, operation, query))
            self.calls[operation] += 1
            throttled = self._throttle > 0
            self._throttle = max(0, self._throttle - 1)
            failure = self._failures.pop(0) if self._failures and not throttled else None
            lost = self._lost.get(operation, [])
            lose = lost.pop(0) if lost and not throttled and not failure else None
            stall = self._stall_seconds
        if lose == "before":
            return None
        try:
            if throttled:
                raise Refusal(429, "TooManyRequestsException", "Too Many Requests")
            if failure:
                raise Refusal(failure, "InternalServerErrorException", "Injected failure")
            if not str(headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 "):
                raise Refusal(403, "ForbiddenException", "Missing SigV4 Authorization header")
            if operation in self._denied:
                raise Refusal(403, "ForbiddenException", f"User is not authorized to perform: mediaconvert:{operation}")
            if not isinstance(body, dict):
                raise bad_request("The request body is not a JSON object")
            status, answer = self._dispatch(operation, params, query, body)
            reply: tuple[int, dict[str, str], bytes] = status, {}, json.dumps(answer).encode()
        except Refusal as refusal:
            # botocore's rest-json parser reads the error type from this header (or __type in the body).
            payload = {"__type": refusal.kind, "message": refusal.message}
            reply = refusal.status, {"x-amzn-ErrorType": refusal.kind}, json.dumps(payload).encode()
        if lose == "after":
            time.sleep(stall)
            return None
        return reply

    def _dispatch(
        self, operation: str, params: dict[str, str], query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any]:
        if operation == "DescribeEndpoints":
            return 200, {"endpoints": [{"url": self.url}]}
        if operation == "CreateJob":
            return 201, {"job": self._create(body)}
        if operation == "ListJobs":
            return 200, self._list(query)
        if operation == "GetJob":
            return 200, {"job": self._job(params["id"])}
        if operation == "CancelJob":
            return 202, self._cancel(params["id"])
        if operation == "GetJobTemplate":
            with self._lock:
                if params["id"] not in self.templates:
                    raise Refusal(404, "NotFoundException", f"Job template {params['id']} not found")
                return 200, {"jobTemplate": _copy(self.templates[params["id"]])}
        raise Refusal(404, "NotFoundException", f"No route {operation}")

    def _job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            if job_id not in self.jobs:
                raise Refusal(404, "NotFoundException", f"Job {job_id} not found")
            return _public(self.jobs[job_id])

    def _cancel(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            if self._job(job_id)["status"] in ENDED:
                raise Refusal(409, "ConflictException", f"Job {job_id} has already ended and cannot be canceled")
            self.advance(job_id, "CANCELED")
        return {}

    def _queue_arn(self, name: str) -> str:
        return f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:queues/{name}"

    def _queue_of(self, body: dict[str, Any]) -> str:
        """CreateJob's queue (a name or an ARN) as the ARN the job reports; it must exist."""
        queue = str(body.get("queue") or "Default")
        name = queue.rsplit(":queues/", 1)[-1] if queue.startswith("arn:") else queue
        if name not in self.queues or (queue.startswith("arn:") and queue != self._queue_arn(name)):
            raise bad_request(f"queue {queue} does not exist")
        return self._queue_arn(name)

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            template = self._template_for(body)
            validate_create(body, template)
            queue = self._queue_of(body)
            now = self.clock()
            token = body.get("clientRequestToken")
            if token and token in self.tokens:
                job_id, used_at = self.tokens[token]
                if now - used_at < self.token_window_seconds:
                    return _public(self.jobs[job_id])
            self._sequence += 1
            job_id = f"{int(now * 1000)}-{_random_suffix()}"  # the service's id shape
            settings = _copy(body.get("settings") or {})
            if template and not settings.get("outputGroups"):
                settings["outputGroups"] = _copy(template["settings"].get("outputGroups", []))
            job = {
                "id": job_id,
                "arn": f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobs/{job_id}",
                "status": "SUBMITTED",
                "createdAt": int(now),
                "timing": {"submitTime": int(now)},
                "role": body["role"],
                "settings": settings,
                "userMetadata": body.get("userMetadata", {}),
                "queue": queue,
                "priority": body.get("priority", 0),
                "statusUpdateInterval": body.get("statusUpdateInterval", "SECONDS_60"),
                "accelerationStatus": "NOT_APPLICABLE",
                "retryCount": 0,
                "messages": {"info": [], "warning": []},
                "_sequence": self._sequence,
            }
            for key in ("clientRequestToken", "jobTemplate"):
                if body.get(key):
                    job[key] = body[key]
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = (job_id, now)
            return _public(job)

    def _template_for(self, body: dict[str, Any]) -> dict[str, Any] | None:
        name = body.get("jobTemplate")
        if not name:
            return None
        if name not in self.templates:
            raise bad_request(f"Job template {name} does not exist")
        return self.templates[name]

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        if not one("maxResults", "20").isdigit() or not 1 <= int(one("maxResults", "20")) <= 20:
            raise bad_request("maxResults must be between 1 and 20")
        if one("order", "DESCENDING") not in ("ASCENDING", "DESCENDING"):
            raise bad_request("order must be ASCENDING or DESCENDING")
        if "status" in query and one("status", "") not in STATUSES:
            raise bad_request("status is not a job status")
        if not one("nextToken", "0").isdigit():
            raise bad_request("nextToken is not valid")
        queue = one("queue", "")
        if "queue" in query and queue.startswith("arn:"):
            raise bad_request("queue is a queue name, not an ARN")
        if "queue" in query and queue not in self.queues:
            raise Refusal(404, "NotFoundException", f"Queue {queue} not found")
        size, start = int(one("maxResults", "20")), int(one("nextToken", "0"))
        with self._lock:
            newest_first = one("order", "DESCENDING") == "DESCENDING"
            jobs = sorted(self.jobs.values(), key=lambda j: j["_sequence"], reverse=newest_first)
            jobs = [
                j
                for j in jobs
                if ("status" not in query or j["status"] == one("status", ""))
                and ("queue" not in query or j["queue"] == self._queue_arn(queue))
            ]
            answer: dict[str, Any] = {"jobs": [_public(j) for j in jobs[start : start + size]]}
        if start + size < len(jobs):
            answer["nextToken"] = str(start + size)
        return answer


def _handler_for(server: MediaConvertServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the service; every answer has a Content-Length
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per call

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = server.handle(self.command, self.path, self.headers, raw)
            if reply is None:
                self.close_connection = True  # an answer lost on the way: the client sees the connection close
                return
            status, headers, data = reply
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", secrets.token_hex(16))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for route_method, pattern, operation in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return operation, {k: unquote(v) for k, v in match.groupdict().items()}
    return f"Unknown {method}", {}


def _random_suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def _public(job: dict[str, Any]) -> dict[str, Any]:
    """A stored job as the service returns it (bookkeeping keys start with "_"), copied under the server's lock.

    Copied through JSON, what the answer becomes anyway: deepcopy of 20 jobs' Settings a page, pages every second,
    made this stand-in for AWS take CPU from the app that bench_capacity measures on the same machine.
    """
    loaded: dict[str, Any] = json.loads(json.dumps({k: v for k, v in job.items() if not k.startswith("_")}))
    return loaded


def _output_base(destination: str, input_uri: str) -> str:
    if not destination.endswith("/"):
        return destination
    return destination + input_uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _size(output: dict[str, Any]) -> tuple[int, int]:
    """The output's frame: its width and height, a 16:9 width when only the height is set (720p when neither)."""
    video = output.get("videoDescription") or {}
    height = video.get("height") or 720
    return video.get("width") or height * 16 // 9, height


def _output_detail(output: dict[str, Any]) -> dict[str, Any]:
    width, height = _size(output)
    return {"durationInMs": 2000, "videoDetails": {"heightInPx": height, "widthInPx": width}}


def _modifier(output: dict[str, Any], index: int) -> str:
    return output.get("nameModifier") or f"_{index}"


def _video_bitrate(output: dict[str, Any]) -> int:
    h264 = ((output.get("videoDescription") or {}).get("codecSettings") or {}).get("h264Settings") or {}
    return int(h264.get("maxBitrate") or h264.get("bitrate") or 1_000_000)


def _event_group_details(job: dict[str, Any]) -> list[dict[str, Any]]:
    """A COMPLETE event's outputGroupDetails: each group's type, multivariant manifests and output files."""
    settings = job["settings"]
    input_uri = settings["inputs"][0]["fileInput"]
    details = []
    for group in settings.get("outputGroups", []):
        group_settings = group["outputGroupSettings"]
        member, kind = GROUP_KINDS[group_settings["type"]]
        base = _output_base(group_settings[member]["destination"], input_uri)
        outputs = []
        for index, output in enumerate(group.get("outputs", [])):
            detail = _output_detail(output)
            detail["videoDetails"]["averageBitrate"] = _video_bitrate(output)
            if _frame_capture(output):  # the last capture's file
                last = _frame_capture(output)["maxCaptures"] - 1
                detail["outputFilePaths"] = [f"{base}{output.get('nameModifier', '')}.{last:07d}.jpg"]
            elif kind in ("HLS_GROUP", "FILE_GROUP"):  # the others list no per-output files
                extension = ".m3u8" if kind == "HLS_GROUP" else ".mp4"
                detail["outputFilePaths"] = [f"{base}{_modifier(output, index)}{extension}"]
            outputs.append(detail)
        entry: dict[str, Any] = {"outputDetails": outputs, "type": kind}
        if kind in GROUP_PLAYLISTS:
            entry["playlistFilePaths"] = [base + extension for extension in GROUP_PLAYLISTS[kind]]
        details.append(entry)
    return details


def _frame_capture(output: dict[str, Any]) -> dict[str, Any]:
    """The output's frameCaptureSettings, or {} when it is not a frame capture."""
    codec = (output.get("videoDescription") or {}).get("codecSettings") or {}
    return codec.get("frameCaptureSettings") or {} if codec.get("codec") == "FRAME_CAPTURE" else {}


TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def _write_frame_captures(s3: Any, base: str, outputs: list[dict[str, Any]]) -> None:
    """The numbered JPEGs of each frame capture output (name.0000000.jpg, name.0000001.jpg, ...)."""
    bucket, _, key_base = base.removeprefix("s3://").partition("/")
    for output in outputs:
        for number in range(_frame_capture(output).get("maxCaptures", 0)):
            s3.put_object(
                Bucket=bucket,
                Key=f"{key_base}{output.get('nameModifier', '')}.{number:07d}.jpg",
                Body=TINY_JPEG,
                ContentType="image/jpeg",
            )


def _h264(output: dict[str, Any]) -> dict[str, Any]:
    return ((output.get("videoDescription") or {}).get("codecSettings") or {}).get("h264Settings") or {}


def _audio_bitrate(output: dict[str, Any]) -> int:
    return sum(
        ((a.get("codecSettings") or {}).get("aacSettings") or {}).get("bitrate", 0)
        for a in output.get("audioDescriptions") or []
    )


def _frame_rate(output: dict[str, Any]) -> float:
    h264 = _h264(output)
    if h264.get("framerateControl") == "SPECIFIED":
        return float(h264["framerateNumerator"] / h264["framerateDenominator"])
    return 30.0  # INITIALIZE_FROM_SOURCE: this server has no source to follow


# H.264 levels (level_idc) by the macroblocks a second they allow, as MediaConvert's CodecLevel AUTO picks them.
LEVELS = ((40_500, 30), (108_000, 31), (216_000, 32), (245_760, 40), (522_240, 42), (983_040, 51))
PROFILES = {"HIGH": "6400", "MAIN": "4d40", "BASELINE": "42c0"}


def _codecs(output: dict[str, Any], video_only: bool = False) -> str:
    """RFC 6381 CODECS from the output's own settings: its profile, the level its size and rate need, AAC-LC."""
    width, height = _size(output)
    macroblocks = math.ceil(width / 16) * math.ceil(height / 16) * _frame_rate(output)
    level = next((idc for limit, idc in LEVELS if macroblocks <= limit), 52)
    codecs = [f"avc1.{PROFILES.get(_h264(output).get('codecProfile', 'MAIN'), '4d40')}{level:02x}"]
    if output.get("audioDescriptions") and not video_only:
        codecs.append("mp4a.40.2")
    return ",".join(codecs)


def _sdr(output: dict[str, Any]) -> bool:
    corrector = ((output.get("videoDescription") or {}).get("videoPreprocessors") or {}).get("colorCorrector") or {}
    return corrector.get("colorSpaceConversion") in ("FORCE_709", "FORCE_601")


def _write_hls(s3: Any, base: str, outputs: list[dict[str, Any]], segment_length: int) -> None:
    """The group's manifests from the job's own settings: a master, a VOD variant playlist per output with one
    segment of the group's length, and an I-frame playlist per output that asks for one (IFrameOnlyManifest).

    The master lists the outputs in the job's order, each with the RESOLUTION, BANDWIDTH (video max + audio),
    AVERAGE-BANDWIDTH, FRAME-RATE and CODECS (profile and level) its settings give; VIDEO-RANGE=SDR when the
    color corrector converts to an SDR color space.
    """
    bucket, _, key_base = base.removeprefix("s3://").partition("/")
    folder, name = key_base.rsplit("/", 1) if "/" in key_base else ("", key_base)
    prefix = f"{folder}/" if folder else ""
    master = ["#EXTM3U", "#EXT-X-VERSION:4", "#EXT-X-INDEPENDENT-SEGMENTS"]
    iframes = []
    for index, output in enumerate(outputs):
        width, height = _size(output)
        bandwidth = _video_bitrate(output) + _audio_bitrate(output)
        modifier = _modifier(output, index)
        variant, segment = f"{name}{modifier}.m3u8", f"{name}{modifier}_00001.ts"
        video_range = ",VIDEO-RANGE=SDR" if _sdr(output) else ""
        master += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},AVERAGE-BANDWIDTH={bandwidth * 4 // 5},"
            f'CODECS="{_codecs(output)}",RESOLUTION={width}x{height},'
            f"FRAME-RATE={_frame_rate(output):.3f}{video_range}",
            variant,
        ]
        playlist = (
            f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{segment_length}\n#EXT-X-MEDIA-SEQUENCE:1\n"
            f"#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{segment_length}.00000,\n{segment}\n#EXT-X-ENDLIST\n"
        )
        s3.put_object(
            Bucket=bucket, Key=prefix + variant, Body=playlist.encode(), ContentType="application/vnd.apple.mpegurl"
        )
        s3.put_object(
            Bucket=bucket, Key=prefix + segment, Body=b"\x47\x40\x00\x10" + b"\xff" * 184, ContentType="video/mp2t"
        )
        if ((output.get("outputSettings") or {}).get("hlsSettings") or {}).get("iFrameOnlyManifest") == "INCLUDE":
            iframe = f"{name}{modifier}_I-Frame.m3u8"
            gop = float(_h264(output).get("gopSize") or segment_length)
            entries = "".join(
                f"#EXTINF:{gop:.5f},\n#EXT-X-BYTERANGE:188@{188 * n}\n{segment}\n"
                for n in range(max(1, int(segment_length / gop)))
            )
            s3.put_object(
                Bucket=bucket,
                Key=prefix + iframe,
                ContentType="application/vnd.apple.mpegurl",
                Body=(
                    f"#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:{math.ceil(gop)}\n"
                    f"#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n"
                    f"{entries}#EXT-X-ENDLIST\n"
                ).encode(),
            )
            iframes.append(
                f"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={bandwidth // 10},"
                f'CODECS="{_codecs(output, video_only=True)}",RESOLUTION={width}x{height}'
                f'{video_range},URI="{iframe}"'
            )
    s3.put_object(
        Bucket=bucket,
        Key=f"{key_base}.m3u8",
        Body=("\n".join(master + iframes) + "\n").encode(),
        ContentType="application/vnd.apple.mpegurl",
    )


def validate_create(body: dict[str, Any], template: dict[str, Any] | None = None) -> None:
    """Refuse a CreateJob the way MediaConvert would (400 BadRequestException)."""
    if not ROLE.match(str(body.get("role", ""))):
        raise bad_request("role must be an IAM role ARN")
    settings = body.get("settings")
    if not settings and template is None:
        raise bad_request("settings or jobTemplate is required")
    settings = settings or {}
    inputs = settings.get("inputs") or []
    if not inputs or not str(inputs[0].get("fileInput", "")).startswith("s3://"):
        raise bad_request("inputs[0].fileInput must be an s3:// URI")
    groups = settings.get("outputGroups") or (template or {}).get("settings", {}).get("outputGroups") or []
    if not groups:
        raise bad_request("at least one output group is required")
    for index, group in enumerate(groups):
        _validate_group(group, f"/outputGroups/{index}")
    for key, value in (body.get("userMetadata") or {}).items():
        if not isinstance(value, str):
            raise bad_request(f"userMetadata.{key} must be a string")
    interval = body.get("statusUpdateInterval")
    if interval is not None and interval not in model_enum("StatusUpdateInterval"):
        raise bad_request(f"/statusUpdateInterval: {interval} is not one of the allowed values")


def _validate_group(group: dict[str, Any], where: str) -> None:
    group_settings = group.get("outputGroupSettings") or {}
    kinds = [k for k, v in group_settings.items() if k.endswith("GroupSettings") and isinstance(v, dict)]
    for kind in kinds:
        if not str(group_settings[kind].get("destination", "")).startswith("s3://"):
            raise bad_request(f"outputGroupSettings.{kind}.destination must be an s3:// URI")
    kind = group_settings.get("type")
    if kind not in GROUP_KINDS or GROUP_KINDS[kind][0] not in kinds:
        raise bad_request(f"{where}/outputGroupSettings: a type of {sorted(GROUP_KINDS)} and its settings")
    outputs = group.get("outputs") or []
    for index, output in enumerate(outputs):
        _validate_video(output, f"{where}/outputs/{index}/videoDescription")
    if kind != "HLS_GROUP_SETTINGS":
        return
    if not outputs:
        raise bad_request("an HLS output group needs outputs")
    modifiers = [o.get("nameModifier") for o in outputs]
    if len(outputs) > 1 and (not all(modifiers) or len(set(modifiers)) != len(modifiers)):
        raise bad_request("outputs in one group need distinct nameModifier values")
    for output in outputs:
        if (output.get("containerSettings") or {}).get("container", "M3U8") != "M3U8":
            raise bad_request("HLS outputs need container M3U8")
        codec = ((output.get("videoDescription") or {}).get("codecSettings") or {}).get("codec")
        if output.get("videoDescription") and codec not in ("H_264", "H_265"):
            raise bad_request("HLS video must be H_264 or H_265")


def _validate_video(output: dict[str, Any], where: str) -> None:
    """H.264 needs its settings, a rate control mode and that mode's bitrate (the model's docs: "Required for
    VBR and CBR" on bitrate, "Required when Rate control mode is QVBR" on maxBitrate).

    The model does not say what a missing rateControlMode defaults to, so this server requires one.
    """
    codec_settings = (output.get("videoDescription") or {}).get("codecSettings") or {}
    if codec_settings.get("codec") == "FRAME_CAPTURE":
        _validate_frame_capture(output, where)
        return
    if codec_settings.get("codec") != "H_264":
        return
    h264 = codec_settings.get("h264Settings")
    if not isinstance(h264, dict):
        raise bad_request(f"{where}/codecSettings/h264Settings: required when codec is H_264")
    mode = h264.get("rateControlMode")
    if mode not in model_enum("H264RateControlMode"):
        raise bad_request(
            f"{where}/codecSettings/h264Settings/rateControlMode: one of "
            f"{sorted(model_enum('H264RateControlMode'))} is required"
        )
    member = "maxBitrate" if mode == "QVBR" else "bitrate"
    value = h264.get(member)
    if not isinstance(value, int) or not 1000 <= value <= 1_152_000_000:
        raise bad_request(
            f"{where}/codecSettings/h264Settings/{member}: required when rateControlMode is {mode} "
            "(1000 to 1152000000 bits/s)"
        )


def _validate_frame_capture(output: dict[str, Any], where: str) -> None:
    """Frame capture writes images: a RAW container and the model's ranges for its settings."""
    if (output.get("containerSettings") or {}).get("container") != "RAW":
        raise bad_request(f"{where}: frame capture outputs need container RAW")
    limits = {
        "framerateNumerator": 2147483647,
        "framerateDenominator": 2147483647,
        "maxCaptures": 10_000_000,
        "quality": 100,
    }
    settings = _frame_capture(output)
    for member, top in limits.items():
        value = settings.get(member)
        if value is not None and not (isinstance(value, int) and 1 <= value <= top):
            raise bad_request(f"{where}/codecSettings/frameCaptureSettings/{member}: 1 to {top}")
    for member in ("framerateNumerator", "framerateDenominator"):
        if member not in settings:
            raise bad_request(f"{where}/codecSettings/frameCaptureSettings/{member}: required")
