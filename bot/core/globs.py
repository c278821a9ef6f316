"""Path globs with the ast-grep CLI's semantics (Rust `globset` defaults).

Observed on the CLI: a glob must match the whole path relative to the project root,
`*` also crosses `/` (so `*.py` matches `a/b/x.py`, but `test_*.py` does not match
`b/test_y.py`), and `**/` may match no directory at all. `{a,b}` alternates and
`[...]` is a character class. The test-file globs of the config use the same engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


def _translate(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    depth = 0  # inside {...}
    while i < n:
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
            continue
        if c == "*":
            while i < n and glob[i] == "*":
                i += 1
            out.append(".*")
            continue
        if c == "?":
            out.append(".")
        elif c == "[":
            j = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "^") else i + 1)
            if j == -1:
                raise ValueError(f"unclosed '[' in glob {glob!r}")
            body = glob[i + 1 : j]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
            continue
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ValueError(f"unclosed '{{' in glob {glob!r}")
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(glob: str) -> re.Pattern[str]:
    """Compile once; raises ValueError for a glob that cannot be compiled."""
    return re.compile(r"\A" + _translate(glob) + r"\Z", re.DOTALL)


def normalise(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


class GlobSet:
    """A set of globs matched against repository-relative paths."""

    def __init__(self, globs: Iterable[str]) -> None:
        self.globs = tuple(globs)
        self._patterns = tuple(compile_glob(g) for g in self.globs)

    def __bool__(self) -> bool:
        return bool(self.globs)

    def matches(self, path: str) -> bool:
        path = normalise(path)
        return any(p.match(path) for p in self._patterns)
