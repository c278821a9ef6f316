"""`review-bot rules test`: the ast-grep CLI's rule tests, run through our own engine.

Test files are ast-grep's: `id`, `valid: [code]`, `invalid: [code]`. Snapshots
(`<snapshotDir>/<id>-snapshot.yml`) record for each invalid case the primary label
(first match, byte offsets) and `fixed:`, the case with the first match's fix
applied, which is what `ast-grep test` compares too.

A test file may also hold cases under ``review-bot:`` (``valid``/``invalid``), which the
CLI ignores: they need review-bot's rule extensions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.config.yamlfile import line_of, read_documents
from bot.core.analyze import Analyzer
from bot.core.compiled import LANGUAGE_EXTENSIONS, CompiledRule
from bot.core.globs import GlobSet
from bot.core.text import apply_edits
from bot.errors import YamlError
from bot.model import ChangedFile, FileStatus, FilterMode, Finding, Severity, SourceFile
from bot.rules.load import ProjectConfig

REVIEW_BOT_KEY = "review-bot"


@dataclass
class RuleTestResult:
    rule_id: str
    source: str
    failures: list[str] = field(default_factory=list)
    cases: int = 0


def _apply(text: str, finding: Finding) -> str:
    # The first edit is the rule's own `fix`, which is what the CLI's snapshot holds;
    # later edits (an import review-bot adds) are ours and tested on their own.
    assert finding.fix is not None
    return apply_edits(text, [e.edit for e in finding.fix.edits[:1]])


def _run_case(analyzer: Analyzer, rule: CompiledRule, code: str) -> list[Finding]:
    extension = LANGUAGE_EXTENSIONS.get(rule.language, (f".{rule.language}",))[0]
    path = f"rule-test-case{extension}"
    change = ChangedFile(path, FileStatus.added, whole_file=True)
    return analyzer.analyze(SourceFile(change, code), FilterMode.nofilter)


def _snapshots(snapshot_dirs: Sequence[Path], rule_id: str) -> dict[str, dict[str, object]]:
    for directory in snapshot_dirs:
        path = directory / f"{rule_id}-snapshot.yml"
        if path.is_file():
            docs = read_documents(path)
            return dict(docs[0].get("snapshots") or {}) if docs else {}
    return {}


def _check_snapshot(rule: CompiledRule, code: str, first: Finding, snap: dict[str, object]) -> str:
    labels = snap.get("labels") or []
    primary = next(
        (lb for lb in labels if isinstance(lb, dict) and lb.get("style") == "primary"), None
    )
    if primary is not None:
        start = len(code[: first.span.start.offset].encode())
        end = len(code[: first.span.end.offset].encode())
        if (primary.get("start"), primary.get("end")) != (start, end):
            return (
                f"matched bytes {start}..{end}, snapshot says "
                f"{primary.get('start')}..{primary.get('end')}"
            )
    # The CLI records a fix whose rewriters all declined as the unchanged code; our
    # engine drops such a no-op, so both mean "no fix".
    if "fixed" in snap and snap["fixed"] != code:
        if first.fix is None:
            return "snapshot has `fixed:` but our engine produced no fix"
        ours = _apply(code, first)
        if ours != snap["fixed"]:
            return f"fixed output differs:\n--- snapshot\n{snap['fixed']}\n--- ours\n{ours}"
    return ""


def test_files(project: ProjectConfig) -> Iterator[Path]:
    for test_dir, _snap in project.test_dirs:
        if test_dir.is_dir():
            yield from sorted(
                p for p in test_dir.rglob("*.y*ml") if p.is_file() and _snap not in p.parents
            )


def _review_bot_cases(doc: dict[str, Any], path: Path) -> dict[str, list[str]]:
    """The cases under ``review-bot:``, a key the CLI ignores: they need review-bot's rule
    extensions (``copies-in-file``), so only review-bot runs them."""
    extra = doc.get(REVIEW_BOT_KEY)
    if extra is None:
        return {}
    line = line_of(doc, [REVIEW_BOT_KEY])
    if not isinstance(extra, dict):
        raise YamlError(path, line, f"'{REVIEW_BOT_KEY}' must be a mapping of valid/invalid cases")
    for key, cases in extra.items():
        if key not in ("valid", "invalid"):
            raise YamlError(path, line_of(doc, [REVIEW_BOT_KEY, key]), f"unknown key '{key}'")
        if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
            raise YamlError(
                path, line_of(doc, [REVIEW_BOT_KEY, key]), f"'{key}' must be a list of code"
            )
    return extra


def run_rule_tests(
    project: ProjectConfig, rules: Sequence[CompiledRule], only: str | None = None
) -> list[RuleTestResult]:
    by_id = {r.id: r for r in rules}
    snapshot_dirs = [snap for _test, snap in project.test_dirs]
    results: list[RuleTestResult] = []
    for path in test_files(project):
        for doc in read_documents(path):
            rule_id = doc.get("id") if isinstance(doc, dict) else None
            if not isinstance(rule_id, str):
                raise YamlError(path, getattr(doc, "line", None), "a rule test needs an `id`")
            if only and only not in rule_id:
                continue
            result = RuleTestResult(rule_id, str(path))
            results.append(result)
            rule = by_id.get(rule_id)
            if rule is None:
                result.failures.append(f"no rule with id {rule_id!r}")
                continue
            if rule.severity is Severity.off:
                continue  # as `ast-grep test` does without --include-off
            # The CLI's rule tests ignore `files`/`ignores`: a case has no real path.
            analyzer = Analyzer([replace(rule, files=GlobSet(()), ignores=GlobSet(()))])
            snaps = _snapshots(snapshot_dirs, rule_id)
            ours = _review_bot_cases(doc, path)
            for code in [*(doc.get("valid") or []), *ours.get("valid", [])]:
                result.cases += 1
                if _run_case(analyzer, rule, code):
                    result.failures.append(f"valid case was flagged:\n{code}")
            for code in [*(doc.get("invalid") or []), *ours.get("invalid", [])]:
                result.cases += 1
                found = _run_case(analyzer, rule, code)
                if not found:
                    result.failures.append(f"invalid case was not flagged:\n{code}")
                elif code in snaps:
                    problem = _check_snapshot(rule, code, found[0], snaps[code])
                    if problem:
                        result.failures.append(f"{problem}\nin case:\n{code}")
    return results
