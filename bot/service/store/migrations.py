"""The store's schema, as numbered migrations: one list, each step in both dialects.

A store records what it applied in ``schema_migrations``. Opening a store for `serve`
applies what is missing, in order, in one transaction that also holds the dialect's lock
(SQLite's write lock, a PostgreSQL advisory lock), so two replicas starting together
apply each step once. A database that is ahead of this code is refused rather than
written to with an older idea of its tables.

Steps are append-only: a released one is never edited, a change is a new step.
Version 1 uses IF NOT EXISTS, so a SQLite store made before versioning adopts it as is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    applied: float  # epoch seconds


@dataclass(frozen=True)
class SchemaStatus:
    """What a database holds against what this code knows."""

    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]
    # Versions the database has that this code does not know (a newer review-bot ran).
    unknown: tuple[int, ...]

    @property
    def version(self) -> int:
        return max((m.version for m in self.applied), default=0)

    @property
    def latest(self) -> int:
        return MIGRATIONS[-1].version


# Kept in both dialects by hand: the parametrised store tests run every statement on both.
LEDGER = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied REAL NOT NULL)"
    ),
    "postgres": (
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied double precision NOT NULL)"
    ),
}

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "jobs, deliveries and meta",
        sqlite=(
            """CREATE TABLE IF NOT EXISTS jobs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                platform TEXT NOT NULL, project TEXT NOT NULL,
                change TEXT NOT NULL, revision TEXT NOT NULL,
                state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                payload TEXT NOT NULL, delivery_id TEXT,
                not_before REAL NOT NULL, lease_owner TEXT, lease_expires REAL,
                result TEXT, last_error TEXT,
                created REAL NOT NULL, updated REAL NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before, id)",
            "CREATE INDEX IF NOT EXISTS jobs_change ON jobs (platform, project, change, state)",
            "CREATE TABLE IF NOT EXISTS deliveries "
            "(delivery_id TEXT PRIMARY KEY, seen REAL NOT NULL)",
            "CREATE INDEX IF NOT EXISTS deliveries_seen ON deliveries (seen)",
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
        ),
        postgres=(
            # Times stay epoch seconds, as in SQLite: the store's clock is the caller's.
            """CREATE TABLE jobs (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                platform text NOT NULL, project text NOT NULL,
                change text NOT NULL, revision text NOT NULL,
                state text NOT NULL, attempts integer NOT NULL DEFAULT 0,
                payload jsonb NOT NULL, delivery_id text,
                not_before double precision NOT NULL, lease_owner text,
                lease_expires double precision,
                result jsonb, last_error text,
                created double precision NOT NULL, updated double precision NOT NULL)""",
            "CREATE INDEX jobs_ready ON jobs (state, not_before, id)",
            "CREATE INDEX jobs_change ON jobs (platform, project, change, state)",
            "CREATE TABLE deliveries (delivery_id text PRIMARY KEY, "
            "seen double precision NOT NULL)",
            "CREATE INDEX deliveries_seen ON deliveries (seen)",
            "CREATE TABLE meta (k text PRIMARY KEY, v text NOT NULL)",
        ),
    ),
)


def status_of(rows: list[tuple[int, str, float]]) -> SchemaStatus:
    """The status from the ledger's rows (version, name, applied)."""
    known = {m.version for m in MIGRATIONS}
    applied = tuple(AppliedMigration(v, n, a) for v, n, a in sorted(rows) if v in known)
    done = {m.version for m in applied}
    return SchemaStatus(
        applied=applied,
        pending=tuple(m for m in MIGRATIONS if m.version not in done),
        unknown=tuple(sorted(v for v, _, _ in rows if v not in known)),
    )
