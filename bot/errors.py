"""The one exception root of review-bot, and its branches.

Callers catch a branch, never a list of leaves:

- ``InputError``: the user's input is wrong (a diff, a YAML or rule file, the config, the
  command line). The CLI turns it into exit code 2; its message names file, line and key.
- ``PlatformError``: a code-review platform refused or failed. ``status`` is the HTTP status
  when there was one; the worker retries ``TransientError`` and fails ``PermanentError``.
- ``StoreError`` and ``LeaseLost``: the job store cannot be used, or a worker lost a job.

``InputError`` is also a ``ValueError``, which is what bad input was before this root existed.
"""

from __future__ import annotations

from pathlib import Path


class ReviewBotError(Exception):
    """Every error review-bot raises on purpose."""


# --- input: exit 2 ---------------------------------------------------------------------------


class InputError(ReviewBotError, ValueError):
    """Bad input from the user: a diff, a file, the config, a rule, the command line."""


class UsageError(InputError):
    """A command line that cannot be carried out as given."""


class IntakeError(InputError):
    """A change that cannot be read: a git range, a path, a file's contents."""


class DiffError(InputError):
    """A diff we cannot parse; the message names the input line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"malformed diff at line {line}: {message}")
        self.message = message
        self.line = line

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (the analysis pool): pickle by constructor.
        return (type(self), (self.message, self.line))


class YamlError(InputError):
    """A YAML file (config, rule, rule test) that cannot be used; names file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # args may have been replaced by a longer text (load_config's list of errors).
        return (_rebuilt, (type(self), self.path, self.line, self.message, self.args))


def _rebuilt(
    cls: type[YamlError], path: str, line: int | None, message: str, args: tuple[object, ...]
) -> YamlError:
    err = cls(path, line, message)
    err.args = args
    return err


# --- platforms ---------------------------------------------------------------------------------


class PlatformError(ReviewBotError):
    """A platform refused or failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.status))


class WebhookRejected(PlatformError):
    """A delivery we will not accept (bad signature, bad JSON...): answer ``status``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}", status)
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status, self.reason))

    status: int


class TransientError(PlatformError):
    """Worth retrying later (rate limit, 5xx, network); ``retry_after`` in seconds."""

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.retry_after, self.status))


class PermanentError(PlatformError):
    """Retrying will not help (404, 403, a malformed change): the job fails for good."""


class NotReviewable(PlatformError):
    """The change is in no state for a review (merged or abandoned since the event): the
    job ends quietly, posting nothing; not a failure."""


# --- the job store -----------------------------------------------------------------------------


class StoreError(ReviewBotError):
    """The store cannot be opened or used (bad url, unwritable location, read-only file)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"job store {url!r}: {reason}")
        self.url = url
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.url, self.reason))


class LeaseLost(ReviewBotError):
    """The caller no longer holds the job's lease (expired and taken by another worker)."""

    def __init__(self, job_id: int, owner: str) -> None:
        super().__init__(f"job {job_id}: not leased by {owner!r} (lease expired or job finished)")
        self.job_id = job_id
        self.owner = owner

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.job_id, self.owner))
