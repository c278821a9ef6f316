"""The second edit of a fix that needs an import the file lacks.

A rule asks for one with `metadata: {requires-import: "<import statement>"}` (the
ast-grep CLI ignores metadata, so its own fix is the literal edit alone). Only a
package the file already imports from is used: otherwise the finding gets no fix. The import
goes where hacking's checks expect it: into the third-party group (neither stdlib nor
the project's own package), in alphabetical order (H306). Pure: data in, data out.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from ast_grep_py import SgNode

from bot.model import Edit

REQUIRES_IMPORT = "requires-import"
_IMPORT_KINDS = ("import_statement", "import_from_statement", "future_import_statement")
_FROM = re.compile(r"from\s+([\w.]+)\s+import\s+(.+)", re.DOTALL)
_PLAIN = re.compile(r"import\s+(.+)", re.DOTALL)


@dataclass(frozen=True)
class _Import:
    key: str  # what H306 sorts by: the full dotted name, lower-cased
    group: str  # "stdlib", "third-party" or "project"
    bound: frozenset[str]  # names the statement binds
    start: int  # character offset of the line start
    end: int  # offset after the statement's line


def parse_import(statement: str) -> tuple[str, frozenset[str]]:
    """(H306 sort key, names bound) of one import statement."""
    text = " ".join(statement.replace("(", " ").replace(")", " ").replace("\\", " ").split())
    names: set[str] = set()
    if m := _FROM.fullmatch(text):
        module, rest = m.groups()
        parts = [p.strip() for p in rest.split(",") if p.strip()]
        for part in parts:
            names.add(part.split(" as ")[-1].strip())
        first = parts[0].split(" as ")[0].strip() if parts else ""
        return f"{module}.{first}".lower(), frozenset(names)
    if m := _PLAIN.fullmatch(text):
        parts = [p.strip() for p in m.group(1).split(",") if p.strip()]
        for part in parts:
            if " as " in part:
                names.add(part.split(" as ")[-1].strip())
            else:
                names.add(part.split(".")[0])
        return parts[0].split(" as ")[0].strip().lower(), frozenset(names)
    raise ValueError(f"not an import statement: {statement!r}")


def _group(key: str, project: str) -> str:
    top = key.split(".")[0]
    if top == project:
        return "project"
    return "stdlib" if top in sys.stdlib_module_names or top == "__future__" else "third-party"


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, len(text) if line_end == -1 else line_end + 1


def _project_of(path: str) -> str:
    """The project's own package: the first directory of the repository path."""
    return path.replace("\\", "/").split("/")[0]


def _top_level_imports(root: SgNode, text: str, path: str) -> list[_Import]:
    project = _project_of(path)
    found = []
    for child in root.children():
        if child.kind() not in _IMPORT_KINDS:
            continue
        rng = child.range()
        try:
            key, bound = parse_import(child.text())
        except ValueError:
            continue
        start, end = _line_bounds(text, rng.start.index, rng.end.index)
        found.append(_Import(key, _group(key, project), bound, start, end))
    return found


def required_import(root: SgNode, text: str, path: str, statement: str) -> list[Edit] | None:
    """The edits a fix needs so that ``statement``'s names exist: none when the file binds
    them already, one adding the import otherwise; None when the file imports nothing from
    that top-level package, for a review suggests the project's idioms and never brings
    in a library of its own (the finding then gets no fix)."""
    imports = _top_level_imports(root, text, path)
    top = parse_import(statement)[0].split(".")[0]
    if not any(imp.key.split(".")[0] == top for imp in imports):
        return None
    added = _placed(imports, root, text, path, statement)
    return [] if added is None else [added]


def import_edit(root: SgNode, text: str, path: str, statement: str) -> Edit | None:
    """An edit adding ``statement``, or None when the file already binds its names."""
    return _placed(_top_level_imports(root, text, path), root, text, path, statement)


def _placed(
    imports: list[_Import], root: SgNode, text: str, path: str, statement: str
) -> Edit | None:
    key, bound = parse_import(statement)
    project = _project_of(path)
    if any(bound & imp.bound for imp in imports):
        return None
    newline = "\r\n" if "\r\n" in text else "\n"
    line = statement.strip() + newline
    group = _group(key, project)
    same = [imp for imp in imports if imp.group == group]
    if same:
        after = [imp for imp in same if imp.key > key]
        if after:
            return Edit(after[0].start, after[0].start, line)
        return Edit(same[-1].end, same[-1].end, line)
    if not imports:
        return Edit(_after_docstring(root, text), _after_docstring(root, text), line + newline)
    # A new group: after the groups that sort before it (stdlib < third-party < project).
    order = ("stdlib", "third-party", "project")
    before = [imp for imp in imports if order.index(imp.group) < order.index(group)]
    if before:
        return Edit(before[-1].end, before[-1].end, newline + line)
    return Edit(imports[0].start, imports[0].start, line + newline)


def _after_docstring(root: SgNode, text: str) -> int:
    """Where a file with no imports takes its first: after a module docstring, if any."""
    for child in root.children():
        if child.kind() == "comment":
            continue
        if child.kind() == "expression_statement" and child.child(0) is not None:
            first = child.child(0)
            if first is not None and first.kind() == "string":
                return _line_bounds(text, child.range().start.index, child.range().end.index)[1]
        return _line_bounds(text, child.range().start.index, child.range().start.index)[0]
    return len(text)
