"""The status API's one statement with 100,000 uploads on SQLite, MariaDB and PostgreSQL: how each database plans it
(EXPLAIN: which table through which index, and whether any read is a scan or a range that grows with the tables),
and its time per read in this process. MariaDB and PostgreSQL are the tests' private servers (Debian's packages)."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.common import report
from bench.setup_db import fresh_data_dir
from bench.status_data import populate
from exports_app import config, db
from exports_app.domain import utcnow
from exports_app.services import auth, productions, queries
from tests.support.database_server import DatabaseServer
from tests.support.query_plans import explain, summary

UPLOADS, PRODUCTIONS, SESSIONS = 100_000, 20_000, 5_000
READS = 2_000


@contextmanager
def database(kind: str) -> Iterator[None]:
    """The app pointed at a migrated, empty database of this kind (SQLite in a temp data dir, or a private server)."""
    data_dir = fresh_data_dir("bench-plans-")
    server: DatabaseServer | None = None
    try:
        if kind != "sqlite":
            from tests.support.mariadb_server import MariaDB
            from tests.support.postgres_server import PostgreSQL

            server = MariaDB() if kind == "mariadb" else PostgreSQL()
            server.__enter__()
            os.environ["EXPORTS_DATABASE_URL"] = server.create("bench")
            config.get_settings.cache_clear()
            db.reset_engine()
            db.upgrade_to_head(logs=False)
        yield
    finally:
        db.reset_engine()
        os.environ.pop("EXPORTS_DATABASE_URL", None)
        config.get_settings.cache_clear()
        if server is not None:
            server.__exit__(None, None, None)
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(kind: str) -> dict[str, object]:
    with database(kind):
        ids, token = populate(UPLOADS, PRODUCTIONS, SESSIONS)
        params = {"token_hash": auth.token_hash(token), "now": utcnow(), "upload_id": ids[len(ids) // 2]}
        with db.read_connection() as connection:
            reads = explain(connection, queries.STATUS_BY_SESSION, params)
        rng = random.Random(7)
        rounds = []
        for _ in range(3):  # the status API's own connection handling, one pooled connection per read
            began = time.perf_counter()
            for _ in range(READS):
                with db.read_connection() as connection:
                    productions.status_for_session(connection=connection, token=token, upload_id=rng.choice(ids))
            rounds.append((time.perf_counter() - began) / READS)
    newest = ("newer", "newer_hd")  # max(id) of the production's jobs: one probe of (production_id, id) each
    grows = [str(read) for read in reads if read.how == "scan" or (read.how == "index" and read.table not in newest)]
    return {
        f"{kind}_plan": summary(reads),
        f"{kind}_each_table_by_its_key": not grows,
        f"{kind}_read_ms": statistics.median(rounds) * 1000,
    }


def main() -> None:
    figures: dict[str, object] = {}
    for kind in ("sqlite", "mariadb", "postgresql"):
        figures.update(measure(kind))
    report(
        f"Status statement with {UPLOADS:,} uploads, {PRODUCTIONS:,} productions, {SESSIONS:,} sessions "
        "(key: a unique-key lookup; index: a range of another index; newer, newer_hd: max(id) of the production's "
        "jobs, of its HD passes)",
        **figures,
    )


if __name__ == "__main__":
    main()
