"""What one review needs to know of the team's configuration, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from bot.model import FilterMode, Severity

# The same set as the rules' `files:` (a test keeps them in step).
DEFAULT_TEST_GLOBS = (
    "**/test_*.py",
    "**/*_test.py",
    "**/tests/**/*.py",
    "**/test/**/*.py",
    "**/testing/**/*.py",
    "**/conftest.py",
)


MIB = 1024 * 1024


@dataclass(frozen=True)
class AnalysisLimits:
    """What one file's and one review's analysis may cost; None: no limit. With any
    limit set, analysis runs in worker processes that can be stopped (core/engine.py)."""

    seconds_per_file: float | None = None
    seconds_per_job: float | None = None
    memory_mb: int | None = None

    @property
    def bounded(self) -> bool:
        return any(
            v is not None for v in (self.seconds_per_file, self.seconds_per_job, self.memory_mb)
        )


@dataclass(frozen=True)
class CheckOptions:
    """The knobs of one review. The config builds it (``Config.check_options``); the CLI
    overrides single fields; the core never sees the service's ``Config``."""

    test_globs: tuple[str, ...] = DEFAULT_TEST_GLOBS
    max_files: int = 3000
    max_file_bytes: int = 2_000_000
    filter_mode: FilterMode = FilterMode.added
    min_severity: Severity = Severity.warning
    # New findings only: drop a finding the base side of the change already has.
    baseline: bool = True
    # Idiom damping: a finding on an added line is not posted when its rule already
    # matches this many unchanged lines of the same file (0: off). See core/idiom.py.
    idiom_threshold: int = 2
    # The config's defaults bound every review; the core's default is unbounded.
    limits: AnalysisLimits = AnalysisLimits()
