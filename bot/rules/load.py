"""Load and validate ast-grep rules in the CLI's own format, and compile them once.

ast-grep-py only matches. Everything else the CLI does with a rule file (severity,
message interpolation, fix templates, file globs, global utils, validation) is ours,
with the CLI's semantics. A bad rule is rejected at load with file, line, rule id and key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ast_grep_py import SgNode, SgRoot

from bot.config.yamlfile import LineDict, line_of, plain, read_documents
from bot.core.compiled import CompiledRule
from bot.core.copies import COPIES_IN_FILE
from bot.core.copies import MODES as COPIES_MODES
from bot.core.fix_template import FixSpec, drop_variables
from bot.core.globs import GlobSet
from bot.core.imports import REQUIRES_IMPORT, parse_import
from bot.core.rewrite import REWRITER_KEYS, Rewriter, Transforms, split_transforms
from bot.errors import YamlError
from bot.model import Severity

RULE_KEYS = frozenset(
    {
        "id",
        "language",
        "severity",
        "message",
        "note",
        "url",
        "metadata",
        "rule",
        "constraints",
        "utils",
        "transform",
        "fix",
        "files",
        "ignores",
        "rewriters",
    }
)
UTIL_KEYS = frozenset({"id", "language", "rule", "utils", "constraints"})
# ast-grep-py's utils are bare rules: a util file's constraints have nowhere to go.
UNSUPPORTED_UTIL_KEYS = {"constraints": "move the constraints into the rules that use this util"}
SGCONFIG_KEYS = frozenset(
    {
        "ruleDirs",
        "utilDirs",
        "testConfigs",
        "languageGlobs",
        "customLanguages",
        "languageInjections",
    }
)

# ast-grep replaces `$` in patterns with this character before parsing Python.
_EXPANDO = {"python": "µ"}
_METAVAR = re.compile(r"\$\$?\$?([A-Z_][A-Z0-9_]*)")


class RuleError(YamlError):
    """A rule that cannot be used. Names file, line, rule id and key."""

    def __init__(
        self, path: Path | str, line: int | None, rule_id: str | None, key: str, message: str
    ) -> None:
        rid = f"rule {rule_id!r}" if rule_id else "rule"
        super().__init__(path, line, f"{rid}, key '{key}': {message}")
        self.rule_id = rule_id
        self.key = key


@dataclass(frozen=True)
class ProjectConfig:
    """What `sgconfig.yml` says, with directories resolved."""

    root: Path
    rule_dirs: tuple[Path, ...]
    util_dirs: tuple[Path, ...]
    test_dirs: tuple[tuple[Path, Path], ...]  # (testDir, snapshotDir)


def read_sgconfig(path: Path) -> ProjectConfig:
    docs = read_documents(path)
    data = docs[0] if docs else LineDict()
    if not isinstance(data, dict):
        raise YamlError(path, 1, "expected a mapping at the top level")
    for key in data:
        if key not in SGCONFIG_KEYS:
            raise YamlError(path, line_of(data, [key]), f"unknown key '{key}'")
    root = path.parent

    def dirs(key: str) -> tuple[Path, ...]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise YamlError(path, line_of(data, [key]), f"'{key}' must be a list of paths")
        return tuple(root / v for v in value)

    tests = []
    for i, tc in enumerate(data.get("testConfigs") or []):
        if not isinstance(tc, dict) or "testDir" not in tc:
            raise YamlError(
                path, line_of(data, ["testConfigs", i]), "testConfigs entry needs testDir"
            )
        test_dir = root / tc["testDir"]
        # Like the CLI, snapshotDir is relative to the testDir.
        tests.append((test_dir, test_dir / tc.get("snapshotDir", "__snapshots__")))
    return ProjectConfig(root, dirs("ruleDirs"), dirs("utilDirs"), tuple(tests))


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise YamlError(directory, None, "rule directory does not exist")
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


# The names and aliases ast-grep-py 0.51 accepts as a rule's `language`, matched without
# case as ast-grep does. Checked before ast-grep-py sees a name: on an unknown one it
# panics, and the panic's Rust backtrace reaches stderr even when the exception is caught.
# tests/unit/test_rules.py proves that ast-grep-py parses with every one of them.
KNOWN_LANGUAGES = frozenset(
    {
        "bash", "c", "cc", "c++", "cpp", "cxx", "cs", "csharp", "css", "dart", "elixir",
        "ex", "go", "golang", "haskell", "hs", "hcl", "html", "java", "javascript", "js",
        "jsx", "json", "kotlin", "kt", "lua", "nix", "php", "py", "python", "rb", "ruby",
        "rs", "rust", "scala", "sol", "solidity", "swift", "ts", "tsx", "typescript",
        "yaml", "yml", "zig",
    }
)  # fmt: skip


def _language_ok(language: str) -> bool:
    return language.lower() in KNOWN_LANGUAGES


def canonical_language(language: str) -> str:
    lang = language.lower()
    return {"py": "python", "python3": "python"}.get(lang, lang)


def _walk_rule(rule: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a rule tree, relational and composite rules included,
    depth first. A stack, not recursive generators: each rule is walked several times at
    load, with every util merged in, and nested generators cost once per level per item."""
    stack: list[Any] = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in reversed(node.items()):
                stack.append(value)
                stack.append(_Pair(key, value))
        elif isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, _Pair):
            yield node.key, node.value


@dataclass(frozen=True, slots=True)
class _Pair:
    key: str
    value: Any


def _patterns(rule: Any) -> Iterator[str]:
    for key, value in _walk_rule(rule):
        if key == "pattern":
            if isinstance(value, str):
                yield value
            elif isinstance(value, dict) and isinstance(value.get("context"), str):
                yield value["context"]
        elif key == "expandStart" or key == "expandEnd":
            yield from _patterns(value)


def _pattern_node(root: SgNode) -> SgNode:
    """The node a pattern stands for, picked as ast-grep-core's `Pattern::single_matcher` does:
    descend while a node has one child (or two, the second zero-width: a MISSING node)."""
    node = root
    while True:
        kids = node.children()
        if len(kids) == 2 and kids[1].range().start.index == kids[1].range().end.index:
            kids = kids[:1]
        if len(kids) != 1:
            return node
        node = kids[0]


def _check_patterns(rule: Any, language: str, fail: Any) -> None:
    """Reject what the CLI rejects: a pattern whose own node is an ERROR.

    ast-grep-py would silently match nothing there. An ERROR elsewhere in the pattern
    tree is fine for the CLI (`@pytest.fixture(scope="session")` parses as a decorator
    under an ERROR and matches decorators), and a `context` pattern is never checked.
    """
    expando = _EXPANDO.get(language)
    if expando is None:
        return
    for key, pattern in _walk_rule(rule):
        if key == "pattern" and isinstance(pattern, str) and _is_error(pattern, language):
            fail("rule", f"pattern does not parse as {language}: {pattern!r}")


@functools.lru_cache(maxsize=4096)
def _is_error(pattern: str, language: str) -> bool:
    # Cached: the global utils are merged into, and checked with, every rule that loads.
    tree = SgRoot(pattern.replace("$", _EXPANDO[language]), language).root()
    return _pattern_node(tree).kind() == "ERROR"


def _captured(config: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for part in (config.get("rule"), config.get("utils")):
        for pattern in _patterns(part):
            names.update(m for m in _METAVAR.findall(pattern) if not m.startswith("_"))
    return names


def _check_config(config: dict[str, Any], language: str, fail: Any, key: str = "rule") -> None:
    def fail_here(_key: str, message: str) -> None:
        fail(key, message)

    _check_patterns(config["rule"], language, fail_here)
    for util in (config.get("utils") or {}).values():
        _check_patterns(util, language, fail_here)
    try:
        SgRoot("", language).root().find(config)  # ast-grep-py validates the rule body here
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        fail(key, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _parse_fix(raw: Any, known: set[str], key: str, fail: Any) -> FixSpec:
    try:
        fix = FixSpec.parse(plain(raw))
    except ValueError as exc:
        fail(key, str(exc))
        raise  # unreachable: fail() raises
    unknown = sorted(fix.variables() - known)
    if unknown:
        fail(
            key,
            "uses metavariables never captured by the rule (a global util's captures do not "
            "count, as in the ast-grep CLI): " + ", ".join(f"${v}" for v in unknown),
        )
    return fix


def _transforms(config: dict[str, Any], key: str, fail: Any) -> Transforms:
    """Keep in the ast-grep-py config only the transforms it computes correctly."""
    try:
        native, transforms = split_transforms(config.pop("transform", None) or {})
    except ValueError as exc:
        fail(key, str(exc))
        raise
    if native:
        config["transform"] = native
    return transforms


def _compile_rewriters(
    raw: Any,
    rule_config: dict[str, Any],
    language: str,
    rule_captured: set[str],
    global_utils: dict[tuple[str, str], GlobalUtil],
    fail: Any,
) -> dict[str, Rewriter]:
    """Rewriters share the rule's utils and may read its captures (ast-grep's semantics)."""
    if not isinstance(raw, list):
        fail("rewriters", "must be a list of rewriter rules")
    rewriters: dict[str, Rewriter] = {}
    for item in raw:
        rid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(rid, str):
            fail("rewriters", "each rewriter needs an id")
        for key in item:
            if key not in REWRITER_KEYS:
                fail("rewriters", f"rewriter {rid!r}: unknown key '{key}'")
        if "rule" not in item or "fix" not in item:
            fail("rewriters", f"rewriter {rid!r} needs `rule` and `fix`")
        config: dict[str, Any] = {"rule": plain(item["rule"])}
        utils = {**(rule_config.get("utils") or {}), **plain(item.get("utils") or {})}
        if utils:
            config["utils"] = utils
        for key in ("constraints", "transform"):
            if key in item:
                config[key] = plain(item[key])
        _merge_utils(config, global_utils, language)
        transforms = _transforms(config, "rewriters", fail)
        _check_config(config, language, fail, "rewriters")
        known = _captured(config) | rule_captured | set(transforms.names)
        fix = _parse_fix(item["fix"], known, "rewriters", fail)
        rewriters[rid] = Rewriter(rid, config, fix, transforms)
    return rewriters


def _referenced_utils(rule: Any) -> set[str]:
    return {v for k, v in _walk_rule(rule) if k == "matches" and isinstance(v, str)}


@dataclass(frozen=True)
class GlobalUtil:
    id: str
    language: str
    rule: dict[str, Any]
    source: Path
    # The util file's own `utils:`, which only its rule may reach.
    local: dict[str, Any] = field(default_factory=dict)


def load_utils(dirs: Iterable[Path]) -> dict[tuple[str, str], GlobalUtil]:
    utils: dict[tuple[str, str], GlobalUtil] = {}
    for directory in dirs:
        for path in _yaml_files(directory):
            for doc in read_documents(path):
                uid = doc.get("id") if isinstance(doc, dict) else None
                if not isinstance(doc, dict) or not isinstance(uid, str):
                    raise RuleError(path, getattr(doc, "line", 1), None, "id", "util needs an id")
                for key in doc:
                    if key not in UTIL_KEYS:
                        raise RuleError(path, line_of(doc, [key]), uid, key, "unknown key")
                    if key in UNSUPPORTED_UTIL_KEYS:
                        raise RuleError(
                            path,
                            line_of(doc, [key]),
                            uid,
                            key,
                            f"not supported in a util file: {UNSUPPORTED_UTIL_KEYS[key]}",
                        )
                if "rule" not in doc:
                    raise RuleError(path, getattr(doc, "line", 1), uid, "rule", "util needs a rule")
                local = doc.get("utils") or {}
                if not isinstance(local, dict):
                    raise RuleError(
                        path, line_of(doc, ["utils"]), uid, "utils", "must be a mapping"
                    )
                lang = canonical_language(str(doc.get("language", "")))
                utils[(lang, uid)] = GlobalUtil(uid, lang, plain(doc["rule"]), path, plain(local))
    return utils


def _merge_utils(
    config: dict[str, Any], global_utils: dict[tuple[str, str], GlobalUtil], language: str
) -> None:
    """ast-grep-py knows only local utils: copy in the global ones the rule reaches, with
    their own local utils, which share one namespace with the rule's here."""
    local = config.setdefault("utils", {})
    pending = _referenced_utils(config)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in local:
            pending |= _referenced_utils(local[name])
        elif (language, name) in global_utils:
            util = global_utils[(language, name)]
            local[name] = util.rule
            pending |= _referenced_utils(util.rule)
            for inner, body in util.local.items():
                if local.setdefault(inner, body) != body:
                    raise RuleError(
                        util.source,
                        None,
                        util.id,
                        f"utils.{inner}",
                        "this local util's name is also used, for another rule, by the rule "
                        "or another util it reaches: rename one of them",
                    )
                pending.add(inner)
    if not local:
        del config["utils"]


def compile_rule(
    doc: Any,
    path: Path,
    pack: str,
    global_utils: dict[tuple[str, str], GlobalUtil],
) -> CompiledRule:
    rule_id = doc.get("id") if isinstance(doc, dict) else None

    def fail(key: str, message: str) -> None:
        line = line_of(doc, [key]) if isinstance(doc, dict) else None
        raise RuleError(path, line, rule_id if isinstance(rule_id, str) else None, key, message)

    if not isinstance(doc, dict):
        raise RuleError(path, None, None, "id", "a rule must be a YAML mapping")
    for key in doc:
        if key not in RULE_KEYS:
            fail(str(key), "unknown key")
    for key in ("id", "language", "rule"):
        if key not in doc:
            fail(key, "missing required key")
    if not isinstance(rule_id, str) or not rule_id:
        fail("id", "must be a non-empty string")
    language = canonical_language(str(doc["language"]))
    if not _language_ok(language):
        fail("language", f"unknown language {doc['language']!r}")
    try:
        severity = Severity.parse(str(doc.get("severity", "hint")))
    except ValueError as exc:
        fail("severity", str(exc))
    for key in ("message", "note", "url"):
        if key in doc and not isinstance(doc[key], str):
            fail(key, "must be a string")
    if not isinstance(doc.get("metadata", {}), dict):
        fail("metadata", "must be a mapping")
    copies = (doc.get("metadata") or {}).get(COPIES_IN_FILE)
    if copies is not None and copies not in COPIES_MODES:
        fail("metadata", f"{COPIES_IN_FILE}: must be one of {', '.join(COPIES_MODES)}")
    statement = (doc.get("metadata") or {}).get(REQUIRES_IMPORT)
    if statement is not None:
        try:
            parse_import(str(statement))
        except ValueError as exc:
            fail("metadata", f"{REQUIRES_IMPORT}: {exc}")

    config: dict[str, Any] = {"rule": plain(doc["rule"])}
    for key in ("constraints", "utils", "transform"):
        if key in doc:
            if not isinstance(doc[key], dict):
                fail(key, "must be a mapping")
            config[key] = plain(doc[key])
    # The CLI gives a rule none of the metavariables that only a global util captures.
    captured = _captured(config)
    _merge_utils(config, global_utils, language)
    transforms = _transforms(config, "transform", fail)
    _check_config(config, language, fail)
    message = drop_variables(
        doc.get("message", ""), frozenset(_captured(config) - captured - set(transforms.names))
    )
    rewriters = (
        _compile_rewriters(doc["rewriters"], config, language, captured, global_utils, fail)
        if "rewriters" in doc
        else {}
    )
    for spec in transforms.rewrites.values():
        missing = [r for r in spec.rewriters if r not in rewriters]
        if missing:
            fail("transform", f"unknown rewriter(s): {', '.join(missing)}")
    for rewriter in rewriters.values():
        for spec in rewriter.transforms.rewrites.values():
            if any(r not in rewriters for r in spec.rewriters):
                fail("rewriters", f"rewriter {rewriter.id!r} names an unknown rewriter")
    fix = (
        _parse_fix(doc["fix"], captured | set(transforms.names), "fix", fail)
        if "fix" in doc
        else None
    )

    globs: dict[str, GlobSet] = {}
    for key in ("files", "ignores"):
        value = doc.get(key) or []
        if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
            fail(key, "must be a list of glob strings")
        try:
            globs[key] = GlobSet(value)
        except ValueError as exc:
            fail(key, str(exc))

    return CompiledRule(
        id=rule_id,
        language=language,
        severity=severity,
        message=message,
        note=doc.get("note"),
        url=doc.get("url"),
        metadata=plain(doc.get("metadata") or {}),
        config=config,
        fix=fix,
        files=globs["files"],
        ignores=globs["ignores"],
        pack=pack,
        source=str(path),
        transforms=transforms,
        rewriters=rewriters,
        captured=frozenset(captured),
    )


def load_rule_dirs(
    dirs: Sequence[Path], global_utils: dict[tuple[str, str], GlobalUtil]
) -> list[CompiledRule]:
    rules: list[CompiledRule] = []
    seen: dict[str, str] = {}
    for directory in dirs:
        for path in _yaml_files(directory):
            for doc in read_documents(path):
                rule = compile_rule(doc, path, directory.name, global_utils)
                if rule.id in seen:
                    raise RuleError(
                        path,
                        line_of(doc, ["id"]),
                        rule.id,
                        "id",
                        f"duplicate rule id (also in {seen[rule.id]})",
                    )
                seen[rule.id] = str(path)
                rules.append(rule)
    return rules


def load_project(sgconfig: Path, extra_dirs: Sequence[Path] = ()) -> list[CompiledRule]:
    """Every rule an `ast-grep scan` with this sgconfig.yml would run, plus extra dirs."""
    project = read_sgconfig(sgconfig)
    utils = load_utils(project.util_dirs)
    return load_rule_dirs([*project.rule_dirs, *extra_dirs], utils)
