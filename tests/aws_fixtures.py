"""Local AWS for tests: a moto server (S3, SQS) and the MediaConvert test server; never real AWS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from exports_app.config import MediaConvertSettings
from tests.mediaconvert_server import MediaConvertServer
from tests.ports import free_port

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
        return {"EXPORTS_TRANSCODER": "mediaconvert", "EXPORTS_MEDIACONVERT_ENDPOINT": self.mediaconvert.url,
                "EXPORTS_MEDIACONVERT_ROLE_ARN": ROLE, "EXPORTS_S3_ENDPOINT": self.moto_url,
                "EXPORTS_S3_INPUT_BUCKET": self.settings.input_bucket,
                "EXPORTS_S3_OUTPUT_BUCKET": self.settings.output_bucket,
                "EXPORTS_SQS_QUEUE_URL": self.settings.sqs_queue_url, "EXPORTS_AWS_REGION": "us-east-1"}


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
    suffix = request.node.name.lower().replace("_", "-")[:30].strip("-[]")
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_url)
    input_bucket, output_bucket = f"in-{suffix}", f"out-{suffix}"
    for bucket in (input_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=f"events-{suffix}")["QueueUrl"]
    # The server sends its jobs' EventBridge events to the queue the app reads, as an EventBridge rule would.
    with MediaConvertServer(s3_endpoint_url=moto_url, events_queue_url=queue) as mc:
        settings = MediaConvertSettings(region="us-east-1", endpoint_url=mc.url, role_arn=ROLE, queue_arn="",
                                        job_template="", s3_endpoint_url=moto_url, input_bucket=input_bucket,
                                        output_bucket=output_bucket, sqs_queue_url=queue)
        yield LocalAws(moto_url, mc, settings, s3, sqs)
