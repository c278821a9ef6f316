"""Secrets in the config: `${ENV_VAR}` references and `*_file` paths, never printed.

A :class:`Secret` holds the resolved value; its ``str``/``repr`` and every pydantic
serialisation (``model_dump``, ``model_dump_json``) give ``**********``. Only
:meth:`Secret.get_secret_value` returns the value. Validation errors raised here name
the variable or the path, never the value or the input.

Two annotated types are used by the config models:

* ``SecretValue`` for a key such as ``token``: the value ``${NAME}`` is replaced by the
  environment variable NAME at load time (unset or empty is an error). When the config
  is loaded from a file (validation context ``{"secrets_from_file": True}``) a literal
  value is refused, so secrets never sit in the config file; programmatic configs
  (tests, the service's own wiring) may pass a literal string or a ``Secret``.
* ``SecretFileValue`` for the sibling ``token_file``: a path (relative to the config
  file's directory, context ``{"base_dir": ...}``) whose content, stripped, is the secret.

With context ``{"resolve_secrets": False}`` nothing is read: each reference is checked for
its form and kept as an unresolved :class:`Secret` that cannot be used. The CLI loads a
team's config that way, since it never talks to a platform and the service's variables
and files are not set on a developer's machine.
"""

from __future__ import annotations

import hmac
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

MASK = "**********"
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Secret:
    """A secret string that does not show itself."""

    __slots__ = ("_value", "resolved", "source")

    def __init__(self, value: str, source: str = "value", *, resolved: bool = True) -> None:
        self._value = value
        # Where it came from, safe to print: "value", "env:NAME" or "file:PATH".
        self.source = source
        self.resolved = resolved

    @classmethod
    def unresolved(cls, source: str) -> Secret:
        """A reference that was not read, because the command does not need it."""
        return cls("", source, resolved=False)

    def resolve(self) -> Secret:
        """This secret read now from its source, for a command that skipped secrets at load
        but needs this one (``jobs`` and ``db`` need the database password); a ValueError
        names the variable or the file."""
        if self.resolved:
            return self
        kind, _, where = self.source.partition(":")
        try:
            if kind == "env":
                return resolve_reference(f"${{{where}}}")
            return _read_secret_file(Path(where))
        except PydanticCustomError as exc:
            raise ValueError(exc.message()) from None

    def get_secret_value(self) -> str:
        if not self.resolved:
            # A programming error: only configs loaded with secrets reach platform code.
            raise RuntimeError(f"secret {self.source} was not resolved at load")
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        if not (self.resolved and other.resolved):
            return self.resolved is other.resolved and self.source == other.source
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value if self.resolved else self.source)

    def __len__(self) -> int:
        return len(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _schema(_validate_value)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "password", "writeOnly": True}


def _mask(_value: Any) -> str:
    return MASK


def _schema(validator: Any) -> core_schema.CoreSchema:
    return core_schema.with_info_plain_validator_function(
        validator,
        serialization=core_schema.plain_serializer_function_ser_schema(_mask, when_used="always"),
    )


def _error(kind: str, message: str, **ctx: str) -> PydanticCustomError:
    # The message template is filled from ctx; ctx holds names and paths, never values.
    return PydanticCustomError(kind, message, ctx or None)


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _resolving(info: ValidationInfo) -> bool:
    return bool(_context(info).get("resolve_secrets", True))


def resolve_reference(text: str) -> Secret:
    """``${NAME}`` -> the value of the environment variable NAME, as a Secret."""
    match = ENV_REFERENCE.fullmatch(text.strip())
    if match is None:
        raise ValueError("not an ${ENV_VAR} reference")
    name = match.group(1)
    value = os.environ.get(name)
    if value is None:
        raise _error("secret_env", "environment variable {name} is not set", name=name)
    if not value.strip():
        raise _error("secret_env", "environment variable {name} is empty", name=name)
    return Secret(value.strip(), f"env:{name}")


def _validate_value(value: Any, info: ValidationInfo) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise _error("secret_type", "expected a string: ${ENV_VAR}, or use the *_file key")
    if match := ENV_REFERENCE.fullmatch(value.strip()):
        if not _resolving(info):
            return Secret.unresolved(f"env:{match.group(1)}")
        return resolve_reference(value)
    if _context(info).get("secrets_from_file"):
        raise _error(
            "secret_literal",
            "a secret must not be written into the config: use ${ENV_VAR} or the *_file key",
        )
    if not value:
        raise _error("secret_empty", "the secret is empty")
    return Secret(value)


def _validate_file(value: Any, info: ValidationInfo) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise _error("secret_file_type", "expected a file path")
    path = Path(value).expanduser()
    base = _context(info).get("base_dir")
    if base is not None:
        path = Path(base) / path
    if not _resolving(info):
        return Secret.unresolved(f"file:{path}")
    return _read_secret_file(path)


def _read_secret_file(path: Path) -> Secret:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _error(
            "secret_file", "secret file {path} is not UTF-8 text", path=str(path)
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _error(
            "secret_file", "cannot read secret file {path}: {reason}", path=str(path), reason=reason
        ) from None
    if not text.strip():
        raise _error("secret_file", "secret file {path} is empty", path=str(path))
    return Secret(text.strip(), f"file:{path}")


class _FileMarker:
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return _schema(_validate_file)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "path"}


SecretValue = Secret
SecretFileValue = Annotated[Secret, _FileMarker]
