"""`review-bot db status|migrate`: the job store's schema, by hand.

`serve` applies pending migrations itself when it starts; these are for a team that
wants to see or apply them first (before a deploy, from a job of its own). Both read the
database password from storage.password or storage.password_file, and nothing else.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli.exits import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from bot.cli.jobs import iso_time
from bot.config.models import load_config
from bot.service.store import JobStore, open_store

# As with `check`, 1 means "something to act on": migrations are pending.
EXIT_PENDING = EXIT_FINDINGS


def cmd_db(args: argparse.Namespace) -> int:
    config = load_config(args.config, secrets=False)
    migrating = args.db_command == "migrate"
    # `status` must open a store whatever its schema; `migrate` may make one.
    store = open_store(config, create=migrating, check_schema=False)
    try:
        if migrating:
            return _migrate(store)
        return _status(store, config.storage.url)
    finally:
        store.close()


def _migrate(store: JobStore) -> int:
    before = store.schema()
    applied = store.migrate()
    if not applied:
        print(f"nothing to apply: the schema is at version {before.latest}")
        return EXIT_OK
    names = {m.version: m.name for m in before.pending}
    for version in applied:
        print(f"applied {version}: {names.get(version, '')}")
    return EXIT_OK


def _status(store: JobStore, url: str) -> int:
    status = store.schema()
    print(f"store: {url}")
    print(f"schema: version {status.version} of {status.latest}")
    for step in status.applied:
        print(f"  {step.version:>3}  applied {iso_time(step.applied)}  {step.name}")
    for step in status.pending:
        print(f"  {step.version:>3}  pending               {step.name}")
    if status.unknown:
        newest = max(status.unknown)
        print(
            f"review-bot: error: schema version {newest} is newer than this review-bot; upgrade it",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if status.pending:
        print("run `review-bot db migrate`, or start `review-bot serve`, to apply them")
        return EXIT_PENDING
    return EXIT_OK
