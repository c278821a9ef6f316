"""``copies-in-file``: a review-bot rule extension that counts a match's copies in its file.

"Is this literal used once in the file?" has no linear answer in ast-grep YAML: a rule
can only ask it as ``inside: module / has / precedes``, which walks the whole module
once per match, and a 30,000-line file with a few hundred literals then takes minutes.
Here every node of the match's kind is indexed by its text in one walk of the file,
shared by all the rules that ask, and each match looks its copies up.

A copy is a node of the same kind with the same text (quotes and prefix included, as
ast-grep compares a bound metavariable). Modes, in the rule's ``metadata``:

- ``one``: keep the match only when it has no copy elsewhere in the file;
- ``first-of-many``: keep it only when it has copies, and it is the first in the file.

The ast-grep CLI ignores metadata, so it reports every match of the rule's YAML.
"""

from __future__ import annotations

from collections import defaultdict

from ast_grep_py import SgNode

COPIES_IN_FILE = "copies-in-file"
MODES = ("one", "first-of-many")


class FileCopies:
    """Where each text of a node kind stands in one file; a kind is indexed on first use."""

    def __init__(self, root: SgNode) -> None:
        self._root = root
        self._by_kind: dict[str, dict[str, list[int]]] = {}

    def starts(self, node: SgNode) -> list[int]:
        """Start offsets of ``node``'s copies, itself included, in file order."""
        kind = node.kind()
        index = self._by_kind.get(kind)
        if index is None:
            index = defaultdict(list)
            for found in self._root.find_all(kind=kind):  # pre-order: file order
                index[found.text()].append(found.range().start.index)
            self._by_kind[kind] = index
        return index.get(node.text(), [])


def keeps(mode: str, node: SgNode, copies: FileCopies) -> bool:
    starts = copies.starts(node)
    if mode == "one":
        return len(starts) == 1
    if mode == "first-of-many":
        return len(starts) > 1 and starts[0] == node.range().start.index
    raise ValueError(f"{COPIES_IN_FILE}: unknown mode {mode!r} (known: {', '.join(MODES)})")
