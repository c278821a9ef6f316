"""The `review-bot` command line: the parser, and a dispatch that imports only the
module of the command that runs, so that `--version` and `--help` stay fast.

Exit codes: 0 nothing reached --fail-on, 1 something did, 2 usage/config/input error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.cli.exits import EXIT_ERROR, EXIT_OK
from bot.errors import InputError, StoreError
from bot.levels import FilterMode, Severity
from bot.report import FORMATS

SEVERITIES = [s.name for s in Severity if s is not Severity.off]


def _severity(value: str) -> Severity:
    try:
        severity = Severity.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if severity is Severity.off:
        # `off` switches a rule off in the config; as a threshold it would mean nothing.
        raise argparse.ArgumentTypeError(
            f"'off' is not a threshold (one of: {', '.join(SEVERITIES)}); "
            "to silence a rule, set its severity to off in the config"
        )
    return severity


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def _add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        metavar="FILE",
        help="team configuration YAML (default: embedded defaults; see config.example.yaml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="review-bot",
        description="Review the changed hunks of test files with ast-grep rules.",
    )
    parser.add_argument("--version", action="version", version=f"review-bot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="review a patch, a git range or files, and print findings with suggested fixes",
        description="Review a change exactly as the bot would. Give one of --diff, --git "
        "or PATHs. Only test files (config test_files.globs) are analysed. When stderr is a "
        "terminal, a progress bar there shows the files analysed and the slowest so far.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="whole files or directories to analyse, like `ast-grep scan`",
    )
    source = check.add_mutually_exclusive_group()
    source.add_argument(
        "--diff", metavar="FILE", help="unified diff (git or plain); '-' reads standard input"
    )
    source.add_argument(
        "--git",
        metavar="A..B",
        help="review the git range A..B, or A...B (from the merge base of A and B, what a "
        "pull request shows); contents come from git, not the tree",
    )
    check.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository root: new file contents and relative paths (default: .)",
    )
    check.add_argument(
        "--no-ignore",
        action="store_true",
        help="walk directories (PATHs) without leaving out what git ignores (.gitignore, "
        ".git/info/exclude); like `ast-grep scan --no-ignore vcs`",
    )
    _add_config_arg(check)
    check.add_argument(
        "--project",
        metavar="[PLATFORM:]PROJECT",
        help="apply the config's `projects:` override for this project, as the service "
        "does (e.g. gerrit:openstack/nova); PLATFORM is needed when an override names one",
    )
    check.add_argument(
        "--format",
        "-f",
        choices=sorted(FORMATS),
        default="text",
        help="output format (default: text; concise: one line per finding)",
    )
    check.add_argument(
        "--filter-mode",
        choices=[m.value for m in FilterMode],
        help="which findings to keep, as reviewdog names it (default: added)",
    )
    check.add_argument(
        "--min-severity",
        type=_severity,
        metavar="LEVEL",
        help=f"lowest severity shown: {', '.join(SEVERITIES)} (default: warning, "
        "what the bot posts)",
    )
    check.add_argument(
        "--fail-on",
        default="error",
        metavar="LEVEL",
        help="exit 1 when a shown finding is at least this severe; "
        "'off' never fails (default: error)",
    )
    check.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="report only findings the change introduced, comparing with the base side of "
        "each hunk; needs base contents, which --git has and --diff has not "
        "(default: review.new_findings_only, on)",
    )
    check.add_argument(
        "--idiom-threshold",
        type=_non_negative,
        metavar="N",
        help="do not post a finding on an added line when its rule already matches N "
        "unchanged lines of the file; 0 turns this off (default: review.idiom_threshold, 2)",
    )
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="worker processes for many files (default: CPU count)",
    )
    check.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    check.add_argument(
        "--fix",
        action="store_true",
        help="apply the shown findings' fixes to the files (PATHs); with --diff, print them "
        "as a patch for `git apply` instead; not with --git",
    )
    check.set_defaults(run=_run_check)

    rules = commands.add_parser(
        "rules",
        help="list or test the configured rules",
        description="Inspect and test the configured rules.",
    )
    rules_cmds = rules.add_subparsers(dest="rules_command", metavar="COMMAND", required=True)
    rules_list = rules_cmds.add_parser(
        "list",
        help="id, severity, pack and summary of each rule",
        description="Print every configured rule.",
    )
    _add_config_arg(rules_list)
    rules_list.set_defaults(run=_run_rules_list)
    rules_test = rules_cmds.add_parser(
        "test",
        help="run the rule tests (valid/invalid cases and fix snapshots)",
        description="Run ast-grep rule tests (testConfigs of sgconfig.yml) through "
        "review-bot's engine, including the `fixed:` snapshots.",
    )
    _add_config_arg(rules_test)
    rules_test.add_argument("--filter", metavar="TEXT", help="only rule ids containing TEXT")
    rules_test.set_defaults(run=_run_rules_test)

    serve = commands.add_parser(
        "serve",
        help="run the webhook service",
        description="Run the webhook service: acknowledge events at once, review them from "
        "a durable queue in worker processes, and serve /healthz, /readyz and /metrics.",
    )
    _add_config_arg(serve)
    serve.add_argument("--host", help="listen address (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port, 8080)")
    serve.set_defaults(run=_run_serve)

    jobs = commands.add_parser(
        "jobs",
        help="inspect and re-run the service's jobs",
        description="Inspect the job store named by storage.url.",
    )
    jobs_cmds = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    jobs_list = jobs_cmds.add_parser(
        "list", help="recent jobs, newest first", description="List jobs."
    )
    _add_config_arg(jobs_list)
    jobs_list.add_argument(
        "--state", choices=["queued", "running", "done", "failed", "dead", "superseded"]
    )
    jobs_list.add_argument("--limit", type=int, default=50)
    jobs_show = jobs_cmds.add_parser(
        "show",
        help="one job in full, with the review it posted or would post",
        description="Show one job as JSON: its state and times (ISO 8601, UTC), its outcome, "
        "and the review it posted or would post (each comment and the summary).",
    )
    jobs_show.add_argument(
        "--raw", action="store_true", help="also the event's payload and the result as stored"
    )
    jobs_retry = jobs_cmds.add_parser(
        "retry", help="queue a failed, dead or done job again", description="Queue a job again."
    )
    for sub in (jobs_show, jobs_retry):
        _add_config_arg(sub)
        sub.add_argument("id", type=int, metavar="ID")
    for sub in (jobs_list, jobs_show, jobs_retry):
        sub.set_defaults(run=_run_jobs)

    db = commands.add_parser(
        "db",
        help="show or apply the job store's schema migrations",
        description="The job store's schema. `serve` applies pending migrations when it "
        "starts; these commands show or apply them by hand, under the same lock, so they "
        "are safe while replicas run.",
    )
    db_cmds = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    db_status = db_cmds.add_parser(
        "status",
        help="applied and pending migrations",
        description="List the applied and pending migrations of the store named by "
        "storage.url. Exit 0 when the schema is current, 1 when migrations are pending, "
        "2 on an error (a schema newer than this review-bot included).",
    )
    db_migrate = db_cmds.add_parser(
        "migrate",
        help="apply the pending migrations",
        description="Apply the pending migrations, each once, under the store's lock "
        "(a PostgreSQL advisory lock; SQLite's write lock). A SQLite file is created.",
    )
    for sub in (db_status, db_migrate):
        _add_config_arg(sub)
        sub.set_defaults(run=_run_db)

    config = commands.add_parser(
        "config", help="validate a configuration file", description="Configuration tools."
    )
    config_cmds = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    config_check = config_cmds.add_parser(
        "check",
        help="validate FILE and name each bad key by its path",
        description="Validate a configuration file, including the rules it selects.",
    )
    config_check.add_argument("file", type=Path, metavar="FILE")
    config_check.set_defaults(run=_run_config_check)
    return parser


# Each command's module is imported when it runs, not when the parser is built.
def _run_check(args: argparse.Namespace) -> int:
    from bot.cli.check import cmd_check

    return cmd_check(args)


def _run_rules_list(args: argparse.Namespace) -> int:
    from bot.cli.rules import cmd_rules_list

    return cmd_rules_list(args)


def _run_rules_test(args: argparse.Namespace) -> int:
    from bot.cli.rules import cmd_rules_test

    return cmd_rules_test(args)


def _run_config_check(args: argparse.Namespace) -> int:
    from bot.cli.config import cmd_config_check

    return cmd_config_check(args)


def _run_jobs(args: argparse.Namespace) -> int:
    from bot.cli.jobs import cmd_jobs

    return cmd_jobs(args)


def _run_db(args: argparse.Namespace) -> int:
    from bot.cli.db import cmd_db

    return cmd_db(args)


def _run_serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import cmd_serve

    return cmd_serve(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (InputError, StoreError) as exc:
        print(f"review-bot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
