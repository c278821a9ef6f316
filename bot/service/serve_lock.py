"""One `review-bot serve` per SQLite file, enforced by the operating system.

A SQLite store is made for one serving process: two serves on one file would contend for
its write lock and lease each other's jobs with no leader between them (replicas need
PostgreSQL). So serve holds an exclusive, non-blocking ``flock`` on a file next to the
database for as long as it runs, and a second serve is refused with a UsageError that
names the holder. The kernel drops the lock when the holder's file is closed, so a
``kill -9``ed serve leaves no stale lock, and nothing here has to decide whether a
holder is still alive.

Why a lock file of its own (``PATH.serve.lock``) and not the database: SQLite takes POSIX
``fcntl`` locks on the database and closes its descriptors as it sees fit; ``flock`` locks
are separate on Linux, but a file nobody else touches keeps the two plainly apart and
leaves `review-bot jobs`, which opens the database while serve runs, unaffected.

``flock`` belongs to the open file description: a second ``open`` of the lock file, even
in the same process, conflicts, while children share the lock only if they inherit the
descriptor. It is opened non-inheritable and the analysis pool spawns (fork + exec), so
the children of a killed serve do not keep the lock alive. The file is never deleted:
unlinking it while another process has it open would let two holders lock two inodes.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Self

from bot.config.models import StorageConfig
from bot.errors import UsageError

SUFFIX = ".serve.lock"


class ServeLock:
    """The exclusive lock on ``db`` (a database path) that a serve holds while it runs.

    ``acquire`` raises a UsageError when another serve holds it. When the database's
    directory does not exist nothing is locked: that is the store's error to report.
    """

    def __init__(self, db: Path | str) -> None:
        self.db = Path(db).resolve()  # through symlinks: one lock per real file
        self.path = self.db.with_name(self.db.name + SUFFIX)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            # No O_TRUNC: the holder's pid must survive a refused opener.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except (FileNotFoundError, NotADirectoryError):
            return  # no directory: open_store says so, in its own words
        except OSError as exc:
            raise UsageError(f"cannot create the serve lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 256, 0))
            os.close(fd)
            raise UsageError(
                f"another review-bot serve{holder} is using {self.db}; SQLite takes one serve "
                "per file: stop it, or move to PostgreSQL (storage.url: postgresql://...) "
                "to run replicas"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for the message of the next one refused.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the lock
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _holder(content: bytes) -> str:
    """`` (pid N)``, `` (pid N on HOST)`` for another host, or nothing when the holder
    has not written its pid yet (it took the lock a moment ago)."""
    pid, _, host = content.decode(errors="replace").strip().partition(" ")
    if not pid.isdigit():
        return ""
    if host and host != socket.gethostname():
        return f" (pid {pid} on {host})"
    return f" (pid {pid})"


def serve_lock(storage: StorageConfig) -> ServeLock | None:
    """The lock a serve on ``storage`` must hold: None for PostgreSQL, which takes any
    number of replicas, and for an in-memory SQLite store, which no other process sees."""
    if storage.is_postgres:
        return None
    path = storage.sqlite_path.partition("?")[0]  # ?mode=... is not part of the path
    if path in ("", ":memory:"):
        return None  # no path at all is the store's error
    return ServeLock(path)
