"""`rewriters` and the `rewrite` transform, with the ast-grep CLI's semantics.

ast-grep-py accepts neither: it ignores a `rewriters` key and computes a `rewrite`
transform as the untouched source, so a rule using them would get wrong fixes
silently. We compute those transforms ourselves, as ast-grep-config's rewrite.rs does:

* the source capture's nodes are walked depth-first, each node included;
* at each node the listed rewriters are tried in order; the first that matches
  makes an edit (its own fix, rendered with the CLI's indentation rules);
* edits are applied to the capture's text, skipping any that overlap an earlier
  one (so an outer match wins over matches inside it); with `joinBy`, only the
  replacement texts are kept, joined by it;
* a rewriter sees the enclosing match's metavariables: a variable both capture
  must be the same code, and its fix may read the enclosing captures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ast_grep_py import SgNode

from bot.core.fix_template import FixSpec, deindent_capture, render_fix
from bot.core.matching import ConfigMatcher

REWRITER_KEYS = frozenset({"id", "rule", "constraints", "utils", "transform", "fix"})


@dataclass(frozen=True)
class RewriteSpec:
    source: str  # metavariable name
    multi: bool  # `$$$NAME`
    rewriters: tuple[str, ...]
    join_by: str | None

    @classmethod
    def parse(cls, raw: Any) -> RewriteSpec:
        if not isinstance(raw, dict):
            raise ValueError("rewrite must be a mapping")
        unknown = set(raw) - {"source", "rewriters", "joinBy"}
        if unknown:
            raise ValueError(f"unknown key(s) in rewrite: {', '.join(sorted(unknown))}")
        source = raw.get("source")
        if not isinstance(source, str) or not source.startswith("$"):
            raise ValueError("rewrite.source must be a metavariable like $A or $$$A")
        names = raw.get("rewriters")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("rewrite.rewriters must be a list of rewriter ids")
        join_by = raw.get("joinBy")
        if join_by is not None and not isinstance(join_by, str):
            raise ValueError("rewrite.joinBy must be a string")
        return cls(source.lstrip("$"), source.startswith("$$$"), tuple(names), join_by)


@dataclass(frozen=True)
class Transforms:
    """A rule's (or rewriter's) transforms: ast-grep-py's own, and our rewrites."""

    native: frozenset[str]
    rewrites: Mapping[str, RewriteSpec]

    @property
    def names(self) -> frozenset[str]:
        return self.native | frozenset(self.rewrites)


def split_transforms(transform: Mapping[str, Any]) -> tuple[dict[str, Any], Transforms]:
    """(the transforms ast-grep-py computes, all of them described). Raises ValueError."""
    native: dict[str, Any] = {}
    rewrites: dict[str, RewriteSpec] = {}
    for name, spec in transform.items():
        if isinstance(spec, dict) and "rewrite" in spec:
            rewrites[name] = RewriteSpec.parse(spec["rewrite"])
        else:
            native[name] = spec
    for name, spec in native.items():
        if any(f"${r}" in str(spec) for r in rewrites):
            raise ValueError(
                f"transform {name!r} reads a rewrite result; review-bot cannot chain those"
            )
    return native, Transforms(frozenset(native), rewrites)


@dataclass(frozen=True)
class Rewriter:
    id: str
    config: dict[str, Any]
    fix: FixSpec
    transforms: Transforms

    def matcher(self) -> ConfigMatcher:
        return ConfigMatcher(self.config)


class _WithEnclosing:
    """A rewriter's match whose captures fall back to the enclosing rule's."""

    def __init__(self, node: SgNode, enclosing: SgNode) -> None:
        self._node = node
        self._enclosing = enclosing

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def get_match(self, name: str) -> SgNode | None:
        return self._node.get_match(name) or self._enclosing.get_match(name)

    def get_multiple_matches(self, name: str) -> list[SgNode]:
        return self._node.get_multiple_matches(name) or self._enclosing.get_multiple_matches(name)


def _dfs(node: SgNode) -> Iterator[SgNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


_NodeKey = tuple[int, int, str]


def _node_key(node: SgNode) -> _NodeKey:
    rng = node.range()
    return rng.start.index, rng.end.index, node.kind()


def _by_node(found: list[SgNode]) -> dict[_NodeKey, SgNode]:
    # A parent and its only child can share a range: the kind tells them apart. The
    # pre-order search meets the outer one first, and it is the one a DFS tries first.
    by_node: dict[_NodeKey, SgNode] = {}
    for node in found:
        by_node.setdefault(_node_key(node), node)
    return by_node


def _agrees(found: SgNode, enclosing: SgNode, names: frozenset[str]) -> bool:
    for name in names:
        ours, theirs = found.get_match(name), enclosing.get_match(name)
        if ours is not None and theirs is not None and ours.text() != theirs.text():
            return False
    return True


class RewriteContext:
    """Computes transform values for matches of one rule."""

    def __init__(self, rewriters: Mapping[str, Rewriter], captured: frozenset[str]) -> None:
        self.rewriters = rewriters
        self.captured = captured  # names the enclosing rule can capture
        self._matchers = {rid: r.matcher() for rid, r in rewriters.items()}

    def values(
        self, node: SgNode, transforms: Transforms, text: str, enclosing: SgNode | None = None
    ) -> dict[str, str | None]:
        values: dict[str, str | None] = {n: node.get_transformed(n) for n in transforms.native}
        for name, spec in transforms.rewrites.items():
            values[name] = self._rewrite(node, spec, text, enclosing or node)
        return values

    def _rewrite(self, node: SgNode, spec: RewriteSpec, text: str, enclosing: SgNode) -> str | None:
        if spec.multi:
            sources = node.get_multiple_matches(spec.source)
        else:
            single = node.get_match(spec.source)
            sources = [single] if single is not None else []
        if not sources:
            return None
        start, end = sources[0].range().start.index, sources[-1].range().end.index
        active = [(rid, self._matchers[rid]) for rid in spec.rewriters if rid in self._matchers]
        edits = []
        for source in sources:
            # One search per rewriter, not one match per node and rewriter: ast-grep-py
            # compiles the rule on every call. A search includes the source node itself.
            matches = [(rid, _by_node(matcher.find_all(source))) for rid, matcher in active]
            for child in _dfs(source):
                for rid, found_at in matches:
                    found = found_at.get(_node_key(child))
                    if found is None or not _agrees(found, enclosing, self.captured):
                        continue
                    rewriter = self.rewriters[rid]
                    bound: Any = _WithEnclosing(found, enclosing)
                    values = self.values(found, rewriter.transforms, text, enclosing)
                    edits.append(render_fix(bound, rewriter.fix, text, values))
                    break
        pieces: list[str] = []
        cursor = start
        for edit in edits:
            if edit.start < cursor:
                continue  # inside an edit already made: the outer match wins
            if spec.join_by is None:
                pieces.append(text[cursor : edit.start])
            elif pieces:
                pieces.append(spec.join_by)
            pieces.append(edit.replacement)
            cursor = edit.end
        if spec.join_by is None:
            pieces.append(text[cursor:end])
        # Like a capture, the result is moved from its source line's indent to column 0
        # (measured with ast-grep 0.51: edits on deeper lines keep their extra indent).
        return deindent_capture("".join(pieces), text, start)
