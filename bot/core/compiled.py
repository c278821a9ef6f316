"""A rule ready to run: what rules/ loads from YAML and the core's analyzer matches with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.fix_template import FixSpec
from bot.core.globs import GlobSet
from bot.core.rewrite import Rewriter, Transforms
from bot.model import Severity

# File extensions per language, as the CLI assigns them (only what test files use).
LANGUAGE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "python": (".py", ".py3", ".pyi", ".bzl"),
}


@dataclass(frozen=True)
class CompiledRule:
    id: str
    language: str
    severity: Severity
    message: str
    config: dict[str, Any]  # the ast-grep-py Config: rule, constraints, utils, transform
    source: str
    pack: str = ""
    note: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fix: FixSpec | None = None
    files: GlobSet = field(default_factory=lambda: GlobSet(()))
    ignores: GlobSet = field(default_factory=lambda: GlobSet(()))
    transforms: Transforms = field(default_factory=lambda: Transforms(frozenset(), {}))
    rewriters: dict[str, Rewriter] = field(default_factory=dict)
    captured: frozenset[str] = frozenset()  # metavariables the rule's patterns can capture

    @property
    def transformed(self) -> frozenset[str]:
        return self.transforms.names

    @property
    def summary(self) -> str:
        """One line saying what the rule finds."""
        text = self.metadata.get("summary") or self.message or self.note or ""
        return " ".join(str(text).split())

    def applies_to(self, path: str) -> bool:
        """The CLI's `files`/`ignores` semantics, plus the language's file extensions."""
        exts = LANGUAGE_EXTENSIONS.get(self.language)
        if exts is not None and not path.endswith(exts):
            return False
        if self.files and not self.files.matches(path):
            return False
        return not (self.ignores and self.ignores.matches(path))

    def with_severity(self, severity: Severity) -> CompiledRule:
        return replace(self, severity=severity)
