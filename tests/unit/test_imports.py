"""The import a fix needs, added as a second edit where hacking expects it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ast_grep_py import SgRoot

from bot.core.analyze import Analyzer
from bot.core.imports import import_edit, parse_import
from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile
from bot.rules.load import load_project

UUIDS = "from oslo_utils.fixture import uuidsentinel as uuids"
PATH = "nova/tests/functional/test_x.py"


def apply(text: str, statement: str = UUIDS) -> str | None:
    edit = import_edit(SgRoot(text, "python").root(), text, PATH, statement)
    if edit is None:
        return None
    return text[: edit.start] + edit.replacement + text[edit.end :]


def test_parse_import() -> None:
    assert parse_import(UUIDS) == ("oslo_utils.fixture.uuidsentinel", frozenset({"uuids"}))
    assert parse_import("import os.path") == ("os.path", frozenset({"os"}))
    with pytest.raises(ValueError):
        parse_import("x = 1")


def test_goes_into_the_third_party_group_in_alphabetical_order() -> None:
    text = (
        "from unittest import mock\n\nimport fixtures\nfrom oslo_utils import timeutils\n"
        "import testtools\n\nfrom nova import test\n"
    )
    assert apply(text) == (
        "from unittest import mock\n\nimport fixtures\nfrom oslo_utils.fixture import "
        "uuidsentinel as uuids\nfrom oslo_utils import timeutils\nimport testtools\n\n"
        "from nova import test\n"
    )


def test_nothing_when_the_name_is_already_bound() -> None:
    assert apply("from oslo_utils.fixture import uuidsentinel as uuids\nx = 1\n") is None


def test_a_new_group_after_stdlib_when_there_is_no_third_party_import() -> None:
    text = "import os\n\nfrom nova import test\n"
    assert apply(text) == f"import os\n\n{UUIDS}\n\nfrom nova import test\n"


def test_a_file_without_imports_gets_it_after_the_docstring() -> None:
    text = '"""Doc."""\nx = 1\n'
    assert apply(text) == f'"""Doc."""\n{UUIDS}\n\nx = 1\n'


def test_crlf_file_keeps_crlf() -> None:
    assert apply("import fixtures\r\nx = 1\r\n") == f"import fixtures\r\n{UUIDS}\r\nx = 1\r\n"


def _hardcoded_uuid(text: str):
    sgconfig = Path(__file__).resolve().parents[2] / "sgconfig.yml"
    rule = next(r for r in load_project(sgconfig) if r.id == "hardcoded-uuid")
    change = ChangedFile(PATH, FileStatus.added, whole_file=True)
    (finding,) = Analyzer([rule]).analyze(SourceFile(change, text), FilterMode.added)
    return finding


def test_hardcoded_uuid_fix_carries_the_import_as_a_second_edit() -> None:
    text = (
        "import fixtures\nfrom oslo_utils import timeutils\n\nfrom nova import test\n\n\n"
        "class T(test.TestCase):\n"
        "    def test_a(self):\n"
        "        image_uuid = '5a7b9c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d'\n"
        "        self.boot(image_uuid)\n"
    )
    finding = _hardcoded_uuid(text)
    assert finding.fix is not None
    literal, added = finding.fix.edits
    assert literal.replacement == "uuids.image"
    # Sorted before oslo_utils.timeutils, in the third-party group (H306).
    assert added.replacement == UUIDS + "\n" and added.span.start.offset == len("import fixtures\n")
    assert (added.span.start.line, added.span.start.column) == (2, 0)
    # The suggestion block covers the finding's line only; the import stays an edit.
    assert finding.fix.suggestion is not None
    assert finding.fix.suggestion.text == "        image_uuid = uuids.image"


def test_no_fix_that_would_bring_in_a_library_the_file_does_not_use() -> None:
    text = (
        "import fixtures\n\nfrom nova import test\n\n\nclass T(test.TestCase):\n"
        "    def test_a(self):\n"
        "        image_uuid = '5a7b9c1d-3e4f-4a5b-8c6d-7e8f9a0b1c2d'\n"
        "        self.boot(image_uuid)\n"
    )
    finding = _hardcoded_uuid(text)
    # The comment stands (Nova names ids with uuidsentinel), without an edit.
    assert "uuids.image" in finding.message
    assert finding.fix is None
