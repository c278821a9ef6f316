"""ast-grep's `fix:` and `message:` templates, rendered exactly as the ast-grep CLI renders them.

ast-grep-py only matches; the CLI's rewrite step lives in Rust (ast-grep-core's
``replacer/template.rs`` and ``replacer/indent.rs``, ast-grep-config's ``fixer.rs``).
This module reimplements that step so that a suggestion we post is the edit
``ast-grep scan --update-all`` would make. The parity tests in
``tests/integration/test_fix_template.py`` run the real CLI and compare.

What the CLI does, in short (all of it verified against ast-grep 0.51.0):

* A metavariable in a template is one, two or three ``$`` followed by a run of
  ``A-Z``, ``0-9`` and ``_``. ``$A``/``$$A`` read a single capture, ``$$$A`` reads a
  multiple capture as the source text from its first node to its last, separators
  included. ``$_`` is simply a variable named ``_`` (never captured). Anything that
  is not a metavariable, such as ``$a``, ``$ `` or a lone ``$$``, stays literal.
* An uncaptured variable, a single variable read with ``$$$`` or a multiple one read
  with ``$``, becomes the empty string.
* Indentation only counts spaces: the indent of a position is the run of spaces that
  starts its line (a tab ends the run), and only if the line start is within 512
  UTF-8 bytes before the position; otherwise it is 0.
* A multi-line capture is re-indented from the indent of its first line in the
  source to the indent of the line where the variable sits in the template
  (surplus spaces are stripped where present, missing ones added after each
  newline). A transform's value is treated as having indent 0.
* The whole rendered text then gets the indent of the matched node's line added
  after every newline. ``message`` goes through the same machinery, so a
  multi-line message is indented too.
* ``\\r`` is never special: CRLF files get ``\\n`` from the template and ``\\r\\n``
  from captured text, exactly like the CLI.
* ``expandStart``/``expandEnd`` move the start (end) of the replaced range to the
  start (end) of *one* sibling, named or not: the immediate previous (next)
  sibling with ``stopBy: neighbor`` (the default), the nearest matching one with
  ``stopBy: end``, and with a ``stopBy`` rule the nearest matching one up to and
  including the first sibling that matches the stop rule. The indent used for the
  replacement is still the matched node's. The expansion rule sees the match's
  metavariables: ``{pattern: $X}`` only reaches a sibling equal to the captured ``$X``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ast_grep_py import SgNode

from bot.model import Edit

__all__ = ["FixSpec", "Transformed", "interpolate_message", "render_fix"]

# Transform variables: their names (values from SgNode.get_transformed), or their values.
Transformed = AbstractSet[str] | Mapping[str, str | None]

# ast-grep looks back at most this many bytes for the start of a line (indent.rs).
_MAX_LOOK_BACK = 512
_FIX_KEYS = ("template", "expandStart", "expandEnd")
# Keys of a relational rule that are not themselves rule keys.
_RELATION_ONLY_KEYS = ("stopBy", "field")
# The keys of an ast-grep rule object. In a fix object the CLI silently ignores any other
# key (even in expandStart/expandEnd); we refuse them so that a typo is not a silent no-op.
_RULE_KEYS = frozenset(
    {
        *("pattern", "kind", "regex", "nthChild", "range"),
        *("inside", "has", "precedes", "follows"),
        *("all", "any", "not", "matches"),
    }
)


def _is_name_char(c: str) -> bool:
    return "A" <= c <= "Z" or "0" <= c <= "9" or c == "_"


@dataclass(frozen=True)
class _Var:
    name: str
    multi: bool  # written $$$NAME
    indent: int  # indent of the template line the variable sits on


_Piece = str | _Var


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def _indent_at(text: str, offset: int) -> int:
    """The CLI's `get_indent_at_offset`: leading spaces of the line holding `offset`.

    The CLI scans back byte by byte through at most 512 bytes; a line start it
    cannot reach within them means indent 0. Spaces and newlines are one byte in
    UTF-8, so characters and bytes only differ in that window test.
    """
    newline = text.rfind("\n", 0, offset)
    segment = text[newline + 1 : offset]
    # With a newline in the window the segment is at most 511 bytes; on the first
    # line of the text (no newline) the whole 512-byte window may be the segment.
    limit = _MAX_LOOK_BACK - 1 if newline >= 0 else _MAX_LOOK_BACK
    if len(segment) > limit or _utf8_len(segment) > limit:
        return 0
    return len(segment) - len(segment.lstrip(" "))


def _reindent(block: str, old: int, new: int) -> str:
    """The CLI's `indent_lines` for a multi-line block whose lines sit at indent `old`."""
    if old == new:
        return block
    lines = block.split("\n")
    if old > new:
        # Strips from every line, the first included, and only where present.
        cut = " " * (old - new)
        return "\n".join(line[len(cut) :] if line.startswith(cut) else line for line in lines)
    pad = " " * (new - old)
    return lines[0] + "".join("\n" + pad + line for line in lines[1:])


@lru_cache(maxsize=1024)  # messages are rendered per finding; parse each one once
def _parse_template(template: str) -> tuple[_Piece, ...]:
    """Split a template into literal text and variables, as `create_template` does."""
    pieces: list[_Piece] = []
    literal_start = search = 0
    while (dollar := template.find("$", search)) >= 0:
        dollars = 1
        while dollars < 3 and template.startswith("$", dollar + dollars):
            dollars += 1
        name_end = dollar + dollars
        while name_end < len(template) and _is_name_char(template[name_end]):
            name_end += 1
        if name_end == dollar + dollars:
            # No name: this `$` is literal; `$$$$A` thus reads as `$` then `$$$A`.
            search = dollar + 1
            continue
        pieces.append(template[literal_start:dollar])
        # The indent is measured in the whole template, not in the current fragment.
        indent = _indent_at(template, dollar)
        pieces.append(_Var(template[dollar + dollars : name_end], dollars == 3, indent))
        literal_start = search = name_end
    pieces.append(template[literal_start:])
    return tuple(p for p in pieces if p != "")


def _check_relation(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"fix.{key} must be a rule object, got {type(value).__name__}")
    relation = dict(value)
    stop_by = relation.get("stopBy", "neighbor")
    if not (stop_by in ("neighbor", "end") or isinstance(stop_by, Mapping)):
        raise ValueError(f"fix.{key}.stopBy must be 'neighbor', 'end' or a rule, got {stop_by!r}")
    for rule_key in relation:
        if rule_key not in _RULE_KEYS and rule_key not in _RELATION_ONLY_KEYS:
            raise ValueError(f"unknown key {rule_key!r} in fix.{key}")
    if not any(k in _RULE_KEYS for k in relation):
        raise ValueError(f"fix.{key} has no rule to match siblings with")
    return relation


@dataclass(frozen=True)
class FixSpec:
    """A rule's `fix:`, parsed once when the rule is loaded."""

    template: str
    expand_start: dict[str, Any] | None = None  # an ast-grep relational rule, or None
    expand_end: dict[str, Any] | None = None
    _pieces: tuple[_Piece, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Frozen, so the compiled template is stored behind the dataclass's back.
        object.__setattr__(self, "_pieces", _parse_template(self.template))

    @classmethod
    def parse(cls, raw: str | dict[str, Any]) -> FixSpec:
        """Parse the YAML value of `fix:`: a string, or {template, expandStart, expandEnd}."""
        if isinstance(raw, str):
            return cls(raw)
        if not isinstance(raw, Mapping):
            raise ValueError(f"fix must be a string or an object, got {type(raw).__name__}")
        for key in raw:
            if key not in _FIX_KEYS:
                raise ValueError(
                    f"unknown key {key!r} in fix (expected one of: {', '.join(_FIX_KEYS)})"
                )
        if "template" not in raw:
            raise ValueError("fix object is missing its 'template' key")
        template = raw["template"]
        if not isinstance(template, str):
            raise ValueError(f"fix.template must be a string, got {type(template).__name__}")
        start, end = raw.get("expandStart"), raw.get("expandEnd")
        return cls(
            template,
            None if start is None else _check_relation("expandStart", start),
            None if end is None else _check_relation("expandEnd", end),
        )

    def variables(self) -> set[str]:
        """Names the template reads; the CLI rejects a rule whose fix reads an undefined one.

        `$_` counts: the CLI refuses it in a fix too ("Undefined meta var `_`").
        """
        return {p.name for p in self._pieces if isinstance(p, _Var)}


def deindent_capture(value: str, text: str, start: int) -> str:
    """Text that came from ``text[start:...]``, re-indented as a capture at indent 0."""
    return _reindent(value, _indent_at(text, start), 0) if "\n" in value else value


def _capture_text(text: str, start: int, end: int, indent: int) -> str:
    captured = text[start:end]
    if "\n" not in captured:
        return captured
    return _reindent(captured, _indent_at(text, start), indent)


def _var_value(var: _Var, node: SgNode, text: str, transformed: Transformed) -> str:
    if var.multi:
        nodes = node.get_multiple_matches(var.name)
        if not nodes:
            return ""
        start, end = nodes[0].range().start.index, nodes[-1].range().end.index
        return _capture_text(text, start, end, var.indent)
    if var.name in transformed:
        # A mapping carries values computed by us (rewrite transforms); otherwise
        # ast-grep-py computed the transform during the match.
        value = (
            transformed[var.name]
            if isinstance(transformed, Mapping)
            else node.get_transformed(var.name)
        )
        # A transform's output has no source position: the CLI treats it as indent 0.
        return "" if value is None else _reindent(value, 0, var.indent)
    match = node.get_match(var.name)
    if match is None:
        return ""
    span = match.range()
    return _capture_text(text, span.start.index, span.end.index, var.indent)


def _render(pieces: tuple[_Piece, ...], node: SgNode, text: str, transformed: Transformed) -> str:
    body = "".join(
        p if isinstance(p, str) else _var_value(p, node, text, transformed) for p in pieces
    )
    return _reindent(body, 0, _indent_at(text, node.range().start.index))


def _matches(node: SgNode, rule: dict[str, Any]) -> bool:
    return node.matches(**rule)


# `$X` or `$$X` in a pattern, but not the tail of `$$$X`.
_PATTERN_VAR = re.compile(r"(?<!\$)\$\$?([A-Z_][A-Z0-9_]*)")


def _bind_captures(rule: Any, node: SgNode) -> Any:
    """The rule with the match's single captures written into its patterns.

    The CLI matches expansion siblings with the match's own metavariable env, so a
    `$X` captured by the rule must meet the same code again; ast-grep-py's matches()
    starts from an empty env, and the captured text spelled out gives that equality.
    """
    if isinstance(rule, list):
        return [_bind_captures(r, node) for r in rule]
    if not isinstance(rule, Mapping):
        return rule
    bound: dict[str, Any] = {}
    for key, value in rule.items():
        if key == "pattern" and isinstance(value, str):
            bound[key] = _substitute(value, node)
        elif key == "pattern" and isinstance(value, Mapping) and "context" in value:
            bound[key] = {**value, "context": _substitute(str(value["context"]), node)}
        else:
            bound[key] = _bind_captures(value, node)
    return bound


def _substitute(pattern: str, node: SgNode) -> str:
    def captured(var: re.Match[str]) -> str:
        match = node.get_match(var.group(1))
        return var.group(0) if match is None else match.text()

    return _PATTERN_VAR.sub(captured, pattern)


def _expand(node: SgNode, relation: dict[str, Any], forward: bool) -> SgNode | None:
    """The sibling an expandStart/expandEnd relation reaches, as the CLI's StopBy::find."""
    rule = _bind_captures({k: v for k, v in relation.items() if k not in _RELATION_ONLY_KEYS}, node)
    stop_by = relation.get("stopBy", "neighbor")
    if stop_by == "neighbor":
        sibling = node.next() if forward else node.prev()
        return sibling if sibling is not None and _matches(sibling, rule) else None
    for sibling in node.next_all() if forward else node.prev_all():
        if _matches(sibling, rule):
            return sibling
        # A stopBy rule is inclusive: the sibling it stops at may still be the target.
        if stop_by != "end" and _matches(sibling, dict(stop_by)):
            return None
    return None


def _source_text(node: SgNode) -> str:
    """The file text, rebuilt from the tree when the caller did not pass it.

    The root node starts after the file's leading whitespace, which the tree does not
    keep. Only its part on the root's first line can matter (as indentation there),
    and it is rebuilt as spaces: a file whose first token follows a tab, a form feed
    or a byte-order mark on its line gets a different indent there than the CLI's.
    """
    root = node.get_root().root()
    start = root.range().start
    # Earlier lines only need the right length: indentation never looks past a newline.
    earlier = start.index - start.column
    return "\n" * earlier + " " * start.column + root.text()


def render_fix(
    node: SgNode, spec: FixSpec, text: str, transformed: Transformed = frozenset()
) -> Edit:
    """The edit the ast-grep CLI would apply for this match.

    `text` is the whole file text that node was parsed from. `transformed` names the
    rule's transform variables (their values come from node.get_transformed(name)).
    Offsets in the returned Edit are character offsets into `text`.
    """
    span = node.range()
    start, end = span.start.index, span.end.index
    if text[start:end] != node.text():
        raise ValueError("text is not the text this node was parsed from")
    if spec.expand_start is not None and (
        sibling := _expand(node, spec.expand_start, forward=False)
    ):
        start = sibling.range().start.index
    if spec.expand_end is not None and (sibling := _expand(node, spec.expand_end, forward=True)):
        end = sibling.range().end.index
    return Edit(start, end, _render(spec._pieces, node, text, transformed))


def drop_variables(template: str, names: frozenset[str]) -> str:
    """``template`` with the variables in ``names`` removed, which the CLI renders empty."""
    if not names:
        return template
    return "".join(
        p if isinstance(p, str) else "" if p.name in names else ("$$$" if p.multi else "$") + p.name
        for p in _parse_template(template)
    )


def interpolate_message(
    message: str,
    node: SgNode,
    transformed: Transformed = frozenset(),
    *,
    text: str | None = None,
) -> str:
    """`$VAR` / `$$$VAR` interpolation in a rule's `message`, as the CLI does it.

    The CLI renders a message with the fix machinery: uncaptured variables become
    empty and multi-line text is indented to the matched node's line. Pass `text`
    (the file text) to be exact in every case; without it the text is rebuilt from
    the tree (see `_source_text`).
    """
    source = _source_text(node) if text is None else text
    return _render(_parse_template(message), node, source, transformed)
