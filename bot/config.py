"""The team-wide configuration: pydantic models, loading, and errors that name file, line, key.

One file drives the CLI, the webhook service and manual re-checks. Every key is
documented in config.example.yaml; unknown keys are errors, not silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.analyze import FilterMode
from bot.globs import compile_glob
from bot.model import Severity
from bot.yamlfile import LineDict, YamlError, line_of, read_documents

DEFAULT_TEST_GLOBS = ("**/test_*.py", "**/*_test.py", "**/tests/**/*.py", "**/conftest.py")
SeverityName = Literal["off", "hint", "info", "warning", "error"]
# The sgconfig.yml that ships beside the package: the embedded default rule packs.
BUNDLED_SGCONFIG = Path(__file__).resolve().parent.parent / "sgconfig.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RulesConfig(_Strict):
    sgconfig: Path | None = Field(
        default=None,
        description="ast-grep project file whose ruleDirs/utilDirs hold the rules. "
        "Default: sgconfig.yml in the current directory, else the bundled one.",
    )
    packs: list[str] | None = Field(
        default=None, description="Rule directories (by name) to run; default: all of them."
    )
    extra_dirs: list[Path] = Field(default_factory=list, description="More rule directories.")
    severity: dict[str, SeverityName] = Field(
        default_factory=dict, description="Per-rule severity overrides; 'off' disables."
    )


class TestFilesConfig(_Strict):
    globs: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_GLOBS))

    @field_validator("globs")
    @classmethod
    def _compiles(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            compile_glob(glob)
        return globs


class ReviewConfig(_Strict):
    min_severity: SeverityName = "warning"
    filter_mode: FilterMode = FilterMode.added


class LimitsConfig(_Strict):
    max_file_bytes: Annotated[int, Field(gt=0)] = 2_000_000
    max_files: Annotated[int, Field(gt=0)] = 3000


class Config(_Strict):
    rules: RulesConfig = Field(default_factory=RulesConfig)
    test_files: TestFilesConfig = Field(default_factory=TestFilesConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    @property
    def min_severity(self) -> Severity:
        return Severity.parse(self.review.min_severity)


class ConfigError(YamlError):
    pass


def _format_errors(exc: ValidationError, data: object, path: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")]
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}: {key}: {msg}")
    return "\n".join(lines)


def load_config(path: Path | None) -> Config:
    """The config at ``path``, or the embedded defaults when None."""
    if path is None:
        return Config()
    docs = read_documents(path)
    data = docs[0] if docs else LineDict()
    if len(docs) > 1:
        raise ConfigError(path, None, "expected one YAML document")
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "expected a mapping at the top level")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        err = ConfigError(path, None, "invalid configuration")
        err.args = (_format_errors(exc, data, path),)
        raise err from None
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: Config, base: Path) -> Config:
    rules = config.rules
    resolved = rules.model_copy(
        update={
            "sgconfig": base / rules.sgconfig if rules.sgconfig else None,
            "extra_dirs": [base / d for d in rules.extra_dirs],
        }
    )
    return config.model_copy(update={"rules": resolved})


def find_sgconfig(config: Config, cwd: Path) -> Path:
    if config.rules.sgconfig is not None:
        return config.rules.sgconfig
    local = cwd / "sgconfig.yml"
    return local if local.is_file() else BUNDLED_SGCONFIG
