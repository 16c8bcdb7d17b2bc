"""A private Redis server for the tests (Debian's redis-server), in a temp dir on a free port, no persistence."""

from __future__ import annotations

import subprocess
import time

import redis

from tests.support.server_process import ServerProcess


class RedisServer(ServerProcess):
    """`with RedisServer() as r:` then r.url; stopped and removed on exit."""

    def __init__(self) -> None:
        super().__init__("redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        # Keyspace notifications on: Reflex's Redis token manager watches socket records through them.
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--notify-keyspace-events",
                "KEA",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().ping()
                return self
            except redis.exceptions.ConnectionError as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = self.dir / "redis.log"
                    raise RuntimeError(
                        log.read_text()[-2000:] if log.exists() else "redis-server did not start"
                    ) from exc
                time.sleep(0.1)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
