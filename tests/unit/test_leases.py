"""The refresh leader lease: one holder at a time, renewals, takeover after expiry, release."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import Lease
from exports_app.services import leases

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def take(holder: str, ttl: float = 5.0) -> bool:
    with session_scope() as s:
        return leases.acquire(session=s, name="refresh-leader", holder=holder, ttl_seconds=ttl)


def test_one_holder_at_a_time_and_renewal(data_dir: Path) -> None:
    assert take("a")
    assert not take("b")
    assert take("a")  # renewing keeps it


def test_concurrent_candidates_elect_exactly_one(data_dir: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        wins = list(pool.map(lambda i: take(f"worker-{i}"), range(8)))
    assert wins.count(True) == 1


def test_takeover_after_the_holder_stops_renewing(data_dir: Path) -> None:
    # A lease whose last renewal ran out a second ago (a real short lease could run out on a busy machine before
    # the standby's first try, and the database's clock cannot be moved by hand).
    assert take("dead leader", ttl=-1)
    assert take("standby")
    assert not take("dead leader")  # it comes back as a standby


def test_hosts_whose_clocks_differ_by_more_than_the_lease_do_not_both_lead(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert take("leader", ttl=15)
    with session_scope() as s:
        stored = s.execute(sa.select(col(Lease.expires_at))).scalar_one()
    # The lease runs out by the database's clock: about 15 s from now, as this host's clock sees it too here.
    assert abs((stored - utcnow()).total_seconds() - 15) < 5
    # A standby whose own clock runs a minute ahead sees the leader's renewal as long expired by its clock; the
    # lease holds all the same, and its own try does not cut the leader's lease short.
    monkeypatch.setattr("exports_app.domain.utcnow", lambda: utcnow() + timedelta(seconds=60))
    monkeypatch.setattr(leases, "utcnow", lambda: utcnow() + timedelta(seconds=60), raising=False)
    assert not take("standby ahead", ttl=15)
    assert take("leader", ttl=15)


def test_release_frees_the_lease(data_dir: Path) -> None:
    assert take("a")
    with session_scope() as s:
        leases.release(session=s, name="refresh-leader", holder="b")  # not b's to release
    assert not take("b")
    with session_scope() as s:
        leases.release(session=s, name="refresh-leader", holder="a")
    assert take("b")
