"""Run compiled rules over a parsed tree, optionally only where given lines are.

ast-grep-py holds the GIL and every `find_all` walks its whole subtree, so on a large
file with a small hunk most of the cost is matching code nobody changed. We parse the
whole file (so `inside`, `follows` and friends still see the real ancestors and
siblings), then search only:

* the maximal subtrees that lie entirely inside a region of interest, with `find_all`;
* the few nodes that straddle a region boundary (the ancestor chain), each tested
  on its own: a cheap `matches` pre-check, then an anchored `find` for the captures.

Every node that overlaps a region is in one of the two sets, so the result equals
a full scan filtered to nodes overlapping the regions (tests/unit/test_matching.py).

ast-grep-py compiles the rule config on every `find_all`/`find`/`matches` call (with
real rules 10-600 µs a call: patterns are parsed, regexes built), so the number of
calls matters as much as the size searched. Two exact shortcuts keep it down:

* inside subtrees that make up nearly all of a straddling node (a hunk that covers
  most of a method's statements) are searched with one `find_all` on that node,
  keeping only the matches that lie in one of them;
* a straddling node whose kind the rule cannot match skips the pre-check call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from ast_grep_py import SgNode

Region = tuple[int, int]  # 0-based first and last line, inclusive

# A straddling node is searched whole, instead of the inside subtrees below it one by
# one, when that searches at most this much text (in characters) that is not theirs:
# a quarter of theirs, or a few lines. Bounded so that expensive rules seldom pay for
# code outside the regions.
_SLACK_RATIO = 0.25
_SLACK_MIN = 256
# A `kind` that names one node kind (not an ESQuery-style selector).
_PLAIN_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


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


def _size(node: SgNode) -> int:
    rng = node.range()
    return rng.end.index - rng.start.index


def coalesce(
    inside: Sequence[SgNode], straddling: Sequence[SgNode]
) -> list[tuple[SgNode, frozenset[SgNode] | None]]:
    """Where to run `find_all` so that every inside subtree is searched exactly once.

    Each entry is (node to search, the inside subtrees whose matches to keep), the
    latter None when the node is itself an inside subtree (keep everything).
    ``straddling`` must list every node before its descendants, as split_tree does;
    then the parent of every inside or straddling node (but the root) is straddling.
    """
    parents = {node: node.parent() for node in (*inside, *straddling)}
    # (characters, number) of the inside subtrees below each straddling node,
    # children summed before their parents.
    below: dict[SgNode, tuple[int, int]] = {}

    def add(parent: SgNode | None, chars: int, count: int) -> None:
        if parent is not None:
            old_chars, old_count = below.get(parent, (0, 0))
            below[parent] = (old_chars + chars, old_count + count)

    for node in inside:
        add(parents[node], _size(node), 1)
    for node in reversed(straddling):
        if node in below:
            add(parents[node], *below[node])
    # A straddling node is searched whole when that replaces two or more searches and
    # adds little text; the topmost such node takes all the inside subtrees below it.
    top: dict[SgNode | None, SgNode | None] = {}
    for node in straddling:
        chars, count = below.get(node, (0, 0))
        whole = count >= 2 and _size(node) - chars <= max(_SLACK_MIN, _SLACK_RATIO * chars)
        top[node] = top.get(parents[node]) or (node if whole else None)
    plan: list[tuple[SgNode, frozenset[SgNode] | None]] = []
    kept: dict[SgNode, set[SgNode]] = {}
    for node in inside:
        searched = top.get(parents[node])
        if searched is None:
            plan.append((node, None))
        else:
            kept.setdefault(searched, set()).add(node)
    plan += [(node, frozenset(subtrees)) for node, subtrees in kept.items()]
    return plan


def _in_subtrees(node: SgNode, searched: SgNode, subtrees: frozenset[SgNode]) -> bool:
    """Whether ``node`` (found under ``searched``) lies in one of ``subtrees``."""
    current: SgNode | None = node
    while current is not None and current != searched:
        if current in subtrees:
            return True
        current = current.parent()
    return False


def _required_kinds(rule: Any) -> frozenset[str] | None:
    """The node kinds a rule (utils inlined) can match at all; None: any kind."""
    if not isinstance(rule, dict):
        return None
    kinds: frozenset[str] | None = None
    # The keys of a rule object must all hold, as must each item of `all`.
    musts: list[frozenset[str] | None] = []
    kind = rule.get("kind")
    if isinstance(kind, str) and _PLAIN_KIND.match(kind):
        musts.append(frozenset({kind}))
    if isinstance(rule.get("all"), list):
        musts += [_required_kinds(item) for item in rule["all"]]
    if isinstance(rule.get("any"), list) and rule["any"]:
        options = [_required_kinds(item) for item in rule["any"]]
        known = [o for o in options if o is not None]
        if len(known) == len(options):  # one branch of any kind makes the whole any-kind
            musts.append(frozenset().union(*known))
    for must in musts:
        if must is not None:
            kinds = must if kinds is None else kinds & must
    return kinds


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
        self._kinds = None if self._precheck is None else _required_kinds(self._precheck)

    def find_all(self, node: SgNode) -> list[SgNode]:
        return node.find_all(self.config)

    def match_exactly(self, node: SgNode) -> SgNode | None:
        """The match of this config at exactly ``node`` (with its captures), if any."""
        if self._kinds is not None and node.kind() not in self._kinds:
            return None
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


M = TypeVar("M", bound=ConfigMatcher)


def match_rules(
    root: SgNode, matchers: Sequence[M], regions: Sequence[Region] | None
) -> list[tuple[M, SgNode]]:
    """All (rule, node) matches; with regions, only nodes overlapping them."""
    if regions is None:
        return [(m, node) for m in matchers for node in m.find_all(root)]
    inside, straddling = split_tree(root, regions)
    plan = coalesce(inside, straddling)
    found: list[tuple[M, SgNode]] = []
    # The inside subtrees are disjoint, each is searched once (alone or as part of a
    # straddling node whose other matches are dropped), and no straddling node lies
    # in one, so no node can be found twice.
    for m in matchers:
        for searched, keep in plan:
            found += [
                (m, n)
                for n in m.find_all(searched)
                if keep is None or _in_subtrees(n, searched, keep)
            ]
        found += [(m, n) for n in map(m.match_exactly, straddling) if n is not None]
    return found
