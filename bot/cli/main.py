"""The `review-bot` command line.

Exit codes: 0 nothing reached --fail-on, 1 something did, 2 usage/config/input error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.cli.intake import from_diff, from_git, from_paths
from bot.cli.progress import ProgressBar
from bot.config.models import Config, find_sgconfig, load_config
from bot.core.globs import GlobSet
from bot.core.options import CheckOptions
from bot.core.pipeline import CheckResult, run_check
from bot.core.sources import snapshot
from bot.errors import InputError, StoreError, UsageError
from bot.model import Change, FilterMode, JobState, Severity, SkipReason
from bot.report import FORMATS, Report, render
from bot.rules.load import read_sgconfig
from bot.rules.ruleset import configured_rules
from bot.rules.ruletest import run_rule_tests

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
_OVER_LIMITS = frozenset({SkipReason.time_budget, SkipReason.memory})
SEVERITIES = [s.name for s in Severity if s is not Severity.off]


def _severity(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        help="review the git range A..B; contents come from git, not the tree",
    )
    check.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository root: new file contents and relative paths (default: .)",
    )
    _add_config_arg(check)
    check.add_argument(
        "--format",
        "-f",
        choices=sorted(FORMATS),
        default="text",
        help="output format (default: text)",
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
    check.set_defaults(run=cmd_check)

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
    rules_list.set_defaults(run=cmd_rules_list)
    rules_test = rules_cmds.add_parser(
        "test",
        help="run the rule tests (valid/invalid cases and fix snapshots)",
        description="Run ast-grep rule tests (testConfigs of sgconfig.yml) through "
        "review-bot's engine, including the `fixed:` snapshots.",
    )
    _add_config_arg(rules_test)
    rules_test.add_argument("--filter", metavar="TEXT", help="only rule ids containing TEXT")
    rules_test.set_defaults(run=cmd_rules_test)

    serve = commands.add_parser(
        "serve",
        help="run the webhook service",
        description="Run the webhook service: acknowledge events at once, review them from "
        "a durable queue in worker processes, and serve /healthz, /readyz and /metrics.",
    )
    _add_config_arg(serve)
    serve.add_argument("--host", help="listen address (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port, 8080)")
    serve.set_defaults(run=cmd_serve)

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
        description="Show one job as JSON, including a dry run's rendered review.",
    )
    jobs_retry = jobs_cmds.add_parser(
        "retry", help="queue a failed, dead or done job again", description="Queue a job again."
    )
    for sub in (jobs_show, jobs_retry):
        _add_config_arg(sub)
        sub.add_argument("id", type=int, metavar="ID")
    for sub in (jobs_list, jobs_show, jobs_retry):
        sub.set_defaults(run=cmd_jobs)

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
    config_check.set_defaults(run=cmd_config_check)
    return parser


def _change(args: argparse.Namespace, options: CheckOptions) -> Change:
    root: Path = args.root
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    if args.diff is not None:
        if args.paths:
            raise UsageError("give either --diff or PATHs, not both")
        if args.diff == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                data = Path(args.diff).read_bytes()
            except OSError as exc:
                raise UsageError(f"--diff {args.diff}: {exc.strerror}") from None
        return from_diff(data, root)
    if args.git is not None:
        if args.paths:
            raise UsageError("give either --git or PATHs, not both")
        return from_git(args.git, root, wanted=GlobSet(options.test_globs).matches)
    return from_paths(args.paths or ["."], root)


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value!r}")
    return number


def _fail_on(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def _check_options(args: argparse.Namespace, config: Config) -> CheckOptions:
    """The config's options with what the command line overrides."""
    overrides: dict[str, Any] = {}
    if args.filter_mode:
        overrides["filter_mode"] = FilterMode(args.filter_mode)
    if args.min_severity is not None:
        overrides["min_severity"] = args.min_severity
    if args.baseline is not None:
        overrides["baseline"] = args.baseline
    if args.idiom_threshold is not None:
        overrides["idiom_threshold"] = args.idiom_threshold
    return dataclasses.replace(config.check_options(), **overrides)


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    fail_on = _fail_on(args.fail_on)
    rules = configured_rules(config, Path.cwd(), args.config)
    options = _check_options(args, config)
    change = _change(args, options)
    if options.baseline and change.read_base is None and args.diff is not None:
        print(
            "review-bot: baseline off: a diff carries no base contents, so findings the "
            "base already had are reported too (--git A..B compares; --no-baseline "
            "silences this)",
            file=sys.stderr,
        )
    # The bar draws only when stderr is a terminal; `with` ends its line even on an error.
    with ProgressBar(sys.stderr) as progress:
        result: CheckResult = run_check(
            snapshot(change, options),
            rules,
            options,
            jobs=args.jobs,
            progress=progress,
        )
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    report = Report(result.plan, result.sources, __version__, color=color)
    sys.stdout.write(render(args.format, report))
    over_limits = [s for s in result.plan.summary.skipped if s.reason in _OVER_LIMITS]
    for skipped in result.plan.summary.skipped:
        if args.format != "text" or skipped in over_limits:
            print(f"review-bot: {skipped.path}: {skipped.message}", file=sys.stderr)
    if over_limits and fail_on is not Severity.off:
        # CI must notice a file that was not reviewed, whatever else was found.
        print(
            f"review-bot: {len(over_limits)} file(s) not reviewed: over the analysis limits "
            "(limits.* in the config; --fail-on off ignores this)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    comments = result.plan.comments
    failing = fail_on is not Severity.off and any(c.severity >= fail_on for c in comments)
    return EXIT_FINDINGS if failing else EXIT_OK


def cmd_rules_list(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rules = configured_rules(config, Path.cwd(), args.config)
    width = max((len(r.id) for r in rules), default=2)
    print(f"{'ID':<{width}}  {'SEVERITY':<8}  {'PACK':<10}  FINDS")
    for r in sorted(rules, key=lambda r: (r.pack, r.id)):
        print(f"{r.id:<{width}}  {r.severity.name:<8}  {r.pack:<10}  {r.summary}")
    return EXIT_OK


def cmd_rules_test(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rules = configured_rules(config, Path.cwd(), args.config)
    project = read_sgconfig(find_sgconfig(config, Path.cwd()))
    results = run_rule_tests(project, rules, args.filter)
    failed = [r for r in results if r.failures]
    for result in results:
        status = "FAIL" if result.failures else "ok"
        print(f"{status:<4}  {result.rule_id}  ({result.cases} cases)")
        for failure in result.failures:
            print("      " + failure.replace("\n", "\n      "))
    cases = sum(r.cases for r in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed ({cases} cases)")
    if not results:
        print("review-bot: no rule tests found", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FINDINGS if failed else EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    config: Config = load_config(args.file)
    rules = configured_rules(config, Path.cwd(), args.file)
    print(f"{args.file}: ok ({len(rules)} rules)")
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    from bot.service.store import open_store

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


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.service.main import serve

    config = load_config(args.config)
    configured_rules(config, Path.cwd(), args.config)  # refuse to start on a broken rule
    serve(config, args.host, args.port)
    return EXIT_OK


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
