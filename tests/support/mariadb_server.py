"""A private MariaDB server for the tests (Debian's mariadb-server), started in a temp dir on a free port."""

from __future__ import annotations

import pymysql

from tests.support.database_server import DatabaseServer


class MariaDB(DatabaseServer):
    """`with MariaDB() as db:` then db.create(name) for a database on it; stopped and removed on exit."""

    down_errors = (pymysql.err.OperationalError,)

    def __init__(self) -> None:
        super().__init__("mariadb-")

    def init_command(self) -> list[str]:
        return [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={self.dir / 'data'}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]

    def command(self) -> list[str]:
        return [
            "mariadbd",
            "--no-defaults",
            f"--datadir={self.dir / 'data'}",
            f"--socket={self.dir / 'sock'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--max-connections=300",
            f"--log-error={self.log}",
            # No flushing to disk, as the PostgreSQL test server (fsync=off): its data is thrown away after
            # the run, and each test migrates a new database, which is DDL that waits on fsync otherwise.
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-flush-method=nosync",
            "--innodb-doublewrite=0",
        ]

    def connect(self, database: str | None = None) -> pymysql.Connection[pymysql.cursors.Cursor]:
        # Without TLS, as the server has none: PyMySQL otherwise builds a TLS context with the system's CA bundle
        # at every connect before it finds that out (35 ms of CPU each; 20 s of the MariaDB run's 82).
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", database=database, ssl_disabled=True)

    def execute(self, sql: str) -> None:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql)

    def clone(self, template: str, name: str) -> str:
        """MariaDB has no template databases: each table is made again from its SHOW CREATE TABLE (foreign keys
        off meanwhile, so the order does not matter) and its rows copied."""
        self.execute(self.create_sql(name))
        with (
            self.connect(name) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            cur.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (template,),
            )
            for (table,) in cur.fetchall():
                cur.execute(f"SHOW CREATE TABLE `{template}`.`{table}`")
                cur.execute(cur.fetchone()[1])  # names the table alone: it is made in this database
                cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{template}`.`{table}`")
            conn.commit()
        return self.url(name)

    def create_sql(self, name: str) -> str:
        return f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"

    def drop_sql(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`"

    def url(self, name: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{name}?charset=utf8mb4&ssl_disabled=true"
