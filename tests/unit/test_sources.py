"""One source selection for the CLI and the worker: which files, which bytes, which base."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.options import CheckOptions
from bot.core.sources import decode_source, needs_base, select_sources, snapshot
from bot.errors import IntakeError
from bot.model import (
    Change,
    ChangedFile,
    FileStatus,
    FilterMode,
    Hunk,
    SkippedFile,
    SkipReason,
    SourceFile,
)


def changed(path: str, status: FileStatus = FileStatus.modified, **kw: object) -> ChangedFile:
    return ChangedFile(path, status, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "files, max_files, wanted, skipped",
    [
        # Only test files; a deleted test file is kept (its base side may hold moved code).
        (
            [
                changed("nova/api.py"),
                changed("tests/test_a.py"),
                changed("tests/test_b.py", FileStatus.deleted),
            ],
            10,
            ["tests/test_a.py", "tests/test_b.py"],
            [],
        ),
        # A binary test file is reported, not analysed.
        (
            [changed("tests/test_img.py", FileStatus.binary)],
            10,
            [],
            [("tests/test_img.py", SkipReason.binary)],
        ),
        # Past limits.max_files, every file left over is named with its reason.
        (
            [changed(f"tests/test_{i}.py") for i in range(4)],
            2,
            ["tests/test_0.py", "tests/test_1.py"],
            [
                ("tests/test_2.py", SkipReason.over_max_files),
                ("tests/test_3.py", SkipReason.over_max_files),
            ],
        ),
    ],
    ids=["test-files-only", "binary", "over-max-files"],
)
def test_select_sources(
    files: list[ChangedFile],
    max_files: int,
    wanted: list[str],
    skipped: list[tuple[str, SkipReason]],
) -> None:
    got, problems = select_sources(files, dataclasses.replace(CheckOptions(), max_files=max_files))
    assert [f.path for f in got] == wanted
    assert [(p.path, p.reason) for p in problems] == skipped
    assert all(
        "limits.max_files" in p.message for p in problems if p.reason is SkipReason.over_max_files
    )


@pytest.mark.parametrize(
    "file, mode, expected",
    [
        (
            changed("t/test_a.py", removed_lines=frozenset({3}), base_hunks=(Hunk(2, 4),)),
            FilterMode.added,
            True,
        ),
        # Only additions: nothing was removed that could hold the same finding.
        (changed("t/test_a.py", base_hunks=(Hunk(2, 4),)), FilterMode.added, False),
        (changed("t/test_a.py", base_hunks=(Hunk(2, 4),)), FilterMode.diff_context, True),
        (changed("t/test_a.py"), FilterMode.file, True),
        (
            changed("t/test_a.py", FileStatus.deleted, removed_lines=frozenset({1})),
            FilterMode.added,
            True,
        ),
        (changed("t/test_a.py", FileStatus.added, whole_file=True), FilterMode.nofilter, False),
    ],
    ids=["removed-lines", "additions-only", "context", "file-mode", "deleted", "added"],
)
def test_needs_base(file: ChangedFile, mode: FilterMode, expected: bool) -> None:
    assert needs_base(file, mode) is expected


def test_snapshot_reads_new_bytes_and_only_the_base_the_baseline_needs() -> None:
    files = [
        changed("tests/test_mod.py", removed_lines=frozenset({2})),
        changed("tests/test_new.py", FileStatus.added, whole_file=True),
        changed(
            "tests/test_ren.py",
            FileStatus.renamed,
            old_path="tests/test_old.py",
            removed_lines=frozenset({1}),
        ),
        changed("tests/test_gone.py", FileStatus.deleted, removed_lines=frozenset({1})),
        changed("tests/test_plus.py", added_lines=frozenset({4})),
        changed("README.rst"),
    ]
    head_reads: list[str] = []
    base_reads: list[str] = []

    def head(path: str) -> bytes:
        head_reads.append(path)
        return b"new"

    def base(path: str) -> bytes:
        base_reads.append(path)
        return b"old"

    snap = snapshot(Change(files, head, read_base=base), CheckOptions())
    assert head_reads == [
        "tests/test_mod.py",
        "tests/test_new.py",
        "tests/test_ren.py",
        "tests/test_plus.py",
    ]
    assert base_reads == ["tests/test_mod.py", "tests/test_old.py", "tests/test_gone.py"]
    assert snap.base == {p: b"old" for p in base_reads}
    assert [f.path for f in snap.files] == [f.path for f in files[:5]]

    # Baseline off, or no base at hand: no base bytes, and the plan will say so.
    base_reads.clear()
    off = snapshot(
        Change(files, head, read_base=base), dataclasses.replace(CheckOptions(), baseline=False)
    )
    assert off.base is None and base_reads == []
    assert snapshot(Change(files, head), CheckOptions()).base is None


def test_an_unreadable_file_is_an_input_error_not_a_silent_skip() -> None:
    def read(path: str) -> bytes:
        raise IntakeError(f"{path}: cannot read the new contents")

    with pytest.raises(IntakeError, match=r"tests/test_a\.py"):
        snapshot(Change([changed("tests/test_a.py")], read), CheckOptions())


@pytest.mark.parametrize(
    "data, reason",
    [(b"x = 1\n" * 10, SkipReason.too_large), (b"s = '\xe9'\n", SkipReason.not_utf8)],
)
def test_decode_source_skips_with_a_reason(data: bytes, reason: SkipReason) -> None:
    got = decode_source(changed("tests/test_a.py"), data, max_bytes=20)
    assert isinstance(got, SkippedFile) and got.reason is reason and got.path == "tests/test_a.py"


def test_decode_source_drops_a_bom() -> None:
    got = decode_source(changed("tests/test_a.py"), "\ufeffx = 1\n".encode(), max_bytes=100)
    assert isinstance(got, SourceFile) and got.text == "x = 1\n"
