"""Faults played against the app as `make run` starts it on the local AWS (EXPORTS_TRANSCODER=mediaconvert) and
a private PostgreSQL: MediaConvert throttling and an S3 that cannot be reached defer the submit, and the database
stopped in the middle of a tick and started again; no job fails, is lost or is made twice, members get a 503
while the database is away, and every export reaches Ready once the fault is over."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.support.app_process import RunningApp, start_app
from tests.support.capacity import app_env, local_aws
from tests.support.clips import make_clip
from tests.support.http import app_client
from tests.support.mediaconvert_server import MediaConvertServer
from tests.support.metrics import sample
from tests.support.ports import free_port
from tests.support.postgres_server import PostgreSQL
from tests.support.tcp_balancer import TcpBalancer

pytestmark = pytest.mark.e2e

TOKEN = "a-scrape-token-for-the-fault-tests"
PASSWORD = "correct horse battery"
UNAVAILABLE = {"error": "The service is temporarily unavailable. Try again later."}
FOREVER = 1_000_000  # throttled requests: more than any number of retries and ticks the test waits for


def wait_for(what: str, check: Callable[[], object], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.5)


class S3Cable:
    """moto's S3 as the app reaches it: a TCP proxy on a fixed port that a test unplugs (the port refuses, every
    open connection is dropped) and plugs in again."""

    def __init__(self, moto_port: int) -> None:
        self.port = free_port()
        self._moto_port = moto_port
        self._proxy: TcpBalancer | None = None

    def plug(self) -> None:
        proxy = TcpBalancer([self._moto_port])
        proxy.port = self.port
        self._proxy = proxy.__enter__()

    def unplug(self) -> None:
        if self._proxy is not None:
            self._proxy.__exit__(None, None, None)
            self._proxy = None


@dataclass
class AwsApp:
    app: RunningApp
    mediaconvert: MediaConvertServer
    s3_cable: S3Cable
    s3: object
    client: httpx.Client
    clip: Path
    database: PostgreSQL
    database_url: str

    def metric(self, name: str, **labels: str) -> float:
        return sample(self.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text, name, **labels)

    def deferred(self) -> float:
        return self.metric("exports_media_job_submits_deferred_total", provider="mediaconvert")

    def new_export(self) -> str:
        return self.app.cli("export", "import", "--user", "mona", str(self.clip))

    def jobs(self, upload_id: str) -> list[tuple[str, str | None, int, str | None]]:
        """The export's media_jobs rows: status, provider job id, attempt, error code."""
        with psycopg.connect(self.database_url.replace("postgresql+psycopg", "postgresql")) as conn:
            return conn.execute(
                "SELECT j.status, j.provider_job_id, j.attempt, j.error_code FROM media_jobs j "
                "JOIN productions p ON p.id = j.production_id WHERE p.upload_id = %s ORDER BY j.id",
                (int(upload_id),),
            ).fetchall()

    def state(self, upload_id: str) -> str:
        return str(self.client.get(f"/api/exports/{upload_id}/hls-status").json()["state"])

    def finish(self, upload_id: str) -> None:
        """The one provider job of this export completes; the app's poll takes it to Ready."""
        ((status, job_id, _, _),) = self.jobs(upload_id)
        assert job_id is not None
        self.mediaconvert.complete(job_id, self.s3)
        wait_for("the export ready", lambda: self.state(upload_id) == "ready")


@pytest.fixture(scope="module")
def aws_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsApp]:
    data_dir = tmp_path_factory.mktemp("faults-aws")
    clip = make_clip(data_dir.parent / "faults-aws-clip.mp4", seconds=1.0, width=320, height=240)
    # moto's S3 and the MediaConvert server (the app polls, no SQS), and the app's database on PostgreSQL
    with local_aws() as aws, PostgreSQL() as database:
        database_url = database.create("faults")
        cable = S3Cable(int(urlsplit(aws.moto_url).port or 0))
        cable.plug()
        try:
            app = start_app(
                data_dir,
                {
                    **app_env(aws, refresh_seconds=1.0),
                    "EXPORTS_METRICS_TOKEN": TOKEN,
                    "EXPORTS_DATABASE_URL": database_url,
                    "EXPORTS_S3_ENDPOINT": f"http://127.0.0.1:{cable.port}",
                },
            )
            try:
                app.cli("user", "create", "mona", "--password", PASSWORD)
                with app_client(base_url=app.url, timeout=60) as client:
                    login = client.post("/api/auth/login", json={"username": "mona", "password": PASSWORD})
                    assert login.status_code == 200, login.text
                    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
                    yield AwsApp(app, aws.mediaconvert, cable, aws.s3, client, clip, database, database_url)
            finally:
                app.stop()
        finally:
            cable.unplug()


def test_throttled_mediaconvert_defers_and_then_goes_through(aws_app: AwsApp) -> None:
    server = aws_app.mediaconvert
    upload_id = aws_app.new_export()
    deferred = aws_app.deferred()
    server.throttle(FOREVER)
    try:
        assert aws_app.client.post(f"/api/exports/{upload_id}/prep-hls").json()["state"] == "in_progress"
        wait_for("a submit deferred", lambda: aws_app.deferred() > deferred)
        assert aws_app.jobs(upload_id) == [("queued", None, 1, None)]
        assert server.jobs == {}
        assert aws_app.state(upload_id) == "in_progress"

        server.throttle(0)
        wait_for("the job submitted", lambda: aws_app.jobs(upload_id)[0][0] == "submitted")
        (job_id,) = server.jobs
        assert aws_app.jobs(upload_id) == [("submitted", job_id, 1, None)]

        # Its polls throttled now: the row stays submitted, the job is not failed.
        server.reset_counts()
        server.throttle(FOREVER)
        wait_for("a poll throttled", lambda: server.calls.get("GetJob", 0) >= 2)
        assert aws_app.jobs(upload_id) == [("submitted", job_id, 1, None)]
        assert aws_app.state(upload_id) == "in_progress"
    finally:
        server.throttle(0)
    aws_app.finish(upload_id)
    assert aws_app.jobs(upload_id) == [("succeeded", job_id, 1, None)]
    assert list(server.jobs) == [job_id], "one provider job, never two"


def test_s3_unreachable_during_a_submit_defers_the_job(aws_app: AwsApp) -> None:
    server = aws_app.mediaconvert
    made_before = set(server.jobs)
    upload_id = aws_app.new_export()
    deferred = aws_app.deferred()
    aws_app.s3_cable.unplug()
    try:
        assert aws_app.client.post(f"/api/exports/{upload_id}/prep-hls").json()["state"] == "in_progress"
        wait_for("a submit deferred", lambda: aws_app.deferred() > deferred)
        assert aws_app.jobs(upload_id) == [("queued", None, 1, None)]
        assert set(server.jobs) == made_before, "no MediaConvert job without its input in S3"
        assert aws_app.state(upload_id) == "in_progress"
    finally:
        aws_app.s3_cable.plug()
    wait_for("the job submitted", lambda: aws_app.jobs(upload_id)[0][0] == "submitted")
    aws_app.finish(upload_id)
    (job_id,) = set(server.jobs) - made_before
    assert aws_app.jobs(upload_id) == [("succeeded", job_id, 1, None)]


def test_the_database_stopped_mid_tick_loses_and_doubles_no_job(aws_app: AwsApp) -> None:
    server = aws_app.mediaconvert
    made_before = set(server.jobs)
    running, waiting = aws_app.new_export(), aws_app.new_export()
    assert aws_app.client.post(f"/api/exports/{running}/prep-hls").json()["state"] == "in_progress"
    wait_for("the first job submitted", lambda: aws_app.jobs(running)[0][0] == "submitted")
    (running_job,) = set(server.jobs) - made_before
    server.advance(running_job, "PROGRESSING", percent=30, phase="TRANSCODING")
    wait_for("the first job running", lambda: aws_app.jobs(running)[0][0] == "running")

    # The next submit is carried out, but its answer is held back: the tick waits in the middle, and the database
    # goes away before the app can write down the job it made.
    server.lose_answers("CreateJob", when="after", stall_seconds=8)
    calls = server.calls.get("CreateJob", 0)
    assert aws_app.client.post(f"/api/exports/{waiting}/prep-hls").json()["state"] == "in_progress"
    wait_for("the second job made", lambda: len(server.jobs) == len(made_before) + 2)
    aws_app.database.stop()
    try:
        for answer in (
            aws_app.client.get(f"/api/exports/{waiting}/hls-status"),
            aws_app.client.get(f"/api/exports/{running}/hls-status"),
            aws_app.client.post(f"/api/exports/{waiting}/prep-hls"),
        ):
            assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), answer.text
            assert answer.headers["retry-after"]
        # The client's retry after the lost answer: the tick now has a job id it cannot store.
        wait_for("the submit retried", lambda: server.calls.get("CreateJob", 0) >= calls + 2)
    finally:
        aws_app.database.start()
    (waiting_job,) = set(server.jobs) - made_before - {running_job}
    wait_for("the second job recorded", lambda: aws_app.jobs(waiting)[0][0] == "submitted")
    assert aws_app.jobs(waiting) == [("submitted", waiting_job, 1, None)], "the job made while away, adopted"
    assert aws_app.jobs(running) == [("running", running_job, 1, None)]

    aws_app.finish(running)
    aws_app.finish(waiting)
    assert aws_app.jobs(running) == [("succeeded", running_job, 1, None)]
    assert aws_app.jobs(waiting) == [("succeeded", waiting_job, 1, None)]
    assert set(server.jobs) - made_before == {running_job, waiting_job}, "no provider job made twice"
