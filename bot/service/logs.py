"""Log output of the service: plain lines, or one JSON object per line.

Either way a line carries the fields its call passed with ``extra=`` (a job's ids, the
address the server listens on, why a job failed): text lines as ``key=value`` after the
message, JSON lines as keys of the object.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.model import Job

# The job fields first, in this order; other extra fields follow in the order given.
LOG_FIELDS = ("delivery_id", "job_id", "platform", "project", "change", "revision", "outcome")

# What every LogRecord has of its own; anything else on a record came with ``extra=``.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call passed with ``extra=``, None values left out: the job fields
    in LOG_FIELDS order, then the others."""
    given = {
        name: value
        for name, value in record.__dict__.items()
        if name not in _RECORD_ATTRIBUTES and not name.startswith("_") and value is not None
    }
    ordered = {name: given.pop(name) for name in LOG_FIELDS if name in given}
    return {**ordered, **given}


def _text_value(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        value = ",".join(str(v) for v in value)
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=\\" for c in text):
        return json.dumps(text, ensure_ascii=False)  # quoted, so a line splits on spaces
    return text


class TextFormatter(logging.Formatter):
    """``TIME LEVEL message key=value ...``: the message, then the ``extra=`` fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = extra_fields(record)
        if not fields:
            return line
        return line + " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields passed via ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in extra_fields(record).items():
            entry.setdefault(name, value)  # a field never hides the line's own keys
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def job_fields(job: Job) -> dict[str, Any]:
    return {
        "delivery_id": job.delivery_id,
        "job_id": job.id,
        "platform": job.key.platform,
        "project": job.key.project,
        "change": job.key.change,
        "revision": job.key.revision,
    }
