"""Fixtures for a real, throwaway PostgreSQL server (tests/pg_cluster.py).

- `pg_cluster` (session): one server shared by the session; stopped at the end, because
  the leftovers plugin (tests/leftovers.py) fails a session that leaves a process running.
- `pg_url` (function): a fresh empty database on it, dropped after the test.
- `pg_password` (session): the password for `pg_url` (URLs carry none).
- `own_pg_cluster` (function): a private server for tests that restart or kill it.

Without server binaries the tests that use them skip, unless REVIEW_BOT_REQUIRE_PG=1 (CI
sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.store_backends import backend  # noqa: F401  (a fixture)
from tests.pg_cluster import PgCluster, find_pg_bindir

REQUIRE_ENV = "REVIEW_BOT_REQUIRE_PG"
NOT_FOUND = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql or set "
    "REVIEW_BOT_PG_BINDIR"
)


def _bindir_or_skip() -> Path:
    bindir = find_pg_bindir()
    if bindir is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{NOT_FOUND} ({REQUIRE_ENV}=1 forbids skipping)", pytrace=False)
        pytest.skip(NOT_FOUND)
    return bindir


def _running_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster(_bindir_or_skip())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    yield from _running_cluster()


@pytest.fixture(scope="session")
def pg_password(pg_cluster: PgCluster) -> str:
    return pg_cluster.password


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    with pg_cluster.temp_database() as url:
        yield url


@pytest.fixture
def own_pg_cluster() -> Iterator[PgCluster]:
    yield from _running_cluster()
