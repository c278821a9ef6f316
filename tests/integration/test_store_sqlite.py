"""The SQLite job store's own behaviour: read-only files, URLs, durability, and a store
made before schema versioning. The shared behaviour is in test_store.py."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.model import JobKey
from bot.service.store.migrations import MIGRATIONS
from bot.service.store.sqlite import SqliteJobStore

KEY = JobKey("github", "org/repo", "7", "sha-a")


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"  # absolute tmp path -> sqlite:////abs/...


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


def test_ping_passes_on_a_writable_store(db: Path) -> None:
    store = SqliteJobStore(url_of(db))
    store.ping()
    store.close()


def test_ping_fails_on_a_store_opened_read_only(db: Path) -> None:
    SqliteJobStore(url_of(db)).close()
    # SQLite itself refuses writes on a mode=ro open, even for root.
    ro = SqliteJobStore(url_of(db) + "?mode=ro")
    assert ro.depth() == 0  # still readable
    with pytest.raises(StoreError, match="not writable"):
        ro.ping()
    ro.close()


READ_ONLY_PING = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from bot.errors import StoreError
    from bot.service.store.sqlite import SqliteJobStore

    # As root chmod does not stop writes, so drop to nobody (after the imports: the
    # interpreter lives under /root, which nobody cannot read).
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    path, before_open = Path(sys.argv[1]) / "jobs.db", sys.argv[2] == "1"
    url = "sqlite:///" + str(path)
    store = SqliteJobStore(url)
    store.ping()
    store.close()
    os.chmod(path, 0o444)
    if not before_open:
        os.chmod(path, 0o644)
    store = SqliteJobStore(url)
    os.chmod(path, 0o444)  # for ro-after-open: read-only once the connection is open
    try:
        store.ping()
    except StoreError as exc:
        print(exc)
        sys.exit(0)
    sys.exit(3)  # ping passed on a read-only file: the test fails
    """
)


@pytest.mark.parametrize("before_open", [True, False], ids=["ro-at-open", "ro-after-open"])
def test_ping_fails_on_a_read_only_file(before_open: bool) -> None:
    # A fresh process (not a fork of this threaded one); tmp_path's parents are root-only,
    # so use a directory nobody owns.
    work = tempfile.mkdtemp(prefix="queue-ro-")
    try:
        if os.geteuid() == 0:
            os.chown(work, 65534, 65534)
        child = subprocess.run(
            [sys.executable, "-c", READ_ONLY_PING, work, "1" if before_open else "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stdout + child.stderr
        assert "not writable" in child.stdout
    finally:
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)


def test_bad_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="unsupported scheme 'postgresql'"):
        SqliteJobStore("postgresql://db/jobs")
    with pytest.raises(StoreError, match="unsupported"):
        SqliteJobStore("sqlite://relative-without-third-slash.db")


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        SqliteJobStore(url_of(tmp_path / "missing" / "jobs.db"))
    a_file = tmp_path / "plain-file"
    a_file.write_text("")
    with pytest.raises(StoreError, match="not a directory"):
        SqliteJobStore(url_of(a_file / "jobs.db"))
    with pytest.raises(StoreError, match="is a directory"):
        SqliteJobStore(url_of(tmp_path))


def test_relative_and_memory_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = SqliteJobStore("sqlite:///rel.db")
    rel.enqueue(KEY, {})
    rel.close()
    assert (tmp_path / "rel.db").is_file()
    mem = SqliteJobStore("sqlite:///:memory:")
    mem.enqueue(KEY, {})
    assert mem.depth() == 1
    mem.ping()
    mem.close()


@pytest.mark.parametrize(("durability", "level"), [("process", 1), ("power", 2)])
def test_durability_sets_how_often_sqlite_syncs(db: Path, durability: str, level: int) -> None:
    s = SqliteJobStore(url_of(db), durability=durability)
    try:
        # 1 is NORMAL (enough in WAL mode for a killed process), 2 is FULL (power loss).
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        s.close()
    with pytest.raises(ValueError, match="durability"):
        SqliteJobStore(url_of(db), durability="sometimes")


def test_a_store_made_before_versioning_is_adopted_with_its_jobs(db: Path) -> None:
    # The tables as review-bot made them before schema_migrations existed.
    with sqlite3.connect(db) as raw:
        for statement in MIGRATIONS[0].sqlite:
            raw.execute(statement)
        raw.execute(
            "INSERT INTO jobs (platform, project, change, revision, state, payload, "
            "not_before, created, updated) VALUES ('github', 'o/r', '1', 'a', 'queued', '{}', "
            "0, 0, 0)"
        )
    store = SqliteJobStore(url_of(db))
    assert store.applied_at_open == (1,)
    assert store.depth() == 1
    assert store.schema().pending == ()
    store.close()
