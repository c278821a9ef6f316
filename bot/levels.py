"""Severity and filter mode: the levels a finding is shown by, without the rest of the model."""

from __future__ import annotations

import enum
from typing import Any


class Severity(enum.IntEnum):
    """Ordered so that comparisons mean "at least as severe as"."""

    off = 0
    hint = 1
    info = 2
    warning = 3
    error = 4

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value]
        except KeyError:
            names = ", ".join(s.name for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {names})") from None

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Any) -> Any:
        # By name in JSON (a stored plan reads "warning", not 3). pydantic is imported only
        # when a schema is built (core/plan.py), so the model itself stays import-free.
        from pydantic_core import core_schema

        def validate(value: Any) -> Severity:
            return value if isinstance(value, cls) else cls.parse(str(value))

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda s: s.name),
        )


class FilterMode(enum.StrEnum):
    """Which findings to keep, named as reviewdog names its filter modes."""

    added = "added"  # the finding touches an added line
    diff_context = "diff_context"  # it touches a hunk
    file = "file"  # it is in a changed file
    nofilter = "nofilter"  # everything
