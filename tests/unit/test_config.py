"""Settings from the environment, validated at start-up: a bad value stops the app with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exports_app import config as app_config
from tests.support.paths import ROOT


@pytest.fixture(autouse=True)
def fresh_settings() -> object:
    app_config.get_settings.cache_clear()
    yield
    app_config.get_settings.cache_clear()


def test_defaults_and_parsing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXPORTS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("EXPORTS_ALLOWED_ORIGINS", " https://App.example/ ,http://b.example:8080")
    monkeypatch.setenv("EXPORTS_PORT", "")  # empty means the default
    monkeypatch.setenv("EXPORTS_SECURE_COOKIES", "1")
    monkeypatch.delenv("EXPORTS_DATABASE_URL", raising=False)
    settings = app_config.get_settings()
    assert settings.port == 3000 and settings.transcoder == "local" and settings.secure_cookies
    assert settings.allowed_origins == ["https://app.example", "http://b.example:8080"]
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'exports.db'}"
    assert settings.max_upload_bytes == 10 * 1024**3 and settings.purge_days == 30


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"EXPORTS_TRANSCODER": "ffmpeg"}, "EXPORTS_TRANSCODER: Input should be 'local' or 'mediaconvert'"),
        (
            {"EXPORTS_TRANSCODER": "mediaconvert", "EXPORTS_MEDIACONVERT_ENDPOINT": "https://mc.example"},
            "EXPORTS_TRANSCODER=mediaconvert needs EXPORTS_MEDIACONVERT_ROLE_ARN, EXPORTS_S3_INPUT_BUCKET, "
            "EXPORTS_S3_OUTPUT_BUCKET",
        ),
        ({"EXPORTS_PORT": "eighty"}, "EXPORTS_PORT"),
        ({"EXPORTS_MAX_UPLOAD_BYTES": "0"}, "EXPORTS_MAX_UPLOAD_BYTES"),
        ({"EXPORTS_ALLOWED_ORIGINS": "*"}, "never *"),
        ({"EXPORTS_WORKERS": "0"}, "EXPORTS_WORKERS"),
        ({"EXPORTS_WORKERS": "2"}, "EXPORTS_WORKERS above 1 needs REFLEX_REDIS_URL"),
    ],
)
def test_a_bad_environment_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str) -> None:
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        app_config.get_settings()
    message = str(stopped.value)
    assert says in message and "\n" not in message and message.startswith("exports_app: invalid configuration")


def test_make_run_stops_with_that_line(tmp_path: Path) -> None:
    """scripts/serve.sh (what `make run` runs) stops before serving, printing the one line."""
    import os

    env = {**os.environ, "EXPORTS_DATA_DIR": str(tmp_path), "EXPORTS_TRANSCODER": "mediaconvert"}
    done = subprocess.run(
        [str(ROOT / "scripts/serve.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "exports_app: invalid configuration: EXPORTS_TRANSCODER=mediaconvert needs EXPORTS_MEDIACONVERT_ENDPOINT, "
        "EXPORTS_MEDIACONVERT_ROLE_ARN, EXPORTS_S3_INPUT_BUCKET, EXPORTS_S3_OUTPUT_BUCKET"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "manager"),
    [
        ({}, "StateManagerMemory"),  # one worker: tabs' states in memory, not pickled to files after every event
        ({"REFLEX_REDIS_URL": "redis://127.0.0.1:1"}, "StateManagerRedis"),  # several workers share them there
        ({"REFLEX_STATE_MANAGER_MODE": "disk"}, "StateManagerDisk"),  # the operator's choice wins
    ],
)
def test_the_state_manager_follows_the_deployment(tmp_path: Path, env: dict[str, str], manager: str) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("REFLEX_REDIS_URL", "REFLEX_STATE_MANAGER_MODE")}
    says_which = "from reflex.istate.manager import StateManager; print(type(StateManager.create()).__name__)"
    made = subprocess.run(
        [sys.executable, "-c", says_which],
        cwd=ROOT,
        env={**base, "EXPORTS_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.stdout.strip().splitlines()[-1] == manager, made.stderr
