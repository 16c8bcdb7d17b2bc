"""Lock-out: wrong passwords for alice from one address never stop alice signing in from another.

The attacker's requests leave from 127.0.0.2 (the app listens on every address, so loopback aliases work);
alice signs in from 127.0.0.1. The attacker's own address may be throttled, and must be once it keeps going.
"""

from __future__ import annotations

import httpx
import pytest

from tests.security.world import World
from tests.support.http import app_client, app_transport

pytestmark = pytest.mark.e2e

ATTACKER_ADDRESS = "127.0.0.2"
FIRST_WAVE = 10
MAX_ATTEMPTS = 60  # past any sane per-address limit (50 today)


def test_wrong_passwords_from_another_address_do_not_lock_alice_out(world: World) -> None:
    attacker = app_client(base_url=world.url, timeout=30, transport=app_transport(local_address=ATTACKER_ADDRESS))

    def guess(n: int) -> int:
        return attacker.post(
            "/api/auth/login", json={"username": world.alice.name, "password": f"guess-{n}"}
        ).status_code

    first = [guess(n) for n in range(FIRST_WAVE)]
    assert set(first) <= {401, 429}, first
    alice = httpx.post(
        f"{world.url}/api/auth/login", json={"username": world.alice.name, "password": world.alice.password}, timeout=30
    )
    assert alice.status_code == 200, (
        f"alice, from 127.0.0.1, answered {alice.status_code} {alice.text} after "
        f"{FIRST_WAVE} wrong passwords from {ATTACKER_ADDRESS} ({first})"
    )
    attempts = list(first)
    while 429 not in attempts and len(attempts) < MAX_ATTEMPTS:
        attempts.append(guess(len(attempts)))
    assert 429 in attempts, f"{ATTACKER_ADDRESS} never throttled in {MAX_ATTEMPTS} wrong passwords"
    assert world.alice.http.get("/api/auth/me").status_code == 200, "alice's existing session was ended"


def test_a_forged_forwarded_for_header_does_not_spread_guesses_over_addresses(world: World) -> None:
    """The server trusts no proxy header by default: each guess claiming another client address in
    X-Forwarded-For (and Forwarded, X-Real-IP) still counts against the address the connection comes from."""
    attacker = app_client(base_url=world.url, timeout=30, transport=app_transport(local_address="127.0.0.3"))
    attempts: list[int] = []
    while 429 not in attempts and len(attempts) < MAX_ATTEMPTS:
        n = len(attempts)
        spoofed = f"10.9.{n // 250}.{n % 250 + 1}"
        attempts.append(
            attacker.post(
                "/api/auth/login",
                json={"username": world.bob.name, "password": f"guess-{n}"},
                headers={"X-Forwarded-For": spoofed, "Forwarded": f"for={spoofed}", "X-Real-IP": spoofed},
            ).status_code
        )
    assert 429 in attempts, f"{MAX_ATTEMPTS} guesses with forged client addresses were never throttled"


def test_behind_a_proxy_on_this_host_each_client_keeps_its_own_address(world: World) -> None:
    """A reverse proxy on the same host (loopback, trusted by default) passes the client in X-Forwarded-For:
    a guesser behind it is throttled by its own address, and the member behind the same proxy is not."""
    proxy = app_client(base_url=world.url, timeout=30)  # from 127.0.0.1, as a local proxy connects
    guesser, member = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.9"}
    attempts: list[int] = []
    while 429 not in attempts and len(attempts) < MAX_ATTEMPTS:
        attempts.append(
            proxy.post(
                "/api/auth/login",
                headers=guesser,
                json={"username": world.alice.name, "password": f"guess-{len(attempts)}"},
            ).status_code
        )
    assert 429 in attempts, "the guesser behind the proxy was never throttled"
    signed_in = proxy.post(
        "/api/auth/login", headers=member, json={"username": world.alice.name, "password": world.alice.password}
    )
    assert signed_in.status_code == 200, f"alice behind the same proxy got {signed_in.status_code}"
