"""What only the PostgreSQL store does, on a real server (tests/pg_cluster.py): NOTIFY
wakes another replica's workers, a server restart costs no store, and a server that is down
or refuses us is a StoreError that says why. The shared semantics are in test_store.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.errors import StoreError
from bot.model import JobKey
from bot.service.store.postgres import PostgresJobStore
from tests.pg_cluster import PgCluster

pytestmark = pytest.mark.timeout(120)

KEY = JobKey("github", "o/r", "1", "rev-1")


class Wakes:
    """A subscriber: counts its calls (from the store's listener thread)."""

    def __init__(self) -> None:
        self.calls = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self._event.set()

    def wait(self, timeout: float = 10.0) -> bool:
        hit = self._event.wait(timeout)
        self._event.clear()
        return hit


@pytest.fixture
def pair(pg_url: str, pg_password: str) -> Iterator[tuple[PostgresJobStore, PostgresJobStore]]:
    """Two stores on one database, as two replicas have."""
    a = PostgresJobStore(pg_url, password=pg_password)
    b = PostgresJobStore(pg_url, password=pg_password)
    yield a, b
    a.close()
    b.close()


def test_an_enqueue_on_one_replica_wakes_a_subscriber_of_another(
    pair: tuple[PostgresJobStore, PostgresJobStore],
) -> None:
    a, b = pair
    wakes = Wakes()
    a.subscribe(wakes)
    assert wakes.wait(), "the listener wakes once when it starts listening"
    started = time.monotonic()
    b.enqueue(KEY, {"n": 1})
    assert wakes.wait(), "no notification reached the other store"
    # Milliseconds on an idle machine; 5 s only keeps a loaded one from failing the test.
    assert time.monotonic() - started < 5.0
    assert a.lease("w1", 30) is not None


def test_a_coalesced_enqueue_still_notifies_but_a_deduplicated_delivery_does_not(
    pair: tuple[PostgresJobStore, PostgresJobStore],
) -> None:
    a, b = pair
    wakes = Wakes()
    a.subscribe(wakes)
    assert wakes.wait()
    assert b.record_delivery("d-1", 60)
    assert not b.record_delivery("d-1", 60)
    assert not wakes.wait(0.5), "recording a delivery queues nothing and must not wake"


def test_close_stops_the_listener_thread(pg_url: str, pg_password: str) -> None:
    store = PostgresJobStore(pg_url, password=pg_password)
    store.subscribe(Wakes())
    listener = store._listener
    assert listener is not None and listener.is_alive()
    store.close()
    assert not listener.is_alive()


def test_a_server_restart_costs_neither_the_pool_nor_the_listener(
    own_pg_cluster: PgCluster,
) -> None:
    url, password = own_pg_cluster.url(), own_pg_cluster.password
    a = PostgresJobStore(url, password=password)
    b = PostgresJobStore(url, password=password)
    try:
        wakes = Wakes()
        a.subscribe(wakes)
        assert wakes.wait()
        a.ping()
        own_pg_cluster.restart()
        a.ping()  # the pool found its broken connections at checkout and replaced them
        assert wakes.wait(15), "the listener did not reconnect"  # it wakes on reconnect
        b.enqueue(KEY, {"n": 1})
        assert wakes.wait(), "no notification after the restart"
        job = a.lease("w1", 30)
        assert job is not None and job.key == KEY
    finally:
        a.close()
        b.close()


def test_while_the_server_is_down_every_call_is_a_store_error_and_then_it_recovers(
    own_pg_cluster: PgCluster,
) -> None:
    url = own_pg_cluster.url()
    store = PostgresJobStore(url, password=own_pg_cluster.password)
    try:
        store.enqueue(KEY, {"n": 1})
        own_pg_cluster.stop()
        for call in (store.ping, lambda: store.enqueue(KEY, {"n": 2}), store.depth):
            with pytest.raises(StoreError) as err:
                call()
            assert url in str(err.value)
        own_pg_cluster.start()
        # The pool may be between two connect attempts: a readyz probe would see 503 for
        # a few seconds more, then 200.
        deadline = time.monotonic() + 30
        while True:
            try:
                store.ping()
                break
            except StoreError:
                assert time.monotonic() < deadline, "the pool never reconnected"
        assert store.depth() == 1  # what was queued before is there
    finally:
        store.close()


def test_a_wrong_password_is_named_as_such_and_never_shown(pg_url: str) -> None:
    with pytest.raises(StoreError) as err:
        PostgresJobStore(pg_url, password="not-the-password")
    text = str(err.value)
    assert "cannot connect" in text and "password authentication failed" in text
    assert "not-the-password" not in text


def test_a_missing_database_is_named(pg_cluster: PgCluster, pg_password: str) -> None:
    url = pg_cluster.url("no_such_db")
    with pytest.raises(StoreError) as err:
        PostgresJobStore(url, password=pg_password)
    assert "no_such_db" in str(err.value) and "does not exist" in str(err.value)


def test_no_server_at_the_address_is_a_store_error(pg_password: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    url = f"postgresql://bot@127.0.0.1:{port}/reviews"
    with pytest.raises(StoreError) as err:
        PostgresJobStore(url, password=pg_password)
    assert url in str(err.value) and "cannot connect" in str(err.value)
