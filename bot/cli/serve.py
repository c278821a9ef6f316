"""`review-bot serve`: run the webhook service."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.exits import EXIT_OK
from bot.config.models import load_config
from bot.rules.ruleset import configured_rules
from bot.service.main import serve


def cmd_serve(args: argparse.Namespace) -> int:

    config = load_config(args.config)
    configured_rules(config, Path.cwd(), args.config)  # refuse to start on a broken rule
    serve(config, args.host, args.port)
    return EXIT_OK
