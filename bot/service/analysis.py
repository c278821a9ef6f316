"""The service's analysis pools: the event loop never runs ast-grep (it holds the GIL).

One ``AnalysisPool`` per rule set and limits, since a project override may choose other
packs; each is made on first use and kept, so its workers compile their rules once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config.models import Config
from bot.core.compiled import CompiledRule
from bot.core.engine import AnalysisPool
from bot.core.options import CheckOptions
from bot.core.pipeline import run_check
from bot.model import ReviewPlan, Snapshot
from bot.rules.ruleset import configured_rules


class AnalysisPools:
    """The pools of one service, ``processes`` workers each; ``cwd`` is where the rules'
    sgconfig.yml is looked for."""

    def __init__(self, processes: int, cwd: Path) -> None:
        self.processes = processes
        self.cwd = cwd
        self._pools: dict[str, tuple[list[CompiledRule], AnalysisPool]] = {}

    async def plan(self, snap: Snapshot, config: Config, options: CheckOptions) -> ReviewPlan:
        """The review plan of a snapshot; ``options`` are the ones the snapshot was taken
        with, so selection and analysis never disagree."""
        rules, pool = await self._pool_for(config, options)
        # A thread, not the loop: it decodes, plans and waits for the pool's results.
        result = await asyncio.to_thread(run_check, snap, rules, options, pool=pool)
        return result.plan

    async def _pool_for(
        self, config: Config, options: CheckOptions
    ) -> tuple[list[CompiledRule], AnalysisPool]:
        key = f"{config.rules.model_dump_json()}\0{options.limits}"
        entry = self._pools.get(key)
        if entry is None:
            rules = await asyncio.to_thread(configured_rules, config, self.cwd)
            entry = self._pools.get(key)  # another job may have made it meanwhile
            if entry is None:
                # Made on the loop's thread, which outlives the pool: its workers die
                # with the thread that started them (bot/core/lifetime.py).
                entry = self._pools[key] = (
                    rules,
                    AnalysisPool(rules, self.processes, options.limits),
                )
        return entry

    def close(self) -> None:
        """Stop every worker, also one still on a file: its job was released."""
        pools = list(self._pools.values())
        self._pools.clear()
        for _, pool in pools:
            pool.close()
