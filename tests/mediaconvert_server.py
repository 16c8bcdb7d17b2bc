"""A MediaConvert-compatible HTTP test server (moto has no MediaConvert): the REST calls boto3 makes.

It speaks the wire format of botocore's service model (rest-json, camelCase members, epoch-second
timestamps), validates CreateJob like the service would (signed request, role ARN, settings or template,
s3:// input and destinations, HLS outputs, string user metadata), dedupes CreateJob by clientRequestToken,
and lets tests move jobs along, write their HLS output to S3, throttle and inject 5xx.

    with MediaConvertServer(s3_endpoint_url=moto_url) as server:
        client = boto3.client("mediaconvert", endpoint_url=server.url, region_name="us-east-1")
        job_id = client.create_job(...)["Job"]["Id"]
        server.advance(job_id, "PROGRESSING", percent=40, phase="TRANSCODING")
        master_uri = server.complete(job_id)
"""

from __future__ import annotations

import collections
import copy
import json
import re
import secrets
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import boto3

PREFIX = "/2017-08-29"
ACCOUNT = "123456789012"
ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
STATUSES = ("SUBMITTED", "PROGRESSING", "COMPLETE", "CANCELED", "ERROR")
ENDED = ("COMPLETE", "CANCELED", "ERROR")
PHASES = ("PROBING", "TRANSCODING", "UPLOADING")
DEFAULT_QUEUE = f"arn:aws:mediaconvert:us-east-1:{ACCOUNT}:queues/Default"
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


class MediaConvertServer:
    """A threaded MediaConvert on a free loopback port; start()/stop() or use it as a context manager.

    `s3_endpoint_url` (or an `s3_client` passed to complete()) is where complete() writes HLS files.
    `jobs` holds the jobs in wire form (camelCase); `calls` counts HTTP requests by operation, throttled
    and failed ones included (each retry is a call); `requests` is the request log.
    """

    def __init__(self, s3_endpoint_url: str | None = None, region: str = "us-east-1") -> None:
        self.s3_endpoint_url = s3_endpoint_url
        self.region = region
        self.jobs: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[RequestRecord] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self._throttle = 0
        self._failures: list[int] = []
        self._sequence = 0  # creation order (createdAt has one-second ties)
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> MediaConvertServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() quick (shutdown waits for the serve loop to notice).
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         name="mediaconvert-test-server", daemon=True).start()
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

    def add_job_template(self, name: str, settings: dict[str, Any]) -> None:
        """A job template (settings in wire form) for CreateJob's jobTemplate and GetJobTemplate."""
        now = int(time.time())
        with self._lock:
            arn = f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobTemplates/{name}"
            self.templates[name] = {"name": name, "arn": arn, "type": "CUSTOM", "createdAt": now,
                                    "lastUpdated": now, "settings": settings}

    def advance(self, job_id: str, status: str, percent: int | None = None, phase: str | None = None,
                error_code: int | None = None, error_message: str | None = None) -> None:
        """Move a job to `status` with the timing, progress and error fields MediaConvert would show."""
        if status not in STATUSES or (phase is not None and phase not in PHASES):
            raise ValueError(f"unknown status or phase: {status}, {phase}")
        with self._lock:
            job = self.jobs[job_id]
            job["status"] = status
            timing = job["timing"]
            now = int(time.time())
            if status != "SUBMITTED":
                timing.setdefault("startTime", now)
            if status in ENDED:
                timing["finishTime"] = now
                # Like the service: progress fields belong to a running job only.
                job.pop("jobPercentComplete", None)
                job.pop("currentPhase", None)
            for key, value in (("jobPercentComplete", percent), ("currentPhase", phase), ("errorCode", error_code),
                               ("errorMessage", error_message)):
                if value is not None:
                    job[key] = value

    def complete(self, job_id: str, s3_client: Any = None) -> str | None:
        """Mark the job COMPLETE and write a small HLS ladder at its HLS destination; returns the master URI.

        Files are written with `s3_client`, else with a client for `s3_endpoint_url`; with neither the
        job completes without files (and None is returned).
        """
        s3 = s3_client or (boto3.client("s3", region_name=self.region, endpoint_url=self.s3_endpoint_url)
                           if self.s3_endpoint_url else None)
        with self._lock:
            job = _copy(self.jobs[job_id])
        master, details = None, []
        for group in job["settings"].get("outputGroups", []):
            details.append({"outputDetails": [_output_detail(o) for o in group.get("outputs", [])]})
            destination = (group["outputGroupSettings"].get("hlsGroupSettings") or {}).get("destination")
            if destination is None:
                continue
            base = _output_base(destination, job["settings"]["inputs"][0]["fileInput"])
            if s3 is not None:
                _write_hls(s3, base, group.get("outputs", []))
            master = master or f"{base}.m3u8"
        with self._lock:
            self.jobs[job_id]["outputGroupDetails"] = details
        self.advance(job_id, "COMPLETE")
        return master if s3 is not None else None

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()

    # -- HTTP -----------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, extra headers, JSON body)."""
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
        try:
            if throttled:
                raise Refusal(429, "TooManyRequestsException", "Too Many Requests")
            if failure:
                raise Refusal(failure, "InternalServerErrorException", "Injected failure")
            if not str(headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256 "):
                raise Refusal(403, "ForbiddenException", "Missing SigV4 Authorization header")
            if not isinstance(body, dict):
                raise bad_request("The request body is not a JSON object")
            status, answer = self._dispatch(operation, params, query, body)
            return status, {}, json.dumps(answer).encode()
        except Refusal as refusal:
            # botocore's rest-json parser reads the error type from this header (or __type in the body).
            payload = {"__type": refusal.kind, "message": refusal.message}
            return refusal.status, {"x-amzn-ErrorType": refusal.kind}, json.dumps(payload).encode()

    def _dispatch(self, operation: str, params: dict[str, str], query: dict[str, list[str]],
                  body: dict[str, Any]) -> tuple[int, Any]:
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

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            template = self._template_for(body)
            validate_create(body, template)
            token = body.get("clientRequestToken")
            if token and token in self.tokens:
                return _public(self.jobs[self.tokens[token]])
            self._sequence += 1
            now = int(time.time())
            job_id = f"{int(time.time() * 1000)}-{_random_suffix()}"  # the service's id shape
            settings = _copy(body.get("settings") or {})
            if template and not settings.get("outputGroups"):
                settings["outputGroups"] = _copy(template["settings"].get("outputGroups", []))
            job = {"id": job_id, "arn": f"arn:aws:mediaconvert:{self.region}:{ACCOUNT}:jobs/{job_id}",
                   "status": "SUBMITTED", "createdAt": now, "timing": {"submitTime": now}, "role": body["role"],
                   "settings": settings, "userMetadata": body.get("userMetadata", {}),
                   "queue": body.get("queue") or DEFAULT_QUEUE, "priority": body.get("priority", 0),
                   "statusUpdateInterval": body.get("statusUpdateInterval", "SECONDS_60"),
                   "accelerationStatus": "NOT_APPLICABLE", "retryCount": 0, "messages": {"info": [], "warning": []},
                   "_sequence": self._sequence}
            for key in ("clientRequestToken", "jobTemplate"):
                if body.get(key):
                    job[key] = body[key]
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = job_id
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
        size, start = int(one("maxResults", "20")), int(one("nextToken", "0"))
        with self._lock:
            newest_first = one("order", "DESCENDING") == "DESCENDING"
            jobs = sorted(self.jobs.values(), key=lambda j: j["_sequence"], reverse=newest_first)
            jobs = [j for j in jobs if ("status" not in query or j["status"] == one("status", ""))
                    and ("queue" not in query or j["queue"] == one("queue", ""))]
            answer: dict[str, Any] = {"jobs": [_public(j) for j in jobs[start:start + size]]}
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
            status, headers, data = server.handle(self.command, self.path, self.headers, raw)
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
    """A stored job as the service returns it (bookkeeping keys start with "_")."""
    return {k: _copy(v) for k, v in job.items() if not k.startswith("_")}


def _output_base(destination: str, input_uri: str) -> str:
    if not destination.endswith("/"):
        return destination
    return destination + input_uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _output_detail(output: dict[str, Any]) -> dict[str, Any]:
    height = (output.get("videoDescription") or {}).get("height") or 720
    return {"durationInMs": 2000, "videoDetails": {"heightInPx": height, "widthInPx": height * 16 // 9}}


def _write_hls(s3: Any, base: str, outputs: list[dict[str, Any]]) -> None:
    """A master playlist, one VOD variant playlist per output and one tiny MPEG-TS segment each."""
    bucket, _, key_base = base.removeprefix("s3://").partition("/")
    folder, name = key_base.rsplit("/", 1) if "/" in key_base else ("", key_base)
    prefix = f"{folder}/" if folder else ""
    master = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for index, output in enumerate(outputs):
        height = (output.get("videoDescription") or {}).get("height") or 720
        h264 = ((output.get("videoDescription") or {}).get("codecSettings") or {}).get("h264Settings") or {}
        bandwidth = (h264.get("maxBitrate") or h264.get("bitrate") or 1_000_000) + 128_000
        modifier = output.get("nameModifier") or f"_{index}"
        variant, segment = f"{name}{modifier}.m3u8", f"{name}{modifier}_00001.ts"
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={height * 16 // 9}x{height},"
                   'CODECS="avc1.4d401f,mp4a.40.2"', variant]
        playlist = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n"
                    f"#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.00000,\n{segment}\n#EXT-X-ENDLIST\n")
        s3.put_object(Bucket=bucket, Key=prefix + variant, Body=playlist.encode(),
                      ContentType="application/vnd.apple.mpegurl")
        s3.put_object(Bucket=bucket, Key=prefix + segment, Body=b"\x47\x40\x00\x10" + b"\xff" * 184,
                      ContentType="video/mp2t")
    s3.put_object(Bucket=bucket, Key=f"{key_base}.m3u8", Body=("\n".join(master) + "\n").encode(),
                  ContentType="application/vnd.apple.mpegurl")


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
    for group in groups:
        _validate_group(group)
    for key, value in (body.get("userMetadata") or {}).items():
        if not isinstance(value, str):
            raise bad_request(f"userMetadata.{key} must be a string")
    if body.get("statusUpdateInterval") and not re.fullmatch(r"SECONDS_\d+", body["statusUpdateInterval"]):
        raise bad_request("statusUpdateInterval is not valid")


def _validate_group(group: dict[str, Any]) -> None:
    group_settings = group.get("outputGroupSettings") or {}
    kinds = [k for k, v in group_settings.items() if k.endswith("GroupSettings") and isinstance(v, dict)]
    for kind in kinds:
        if not str(group_settings[kind].get("destination", "")).startswith("s3://"):
            raise bad_request(f"outputGroupSettings.{kind}.destination must be an s3:// URI")
    if group_settings.get("type") != "HLS_GROUP_SETTINGS":
        return
    if "hlsGroupSettings" not in kinds:
        raise bad_request("an HLS group needs hlsGroupSettings")
    outputs = group.get("outputs") or []
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
