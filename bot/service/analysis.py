"""Analysis in child processes: the event loop never runs ast-grep (it holds the GIL)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bot.config.models import Config
from bot.core.compiled import CompiledRule
from bot.core.lifetime import die_with_parent
from bot.core.options import CheckOptions
from bot.core.pipeline import run_check
from bot.model import ReviewPlan, Snapshot
from bot.rules.ruleset import configured_rules

_child_rules: dict[str, list[CompiledRule]] = {}


def plan_in_child(snap: Snapshot, config: Config, options: CheckOptions, cwd: str) -> ReviewPlan:
    """The review plan of a snapshot, in a pool process; ``options`` are the ones the
    snapshot was taken with, so selection and analysis never disagree.

    Compiled rules are cached per rules section, so a project override with other packs
    does not recompile the default ones.
    """
    cache_key = config.rules.model_dump_json()
    rules = _child_rules.get(cache_key)
    if rules is None:
        rules = _child_rules[cache_key] = configured_rules(config, Path(cwd))
    # jobs=1: no pool inside the pool.
    return run_check(snap, rules, options, jobs=1).plan


def default_analysis_executor(processes: int) -> ProcessPoolExecutor:
    # spawn, not fork: forking a process that runs an event loop and executor threads can
    # copy a held lock into the child and hang it.
    return ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent
    )
