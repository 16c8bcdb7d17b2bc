"""The transcoder seam: what is backend-specific stays in transcode/, and both backends give callers one surface."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from exports_app.config import MediaConvertSettings
from exports_app.transcode.base import Transcoder
from exports_app.transcode.factory import is_remote
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from exports_app.transcode.mediaconvert import MediaConvertTranscoder

PACKAGE = Path(__file__).resolve().parents[2] / "exports_app"
BACKEND_WORDS = re.compile(r"\bbotocore\b|\bboto3\b|s3://|transcode\.mediaconvert\.|transcode import mediaconvert")


def outside_transcode() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "transcode" not in p.relative_to(PACKAGE).parts]


def test_nothing_outside_transcode_knows_a_backend() -> None:
    leaks = [
        f"{p.relative_to(PACKAGE)}: {m.group(0)}"
        for p in outside_transcode()
        for m in BACKEND_WORDS.finditer(p.read_text())
    ]
    assert leaks == []


def test_production_code_takes_ffmpeg_from_its_locator_not_the_test_patterns() -> None:
    users = [p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if "clips import ffmpeg_exe" in p.read_text()]
    assert users == []


@pytest.mark.parametrize("backend", [LocalFfmpegTranscoder, MediaConvertTranscoder])
def test_each_backend_has_the_whole_protocol(backend: type) -> None:
    wanted = {name for name, _ in inspect.getmembers(Transcoder, inspect.isfunction) if not name.startswith("_")}
    assert wanted >= {"submit", "poll", "cancel", "close", "is_transient", "open_output"}
    assert {name for name in wanted if not callable(getattr(backend, name, None))} == set()


def test_local_outputs_are_read_by_key_and_never_outside_the_hls_folder(tmp_path: Path) -> None:
    transcoder = LocalFfmpegTranscoder(tmp_path / "hls")
    (tmp_path / "hls" / "7").mkdir(parents=True)
    (tmp_path / "hls" / "7" / "master.m3u8").write_text("#EXTM3U\n")
    (tmp_path / "exports.db").write_text("secret")
    assert transcoder.open_output("hls/7/master.m3u8") == b"#EXTM3U\n"
    for outside in ("exports.db", "hls/../exports.db", "hls/7/missing.m3u8", "/etc/passwd", "hls/7/\x00.m3u8"):
        with pytest.raises((FileNotFoundError, ValueError)):
            transcoder.open_output(outside)
    assert not transcoder.is_transient(ConnectionError())
    assert not is_remote("hls/7/master.m3u8") and is_remote("s3://bucket/hls/7/master.m3u8")


def test_mediaconvert_tells_throttling_and_outages_from_mistakes() -> None:
    transcoder = MediaConvertTranscoder(MediaConvertSettings())

    def error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateJob")

    assert transcoder.is_transient(error("TooManyRequestsException", 429))
    assert transcoder.is_transient(error("InternalServerErrorException", 500))
    assert transcoder.is_transient(ConnectionError())
    assert not transcoder.is_transient(error("BadRequestException", 400))
    assert not transcoder.is_transient(ValueError("no"))
