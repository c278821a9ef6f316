"""The two job-store backends as one test parameter, and the clock and jitter stand-ins.

`backend` (a fixture, registered in conftest.py) is "sqlite" (a file in tmp_path) or
"postgres" (a fresh database on the session's throwaway server), so one test states one
behaviour for both. `Backend.open` builds a store with the test's clock and policy;
`Backend.child_env` lets a child process open the same store by URL.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.service.store.sql import SqlJobStore

BACKENDS = ("sqlite", "postgres")

# A child process opens a store by URL; libpq reads the password from PGPASSWORD.
OPEN_IN_CHILD = """
def open_url(url, **kw):
    if url.startswith("postgresql://"):
        from bot.service.store.postgres import PostgresJobStore
        return PostgresJobStore(url, **kw)
    from bot.service.store.sqlite import SqliteJobStore
    return SqliteJobStore(url, **kw)
"""


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EdgeRng(random.Random):
    """Stands in for random.Random: always the top (or bottom) of the jitter range, so the
    backoff bounds are checked exactly rather than statistically."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return b if self.top else a


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    password: str | None = None
    # Runs one SQL statement on the store's database, outside any store: row counts.
    query: Callable[[str], list[tuple[Any, ...]]] | None = None

    def open(self, **kwargs: Any) -> SqlJobStore:
        if self.name == "postgres":
            from bot.service.store.postgres import PostgresJobStore

            return PostgresJobStore(self.url, password=self.password, **kwargs)
        from bot.service.store.sqlite import SqliteJobStore

        return SqliteJobStore(self.url, **kwargs)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def scalar(self, sql: str) -> Any:
        assert self.query is not None
        return self.query(sql)[0][0]


def _sqlite_query(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    import sqlite3

    def run(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchall()

    return run


def _pg_query(url: str, password: str) -> Callable[[str], list[tuple[Any, ...]]]:
    import psycopg

    def run(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, password=password, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    return run


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "jobs.db"
        return Backend("sqlite", f"sqlite:///{path}", query=_sqlite_query(path))
    url: str = request.getfixturevalue("pg_url")
    password: str = request.getfixturevalue("pg_password")
    return Backend("postgres", url, password, query=_pg_query(url, password))
