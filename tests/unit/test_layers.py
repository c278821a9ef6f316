"""The import contract of the ``bot`` package, checked statically with ``ast``.

The source of the contract is the layer table of ARCHITECTURE.md ("a module imports only from
layers below it"), with the CLI one layer above the service because ``review-bot serve`` and
``review-bot jobs`` start it. Lowest first, a module may import from its own layer or a lower one:

1. ``bot`` (the package ``__init__``), ``bot.model`` (with ``bot.levels``), ``bot.errors``
2. ``bot.core``      3. ``bot.config``     4. ``bot.rules``    5. ``bot.report``
6. ``bot.platforms`` 7. ``bot.service``    8. ``bot.cli``

On top of the layers: the core and the model do no I/O, only ``bot/platforms/`` touches PyGithub
or python-gerrit-api, only the composition root (``bot/service/main.py``) names a concrete
platform, and the modules import each other without cycles.

Every check is a function of the directory that holds the ``bot`` package, so each one runs on
the real repository and on a planted violation in ``tmp_path``.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# (layer, module prefix). The bare package ``bot`` matches only itself: as a prefix it would
# swallow every module.
LAYERS: tuple[tuple[int, str], ...] = (
    (1, "bot"),
    (1, "bot.model"),
    (1, "bot.levels"),
    (1, "bot.errors"),
    (2, "bot.core"),
    (3, "bot.config"),
    (4, "bot.rules"),
    (5, "bot.report"),
    (6, "bot.platforms"),
    (7, "bot.service"),
    (8, "bot.cli"),
)

# Network, process and database modules, matched on the top-level name.
IO_MODULES = frozenset(
    {
        "aiohttp",
        "subprocess",
        "socket",
        "asyncio",
        "http",
        "urllib",
        "requests",
        "github",  # PyGithub
        "gerrit",  # python-gerrit-api
        "asyncssh",
        "psycopg",
        "sqlite3",
    }
)
CORE_FORBIDDEN_BOT = ("bot.config", "bot.service", "bot.platforms", "bot.cli")
PLATFORM_LIBRARIES = frozenset({"github", "gerrit"})
COMPOSITION_ROOT = "bot.service.main"


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported, and whether it runs at import time."""

    importer: str  # dotted module name of the importing file
    path: str  # the importing file, relative to the scanned root
    line: int
    target: str  # absolute dotted name of the imported module
    module_level: bool  # False inside a function or an ``if TYPE_CHECKING:`` block

    def __str__(self) -> str:
        return f"{self.path}:{self.line} -> {self.target}"


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    if module == "bot":
        return 1
    # Longest prefix wins; the bare ``bot`` is left out, as a prefix it would match everything.
    matches = [(len(p), layer) for layer, p in LAYERS if p != "bot" and within(module, p)]
    return max(matches)[1] if matches else None


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(
    nodes: list[ast.stmt], module_level: bool = True
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``nodes``, with whether it runs when the module is imported."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, module_level
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _statements(node.body, False)
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            # Only the body is for the type checker; an ``else:`` branch runs.
            yield from _statements(node.body, False)
            yield from _statements(node.orelse, module_level)
        else:
            # Class bodies, try/with/for/if/match blocks: whatever statements they hold.
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, ()):
                    inner = (
                        child.body
                        if isinstance(child, ast.ExceptHandler | ast.match_case)
                        else [child]
                    )
                    yield from _statements(inner, module_level)


def collect(root: Path) -> list[Import]:
    """All imports of every ``bot/**/*.py`` under ``root``, relative ones made absolute."""
    files = sorted((root / "bot").rglob("*.py"))
    known = {module_name(root, f) for f in files}
    found: list[Import] = []
    for file in files:
        importer = module_name(root, file)
        rel = file.relative_to(root).as_posix()
        # A package's relative imports start from itself, a plain module's from its parent.
        package = importer if file.name == "__init__.py" else importer.rpartition(".")[0]
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=rel)
        for node, module_level in _statements(tree.body):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.module != "__future__":
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    up = len(parts) - (node.level - 1)
                    assert up > 0, f"{rel}:{node.lineno}: relative import beyond the top package"
                    base = ".".join(parts[:up] + ([node.module] if node.module else []))
                # ``from pkg import sub`` imports the module ``pkg.sub`` when there is one: that is
                # how ``from bot.platforms import github`` names a concrete platform.
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            found += [Import(importer, rel, node.lineno, t, module_level) for t in targets]
    return found


def layer_violations(root: Path) -> list[str]:
    """A module imports nothing from a layer above its own (nor lies outside the table)."""
    out: list[str] = []
    for imp in collect(root):
        own, other = layer_of(imp.importer), layer_of(imp.target)
        if own is None:
            out.append(f"{imp}: {imp.importer} is in no layer of the table")
        elif imp.target.partition(".")[0] == "bot" and other is None:
            out.append(f"{imp}: {imp.target} is in no layer of the table")
        elif other is not None and other > own:
            out.append(f"{imp}: layer {own} ({imp.importer}) imports layer {other}")
    return out


def core_purity_violations(root: Path) -> list[str]:
    """``bot/core/`` reaches no config, service, platform or CLI, and does no network/IO."""
    return [
        f"{imp}: the core must stay pure and synchronous"
        for imp in collect(root)
        if within(imp.importer, "bot.core")
        and (
            imp.target.partition(".")[0] in IO_MODULES
            or any(within(imp.target, p) for p in CORE_FORBIDDEN_BOT)
        )
    ]


def model_violations(root: Path) -> list[str]:
    """``bot.model``, ``bot.levels`` and ``bot.errors`` import only each other, ``bot`` itself,
    and no I/O."""
    base = ("bot.model", "bot.levels", "bot.errors")
    out: list[str] = []
    for imp in collect(root):
        if not any(within(imp.importer, b) for b in base):
            continue
        top = imp.target.partition(".")[0]
        if top == "bot" and imp.target != "bot" and not any(within(imp.target, b) for b in base):
            out.append(
                f"{imp}: the model may import only bot, bot.model, bot.levels and bot.errors"
            )
        elif top in IO_MODULES:
            out.append(f"{imp}: the model does no network or I/O")
    return out


def platform_library_violations(root: Path) -> list[str]:
    """Nothing outside ``bot/platforms/`` imports PyGithub (``github``) or ``gerrit``."""
    return [
        f"{imp}: only bot/platforms/ may use the platform libraries"
        for imp in collect(root)
        if imp.target.partition(".")[0] in PLATFORM_LIBRARIES
        and not within(imp.importer, "bot.platforms")
    ]


# What every platform shares: the adapter contract and platform-neutral rendering helpers.
SHARED_PLATFORM_MODULES = frozenset({"base", "common"})


def platform_of(module: str) -> str | None:
    """``bot.platforms.github.client`` -> ``bot.platforms.github``; None unless concrete."""
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["bot", "platforms"] or parts[2] in SHARED_PLATFORM_MODULES:
        return None
    return ".".join(parts[:3])


def concrete_platform_violations(root: Path) -> list[str]:
    """Only the composition root names a concrete platform; a platform may import its own parts."""
    out: list[str] = []
    for imp in collect(root):
        platform = platform_of(imp.target)
        # Strict reading of "a platform may import its own submodules": github may not reach
        # into gerrit, and base.py / the package __init__ must not name one either.
        if platform and imp.importer != COMPOSITION_ROOT and platform_of(imp.importer) != platform:
            out.append(f"{imp}: only {COMPOSITION_ROOT} names a concrete platform")
    return out


def cycle_violations(root: Path) -> list[str]:
    """No import cycle among ``bot`` modules, over the imports that run at import time."""
    imports = collect(root)
    modules = {imp.importer for imp in imports} | {
        module_name(root, f) for f in (root / "bot").rglob("*.py")
    }
    # Edges only to modules in the tree; a parent package is not an edge (Python imports
    # ``bot.report`` before ``bot.report.base`` without a cycle).
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports:
        if imp.module_level and imp.target in modules and imp.target != imp.importer:
            edges[imp.importer].setdefault(imp.target, imp)

    # Tarjan's strongly connected components; each component of 2+ modules holds a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(modules):
        if node not in index:
            visit(node)

    out: list[str] = []
    for component in components:
        # One concrete cycle through the component's first module, found breadth-first.
        start, members = component[0], set(component)
        paths = {start: [start]}
        queue = [start]
        cycle: list[str] = []
        while queue and not cycle:
            node = queue.pop(0)
            for nxt in sorted(edges[node]):
                if nxt == start:
                    cycle = [*paths[node], start]
                    break
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        steps = "; ".join(str(edges[a][b]) for a, b in itertools.pairwise(cycle))
        out.append(f"import cycle {' -> '.join(cycle)} ({steps})")
    return out


# --- the contract on the real package ---------------------------------------------------------

CHECKS = {
    "layering": layer_violations,
    "core_purity": core_purity_violations,
    "model_purity": model_violations,
    "platform_libraries": platform_library_violations,
    "concrete_platforms": concrete_platform_violations,
    "no_cycles": cycle_violations,
}


def report(found: list[str]) -> str:
    return "import contract broken (see ARCHITECTURE.md, layers):\n  " + "\n  ".join(found)


def test_layering_holds_for_bot() -> None:
    assert (found := layer_violations(REPO)) == [], report(found)


def test_core_purity_holds_for_bot() -> None:
    assert (found := core_purity_violations(REPO)) == [], report(found)


def test_model_purity_holds_for_bot() -> None:
    assert (found := model_violations(REPO)) == [], report(found)


def test_platform_libraries_hold_for_bot() -> None:
    assert (found := platform_library_violations(REPO)) == [], report(found)


def test_concrete_platforms_hold_for_bot() -> None:
    assert (found := concrete_platform_violations(REPO)) == [], report(found)


def test_no_cycles_holds_for_bot() -> None:
    assert (found := cycle_violations(REPO)) == [], report(found)


def test_the_checker_sees_the_real_package() -> None:
    # Guards the checks above against passing vacuously on a moved or empty tree.
    importers = {imp.importer for imp in collect(REPO)}
    assert {"bot.core.analyze", "bot.service.main", "bot.cli.main"} <= importers


# --- each check catches a planted violation ----------------------------------------------------


def plant(root: Path, files: dict[str, str]) -> Path:
    """A tiny ``bot`` tree under ``root``: every package gets an ``__init__.py``."""
    for rel, text in files.items():
        path = root / rel
        for parent in reversed(path.relative_to(root).parents[:-1]):  # bot, bot/core, ...
            (root / parent).mkdir(exist_ok=True)
            (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


def test_collect_resolves_relative_nested_and_type_checking_imports(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "bot/report/text.py": (
                "from typing import TYPE_CHECKING\n"
                "from . import base\n"
                "from .base import Report\n"
                "from .. import model\n"
                "if TYPE_CHECKING:\n"
                "    from bot.cli import main\n"
                "def f():\n"
                "    import bot.service.worker\n"
            ),
            "bot/report/base.py": "",
            "bot/model.py": "",
        },
    )
    got = {(i.line, i.target, i.module_level) for i in collect(root) if i.path.endswith("text.py")}
    assert got == {
        (1, "typing", True),
        (2, "bot.report.base", True),
        (3, "bot.report.base", True),
        (4, "bot.model", True),
        (6, "bot.cli", False),
        (8, "bot.service.worker", False),
    }


@pytest.mark.parametrize(
    "files, expected",
    [
        (
            {"bot/core/x.py": "def f():\n    from bot.service.worker import W\n"},
            "bot/core/x.py:2 -> bot.service.worker: layer 2 (bot.core.x) imports layer 7",
        ),
        (
            {
                "bot/config/x.py": "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from ..rules import load\n",
                "bot/rules/load.py": "",
            },
            "bot/config/x.py:3 -> bot.rules.load: layer 3 (bot.config.x) imports layer 4",
        ),
        (
            {"bot/logs.py": "import bot.model\n"},
            "bot/logs.py:1 -> bot.model: bot.logs is in no layer of the table",
        ),
    ],
)
def test_layering_catches_a_planted_violation(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert layer_violations(plant(tmp_path, files)) == [expected]


@pytest.mark.parametrize(
    "text, target",
    [
        ("import aiohttp\n", "aiohttp"),
        ("from urllib.parse import quote\n", "urllib.parse"),
        ("from bot.service.worker import W\n", "bot.service.worker"),
    ],
)
def test_core_purity_catches_a_planted_violation(tmp_path: Path, text: str, target: str) -> None:
    root = plant(tmp_path, {"bot/core/x.py": text})
    assert core_purity_violations(root) == [
        f"bot/core/x.py:1 -> {target}: the core must stay pure and synchronous"
    ]


def test_model_purity_catches_a_planted_violation(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "bot/model.py": "from bot.core.text import SourceText\n",
            "bot/errors.py": "def f():\n    import sqlite3\n",
        },
    )
    assert model_violations(root) == [
        "bot/errors.py:2 -> sqlite3: the model does no network or I/O",
        "bot/model.py:1 -> bot.core.text: "
        "the model may import only bot, bot.model, bot.levels and bot.errors",
    ]


def test_platform_libraries_catch_a_planted_violation(tmp_path: Path) -> None:
    root = plant(tmp_path, {"bot/service/x.py": "from github import Github\n"})
    assert platform_library_violations(root) == [
        "bot/service/x.py:1 -> github: only bot/platforms/ may use the platform libraries"
    ]


@pytest.mark.parametrize(
    "files, expected",
    [
        (
            {
                "bot/service/worker.py": "from bot.platforms import github\n",
                "bot/platforms/github/__init__.py": "",
            },
            "bot/service/worker.py:1 -> bot.platforms.github",
        ),
        (
            {
                "bot/platforms/github/client.py": "from bot.platforms.gerrit import events\n",
                "bot/platforms/gerrit/events.py": "",
            },
            "bot/platforms/github/client.py:1 -> bot.platforms.gerrit.events",
        ),
    ],
)
def test_concrete_platforms_catch_a_planted_violation(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert concrete_platform_violations(plant(tmp_path, files)) == [
        f"{expected}: only bot.service.main names a concrete platform"
    ]


def test_no_cycles_catches_a_planted_violation(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "bot/core/a.py": "from bot.core.b import B\n",
            "bot/core/b.py": "from . import c\n",
            "bot/core/c.py": "import bot.core.a\n",
        },
    )
    assert cycle_violations(root) == [
        "import cycle bot.core.a -> bot.core.b -> bot.core.c -> bot.core.a "
        "(bot/core/a.py:1 -> bot.core.b; bot/core/b.py:1 -> bot.core.c; "
        "bot/core/c.py:1 -> bot.core.a)"
    ]


def test_allowed_imports_are_not_reported(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "bot/__init__.py": '__version__ = "0"\n',
            "bot/model.py": "from bot import __version__\nfrom bot.errors import E\n",
            "bot/errors.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from bot.model import M\n",
            "bot/config/models.py": "from bot.core.analyze import FilterMode\n",
            "bot/core/analyze.py": "from bot.model import M\n",
            "bot/cli/main.py": "def serve():\n    from bot.service.main import serve\n",
            "bot/service/main.py": "from bot.platforms.stub import StubAdapter\n",
            "bot/platforms/stub.py": "from bot.platforms.base import Adapter\n",
            "bot/platforms/github/client.py": "import github\nfrom .render import r\n",
            "bot/platforms/github/render.py": "from bot.platforms.github import events\n",
            "bot/platforms/github/events.py": "",
            # A cycle that only a function-level import closes is not a cycle at import time.
            "bot/report/a.py": "from bot.report import b\n",
            "bot/report/b.py": "def f():\n    from bot.report import a\n",
        },
    )
    assert {name: check(root) for name, check in CHECKS.items()} == {n: [] for n in CHECKS}
