"""Utils that the team config replaces: what the shipped rules otherwise guess per file.

The rules stay plain ast-grep YAML. A setting such as ``rules.cleanup_bases`` does not
touch a rule; it swaps the global util the rules reach through ``matches:``, so every
rule that asks the question gets the team's answer. The ast-grep CLI, which knows no
team config, keeps the shipped util.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.config.models import RulesConfig

# ast-grep has no literal true/false rule: a node is never both kinds.
NEVER: dict[str, Any] = {"all": [{"kind": "identifier"}, {"kind": "attribute"}]}
ALWAYS: dict[str, Any] = {"not": NEVER}


@dataclass(frozen=True)
class TeamUtil:
    util_id: str
    config_key: str  # the key that asked for it, for errors
    rule: dict[str, Any]


def _named_bases(names: list[str]) -> dict[str, Any]:
    """A base expression that is one of ``names``, or a longer dotted name ending in one."""
    if not names:
        return NEVER
    alternatives = "|".join(re.escape(n) for n in sorted(set(names)))
    return {
        "any": [{"kind": "attribute"}, {"kind": "identifier"}],
        "regex": rf"^([A-Za-z_]\w*\.)*({alternatives})$",
    }


def team_utils(rules: RulesConfig) -> list[TeamUtil]:
    utils = []
    if rules.cleanup_bases is not None:
        utils.append(
            TeamUtil("cleanup-base", "rules.cleanup_bases", _named_bases(rules.cleanup_bases))
        )
    if rules.uses_uuidsentinel is not None:
        utils.append(
            TeamUtil(
                "uses-uuidsentinel",
                "rules.uses_uuidsentinel",
                ALWAYS if rules.uses_uuidsentinel else NEVER,
            )
        )
    return utils
