"""The bundled rules' notes read as plain text wherever they are shown.

``ast-grep scan`` (0.51) interpolates ``$VAR`` in a rule's ``message`` but prints its
``note`` as written (text and ``--json`` alike), and review-bot keeps that parity: a
metavariable in a note reaches the reader as a literal ``$NAME``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((REPO / "rules").glob("*/*.yml"))
METAVARIABLE = re.compile(r"\$+[A-Z_][A-Z0-9_]*")


def note_of(path: Path) -> str | None:
    doc = yaml.safe_load(path.read_text())
    return doc.get("note") if isinstance(doc, dict) and "rule" in doc else None


def test_there_are_notes_to_check() -> None:
    assert sum(note_of(p) is not None for p in RULE_FILES) >= 20


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_a_note_names_no_metavariable(path: Path) -> None:
    note = note_of(path) or ""
    assert METAVARIABLE.findall(note) == [], f"{path.name}: write `uuids.<name>`-style text"
