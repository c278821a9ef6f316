"""`review-bot check`: review a diff, a git range or files, as the bot would."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from bot import __version__
from bot.cli.exits import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from bot.cli.intake import from_diff, from_git, from_paths
from bot.cli.progress import ProgressBar
from bot.config.models import Config, load_config
from bot.core.globs import GlobSet
from bot.core.options import CheckOptions
from bot.core.pipeline import CheckResult, run_check
from bot.core.sources import snapshot
from bot.errors import UsageError
from bot.model import Change, FilterMode, Severity, SkipReason
from bot.report import render
from bot.report.base import Report
from bot.rules.ruleset import configured_rules

_OVER_LIMITS = frozenset({SkipReason.time_budget, SkipReason.memory})


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
