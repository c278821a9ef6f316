"""Run compiled rules over a parsed tree, optionally only where given lines are.

ast-grep-py holds the GIL and every `find_all` walks its whole subtree, so on a large
file with a small hunk most of the cost is matching code nobody changed. We parse the
whole file (so `inside`, `follows` and friends still see the real ancestors and
siblings), then search only:

* the maximal subtrees that lie entirely inside a region of interest, with `find_all`;
* the few nodes that straddle a region boundary (the ancestor chain), each tested
  on its own: a cheap `matches` pre-check, then an anchored `find` for the captures.

Every node that overlaps a region is in one of the two sets, so the result equals
a full scan filtered to nodes overlapping the regions (tests/test_matching.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ast_grep_py import SgNode

if TYPE_CHECKING:
    from bot.rules import CompiledRule

Region = tuple[int, int]  # 0-based first and last line, inclusive


def _last_line(node: SgNode) -> int:
    rng = node.range()
    end = rng.end
    if end.column == 0 and end.line > rng.start.line:
        return end.line - 1
    return end.line


def regions_from_lines(lines: Iterable[int]) -> list[Region]:
    """1-based line numbers -> sorted 0-based inclusive runs."""
    out: list[Region] = []
    for line in sorted(set(lines)):
        zero = line - 1
        if out and out[-1][1] + 1 >= zero:
            out[-1] = (out[-1][0], max(out[-1][1], zero))
        else:
            out.append((zero, zero))
    return out


def split_tree(root: SgNode, regions: Sequence[Region]) -> tuple[list[SgNode], list[SgNode]]:
    """(subtrees fully inside a region, nodes that overlap a region without being inside)."""
    inside: list[SgNode] = []
    straddling: list[SgNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        first, last = node.range().start.line, _last_line(node)
        overlapping = [r for r in regions if not (last < r[0] or first > r[1])]
        if not overlapping:
            continue
        if any(r[0] <= first and last <= r[1] for r in overlapping):
            inside.append(node)
            continue
        straddling.append(node)
        stack.extend(node.children())
    return inside, straddling


def _inline_utils(rule: Any, utils: dict[str, Any], seen: frozenset[str] = frozenset()) -> Any:
    """Replace `matches: name` by the util's body, for a pre-check with `SgNode.matches`.

    Returns None when that is impossible (a recursive util).
    """
    if isinstance(rule, list):
        items = [_inline_utils(r, utils, seen) for r in rule]
        return None if any(i is None for i in items) else items
    if not isinstance(rule, dict):
        return rule
    out: dict[str, Any] = {}
    for key, value in rule.items():
        if key == "matches" and isinstance(value, str) and value in utils:
            if value in seen:
                return None
            body = _inline_utils(utils[value], utils, seen | {value})
            if body is None:
                return None
            out.setdefault("all", []).append(body)
        else:
            inner = _inline_utils(value, utils, seen)
            if inner is None and value is not None:
                return None
            out[key] = inner
    return out


class ConfigMatcher:
    """One ast-grep-py Config, with what region matching needs prepared once."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._precheck = _inline_utils(config["rule"], config.get("utils") or {})

    def find_all(self, node: SgNode) -> list[SgNode]:
        return node.find_all(self.config)

    def match_exactly(self, node: SgNode) -> SgNode | None:
        """The match of this config at exactly ``node`` (with its captures), if any."""
        if self._precheck is not None and not node.matches(**self._precheck):
            return None
        rng = node.range()
        anchor = {
            "range": {
                "start": {"line": rng.start.line, "column": rng.start.column},
                "end": {"line": rng.end.line, "column": rng.end.column},
            }
        }
        anchored = {
            **self.config,
            "rule": {"all": [{"kind": node.kind()}, anchor, self.config["rule"]]},
        }
        found = node.find(anchored)
        if found is None or found.range().start.index != rng.start.index:
            return None
        return found if found.range().end.index == rng.end.index else None


class RuleMatcher(ConfigMatcher):
    def __init__(self, rule: CompiledRule) -> None:
        super().__init__(rule.config)
        self.rule = rule


def match_rules(
    root: SgNode, matchers: Sequence[RuleMatcher], regions: Sequence[Region] | None
) -> list[tuple[RuleMatcher, SgNode]]:
    """All (rule, node) matches; with regions, only nodes overlapping them."""
    if regions is None:
        return [(m, node) for m in matchers for node in m.find_all(root)]
    inside, straddling = split_tree(root, regions)
    found: list[tuple[RuleMatcher, SgNode]] = []
    # The inside subtrees are disjoint and no straddling node lies in one, so no
    # node can be found twice.
    for m in matchers:
        found += [(m, n) for sub in inside for n in m.find_all(sub)]
        found += [(m, n) for n in map(m.match_exactly, straddling) if n is not None]
    return found
