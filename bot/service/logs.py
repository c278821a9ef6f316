"""Log output of the service: plain lines, or one JSON object per line carrying a job's fields."""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.model import Job

# Fields that structured log lines may carry; the JSON formatter emits exactly these extras.
LOG_FIELDS = ("delivery_id", "job_id", "platform", "project", "change", "revision", "outcome")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the job fields passed via ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "info", *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
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
