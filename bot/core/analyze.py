"""Run compiled rules on one changed file and turn matches into Findings. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from ast_grep_py import SgNode, SgRoot

from bot.core.compiled import LANGUAGE_EXTENSIONS, CompiledRule
from bot.core.copies import COPIES_IN_FILE, FileCopies, keeps
from bot.core.fix_template import Transformed, interpolate_message, render_fix
from bot.core.imports import REQUIRES_IMPORT, required_import
from bot.core.matching import ConfigMatcher, match_rules, regions_from_lines
from bot.core.rewrite import RewriteContext
from bot.core.suggestion import build_fix
from bot.core.text import SourceText
from bot.model import (
    ChangedFile,
    FilterMode,
    Finding,
    Pos,
    Severity,
    SourceFile,
    Span,
    SyntaxProblem,
)

# What tree-sitter leaves where it could not parse: an ERROR node, or a token it inserted
# (a MISSING node: zero-width, unlike the only empty nodes a valid file has, an empty
# module or block).
_SYNTAX_ERROR = {
    "any": [
        {"kind": "ERROR"},
        {"regex": "^$", "not": {"any": [{"kind": "block"}, {"kind": "module"}]}},
    ]
}


class RuleMatcher(ConfigMatcher):
    """A compiled rule's matcher, which remembers its rule."""

    def __init__(self, rule: CompiledRule) -> None:
        super().__init__(rule.config)
        self.rule = rule


def interest_lines(change: ChangedFile, mode: FilterMode) -> frozenset[int] | None:
    """Lines a finding must touch to be kept; None means the whole file."""
    if mode in (FilterMode.file, FilterMode.nofilter) or change.whole_file:
        return None
    if mode is FilterMode.added:
        return change.added_lines
    return frozenset(n for h in change.hunks for n in range(h.start, h.end + 1))


def report_order(finding: Finding) -> tuple[int, int, str]:
    """Outer matches first, as the CLI's pre-order traversal reports them."""
    return finding.span.start.offset, -finding.span.end.offset, finding.rule_id


def language_of(path: str) -> str | None:
    for language, extensions in LANGUAGE_EXTENSIONS.items():
        if path.endswith(extensions):
            return language
    return None


def _span(node: SgNode) -> Span:
    rng = node.range()
    return Span(
        Pos(rng.start.line + 1, rng.start.column, rng.start.index),
        Pos(rng.end.line + 1, rng.end.column, rng.end.index),
    )


def _syntax_problem(path: str, root: SgNode) -> SyntaxProblem | None:
    node = root.find(**_SYNTAX_ERROR)  # type: ignore[arg-type]
    if node is None:
        return None
    start = node.range().start
    missing = None if node.kind() == "ERROR" else node.kind()
    return SyntaxProblem(path, start.line + 1, start.column, missing)


class Analyzer:
    """Holds the compiled rules of one process; analyses one file at a time."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.matchers = [RuleMatcher(r) for r in rules if r.severity is not Severity.off]
        self._rewrites = {
            m.rule.id: RewriteContext(m.rule.rewriters, m.rule.captured)
            for m in self.matchers
            if m.rule.transforms.rewrites
        }

    def analyze(
        self,
        source: SourceFile,
        mode: FilterMode = FilterMode.added,
        rule_ids: frozenset[str] | None = None,
    ) -> list[Finding]:
        """``rule_ids`` limits the run to those rules (None: all)."""
        return self.analyze_file(source, mode, rule_ids)[0]

    def analyze_file(
        self,
        source: SourceFile,
        mode: FilterMode = FilterMode.added,
        rule_ids: frozenset[str] | None = None,
    ) -> tuple[list[Finding], SyntaxProblem | None]:
        """Like ``analyze``, and where the file does not parse, if it was parsed: a file
        that no rule applies to is not."""
        path = source.path
        language = language_of(path)
        matchers = [
            m
            for m in self.matchers
            if m.rule.language == language
            and m.rule.applies_to(path)
            and (rule_ids is None or m.rule.id in rule_ids)
        ]
        lines = interest_lines(source.change, mode)
        if not matchers or (lines is not None and not lines):
            return [], None
        root = SgRoot(source.text, language).root()
        regions = None if lines is None else regions_from_lines(lines)
        copies = FileCopies(root)
        index = SourceText(path, source.text)
        findings = [
            self._finding(m.rule, node, source, root, index)
            for m, node in match_rules(root, matchers, regions)
            if COPIES_IN_FILE not in m.rule.metadata
            or keeps(m.rule.metadata[COPIES_IN_FILE], node, copies)
        ]
        if lines is not None:
            findings = [f for f in findings if not lines.isdisjoint(f.span.lines)]
        findings.sort(key=report_order)
        return findings, _syntax_problem(path, root)

    def _finding(
        self, rule: CompiledRule, node: SgNode, source: SourceFile, root: SgNode, index: SourceText
    ) -> Finding:
        span = _span(node)
        context = self._rewrites.get(rule.id)
        values: Transformed = (
            rule.transforms.native
            if context is None
            else context.values(node, rule.transforms, source.text)
        )
        fix = None
        if rule.fix is not None:
            edits = [render_fix(node, rule.fix, source.text, values)]
            statement = rule.metadata.get(REQUIRES_IMPORT)
            if statement:
                extra = required_import(root, source.text, source.path, statement)
                # Without the import the edit alone would not run: the comment stands bare.
                edits = [] if extra is None else edits + extra
            fix = build_fix(index, edits, span.lines)
        return Finding(
            rule_id=rule.id,
            severity=rule.severity,
            message=interpolate_message(rule.message, node, values, text=source.text),
            path=source.path,
            span=span,
            matched=node.text(),
            pack=rule.pack,
            note=rule.note,
            url=rule.url,
            fix=fix,
            metadata=rule.metadata,
        )
