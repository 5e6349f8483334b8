"""Failed authentication is throttled per client address and per tenant (api.throttle):
429 with Retry-After once over the limit, valid tokens still answered, the counters shared
by every process on the store, windows that end, and a real server under a flood."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from api.app import create_app
from api.throttle import ENV_PER_ADDRESS, ENV_PER_TENANT, TABLE, AuthThrottle, SideStoreStorage
from core.actors import Role
from core.errors import ConfigurationError
from core.services import CivicLedger
from tests.helpers import actor, notification_count

TOO_MANY = "https://civic-ledger.org/problems/too_many_requests"
MALFORMED = {"Authorization": "Bearer nope"}
UNKNOWN = {"Authorization": "Bearer civic_" + "x" * 43}  # well-formed, never issued


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def random_token() -> dict[str, str]:
    return bearer("civic_" + secrets.token_urlsafe(32))


class Clock:
    """A clock the test moves (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limits_env(monkeypatch):
    """Sets the two limits as the environment does for create_app."""

    def set_limits(per_address: str = "3/minute", per_tenant: str = "off") -> None:
        monkeypatch.setenv(ENV_PER_ADDRESS, per_address)
        monkeypatch.setenv(ENV_PER_TENANT, per_tenant)

    return set_limits


def client(ledger: CivicLedger, address: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(ledger), raise_server_exceptions=False, client=(address, 40000))


def city_token(ledger: CivicLedger, tenant: str = "tianjin") -> str:
    owner = actor(Role.CITY_OWNER, f"{tenant}-owner", "市民政局", tenant)
    try:
        ledger.register_tenant(owner, tenant, tenant)
    except Exception:
        pass  # already registered
    return ledger.issue_token("tests", tenant, "city_owner", f"{tenant}-owner", "市民政局")[1]


def counting_lookups(ledger: CivicLedger, monkeypatch) -> list[str]:
    """From now on, every token the ledger is asked to look up."""
    asked: list[str] = []
    original = ledger.actor_for_token

    def lookup(token):
        asked.append(token)
        return original(token)

    monkeypatch.setattr(ledger, "actor_for_token", lookup)
    return asked


def assert_too_many(answer, scope: str = "address", longest: int = 60) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == TOO_MANY and body["title"] == "请求过多 Too many requests" and body["status"] == 429
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= longest and body["retry_after"] == wait
    assert "认证失败次数过多" in body["detail"] and "too many failed authentications" in body["detail"]
    assert ("from this address" if scope == "address" else "for this tenant") in body["detail"]
    return wait


# -- per address ------------------------------------------------------------------------


def test_bad_tokens_from_one_address_get_429_after_the_limit_and_record_nothing(app, limits_env, monkeypatch):
    limits_env("3/minute")
    http = client(app)
    before = notification_count(app)
    answers = [http.get("/me", headers=headers) for headers in (MALFORMED, {}, UNKNOWN)]
    assert [a.status_code for a in answers] == [401, 401, 401]  # no token counts too
    lookups = counting_lookups(app, monkeypatch)
    assert_too_many(http.get("/me", headers=UNKNOWN))  # the fourth failure is over the limit
    assert lookups == [UNKNOWN["Authorization"][7:]]
    # now refused before any lookup: no token, a malformed one, one already found bad
    for headers in ({}, MALFORMED, UNKNOWN, {"Authorization": "Basic abc"}):
        assert_too_many(http.get("/me", headers=headers))
        assert_too_many(http.post("/tenants", json={"code": "x", "name": "x"}, headers=headers))
    assert len(lookups) == 1
    assert_too_many(http.post("/tenants", json={"code": "x", "name": "x"}, headers={**UNKNOWN, "Idempotency-Key": "k1"}))
    assert notification_count(app) == before


def test_a_valid_token_from_a_throttled_address_is_still_answered(app, limits_env, monkeypatch):
    limits_env("3/minute")
    token = city_token(app)
    http = client(app)
    for _ in range(4):
        http.get("/me", headers=MALFORMED)
    assert_too_many(http.get("/me", headers=MALFORMED))
    for _ in range(3):
        me = http.get("/me", headers=bearer(token))
        assert me.status_code == 200 and me.json()["tenant"] == "tianjin"
    assert http.get("/tenants/tianjin", headers=bearer(token)).status_code == 200
    # a well-formed token never seen is looked up (it might be valid); found bad, it is
    # refused, and refused without a lookup the next time
    lookups = counting_lookups(app, monkeypatch)
    stranger = random_token()
    assert_too_many(http.get("/me", headers=stranger))
    assert_too_many(http.get("/me", headers=stranger))
    assert lookups == [stranger["Authorization"][7:]]
    # a revoked token is refused like any other bad one
    token_id, revoked = app.issue_token("tests", "tianjin", "city_owner", "调离者", "市民政局")
    assert http.get("/me", headers=bearer(revoked)).status_code == 200
    app.revoke_token("ops", token_id, "调离")
    assert_too_many(http.get("/me", headers=bearer(revoked)))


def test_another_address_is_not_affected(app, limits_env):
    limits_env("3/minute")
    noisy, quiet = client(app, "203.0.113.7"), client(app, "198.51.100.9")
    for _ in range(5):
        noisy.get("/me", headers=MALFORMED)
    assert_too_many(noisy.get("/me", headers=MALFORMED))
    assert [quiet.get("/me", headers=MALFORMED).status_code for _ in range(3)] == [401, 401, 401]
    assert_too_many(quiet.get("/me", headers=MALFORMED))


def test_requests_with_valid_tokens_are_never_counted(app, limits_env):
    limits_env("2/minute")
    token = city_token(app)
    http = client(app)
    for _ in range(10):
        assert http.get("/me", headers=bearer(token)).status_code == 200
        assert http.get("/tenants/nowhere", headers=bearer(token)).status_code == 404  # refused, but authenticated
    assert [http.get("/me", headers=MALFORMED).status_code for _ in range(3)] == [401, 401, 429]


# -- per tenant ---------------------------------------------------------------------------


def test_failures_for_one_tenant_are_limited_from_every_address(app, limits_env):
    limits_env("100/minute", "3/minute")
    token = city_token(app)
    first, second, third = (client(app, f"192.0.2.{n}") for n in (1, 2, 3))
    path = "/tenants/tianjin/communities"
    assert first.get(path, headers=MALFORMED).status_code == 401
    assert second.get(path, headers={}).status_code == 401
    assert third.get(path, headers=UNKNOWN).status_code == 401
    assert_too_many(first.get(path, headers=MALFORMED), scope="tenant")
    assert_too_many(third.get("/tenants/tianjin", headers={}), scope="tenant")
    # the tenant's own people keep working; other tenants and paths naming none are not throttled
    assert second.get(path, headers=bearer(token)).status_code == 200
    assert second.get("/tenants/beijing/communities", headers=MALFORMED).status_code == 401
    assert second.get("/me", headers=MALFORMED).status_code == 401


# -- shared by every process on the store ----------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/civic.sqlite3"
    return request.getfixturevalue("pg_schema_url")


def test_two_workers_on_one_store_share_the_counters(shared_store_url, plugins, limits_env):
    """Two applications over two ledgers on one database, as `civic serve --workers 2`
    runs them: the failures of both count in one window."""
    limits_env("5/minute")
    one = CivicLedger(shared_store_url, plugins=plugins)
    two = CivicLedger(shared_store_url, plugins=plugins)
    try:
        token = city_token(one)
        a, b = client(one), client(two)
        answers = [(a if n % 2 else b).get("/me", headers=random_token()).status_code for n in range(5)]
        assert answers == [401] * 5
        assert_too_many(a.get("/me", headers=MALFORMED))
        assert_too_many(b.get("/me", headers=MALFORMED))
        assert b.get("/me", headers=bearer(token)).status_code == 200
        assert a.get("/me", headers=bearer(token)).status_code == 200
    finally:
        one.close()
        two.close()


def test_the_storage_counts_atomically_across_processes(shared_store_url, plugins):
    """Threads of two ledgers on one database increment one window: no hit is lost."""
    ledgers = [CivicLedger(shared_store_url, plugins=plugins) for _ in range(2)]
    try:
        storages = [SideStoreStorage(ledger.side) for ledger in ledgers]
        errors: list[BaseException] = []

        def hammer(storage: SideStoreStorage) -> None:
            try:
                for _ in range(25):
                    storage.incr("shared", 60)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(storages[n % 2],)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert storages[0].get("shared") == storages[1].get("shared") == 100
    finally:
        for ledger in ledgers:
            ledger.close()


# -- windows ------------------------------------------------------------------------------


def test_the_window_ends_and_counting_starts_again(app):
    clock = Clock()
    http = client(app)
    http.app.state.throttle = AuthThrottle(app.side, "3/minute", "off", clock=clock)
    assert [http.get("/me", headers=MALFORMED).status_code for _ in range(4)] == [401, 401, 401, 429]
    clock.now += 30
    assert assert_too_many(http.get("/me", headers=MALFORMED)) == 30
    clock.now += 30.5
    assert [http.get("/me", headers=MALFORMED).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_a_short_window_ends_in_real_time(app, limits_env):
    limits_env("2/second")
    http = client(app)
    assert [http.get("/me", headers=MALFORMED).status_code for _ in range(3)] == [401, 401, 429]
    assert assert_too_many(http.get("/me", headers=MALFORMED), longest=1) == 1
    time.sleep(1.1)
    assert http.get("/me", headers=MALFORMED).status_code == 401


def test_the_storage_implements_the_fixed_window_of_limits(app):
    clock = Clock()
    storage = SideStoreStorage(app.side, clock=clock)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("3/2second")
    assert storage.check()
    assert [limiter.hit(item, "a") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(item, "a") and limiter.test(item, "b")
    stats = limiter.get_window_stats(item, "a")
    assert stats.remaining == 0 and stats.reset_time == clock.now + 2
    key = item.key_for("a")
    assert storage.get(key) == 4 and storage.get_expiry(key) == clock.now + 2
    clock.now += 2
    assert storage.get(key) == 0 and limiter.test(item, "a")
    assert storage.incr(key, 2) == 1 and storage.get_expiry(key) == clock.now + 2  # a new window
    limiter.hit(item, "b")
    limiter.clear(item, "b")
    assert storage.get(item.key_for("b")) == 0
    storage.incr("gone", 1)
    clock.now += 5
    assert storage.sweep() == 2  # the ended windows
    with app.side.transaction() as c:
        assert c.query(f"SELECT COUNT(*) FROM {app.side.table(TABLE)}") == [(0,)]
    storage.incr("x", 10)
    assert storage.reset() == 1 and storage.get("x") == 0


# -- configuration ------------------------------------------------------------------------


def test_limits_come_from_the_environment_and_can_be_switched_off(monkeypatch, plugins):
    ledger = CivicLedger("memory://", plugins=plugins)
    try:
        monkeypatch.delenv(ENV_PER_ADDRESS, raising=False)
        monkeypatch.delenv(ENV_PER_TENANT, raising=False)
        throttle = create_app(ledger).state.throttle
        assert [str(i) for i in throttle.per_address] == ["300 per 1 minute"]
        assert [str(i) for i in throttle.per_tenant] == ["600 per 1 minute"]
        monkeypatch.setenv(ENV_PER_ADDRESS, "10/second; 100/minute")
        assert len(create_app(ledger).state.throttle.per_address) == 2
        monkeypatch.setenv(ENV_PER_ADDRESS, "off")
        monkeypatch.setenv(ENV_PER_TENANT, "OFF")
        http = TestClient(create_app(ledger), raise_server_exceptions=False)
        assert http.app.state.throttle is None
        assert {http.get("/me", headers=MALFORMED).status_code for _ in range(50)} == {401}
        monkeypatch.setenv(ENV_PER_ADDRESS, "twenty a minute")
        with pytest.raises(ConfigurationError, match=ENV_PER_ADDRESS):
            create_app(ledger)
    finally:
        ledger.close()


# -- a real server under a flood ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_flood_of_bad_tokens_is_throttled_while_legitimate_requests_are_answered(tmp_path, plugins):
    """`civic serve --workers 2` on a SQLite file; three threads send bad tokens for 2.5 s
    while a fourth makes legitimate requests from the same address."""
    store = f"sqlite:///{tmp_path}/civic.sqlite3"
    ledger = CivicLedger(store, plugins=plugins)
    token = city_token(ledger, "floodtown")
    ledger.close()
    port = free_port()
    env = {**os.environ, "CIVIC_DATABASE_URL": store, ENV_PER_ADDRESS: "20/minute", ENV_PER_TENANT: "off"}
    civic = Path(sys.executable).with_name("civic")
    log = (tmp_path / "server.log").open("w+b")
    server = subprocess.Popen([str(civic), "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        stop = time.monotonic() + 2.5
        bad: Counter[int] = Counter()
        good: Counter[int] = Counter()
        lock = threading.Lock()

        def flood(headers_of) -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                while time.monotonic() < stop:
                    status = http.get("/me", headers=headers_of()).status_code
                    with lock:
                        bad[status] += 1

        def legitimate() -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                while time.monotonic() < stop:
                    for path in ("/me", "/tenants/floodtown"):
                        status = http.get(path, headers=bearer(token)).status_code
                        with lock:
                            good[status] += 1
                    time.sleep(0.02)

        threads = [threading.Thread(target=flood, args=(lambda: MALFORMED,)),
                   threading.Thread(target=flood, args=(lambda: UNKNOWN,)),
                   threading.Thread(target=flood, args=(random_token,)),
                   threading.Thread(target=legitimate)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=15)
        assert not any(thread.is_alive() for thread in threads)
        assert set(good) == {200} and good[200] >= 20, good
        assert set(bad) <= {401, 429}, bad
        assert bad[401] <= 20, bad  # one window for both workers
        assert bad[429] >= 0.8 * sum(bad.values()) and sum(bad.values()) >= 100, bad
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
