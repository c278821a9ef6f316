"""The progress bar of `review-bot check` (bot/cli/progress.py), drawn into a StringIO."""

from __future__ import annotations

import io

import pytest

from bot.cli.progress import ProgressBar
from bot.core.engine import FileDone

# (path, seconds): the second file is the slowest, and faster ones follow it.
FILES = [
    ("nova/tests/test_a.py", 0.25),
    ("nova/tests/test_b.py", 1.5),
    ("nova/tests/test_c.py", 0.5),
    ("nova/tests/test_d.py", 0.125),
    ("nova/tests/test_e.py", 1.5),  # as slow as b: a tie keeps the first
]


class Terminal(io.StringIO):
    """What tqdm asks of a terminal: ``isatty()``."""

    def isatty(self) -> bool:
        return True


def feed(bar: ProgressBar, count: int, files: list[tuple[str, float]] = FILES) -> None:
    for done, (path, seconds) in enumerate(files[:count], 1):
        bar(FileDone(done, len(files), path, seconds))


def frames(out: io.StringIO) -> list[str]:
    """Each state the bar drew (tqdm redraws a line after a carriage return)."""
    return [f for f in out.getvalue().rstrip("\n").split("\r") if f]


def test_shows_the_counts_and_the_slowest_file_so_far_with_its_time() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, enabled=True, mininterval=0)
    feed(bar, 1)
    assert "1/5 files" in frames(out)[-1]
    assert frames(out)[-1].endswith("slowest 0.25s nova/tests/test_a.py")
    feed(bar, 3)
    last = frames(out)[-1]
    assert "3/5 files" in last
    assert last.endswith("slowest 1.50s nova/tests/test_b.py")  # not c, which came later
    assert not out.getvalue().endswith("\n")  # still running: the line stays open


def test_the_last_file_closes_the_bar_and_ends_its_line() -> None:
    out = io.StringIO()
    with ProgressBar(out, enabled=True, mininterval=0) as bar:
        feed(bar, 5)
        closed = out.getvalue()
        assert closed.endswith("\n")  # the report that follows starts on a line of its own
        assert "5/5 files" in frames(out)[-1]
        assert frames(out)[-1].endswith("slowest 1.50s nova/tests/test_b.py")
    assert out.getvalue() == closed  # leaving the block draws nothing more


def test_an_error_half_way_still_ends_the_line() -> None:
    out = io.StringIO()
    with pytest.raises(KeyError), ProgressBar(out, enabled=True, mininterval=0) as bar:
        feed(bar, 2)
        raise KeyError("boom")
    assert out.getvalue().endswith("\n")
    assert "2/5 files" in frames(out)[-1]


def test_not_a_terminal_draws_nothing() -> None:
    out = io.StringIO()
    with ProgressBar(out, mininterval=0) as bar:
        feed(bar, 5)
    assert out.getvalue() == ""


def test_a_terminal_is_told_apart_without_being_told() -> None:
    out = Terminal()
    with ProgressBar(out, mininterval=0) as bar:
        feed(bar, 5)
    assert "5/5 files" in frames(out)[-1]


def test_a_dumb_terminal_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    with ProgressBar(out, mininterval=0) as bar:
        feed(bar, 5)
    assert out.getvalue() == ""


@pytest.mark.parametrize("files", [[], FILES[:1]], ids=["no-file", "one-file"])
def test_no_bar_for_fewer_than_two_files(files: list[tuple[str, float]]) -> None:
    out = io.StringIO()
    with ProgressBar(out, enabled=True, mininterval=0) as bar:
        feed(bar, len(files), files)
    assert out.getvalue() == ""


def test_a_long_path_is_cut_at_the_front_to_fit_the_width() -> None:
    deep = "nova/tests/functional/regressions/a/very/deep/tree/of/directories/test_deep.py"
    out = io.StringIO()
    with ProgressBar(out, enabled=True, mininterval=0, ncols=80) as bar:
        feed(bar, 3, [("a.py", 0.5), (deep, 2.0), ("b.py", 0.5)])
    assert all(len(frame) <= 80 for frame in frames(out))  # a wrapped line breaks the redraw
    last = frames(out)[-1]
    assert "3/3 files" in last
    assert "slowest 2.00s ..." in last
    assert last.endswith("/test_deep.py")  # the file's own name survives the cut
