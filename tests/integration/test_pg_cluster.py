"""The throwaway PostgreSQL server of the tests (tests/pg_cluster.py) and its fixtures.

The job-store tests trust it to be a real server with password logins, per-test databases,
restarts that keep data and port, and a kill -9 that is a real crash and leaves nothing
behind; these tests check exactly that. The shared session cluster is reused where the
server is not disturbed; each `own_pg_cluster` costs an initdb (about a second).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from tests import pg_cluster as pg_cluster_module
from tests.pg_cluster import BINDIR_ENV, PgCluster, PgClusterError, find_pg_bindir


def connect(url: str, password: str | None, **kwargs: object) -> psycopg.Connection:
    return psycopg.connect(url, password=password, autocommit=True, connect_timeout=10, **kwargs)


def user_tables(url: str, password: str) -> list[str]:
    with connect(url, password) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return sorted(row[0] for row in rows)


def running_with(needle: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose command line contains needle."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
            continue
        if needle in " ".join(proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def make_bindir(path: Path, names: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        exe = path / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return path


# --- logins ------------------------------------------------------------------------------


def test_password_login_works_and_wrong_or_missing_passwords_are_refused(
    pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = pg_cluster.url()
    assert url == f"postgresql://review_bot@127.0.0.1:{pg_cluster.port}/postgres"
    assert pg_cluster.password not in url
    with connect(url, pg_cluster.password) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("review_bot",)

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(url, pg_cluster.password + "x")

    # Without a password the server must ask for one (scram), not let us in (trust).
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        connect(url, None)


def test_socket_lives_in_the_temp_dir_and_needs_a_password_too(pg_cluster: PgCluster) -> None:
    socket_dir = pg_cluster.socket_dir
    assert socket_dir.parent == Path("/tmp")
    assert (socket_dir / f".s.PGSQL.{pg_cluster.port}").is_socket()
    local = f"postgresql://review_bot@/postgres?host={socket_dir}&port={pg_cluster.port}"
    with connect(local, pg_cluster.password) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(local, "wrong")


def test_server_runs_as_an_unprivileged_user(pg_cluster: PgCluster) -> None:
    assert pg_cluster.pid is not None
    postmaster = psutil.Process(pg_cluster.pid)
    users = {postmaster.username()} | {child.username() for child in postmaster.children()}
    if os.geteuid() == 0:
        assert users == {"nobody"}
    else:
        assert users == {pwd.getpwuid(os.geteuid()).pw_name}
    assert pg_cluster.run_as_user in users


# --- per-test databases --------------------------------------------------------------------


@pytest.mark.parametrize("run", ["first", "second"])
def test_pg_url_databases_are_empty_and_separate(
    run: str, pg_cluster: PgCluster, pg_url: str, pg_password: str
) -> None:
    # Both runs create the same table: the second one sees an empty database only if the
    # first one's was dropped rather than reused.
    assert user_tables(pg_url, pg_password) == []
    with connect(pg_url, pg_password) as conn:
        conn.execute("CREATE TABLE marker (run text)")
        conn.execute("INSERT INTO marker VALUES (%s)", [run])
    assert user_tables(pg_url, pg_password) == ["marker"]
    with pg_cluster.temp_database() as other:
        assert other != pg_url
        assert user_tables(other, pg_password) == []
    assert user_tables(pg_cluster.url(), pg_password) == []


def test_temp_database_is_dropped_even_while_a_session_is_connected(pg_cluster: PgCluster) -> None:
    with pg_cluster.temp_database() as url:
        name = url.rsplit("/", 1)[1]
        held = connect(url, pg_cluster.password)
    try:
        rows = pg_cluster.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        assert rows == []
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    finally:
        held.close()


# --- restart and crash ---------------------------------------------------------------------


def test_restart_keeps_data_and_port(own_pg_cluster: PgCluster) -> None:
    pg = own_pg_cluster
    url = pg.create_database("kept")
    pg.execute("CREATE TABLE t (n int)", dbname="kept")
    pg.execute("INSERT INTO t VALUES (42)", dbname="kept")
    port, pid = pg.port, pg.pid

    pg.restart()

    assert pg.port == port
    assert pg.url("kept") == url
    assert pg.pid != pid  # really a new server
    assert not alive(pid or 0)
    assert pg.execute("SELECT n FROM t", dbname="kept") == [(42,)]
    assert "received fast shutdown request" in pg.log_text()


def test_kill9_leaves_nothing_running_and_start_recovers_committed_data(
    own_pg_cluster: PgCluster,
) -> None:
    pg = own_pg_cluster
    pg.execute("CREATE TABLE t (n int)")
    pg.execute("INSERT INTO t VALUES (1), (2)")  # autocommit: committed before the crash
    held = pg.connect()  # a backend that must die with the postmaster
    backend_pid = held.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    assert pg.pid is not None
    postmaster = psutil.Process(pg.pid)
    pids = {postmaster.pid, backend_pid} | {c.pid for c in postmaster.children(recursive=True)}
    assert backend_pid in pids and len(pids) > 3  # checkpointer, walwriter, ... too
    port = pg.port

    try:
        pg.kill9()
        assert [pid for pid in pids if alive(pid)] == []
        assert running_with(str(pg.data_dir)) == []
        assert not pg.running
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    finally:
        held.close()
    assert "automatic recovery in progress" not in pg.log_text()

    pg.start()

    assert pg.port == port
    # A crash, not a clean shutdown: the server had to replay the WAL.
    assert "automatic recovery in progress" in pg.log_text()
    assert pg.execute("SELECT n FROM t ORDER BY n") == [(1,), (2,)]


def test_close_stops_the_server_and_removes_the_temp_dir(own_pg_cluster: PgCluster) -> None:
    pg = own_pg_cluster
    base, pid = pg.base_dir, pg.pid
    assert base is not None and pid is not None
    pg.close()
    assert not alive(pid)
    assert not base.exists()
    assert running_with(str(base)) == []
    pg.close()  # idempotent: the fixture closes it again


def test_failed_start_names_the_step_shows_the_log_and_leaves_nothing_running(
    own_pg_cluster: PgCluster,
) -> None:
    pg = own_pg_cluster
    pg.stop()
    with (pg.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("shared_buffers = 'plenty'\n")
    with pytest.raises(PgClusterError) as info:
        pg.start()
    assert info.value.step == "pg_ctl start"
    assert "invalid value for parameter" in info.value.log_tail
    assert "shared_buffers" in str(info.value)
    assert not pg.running
    assert running_with(str(pg.data_dir)) == []


@pytest.fixture
def world_tmp() -> Iterator[Path]:
    # tmp_path lies in a 0700 dir of root that `nobody` cannot enter; a fake binary there
    # would fail with a permission error instead of its own.
    path = Path(tempfile.mkdtemp(prefix="review-bot-pg-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_failing_initdb_is_reported_and_the_context_manager_cleans_up(world_tmp: Path) -> None:
    bindir = make_bindir(world_tmp / "bin")
    (bindir / "initdb").write_text(
        "#!/bin/sh\necho 'initdb: error: simulated failure' >&2\nexit 1\n"
    )
    cluster = PgCluster(bindir)
    with pytest.raises(PgClusterError) as info, cluster:
        pytest.fail("the block must not run")
    assert info.value.step == "initdb"
    assert "simulated failure" in str(info.value)
    assert cluster.base_dir is not None
    assert not cluster.base_dir.exists()


# --- find_pg_bindir ------------------------------------------------------------------------


@pytest.fixture
def no_real_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hides every real install: no env var, an empty PATH, no /usr/lib/postgresql."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.delenv(BINDIR_ENV, raising=False)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(pg_cluster_module, "PG_LIB_BINDIRS", str(tmp_path / "no-lib/*/bin"))
    assert find_pg_bindir() is None
    return empty


def test_find_pg_bindir_env_var_wins_over_path(
    no_real_install: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    on_path = make_bindir(tmp_path / "on-path")
    chosen = make_bindir(tmp_path / "chosen")
    monkeypatch.setenv("PATH", str(on_path))
    assert find_pg_bindir() == on_path
    monkeypatch.setenv(BINDIR_ENV, str(chosen))
    assert find_pg_bindir() == chosen


@pytest.mark.parametrize("present", [(), ("initdb",), ("initdb", "pg_ctl")])
def test_find_pg_bindir_env_var_without_the_binaries_gives_none(
    present: tuple[str, ...], no_real_install: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A valid install elsewhere must not be used instead of the one that was asked for.
    monkeypatch.setenv("PATH", str(make_bindir(tmp_path / "on-path")))
    monkeypatch.setenv(BINDIR_ENV, str(make_bindir(tmp_path / "partial", present)))
    assert find_pg_bindir() is None


def test_find_pg_bindir_follows_an_initdb_symlink_on_path(
    no_real_install: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = make_bindir(tmp_path / "real")
    (no_real_install / "initdb").symlink_to(real / "initdb")
    assert find_pg_bindir() == real


def test_find_pg_bindir_asks_pg_config(
    no_real_install: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = make_bindir(tmp_path / "real")
    pg_config = no_real_install / "pg_config"
    pg_config.write_text(f'#!/bin/sh\n[ "$1" = --bindir ] && echo {real}\n')
    pg_config.chmod(0o755)
    assert find_pg_bindir() == real


def test_find_pg_bindir_takes_the_newest_debian_install(
    no_real_install: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    for version in ("9.6", "10", "15"):
        make_bindir(lib / version / "bin")
    make_bindir(lib / "16" / "bin", ("initdb", "pg_ctl"))  # incomplete: skipped
    monkeypatch.setattr(pg_cluster_module, "PG_LIB_BINDIRS", str(lib / "*" / "bin"))
    # By number: a string sort would pick 9.6.
    assert find_pg_bindir() == lib / "15" / "bin"
