"""The progress bar of `review-bot check`: files analysed, of how many, and the slowest so far.

tqdm draws it on stderr, and only on a terminal: a pipe, a file or a CI log gets nothing at
all, and stdout carries the report alone either way.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from bot.core.engine import FileDone

if TYPE_CHECKING:
    from tqdm import tqdm

# The engine reports a file once it is analysed, so the one event of a one-file check comes
# when the work is over: its bar would appear full and say nothing the report does not.
# From two files on the bar shows while work is left, and which file is the slow one.
MIN_FILES = 2
# A terminal that reports no size (a fresh pty, some CI runners) is 0 wide; tqdm would trim
# every line to nothing.
FALLBACK_WIDTH = 80
MIN_BAR = 10  # the bar keeps this much when the slowest path needs room...
MIN_PATH = 16  # ...unless the path would get less: the counts say what the bar says
BAR_FORMAT = "analysed {n_fmt}/{total_fmt} files |{bar}| {elapsed}<{remaining}{postfix}"


class ProgressBar:
    """A ``Progress`` callback for ``run_check``. Use it as a context manager: the bar is also
    closed when the check fails half-way, so an error message starts on a line of its own."""

    def __init__(
        self,
        file: TextIO | None = None,
        *,
        enabled: bool | None = None,
        mininterval: float = 0.1,
        ncols: int | None = None,
    ) -> None:
        """``enabled=None`` draws only when ``file`` (default: stderr) is a terminal, which
        tqdm checks; ``ncols`` fixes the width instead of asking the terminal."""
        self._file = file if file is not None else sys.stderr
        self._disable: bool | None = None if enabled is None else not enabled
        if enabled is None and os.environ.get("TERM") == "dumb":
            self._disable = True  # a dumb terminal cannot return to the start of the line
        self._mininterval = mininterval
        self._ncols = ncols
        self._bar: tqdm | None = None
        self._started = time.time()  # tqdm's clock; the first event comes a file late
        self._slowest = (-1.0, "")  # (seconds, path)

    def __call__(self, file: FileDone) -> None:
        if file.total < MIN_FILES or self._disable:
            return
        first = self._bar is None
        if first:
            self._bar = self._open(file.total)
            self._slowest = (-1.0, "")
        bar = self._bar
        if bar.disable:  # tqdm found no terminal
            return
        if first:
            # Elapsed time and rate count from the start of the check, not from the first
            # file done; the bar's 0/total frame is redrawn at once with the first file.
            bar.start_t = self._started
        if file.seconds > self._slowest[0]:  # a tie keeps the first
            self._slowest = (file.seconds, file.path)
        seconds, path = self._slowest
        bar.ncols = width = self._width()
        slowest = f"slowest {seconds:.2f}s "
        # Room for the bar and the path: the line less its text (times as mm:ss).
        room = width - len(f"analysed {file.total}/{file.total} files || 00:00<00:00, {slowest}")
        budget = room - MIN_BAR if room - MIN_BAR >= MIN_PATH else room - 1
        bar.set_postfix_str(slowest + _shorten(path, budget), refresh=False)
        bar.update(file.done - bar.n)  # done counts from the start: it is not a step
        if first:
            bar.refresh()  # update() waits mininterval after the frame tqdm drew on opening
        if file.done >= file.total:
            self.close()

    def close(self) -> None:
        """Draw the final state and end its line, so what follows starts on a clean line. The
        final line stays: it is the only place that names the slowest file."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._started = time.time()  # for a bar of another run, if one comes

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self, total: int) -> tqdm:
        # Imported here: a check whose stderr is no terminal never draws, and need not pay
        # tqdm's import.
        from tqdm import tqdm

        # tqdm's monitor thread wakes bars that dynamic miniters left stalled; this one
        # redraws on every file (miniters=1), so the thread would be one more for nothing.
        tqdm.monitor_interval = 0
        return tqdm(
            total=total,
            file=self._file,
            disable=self._disable,
            leave=True,
            miniters=1,
            mininterval=self._mininterval,
            # The average since the start: files come in bursts from the pool, which
            # tqdm's moving average would read as swings of speed.
            smoothing=0,
            ncols=self._width(),
            bar_format=BAR_FORMAT,
            # No colour: NO_COLOR and plain terminals get the same bar.
            colour=None,
        )

    def _width(self) -> int:
        """The terminal's width now (it may be resized during a long check), minus the last
        column, where a character would wrap the line and break the redraw."""
        if self._ncols is not None:
            return self._ncols
        try:
            columns = os.get_terminal_size(self._file.fileno()).columns
        except (AttributeError, OSError, ValueError):  # no fileno, not a terminal, closed
            columns = 0
        return columns - 1 if columns > 0 else FALLBACK_WIDTH


def _shorten(path: str, budget: int) -> str:
    """``path`` in at most ``budget`` characters, keeping its end (the file's own name), cut at
    a directory when one fits."""
    if len(path) <= budget:
        return path
    if budget < 4:
        return ""  # a terminal this narrow has its line trimmed by tqdm anyway
    tail = path[len(path) - max(budget - 3, 1) :]
    cut = tail.find("/")
    if 0 <= cut < len(tail) - 1:
        tail = tail[cut:]
    return "..." + tail
