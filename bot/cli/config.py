"""`review-bot config check`: validate a configuration file and the rules it selects."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.exits import EXIT_OK
from bot.config.models import Config, load_config
from bot.rules.ruleset import configured_rules


def cmd_config_check(args: argparse.Namespace) -> int:
    config: Config = load_config(args.file)
    rules = configured_rules(config, Path.cwd(), args.file)
    print(f"{args.file}: ok ({len(rules)} rules)")
    return EXIT_OK
