"""`review-bot jobs list|show|retry`: inspect and re-run the service's jobs."""

from __future__ import annotations

import argparse
import dataclasses
import json

from bot.cli.exits import EXIT_OK
from bot.config.models import load_config
from bot.errors import UsageError
from bot.model import JobState
from bot.service.store import open_store


def cmd_jobs(args: argparse.Namespace) -> int:

    config = load_config(args.config)
    store = open_store(config)
    try:
        if args.jobs_command == "list":
            state = JobState(args.state) if args.state else None
            jobs = store.list(state, limit=args.limit)
            print(f"{'ID':>6}  {'STATE':<10}  {'TRIES':>5}  PLATFORM  PROJECT / CHANGE @ REVISION")
            for job in jobs:
                k = job.key
                print(
                    f"{job.id:>6}  {job.state.value:<10}  {job.attempts:>5}  {k.platform:<8}  "
                    f"{k.project} / {k.change} @ {k.revision[:12]}"
                )
            return EXIT_OK
        job = store.get(args.id)
        if job is None:
            raise UsageError(f"no job {args.id} in {config.storage.url}")
        if args.jobs_command == "retry":
            store.retry(args.id)
            print(f"job {args.id} queued again")
            return EXIT_OK
        print(json.dumps(dataclasses.asdict(job), indent=2, default=str))
        return EXIT_OK
    finally:
        store.close()
