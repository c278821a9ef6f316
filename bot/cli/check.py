"""`review-bot check`: review a diff, a git range or files, as the bot would."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from bot import __version__
from bot.cli.exits import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from bot.cli.fix import fix_findings
from bot.cli.intake import from_diff, from_git, from_paths
from bot.cli.progress import ProgressBar
from bot.config.models import Config, load_config
from bot.core.globs import GlobSet
from bot.core.options import CheckOptions
from bot.core.pipeline import CheckResult, run_check
from bot.core.sources import snapshot
from bot.errors import UsageError
from bot.model import Change, FilterMode, Severity, SkipReason
from bot.platforms.common import with_rule_links
from bot.report import render
from bot.report.base import Report
from bot.rules.ruleset import configured_rules

# Files that were meant to be reviewed and were not: over a limit, or a failed analysis.
_NOT_REVIEWED = frozenset({SkipReason.time_budget, SkipReason.memory, SkipReason.analysis_failed})


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
        return from_diff(data, root, wanted=GlobSet(options.test_globs).matches)
    if args.git is not None:
        if args.paths:
            raise UsageError("give either --git or PATHs, not both")
        return from_git(args.git, root, wanted=GlobSet(options.test_globs).matches)
    return from_paths(
        args.paths or ["."],
        root,
        wanted=GlobSet(options.test_globs).matches,
        ignore=not args.no_ignore,
    )


# A node tree-sitter could not parse, or a token it had to invent (a MISSING node: a
# zero-width leaf; an empty block or module is not one).
def _fail_on(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None


def _for_project(config: Config, spec: str) -> Config:
    """The config the service would use for ``[PLATFORM:]PROJECT``."""
    platforms = sorted(type(config.platforms).model_fields)
    platform, colon, project = spec.partition(":")
    if not colon:
        platform, project = "", spec
    elif platform not in platforms:
        raise UsageError(
            f"--project {spec}: unknown platform {platform!r} ({', '.join(platforms)})"
        )
    if not project:
        raise UsageError(f"--project {spec!r}: no project name")
    if platform:
        return config.for_project(platform, project)
    # Without a platform, the override must not depend on one.
    chosen = {p: config.project_override(p, project) for p in platforms}
    if len({id(o) for o in chosen.values()}) > 1:
        raise UsageError(
            f"--project {project}: the config's overrides differ by platform; "
            f"give one of {', '.join(f'{p}:{project}' for p in platforms)}"
        )
    return config.for_project(platforms[0], project)


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
    config = load_config(args.config, secrets=False)
    if args.project is not None:
        config = _for_project(config, args.project)
    fail_on = _fail_on(args.fail_on)
    rules = configured_rules(config, Path.cwd(), args.config)
    options = _check_options(args, config)
    if args.fix and args.git is not None:
        raise UsageError(
            "--fix writes the working tree, and --git reviews commits, not the tree: "
            "review the files (PATHs) or a --diff of them instead"
        )
    change = _change(args, options)
    for warning in change.warnings:
        print(f"review-bot: warning: {warning}", file=sys.stderr)
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
    # --fix over a --diff prints the fixes as a patch (stdout holds it alone), writes nothing.
    patched = args.fix and args.diff is not None
    if args.fix:
        comments = result.plan.comments
        fixes = fix_findings(
            comments,
            result.sources,
            args.root,
            patch=sys.stdout if patched else None,
            err=sys.stderr,
        )
        if patched:  # what the patch leaves unfixed decides the exit code
            plan = dataclasses.replace(result.plan, comments=fixes.remaining(comments))
            result = dataclasses.replace(result, plan=plan)
        elif fixes.applied:
            # Report what remains where it stands now: read the fixed tree again.
            result = run_check(
                snapshot(_change(args, options), options), rules, options, jobs=args.jobs
            )
    for problem in result.syntax_problems:
        print(f"review-bot: warning: {problem.describe()}", file=sys.stderr)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    # Rule pages as absolute links (review.docs_url), as the platforms post them.
    plan = with_rule_links(result.plan, config.review.docs_url)
    report = Report(plan, result.sources, __version__, color=color)
    if not patched:
        sys.stdout.write(render(args.format, report))
    unreviewed = [s for s in result.plan.summary.skipped if s.reason in _NOT_REVIEWED]
    for skipped in result.plan.summary.skipped:
        if args.format != "text" or patched or skipped in unreviewed:
            print(f"review-bot: {skipped.path}: {skipped.message}", file=sys.stderr)
    if unreviewed and fail_on is not Severity.off:
        # CI must notice a file that was not reviewed, whatever else was found.
        print(
            f"review-bot: {len(unreviewed)} file(s) not reviewed: over the analysis limits "
            "(limits.* in the config) or a failed analysis; --fail-on off ignores this",
            file=sys.stderr,
        )
        return EXIT_ERROR
    comments = result.plan.comments
    failing = fail_on is not Severity.off and any(c.severity >= fail_on for c in comments)
    return EXIT_FINDINGS if failing else EXIT_OK
