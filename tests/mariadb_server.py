"""A private MariaDB server for the tests (Debian's mariadb-server), started in a temp dir on a free port."""

from __future__ import annotations

import subprocess
import time

import pymysql

from tests.server_process import ServerProcess


class MariaDB(ServerProcess):
    """`with MariaDB() as db:` then db.create(name) for a database on it; stopped and removed on exit."""

    def __init__(self) -> None:
        super().__init__("mariadb-")

    def __enter__(self) -> "MariaDB":
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir / 'data'}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        self.start()
        return self

    def start(self) -> None:
        """Start (or restart) the server on its port and data dir; returns once it answers."""
        data = self.dir / "data"
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.dir / 'sock'}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M", "--max-connections=300", f"--log-error={self.dir / 'error.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError((self.dir / "error.log").read_text()[-2000:])
                time.sleep(0.2)

    def create(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        with pymysql.connect(host="127.0.0.1", port=self.port, user="root") as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{name}?charset=utf8mb4"

    def drop(self, name: str) -> None:
        with pymysql.connect(host="127.0.0.1", port=self.port, user="root") as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
