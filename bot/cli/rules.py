"""`review-bot rules list` and `rules test`: the configured rules and their tests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.exits import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from bot.config.models import find_sgconfig, load_config
from bot.rules.load import read_sgconfig
from bot.rules.ruleset import configured_rules
from bot.rules.ruletest import run_rule_tests


def cmd_rules_list(args: argparse.Namespace) -> int:
    config = load_config(args.config, secrets=False)
    rules = configured_rules(config, Path.cwd(), args.config)
    width = max((len(r.id) for r in rules), default=2)
    print(f"{'ID':<{width}}  {'SEVERITY':<8}  {'PACK':<10}  FINDS")
    for r in sorted(rules, key=lambda r: (r.pack, r.id)):
        print(f"{r.id:<{width}}  {r.severity.name:<8}  {r.pack:<10}  {r.summary}")
    return EXIT_OK


def cmd_rules_test(args: argparse.Namespace) -> int:
    config = load_config(args.config, secrets=False)
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
