"""A MediaConvert-compatible HTTP test server (moto has no MediaConvert): the REST calls boto3 makes.

It validates what it receives like the service would (role, settings, S3 destinations, HLS outputs),
dedupes CreateJob by clientRequestToken, and lets tests move jobs along, throttle and inject 5xx.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/2017-08-29"
ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")


class Refusal(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class MediaConvertServer:
    """Start with `with MediaConvertServer() as server:`; point boto3 at server.url."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self._throttle = 0
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> "MediaConvertServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def do_DELETE(self) -> None:
                server._handle(self, "DELETE")

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "MediaConvertServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls --------------------------------------------------------------------------------

    def throttle(self, n: int) -> None:
        """The next n requests answer 429 TooManyRequestsException."""
        with self._lock:
            self._throttle = n

    def fail_next(self, n: int, status: int = 500) -> None:
        with self._lock:
            self._failures = [status] * n

    def advance(self, job_id: str, status: str, percent: int | None = None, phase: str | None = None,
                error_code: int | None = None, error_message: str | None = None) -> None:
        with self._lock:
            job = self.jobs[job_id]
            job["status"] = status
            timing = job.setdefault("timing", {})
            now = time.time()
            if status == "PROGRESSING":
                timing.setdefault("startTime", now)
            if status in ("COMPLETE", "ERROR", "CANCELED"):
                timing["finishTime"] = now
            if percent is not None:
                job["jobPercentComplete"] = percent
            if phase is not None:
                job["currentPhase"] = phase
            if error_code is not None:
                job["errorCode"] = error_code
            if error_message is not None:
                job["errorMessage"] = error_message

    def complete(self, job_id: str, s3_client: Any) -> str:
        """Write a small but valid HLS ladder at the job's destination in S3 and mark the job COMPLETE."""
        job = self.jobs[job_id]
        group = job["settings"]["outputGroups"][0]
        destination = group["outputGroupSettings"]["hlsGroupSettings"]["destination"]
        bucket, _, prefix = destination[5:].partition("/")
        base = prefix.rsplit("/", 1)[0]
        name = prefix.rsplit("/", 1)[1]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
        details = []
        for output in group["outputs"]:
            height = output["videoDescription"]["height"]
            variant = f"{name}{output['nameModifier']}.m3u8"
            segment = f"{name}{output['nameModifier']}_00001.ts"
            lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={height * 4000},RESOLUTION={height * 16 // 9}x{height},"
                      f'CODECS="avc1.4d401f,mp4a.40.2"', variant]
            s3_client.put_object(Bucket=bucket, Key=f"{base}/{variant}", Body=(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                f"#EXTINF:2.0,\n{segment}\n#EXT-X-ENDLIST\n").encode())
            s3_client.put_object(Bucket=bucket, Key=f"{base}/{segment}", Body=b"\x47" + b"\x00" * 187)
            details.append({"durationInMs": 2000, "videoDetails": {"heightInPx": height,
                                                                   "widthInPx": height * 16 // 9}})
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}.m3u8", Body=("\n".join(lines) + "\n").encode())
        with self._lock:
            job["outputGroupDetails"] = [{"outputDetails": details}]
        self.advance(job_id, "COMPLETE", percent=100)
        return f"s3://{bucket}/{prefix}.m3u8"

    # -- HTTP -----------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        with self._lock:
            self.requests.append((method, url.path, body))
            throttled = self._throttle > 0
            if throttled:
                self._throttle -= 1
            failure = self._failures.pop(0) if self._failures and not throttled else None
        try:
            if throttled:
                raise Refusal(429, "TooManyRequestsException", "Too many requests")
            if failure:
                raise Refusal(failure, "InternalServerErrorException", "Injected failure")
            if body is None:
                raise Refusal(400, "BadRequestException", "Body is not JSON")
            status, answer = self._route(method, url.path, parse_qs(url.query), body)
        except Refusal as refusal:
            status, answer = refusal.status, {"message": refusal.message}
            request.send_response(status)
            request.send_header("x-amzn-ErrorType", refusal.kind)
        else:
            request.send_response(status)
        data = json.dumps(answer).encode()
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        if method == "POST" and path == f"{PREFIX}/endpoints":
            self.calls["DescribeEndpoints"] += 1
            return 200, {"endpoints": [{"url": self.url}]}
        if method == "POST" and path == f"{PREFIX}/jobs":
            self.calls["CreateJob"] += 1
            return 201, {"job": self._create(body)}
        if method == "GET" and path == f"{PREFIX}/jobs":
            self.calls["ListJobs"] += 1
            return 200, self._list(query)
        match = re.fullmatch(f"{PREFIX}/jobs/([^/]+)", path)
        if match and method == "GET":
            self.calls["GetJob"] += 1
            return 200, {"job": self._job(match.group(1))}
        if match and method == "DELETE":
            self.calls["CancelJob"] += 1
            job = self._job(match.group(1))
            if job["status"] in ("COMPLETE", "ERROR", "CANCELED"):
                raise Refusal(409, "ConflictException", "The job has already finished")
            self.advance(job["id"], "CANCELED")
            return 202, {}
        raise Refusal(404, "NotFoundException", f"No route {method} {path}")

    def _job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            if job_id not in self.jobs:
                raise Refusal(404, "NotFoundException", f"Job {job_id} not found")
            return json.loads(json.dumps(self.jobs[job_id]))

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        validate_create(body)
        token = body.get("clientRequestToken")
        with self._lock:
            if token and token in self.tokens:
                return json.loads(json.dumps(self.jobs[self.tokens[token]]))
            job_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:6]}"
            now = time.time()
            job = {"id": job_id, "arn": f"arn:aws:mediaconvert:us-east-1:123456789012:jobs/{job_id}",
                   "status": "SUBMITTED", "createdAt": now, "timing": {"submitTime": now}, "role": body["role"],
                   "settings": body.get("settings", {}), "userMetadata": body.get("userMetadata", {}),
                   "clientRequestToken": token, "statusUpdateInterval": body.get("statusUpdateInterval"),
                   "queue": body.get("queue", "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"),
                   "jobTemplate": body.get("jobTemplate")}
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = job_id
            return json.loads(json.dumps(job))

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        size = int(query.get("maxResults", ["20"])[0])
        if not 1 <= size <= 20:
            raise Refusal(400, "BadRequestException", "maxResults must be 1..20")
        start = int(query.get("nextToken", ["0"])[0])
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j["createdAt"],
                          reverse=query.get("order", ["DESCENDING"])[0] == "DESCENDING")
            if "status" in query:
                jobs = [j for j in jobs if j["status"] == query["status"][0]]
            page = json.loads(json.dumps(jobs[start:start + size]))
        answer: dict[str, Any] = {"jobs": page}
        if start + size < len(jobs):
            answer["nextToken"] = str(start + size)
        return answer


def validate_create(body: dict[str, Any]) -> None:
    """Refuse a CreateJob the way MediaConvert would (400 BadRequestException)."""
    def bad(message: str) -> Refusal:
        return Refusal(400, "BadRequestException", message)

    if not ROLE.match(str(body.get("role", ""))):
        raise bad("role must be an IAM role ARN")
    settings = body.get("settings") or {}
    if not settings and not body.get("jobTemplate"):
        raise bad("settings or jobTemplate is required")
    inputs = settings.get("inputs") or []
    if not inputs or not str(inputs[0].get("fileInput", "")).startswith("s3://"):
        raise bad("inputs[0].fileInput must be an s3:// URI")
    groups = settings.get("outputGroups") or []
    if not groups:
        raise bad("at least one output group is required")
    for group in groups:
        group_settings = group.get("outputGroupSettings") or {}
        if group_settings.get("type") != "HLS_GROUP_SETTINGS":
            raise bad("only HLS output groups are expected here")
        destination = (group_settings.get("hlsGroupSettings") or {}).get("destination", "")
        if not destination.startswith("s3://"):
            raise bad("hlsGroupSettings.destination must be an s3:// URI")
        if body.get("jobTemplate"):
            continue
        outputs = group.get("outputs") or []
        if not outputs:
            raise bad("an HLS output group needs outputs")
        for output in outputs:
            if (output.get("containerSettings") or {}).get("container") != "M3U8":
                raise bad("HLS outputs need container M3U8")
            codec = ((output.get("videoDescription") or {}).get("codecSettings") or {}).get("codec")
            if codec != "H_264":
                raise bad("video codec must be H_264")
            if not output.get("nameModifier"):
                raise bad("outputs in one group need distinct nameModifier values")
    for key, value in (body.get("userMetadata") or {}).items():
        if not isinstance(value, str):
            raise bad(f"userMetadata.{key} must be a string")
