"""The SQLite job store: `SqlJobStore` on the stdlib's sqlite3, for one `serve` process.

One connection per object, serialised by a lock (the aiohttp server calls it from executor
threads); BEGIN IMMEDIATE takes the database's write lock up front, which makes every
read-modify-write atomic across processes sharing the file, migrations included.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote

from bot.errors import StoreError
from bot.service.store.sql import SqlJobStore, Statements

# RETURNING (3.35) and upserts (3.24) are used; PostgreSQL has both too.
MIN_SQLITE = (3, 35, 0)


class _SqliteStatements(Statements):
    has_ledger = (
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    )
    has_jobs = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"


_SQL = _SqliteStatements.converted(lambda name: f":{name}")


def _parse_url(url: str) -> tuple[str, bool]:
    """Store url -> (sqlite3 URI filename, read_only). Accepts sqlite:///rel.db,
    sqlite:////abs.db, sqlite:///:memory:, and an optional ?mode=ro|rw|rwc."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise StoreError(
            url, f"unsupported scheme {scheme!r}; expected sqlite:///path.db or sqlite:///:memory:"
        )
    rest, _, query = url[len(prefix) :].partition("?")
    params = parse_qs(query, keep_blank_values=True)
    unknown = set(params) - {"mode"}
    if unknown:
        raise StoreError(url, f"unsupported query parameter(s): {', '.join(sorted(unknown))}")
    mode = params.get("mode", ["rwc"])[-1]
    if mode not in ("ro", "rw", "rwc"):
        raise StoreError(url, f"unsupported mode {mode!r}; expected ro, rw or rwc")
    if not rest:
        raise StoreError(url, "no database path")
    if rest == ":memory:":
        # A private in-memory database; "mode" is meaningless there.
        return ":memory:", False
    path = Path(rest)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise StoreError(url, f"cannot create the database: directory {str(parent)!r} {what}")
    if path.is_dir():
        raise StoreError(url, f"{rest!r} is a directory, not a database file")
    return f"file:{quote(str(path.absolute()))}?mode={mode}", mode == "ro"


def _file_of(target: str) -> Path | None:
    if target == ":memory:":
        return None
    return Path(unquote(target.removeprefix("file:").partition("?")[0]))


class SqliteJobStore(SqlJobStore):
    dialect: ClassVar[str] = "sqlite"
    _sql = _SQL

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        durability: str = "process",
        create: bool = True,
        check_schema: bool = True,
    ) -> None:
        """``create=False`` opens an existing store only (the CLI's reading commands):
        no file, or a file without the jobs table, is a StoreError and nothing is made.
        ``check_schema=False`` leaves the schema as it is (`db status` reports on it)."""
        if durability not in ("process", "power"):
            raise ValueError("durability must be 'process' or 'power'")
        super().__init__(
            url,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            clock=clock,
            rng=rng,
        )
        self._lock = threading.Lock()
        target, self.read_only = _parse_url(url)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                url, f"SQLite {sqlite3.sqlite_version} is too old; 3.35 or newer is needed"
            )
        self.path = _file_of(target)
        if not create:
            target = self._existing(target)
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            self._conn = sqlite3.connect(
                target,
                uri=target != ":memory:",
                timeout=10.0,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(url, f"cannot open: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA busy_timeout = 10000")
            if not self.read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL already survives a killed process (the kill -9 test);
            # FULL also survives power loss, at an fsync per commit: measured with
            # bench/webhook_load.py, p99 ack latency 45 ms with NORMAL, 100 ms with FULL.
            sync = "FULL" if durability == "power" else "NORMAL"
            self._conn.execute(f"PRAGMA synchronous = {sync}")
            if check_schema:
                self.prepare_schema(create=create)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(url, f"cannot initialise: {exc}") from exc
        except StoreError:
            self._conn.close()
            raise

    def _existing(self, target: str) -> str:
        """``target`` opened without creating: the file must be there already."""
        if self.path is None:
            raise StoreError(self.url, "an in-memory store holds no jobs of another process")
        if not self.path.is_file():
            raise StoreError(
                self.url,
                f"no store at {str(self.path)!r}; storage.url must name the store "
                "that review-bot serve writes",
            )
        # mode=rw: should the file vanish meanwhile, SQLite must not make a new one.
        return target.replace("?mode=rwc", "?mode=rw")

    def _where(self) -> str:
        return repr(str(self.path))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One locked write transaction; BEGIN IMMEDIATE takes the database write lock up
        front so a concurrent process can't slip in between our SELECT and UPDATE."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may already have rolled back
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, statement: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        with self._lock:
            return self._conn.execute(statement, params or {}).fetchall()

    def ping(self) -> None:
        # An open connection keeps writing to a file chmod-ed read-only after it was opened,
        # so ask the file system too (root passes this; the write below still runs).
        if self.path is not None and not os.access(self.path, os.W_OK):
            raise StoreError(self.url, f"not writable: {str(self.path)!r} is read-only")
        try:
            super().ping()
        except sqlite3.Error as exc:
            raise StoreError(self.url, f"not writable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()
