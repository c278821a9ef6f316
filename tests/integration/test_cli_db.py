"""`review-bot db status|migrate` and `review-bot jobs` on both backends, as processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.model import JobKey
from bot.service.store.migrations import MIGRATIONS
from tests.fakes.serve_process import EXE
from tests.integration.store_backends import Backend

LATEST = MIGRATIONS[-1].version


def store_config(tmp: Path, backend: Backend) -> Path:
    """A config naming the backend's store; PostgreSQL's password from a file."""
    lines = ["storage:", f"  url: '{backend.url}'"]
    if backend.password is not None:
        (tmp / "db-password").write_text(backend.password + "\n")
        lines.append("  password_file: db-password")  # relative to the config's directory
    path = tmp / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def db(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60, check=False
    )


def test_status_then_migrate_then_status(backend: Backend, tmp_path: Path) -> None:
    config = str(store_config(tmp_path, backend))
    before = db("db", "status", "-c", config, cwd=tmp_path)
    if backend.name == "sqlite":
        # No file yet: status reports, it never creates one.
        assert before.returncode == 2 and "no store at" in before.stderr
        assert not Path(backend.url.removeprefix("sqlite:///")).exists()
    else:
        # An empty database: everything pending, exit 1, and what to do.
        assert before.returncode == 1, before.stderr
        assert f"version 0 of {LATEST}" in before.stdout
        assert "pending" in before.stdout and "review-bot db migrate" in before.stdout
        assert backend.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'jobs'") == 0
    applied = db("db", "migrate", "-c", config, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines() == [f"applied {m.version}: {m.name}" for m in MIGRATIONS]
    after = db("db", "status", "-c", config, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert f"version {LATEST} of {LATEST}" in after.stdout
    assert "pending" not in after.stdout
    again = db("db", "migrate", "-c", config, cwd=tmp_path)
    assert (again.returncode, again.stdout.strip()) == (
        0,
        f"nothing to apply: the schema is at version {LATEST}",
    )


def test_a_newer_schema_is_an_error_naming_its_version(backend: Backend, tmp_path: Path) -> None:
    config = str(store_config(tmp_path, backend))
    backend.open().close()
    backend.query("INSERT INTO schema_migrations (version, name, applied) VALUES (77, 'x', 0)")
    status = db("db", "status", "-c", config, cwd=tmp_path)
    assert status.returncode == 2
    assert "schema version 77 is newer than this review-bot" in status.stderr
    migrate = db("db", "migrate", "-c", config, cwd=tmp_path)
    assert migrate.returncode == 2 and "schema version 77 is newer" in migrate.stderr


def test_jobs_commands_read_the_store_on_either_backend(backend: Backend, tmp_path: Path) -> None:
    config = str(store_config(tmp_path, backend))
    store = backend.open()
    job_id = store.enqueue(JobKey("github", "o/r", "12", "abcdef123456789"), {}).job_id
    store.close()
    listed = db("jobs", "list", "-c", config, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"{job_id:>6}  queued" in listed.stdout and "o/r / 12 @ abcdef123456" in listed.stdout
    shown = db("jobs", "show", str(job_id), "-c", config, cwd=tmp_path)
    assert shown.returncode == 0 and '"state": "queued"' in shown.stdout


def test_postgres_password_from_an_unset_variable_is_named(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: '{pg_url}'\n  password: ${{RB_TEST_DB_PASSWORD}}\n")
    done = db("db", "status", "-c", str(config), cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "storage.password: environment variable RB_TEST_DB_PASSWORD is not set" in (done.stderr)


def test_the_store_url_from_a_variable_is_used_or_named_when_unset(
    pg_url: str, pg_password: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    (tmp_path / "db-password").write_text(pg_password)
    config.write_text("storage:\n  url: ${RB_TEST_DB_URL}\n  password_file: db-password\n")
    env = {"PATH": "/usr/bin:/bin", "RB_TEST_DB_URL": pg_url}
    done = db("db", "migrate", "-c", str(config), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert f"applied {LATEST}" in done.stdout
    done = db("db", "status", "-c", str(config), cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "storage.url: its environment variable is not set" in done.stderr


def test_a_wrong_postgres_password_is_one_line_without_the_password(
    pg_url: str, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("not-the-password\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: '{pg_url}'\n  password_file: pw\n")
    done = db("jobs", "list", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "password authentication failed" in done.stderr
    assert "not-the-password" not in done.stderr


@pytest.mark.parametrize("words", [["db"], ["db", "status"], ["db", "migrate"]])
def test_db_help(words: list[str], tmp_path: Path) -> None:
    done = db(*words, "--help", cwd=tmp_path)
    assert done.returncode == 0 and "usage: review-bot db" in done.stdout
