"""YAML loading that remembers where each key was, so errors can name file, line and key."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml

from bot.errors import YamlError


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping that knows the 1-based line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):  # type: ignore[type-arg]
    """A sequence that knows the 1-based line of each item, scalars included."""

    item_lines: list[int]


# libyaml's parser when PyYAML has it: loading the bundled rules takes half the time.
_Base = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """YAML 1.2 booleans, as the ast-grep CLI reads its files.

    PyYAML follows YAML 1.1, where `severity: off` would be the boolean false and
    `yes`/`no`/`on` booleans too; in YAML 1.2 only true/false are.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            # The CLI rejects duplicate keys; keeping the last would change a rule silently.
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(item, deep=True) for item in node.value)
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_documents(text: str, path: Path | str) -> list[Any]:
    """All documents of a YAML stream; a syntax error becomes YamlError with its line."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(path, line, f"invalid YAML: {problem}") from None


def read_documents(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise YamlError(path, None, exc.strerror or str(exc)) from None
    return load_documents(text, path)


def line_of(data: Any, key_path: Sequence[Any]) -> int | None:
    """The line of the deepest key of ``key_path`` that can be found in ``data``."""
    line: int | None = getattr(data, "line", None) or None
    node = data
    for key in key_path:
        if isinstance(node, LineDict) and key in node:
            line = node.key_lines.get(key, line)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            if isinstance(node, LineList):
                line = node.item_lines[key]
            node = node[key]
            line = getattr(node, "line", None) or line
        else:
            break
    return line


def plain(data: Any) -> Any:
    """Deep copy into builtin types, for libraries that want exactly dict/list."""
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data
