"""The refresh leader lease: one holder at a time, renewals, takeover after expiry, release."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from exports_app.db import session_scope
from exports_app.domain import utcnow
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


def test_takeover_after_the_holder_stops_renewing(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The services' clock, moved by hand: a real 0.2 s lease ran out on a busy machine before the standby's try.
    now = utcnow()
    monkeypatch.setattr(leases, "utcnow", lambda: now)
    assert take("dead leader", ttl=15)
    now += timedelta(seconds=14)
    assert not take("standby")
    now += timedelta(seconds=2)  # 16 s after the leader's last renewal
    assert take("standby")
    assert not take("dead leader")  # it comes back as a standby


def test_release_frees_the_lease(data_dir: Path) -> None:
    assert take("a")
    with session_scope() as s:
        leases.release(session=s, name="refresh-leader", holder="b")  # not b's to release
    assert not take("b")
    with session_scope() as s:
        leases.release(session=s, name="refresh-leader", holder="a")
    assert take("b")
