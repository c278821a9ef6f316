"""A repository's own ``.review-bot.yaml``: the few review settings a project may tune.

The platforms read it from the change's *base* revision, never from its head: a change
must not be able to switch off the rules that review it. It may set per-rule severities,
the threshold, the filter mode and the test-file globs; platform, server and storage
keys stay the team's. A broken file never stops a review: the team config applies and
the error, naming file, line and key, goes into the review's summary.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from bot.config.models import (
    Config,
    SeverityName,
    TestFilesConfig,
    _format_errors,
    _overlay,
    _Strict,
)
from bot.config.yamlfile import LineDict, load_documents
from bot.errors import YamlError
from bot.model import FilterMode

REPO_CONFIG_PATH = ".review-bot.yaml"


class RepoRules(_Strict):
    severity: dict[str, SeverityName] = Field(default_factory=dict)


class RepoReview(_Strict):
    min_severity: SeverityName = "warning"
    filter_mode: FilterMode = FilterMode.added


class RepoConfig(_Strict):
    rules: RepoRules | None = None
    review: RepoReview | None = None
    test_files: TestFilesConfig | None = None


def parse_repo_config(data: bytes, name: str = REPO_CONFIG_PATH) -> RepoConfig:
    """The file's settings; raises YamlError (file, line, key) for anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(name, None, f"not valid UTF-8 (byte {exc.start})") from None
    docs = load_documents(text, name)
    if len(docs) > 1:
        raise YamlError(name, None, "expected one YAML document")
    doc = docs[0] if docs and docs[0] is not None else LineDict()
    if not isinstance(doc, dict):
        raise YamlError(name, 1, "expected a mapping at the top level")
    try:
        return RepoConfig.model_validate(doc)
    except ValidationError as exc:
        err = YamlError(name, None, "invalid")
        err.args = (_format_errors(exc, doc, Path(name)),)
        raise err from None


def with_repo_config(config: Config, data: bytes | None) -> tuple[Config, str | None]:
    """``config`` with the repository's file applied, and the file's error if it has one
    (then ``config`` is returned unchanged)."""
    if data is None:
        return config, None
    try:
        repo = parse_repo_config(data)
    except YamlError as exc:
        return config, str(exc)
    # Only the keys the file sets override; rules.severity merges into the team's map.
    update = {
        "rules": _overlay(config.rules, repo.rules),
        "review": _overlay(config.review, repo.review),
        "test_files": _overlay(config.test_files, repo.test_files),
    }
    return config.model_copy(update=update), None
