"""Local AWS for tests: a moto server (S3, SQS) and the MediaConvert test server; never real AWS."""

from __future__ import annotations

import http.client
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

from exports_app.config import MediaConvertSettings
from tests.support.mediaconvert_server import MediaConvertServer
from tests.support.ports import free_port

ROLE = "arn:aws:iam::123456789012:role/MediaConvertRole"


@dataclass
class LocalAws:
    moto_url: str
    mediaconvert: MediaConvertServer
    settings: MediaConvertSettings
    s3: Any
    sqs: Any

    def env(self) -> dict[str, str]:
        """The app's environment variables for these endpoints."""
        return {
            "EXPORTS_TRANSCODER": "mediaconvert",
            "EXPORTS_MEDIACONVERT_ENDPOINT": self.mediaconvert.url,
            "EXPORTS_MEDIACONVERT_ROLE_ARN": ROLE,
            "EXPORTS_S3_ENDPOINT": self.moto_url,
            "EXPORTS_S3_INPUT_BUCKET": self.settings.input_bucket,
            "EXPORTS_S3_OUTPUT_BUCKET": self.settings.output_bucket,
            "EXPORTS_SQS_QUEUE_URL": self.settings.sqs_queue_url,
            "EXPORTS_AWS_REGION": "us-east-1",
        }


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def local_aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[LocalAws]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Unique per test: names cut from test names collide (parametrized cases), and moto is shared by the session.
    suffix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-") + "-" + uuid.uuid4().hex[:8]
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_url)
    input_bucket, output_bucket = f"in-{suffix}", f"out-{suffix}"
    for bucket in (input_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=f"events-{suffix}")["QueueUrl"]
    # The server sends its jobs' EventBridge events to the queue the app reads, as an EventBridge rule would.
    with MediaConvertServer(s3_endpoint_url=moto_url, events_queue_url=queue) as mc:
        settings = MediaConvertSettings(
            region="us-east-1",
            endpoint_url=mc.url,
            role_arn=ROLE,
            queue_arn="",
            job_template="",
            s3_endpoint_url=moto_url,
            input_bucket=input_bucket,
            output_bucket=output_bucket,
            sqs_queue_url=queue,
        )
        yield LocalAws(moto_url, mc, settings, s3, sqs)


# S3's answer to a caller without s3:ListBucket who asks for a key that does not exist.
ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "content-length"}


class S3WithoutListBucket:
    """An HTTP proxy in front of moto's S3 that answers like S3 does a role without s3:ListBucket.

    moto always says 404 for a missing key; S3 says 403 AccessDenied to a caller who may not list the
    bucket, so as not to reveal whether the key exists. Everything else passes through unchanged.
    """

    def __init__(self, moto_url: str) -> None:
        self.upstream = urlsplit(moto_url).netloc
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> S3WithoutListBucket:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self.upstream

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection = http.client.HTTPConnection(upstream, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    status, data = answer.status, answer.read()
                    answer_headers = dict(answer.getheaders())
                finally:
                    connection.close()
                key = urlsplit(self.path).path.lstrip("/").partition("/")[2]  # path-style: /bucket/key
                if status == 404 and key and self.command in ("GET", "HEAD"):
                    status, data = 403, ACCESS_DENIED
                    answer_headers = {"Content-Type": "application/xml", "Content-Length": str(len(data))}
                if self.command != "HEAD":  # a HEAD keeps the object's length; a body is sent whole, unchunked
                    answer_headers["Content-Length"] = str(len(data))
                self.send_response(status)
                for name, value in answer_headers.items():
                    if name.lower() not in HOP_BY_HOP - {"content-length"}:
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _relay

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def s3_without_list_bucket(local_aws: LocalAws) -> Iterator[str]:
    """The endpoint URL of local_aws's S3 as a role without s3:ListBucket sees it."""
    with S3WithoutListBucket(local_aws.moto_url) as proxy:
        yield proxy.url
