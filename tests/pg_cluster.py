"""A throwaway PostgreSQL server for the tests and the benchmarks.

Why: the PostgreSQL job store has to be tested against a real server (SKIP LOCKED, advisory
locks, NOTIFY, crash recovery); a mock would only repeat our own assumptions. Each
`PgCluster` is a fresh ``initdb`` in a temp dir under /tmp, listening on 127.0.0.1 on a free
port, with password (SCRAM) authentication as review-bot uses in production. Nothing is
written outside the temp dir (the Unix socket is there too) and `close` removes it.

PostgreSQL refuses to run as root. When the tests run as root (CI containers), every server
binary runs as ``nobody`` and the temp dir is chowned to it; otherwise they run as the
current user. The children get a clean environment, so root's HOME or a stray PGPORT does
not leak in.

Use::

    from tests.pg_cluster import PgCluster, find_pg_bindir

    bindir = find_pg_bindir()  # None: no server binaries here; skip
    with PgCluster(bindir) as pg:
        url = pg.create_database("jobs")  # postgresql://review_bot@127.0.0.1:PORT/jobs
        store = PostgresJobStore(url, password=pg.password)  # no password in URLs
        pg.execute("SELECT 1", dbname="jobs")
        pg.restart()  # same data, same port
        pg.kill9()  # a crash; pg.start() runs crash recovery

The pytest fixtures (`pg_cluster`, `pg_url`, `own_pg_cluster`, `pg_password`) are in
tests/integration/conftest.py.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

BINDIR_ENV = "REVIEW_BOT_PG_BINDIR"
# Debian/Ubuntu install the server binaries here, off PATH; a module attribute so a test
# can point it elsewhere.
PG_LIB_BINDIRS = "/usr/lib/postgresql/*/bin"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
HOST = "127.0.0.1"
SUPERUSER = "review_bot"
UNPRIVILEGED_USER = "nobody"
LOG_TAIL_LINES = 30
# What _kill_everything may kill: only server processes, never a test naming the data dir.
_SERVER_PROCESS_NAMES = frozenset({"postgres", "postmaster", "pg_ctl", "initdb"})


class PgClusterError(RuntimeError):
    """A step of setting up or running the throwaway server failed."""

    def __init__(self, step: str, detail: str, log_tail: str = "") -> None:
        self.step = step
        self.detail = detail
        self.log_tail = log_tail
        message = f"PostgreSQL test cluster: {step} failed: {detail}"
        if log_tail:
            message += f"\n--- last lines of the server log ---\n{log_tail}"
        super().__init__(message)


def _is_bindir(path: Path) -> bool:
    return all(
        os.access(path / name, os.X_OK) and (path / name).is_file() for name in SERVER_BINARIES
    )


def _version_key(bindir: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); "9.6" -> (9, 6); so 15 sorts after 9.
    version = Path(bindir).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (-1,)


def find_pg_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None.

    In order: $REVIEW_BOT_PG_BINDIR (when set it is the answer: a dir without the binaries
    gives None rather than silently another install), initdb on PATH, ``pg_config
    --bindir``, the newest /usr/lib/postgresql/*/bin.
    """
    configured = os.environ.get(BINDIR_ENV, "")
    if configured:
        path = Path(configured)
        return path if _is_bindir(path) else None

    on_path = shutil.which("initdb")
    if on_path is not None:
        # A symlink farm such as /usr/local/bin may carry only initdb; its target's dir
        # then holds the rest.
        for candidate in (Path(on_path).parent, Path(on_path).resolve().parent):
            if _is_bindir(candidate):
                return candidate

    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _is_bindir(Path(out)):
            return Path(out)

    for candidate in sorted(glob.glob(PG_LIB_BINDIRS), key=_version_key, reverse=True):
        if _is_bindir(Path(candidate)):
            return Path(candidate)
    return None


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    name: str


def _run_as() -> _RunAs | None:
    """Whom the server binaries run as: None is the current user (when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise PgClusterError(
            "choose a user", f"running as root and there is no user {UNPRIVILEGED_USER!r}"
        ) from None
    return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _gone(proc: psutil.Process) -> bool:
    """Whether the process has exited; a zombie counts. One that is our child (pytest is a
    subreaper, so it adopts the daemonised postmaster) is reaped on the way, so that a
    stopped server does not linger in the process table until the session ends."""
    try:
        if not proc.is_running():  # also False when the pid was reused by another process
            return True
        if proc.status() != psutil.STATUS_ZOMBIE:
            return False
        if proc.ppid() == os.getpid():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, os.WNOHANG)
        return True
    except psutil.NoSuchProcess:
        return True


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Waits until every process has exited; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if not _gone(p)]
    return alive


# Started and not yet closed; strong references, so that a cluster dropped without close()
# is still stopped at exit.
_live: set[PgCluster] = set()


@atexit.register
def _close_leftover_clusters() -> None:
    # A benchmark that dies on an exception without closing its cluster must not leave a
    # server running after the interpreter exits.
    for cluster in list(_live):
        with contextlib.suppress(Exception):
            cluster.close()


class PgCluster:
    """One throwaway PostgreSQL server; see the module docstring.

    `start` creates it (initdb) on first use and starts it; `stop`/`start`, `restart` and
    `kill9` keep the data and the port; `close` stops it and removes everything.
    """

    def __init__(
        self, bindir: Path | str, *, password: str | None = None, start_timeout: float = 60.0
    ) -> None:
        self.bindir = Path(bindir)
        # Random by default: nothing in the tests may rely on a well-known password.
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.user = SUPERUSER
        self.host = HOST
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._run_as = _run_as()
        self._initialized = False
        self._started_once = False
        self._closed = False
        self._version_num: int | None = None

    # --- paths and addresses ---------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._base()

    @property
    def log_path(self) -> Path:
        return self._base() / "server.log"

    @property
    def run_as_user(self) -> str:
        """The user the server runs as."""
        return self._run_as.name if self._run_as else pwd.getpwuid(os.geteuid()).pw_name

    def url(self, dbname: str = "postgres") -> str:
        """postgresql://review_bot@127.0.0.1:PORT/DBNAME, without the password (review-bot
        refuses passwords in URLs; pass `password` separately)."""
        return f"postgresql://{self.user}@{self.host}:{self._port()}/{quote(dbname, safe='')}"

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string with the password, for direct psycopg connects."""
        return make_conninfo(
            host=self.host, port=self._port(), user=self.user, password=self.password, dbname=dbname
        )

    @property
    def pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, if the file is there."""
        if self.base_dir is None:
            return None
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first)
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self._postmaster() is not None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> PgCluster:
        """Creates the cluster on first use, starts the server and waits until a password
        login works. Raises PgClusterError; a failed start leaves nothing running."""
        if self._closed:
            raise PgClusterError("start", "the cluster was closed")
        if self.running:
            return self
        _live.add(self)
        try:
            if not self._initialized:
                self._create()
            self._start_server()
            self._wait_connectable()
        except BaseException:
            self._kill_everything()
            raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (pg_ctl stop -m fast); kills the server if that does not work."""
        postmaster = self._postmaster()
        if postmaster is None:
            return
        children = self._children(postmaster)
        with contextlib.suppress(PgClusterError, subprocess.TimeoutExpired):
            self._pg(
                "pg_ctl stop",
                [
                    "pg_ctl",
                    "stop",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout)),
                ],
                timeout=timeout + 10,
            )
        if _wait_gone([postmaster, *children], timeout=5):
            self._kill_everything()

    def restart(self) -> None:
        """Stops and starts the server: same data dir, same port."""
        self.stop()
        self.start()

    def kill9(self, timeout: float = 30.0) -> None:
        """A crash: SIGKILL to the postmaster, then waits until it and its children (which
        notice the postmaster's death and exit by themselves) are gone. The next `start`
        runs crash recovery."""
        postmaster = self._postmaster()
        if postmaster is None:
            raise PgClusterError("kill9", "the server is not running", self._log_tail())
        children = self._children(postmaster)
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster.pid, signal.SIGKILL)
        if _wait_gone([postmaster], timeout):
            raise PgClusterError(
                "kill9", f"pid {postmaster.pid} survived SIGKILL", self._log_tail()
            )
        alive = _wait_gone(children, timeout)
        if alive:
            # They would keep the shared memory attached and block the next start.
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            _wait_gone(alive, 5)
            raise PgClusterError(
                "kill9",
                f"children {[p.pid for p in alive]} did not exit within {timeout:g} s after the "
                "postmaster was killed; killed them",
                self._log_tail(),
            )
        self._remove_stale_locks()

    def close(self) -> None:
        """Stops the server (or kills it) and removes the temp dir. Idempotent."""
        if self._closed:
            return
        try:
            if self.base_dir is not None:
                with contextlib.suppress(Exception):
                    self.stop()
                self._kill_everything()
        finally:
            self._closed = True
            _live.discard(self)
            if self.base_dir is not None:
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- SQL helpers -----------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=autocommit, connect_timeout=10)

    def execute(
        self,
        query: str | sql.Composable,
        params: Sequence[Any] | None = None,
        *,
        dbname: str = "postgres",
    ) -> list[tuple[Any, ...]]:
        """Runs one statement in autocommit mode; returns its rows ([] when it has none)."""
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its URL."""
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drops the database, ending the sessions still connected to it."""
        if self._server_version_num() >= 130000:
            self.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            return
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def temp_database(self, prefix: str = "t_") -> Iterator[str]:
        """A fresh, uniquely named database for the block; its URL. Dropped afterwards."""
        name = f"{prefix}{uuid.uuid4().hex}"
        url = self.create_database(name)
        try:
            yield url
        finally:
            self.drop_database(name)

    def log_text(self) -> str:
        """The server log so far ("" before the first start)."""
        if self.base_dir is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- internals -------------------------------------------------------------------------

    def _base(self) -> Path:
        if self.base_dir is None:
            raise PgClusterError("paths", "the cluster has not been started yet")
        return self.base_dir

    def _port(self) -> int:
        if self.port is None:
            raise PgClusterError("url", "the cluster has not been started yet")
        return self.port

    def _log_tail(self) -> str:
        return "\n".join(self.log_text().splitlines()[-LOG_TAIL_LINES:])

    def _env(self) -> dict[str, str]:
        home = str(self._base())
        return {"HOME": home, "PATH": f"{self.bindir}:/usr/bin:/bin", "LANG": "C.UTF-8"}

    def _pg(self, step: str, args: list[str], *, timeout: float = 120.0) -> str:
        """Runs a server binary (from bindir) as the unprivileged user; its output."""
        cmd = [str(self.bindir / args[0]), *args[1:]]
        ids: dict[str, Any] = {}
        if self._run_as is not None:
            ids = {"user": self._run_as.uid, "group": self._run_as.gid, "extra_groups": []}
        try:
            done = subprocess.run(
                cmd,
                cwd=self._base(),  # the user may not be able to read the caller's cwd
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                **ids,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PgClusterError(step, f"{' '.join(cmd)}: {exc}", self._log_tail()) from exc
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            raise PgClusterError(
                step, f"{' '.join(cmd)} exited {done.returncode}: {output}", self._log_tail()
            )
        return output

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.uid, self._run_as.gid)

    def _create(self) -> None:
        if not _is_bindir(self.bindir):
            raise PgClusterError("find binaries", f"{self.bindir} lacks one of {SERVER_BINARIES}")
        if self.base_dir is None:
            # Directly under /tmp: pytest's tmp_path is inside a 0700 root dir that nobody
            # cannot traverse, and the socket path must stay short (about 100 bytes).
            self.base_dir = Path(tempfile.mkdtemp(prefix="review-bot-pg-", dir="/tmp"))
            self._chown(self.base_dir)
        pwfile = self._base() / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            self._pg(
                "initdb",
                [
                    "initdb",
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",  # a throwaway cluster: no need to wait for the disk
                ],
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.port = _free_port()
        self._initialized = True

    def _write_settings(self) -> None:
        # postgresql.auto.conf overrides postgresql.conf; rewritten at each start because a
        # port clash on the first start picks a new port.
        settings = {
            "listen_addresses": HOST,
            "port": str(self._port()),
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",  # data survives a kill -9 (the OS has it), not a power cut: fine
            "full_page_writes": "off",
            "max_connections": "200",  # stores with pools, many threads and processes
        }
        lines = [f"{key} = '{value}'" for key, value in settings.items()]
        auto_conf = self.data_dir / "postgresql.auto.conf"
        auto_conf.write_text("# Written by tests/pg_cluster.py\n" + "\n".join(lines) + "\n")
        self._chown(auto_conf)

    def _start_server(self) -> None:
        # The port is free when chosen, but another process may take it before the server
        # binds; on the very first start a new one is tried then. A restart keeps its port.
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            self._write_settings()
            log_size = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                self._pg(
                    "pg_ctl start",
                    [
                        "pg_ctl",
                        "start",
                        "-D",
                        str(self.data_dir),
                        "-w",
                        "-t",
                        str(int(self.start_timeout)),
                        "-l",
                        str(self.log_path),
                    ],
                    timeout=self.start_timeout + 30,
                )
                self._started_once = True
                return
            except PgClusterError:
                new_log = self.log_text()[log_size:]
                self._kill_everything()
                if attempt + 1 < attempts and "could not bind" in new_log:
                    self.port = _free_port()
                    continue
                raise

    def _wait_connectable(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with self.connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PgClusterError("connect", str(exc), self._log_tail()) from exc
                time.sleep(0.1)

    def _server_version_num(self) -> int:
        if self._version_num is None:
            rows = self.execute("SHOW server_version_num")
            self._version_num = int(rows[0][0])
        return self._version_num

    def _postmaster(self) -> psutil.Process | None:
        pid = self.pid
        if pid is None:
            return None
        try:
            proc = psutil.Process(pid)
            # A stale postmaster.pid (after kill9) may name a pid reused by another program.
            if _gone(proc) or str(self.data_dir) not in " ".join(proc.cmdline()):
                return None
        except psutil.Error:
            return None
        return proc

    @staticmethod
    def _children(proc: psutil.Process) -> list[psutil.Process]:
        try:
            return proc.children(recursive=True)
        except psutil.Error:
            return []

    def _kill_everything(self) -> None:
        """SIGKILL to every process of this cluster: the postmaster named in postmaster.pid,
        any postgres whose command line names the data dir (a start that failed before
        the pid file was written), and their children."""
        if self.base_dir is None:
            return
        data_dir = str(self.data_dir)
        procs: dict[int, psutil.Process] = {}
        postmaster = self._postmaster()
        if postmaster is not None:
            procs[postmaster.pid] = postmaster
        for proc in psutil.process_iter(["name", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if proc.info["name"] in _SERVER_PROCESS_NAMES and data_dir in " ".join(
                    proc.info["cmdline"] or ()
                ):
                    procs[proc.pid] = proc
        for proc in list(procs.values()):
            for child in self._children(proc):
                procs[child.pid] = child
        for proc in procs.values():
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if not _wait_gone(list(procs.values()), 10):
            self._remove_stale_locks()

    def _remove_stale_locks(self) -> None:
        """Only once every process of the server is gone. The dead postmaster may linger as
        a zombie until its parent (init, or whichever subreaper adopted it) reaps it, and
        the next postmaster would take its pid in the lock files for a live server and
        refuse to start."""
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        if self.port is not None:
            (self.socket_dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
