"""The rules a team's config selects: packs, extra directories, severity overrides, and
the utils its settings replace (bot/rules/team_utils.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.config.models import Config, ConfigError, find_sgconfig
from bot.core.compiled import CompiledRule
from bot.model import Severity
from bot.rules.load import load_rule_dirs, load_utils, read_sgconfig
from bot.rules.team_utils import team_utils


def configured_rules(
    config: Config, cwd: Path, config_path: Path | None = None
) -> list[CompiledRule]:
    sgconfig = find_sgconfig(config, cwd)
    where = config_path or "configuration"
    project = read_sgconfig(sgconfig)
    utils = load_utils(project.util_dirs)
    for team in team_utils(config.rules):
        key = ("python", team.util_id)
        if key not in utils:
            raise ConfigError(
                where,
                None,
                f"{team.config_key}: the rules of {sgconfig} have no util "
                f"'{team.util_id}' for this setting to replace",
            )
        utils[key] = replace(utils[key], rule=team.rule, local={})
    rules = load_rule_dirs([*project.rule_dirs, *config.rules.extra_dirs], utils)
    if config.rules.packs is not None:
        known = {r.pack for r in rules}
        unknown = sorted(set(config.rules.packs) - known)
        if unknown:
            raise ConfigError(
                where,
                None,
                f"rules.packs: unknown pack(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})",
            )
        rules = [r for r in rules if r.pack in config.rules.packs]
    by_id = {r.id for r in rules}
    for rule_id in config.rules.severity:
        if rule_id not in by_id:
            raise ConfigError(where, None, f"rules.severity.{rule_id}: no such rule")
    return [
        r.with_severity(Severity.parse(config.rules.severity[r.id]))
        if r.id in config.rules.severity
        else r
        for r in rules
    ]
