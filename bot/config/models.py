"""The team-wide configuration: pydantic models, loading, and errors that name file, line, key.

One file drives the CLI, the webhook service and manual re-checks. Every key is
documented in config.example.yaml; unknown keys are errors, not silently ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config.secrets import ENV_REFERENCE, Secret, SecretFileValue, SecretValue
from bot.config.yamlfile import LineDict, line_of, read_documents
from bot.core.globs import GlobSet, compile_glob
from bot.core.options import DEFAULT_TEST_GLOBS, MIB, AnalysisLimits, CheckOptions
from bot.errors import YamlError
from bot.model import FilterMode, Severity

SeverityName = Literal["off", "hint", "info", "warning", "error"]
AuthorAssociation = Literal[
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
]
# The sgconfig.yml that ships beside the package: the embedded default rule packs.
POSTGRES_SCHEMES = ("postgresql", "postgres")
BUNDLED_SGCONFIG = Path(__file__).resolve().parents[2] / "sgconfig.yml"


class _Strict(BaseModel):
    # hide_input_in_errors: a ValidationError's text never carries an input value (which
    # could be, or contain, a secret).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _base_dir(info: ValidationInfo) -> Path | None:
    """The config file's directory, which relative paths are relative to (load_config)."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    return Path(base) if base is not None else None


def _relative_to_file(path: Path | None, info: ValidationInfo) -> Path | None:
    base = _base_dir(info)
    return base / path if path is not None and base is not None else path


# A Python name as it appears in a class statement's bases: `TestCase`, `base.BaseTestCase`.
DottedName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")]


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
    cleanup_bases: list[DottedName] | None = Field(
        default=None,
        description="Base classes, as the test files write them, that register cleanups "
        "(mock.patch.stopall and the like). Default: any base defined outside the file "
        "is assumed to. Naming them makes the cleanup rules check classes on other bases; "
        "[] says no base of the project cleans up. An entry also matches a longer dotted "
        "name ending in it.",
    )
    uses_uuidsentinel: bool | None = Field(
        default=None,
        description="Whether the project names its test ids with oslo's uuidsentinel. "
        "Default: decided per file (it imports uuidsentinel, or it is Nova code).",
    )

    @field_validator("sgconfig")
    @classmethod
    def _sgconfig_relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        path = _relative_to_file(value, info)
        # Checked here, so that the error names the key and its line, not only the path.
        if path is not None and not path.is_file():
            raise ValueError(
                f"{path}: no such file (relative paths are from the config's directory)"
            )
        return path

    @field_validator("extra_dirs")
    @classmethod
    def _dirs_relative(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        base = _base_dir(info)
        dirs = [base / d for d in value] if base is not None else value
        missing = [str(d) for d in dirs if not d.is_dir()]
        if missing:
            raise ValueError(f"no such directory: {', '.join(missing)}")
        return dirs


class TestFilesConfig(_Strict):
    globs: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_GLOBS))

    @field_validator("globs")
    @classmethod
    def _compiles(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            compile_glob(glob)
        return globs


# Where the bundled rules' pages (docs/rules/ID.md) are published.
DEFAULT_DOCS_URL = "https://github.com/review-bot/review-bot/blob/main/docs/rules/"


class ReviewConfig(_Strict):
    min_severity: SeverityName = "warning"
    filter_mode: FilterMode = FilterMode.added
    # Post only what the change introduced: a finding the base side of the change already
    # has (moved, re-indented or renamed code) is dropped. Needs the base contents.
    new_findings_only: bool = True
    # Follow the file's practice: a finding on an added line is not posted when its rule
    # already matches at least this many unchanged lines of the same file. 0 turns it off.
    idiom_threshold: Annotated[int, Field(ge=0)] = 2
    # A finding at or above this severity fails the platform's check (GitHub's check run
    # concludes "failure"); "off" never fails it.
    fail_on: SeverityName = "off"
    # The base URL the rule pages (docs/rules/ID.md) are published at: a rule whose url
    # is such a repository path is linked as docs_url + ID.md in every format and
    # platform; null: not linked. A rule's absolute url is always its own.
    docs_url: str | None = DEFAULT_DOCS_URL

    @model_validator(mode="before")
    @classmethod
    def _deprecated_rule_docs_url(cls, data: Any) -> Any:
        """``rule_docs_url`` (deprecated) named the repository's base, with the pages under
        its docs/rules/: it is read as that docs_url, so its links stay the same."""
        if not isinstance(data, dict) or "rule_docs_url" not in data:
            return data
        if "docs_url" in data:
            raise ValueError(
                "rule_docs_url is deprecated and replaced by review.docs_url: give only "
                "docs_url (the base of the rule pages, e.g. https://HOST/docs/rules/)"
            )
        data = dict(data)
        old = data.pop("rule_docs_url")
        if old is not None:
            old = _http_url(str(old), "rule_docs_url") + "/docs/rules/"
        data["docs_url"] = old
        return data

    @field_validator("docs_url")
    @classmethod
    def _docs_url(cls, url: str | None) -> str | None:
        return None if url is None else _http_url(url, "docs_url") + "/"


PositiveInt = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0)]


class LimitsConfig(_Strict):
    max_file_bytes: Annotated[int, Field(gt=0)] = 2_000_000
    max_files: Annotated[int, Field(gt=0)] = 3000
    # Enforced in the analysis processes (core/engine.py): a file over a limit is not
    # reviewed and is named in the summary; the rest of the review goes on.
    analysis_seconds_per_file: Seconds = 60
    analysis_seconds_per_job: Seconds = 300
    # Address space per analysis process (RLIMIT_AS), not resident memory.
    analysis_memory_mb: Annotated[int, Field(ge=256)] = 2048

    def analysis(self) -> AnalysisLimits:
        return AnalysisLimits(
            self.analysis_seconds_per_file, self.analysis_seconds_per_job, self.analysis_memory_mb
        )


class ServerConfig(_Strict):
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Annotated[int, Field(ge=0, le=65535)] = 8080  # 0: any free port (tests)
    # GitHub caps webhook payloads at 25 MiB; bigger bodies are refused with 413.
    max_body_bytes: PositiveInt = 25 * MIB
    # How long a delivery id is remembered, to drop redelivered webhooks.
    delivery_ttl_seconds: PositiveInt = 7 * 24 * 3600
    shutdown_grace_seconds: Annotated[float, Field(ge=0)] = 30


def _cpu_count() -> int:
    return os.cpu_count() or 1


class WorkersConfig(_Strict):
    analysis_processes: PositiveInt = Field(default_factory=_cpu_count)
    platform_concurrency: PositiveInt = 4
    lease_seconds: PositiveInt = 300
    max_attempts: PositiveInt = 5
    backoff_base_seconds: Seconds = 2
    backoff_cap_seconds: Seconds = 300

    @model_validator(mode="after")
    def _cap_above_base(self) -> WorkersConfig:
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_cap_seconds must be >= backoff_base_seconds")
        return self


class _WithSecrets(_Strict):
    """A model with secret keys NAME and NAME_file: at most one of them is set.

    After validation NAME holds the secret whichever key gave it, so code reads one
    attribute: ``github.token.get_secret_value()``.
    """

    _secrets: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _one_source(self) -> _WithSecrets:
        for name in self._secrets:
            given = getattr(self, name)
            from_file = getattr(self, f"{name}_file")
            if given is not None and from_file is not None:
                raise ValueError(f"set {name} or {name}_file, not both")
            if from_file is not None:
                object.__setattr__(self, name, from_file)
        return self


class ReconcileConfig(_Strict):
    """The leader's periodic sweep for changes whose events were lost (a webhook answered
    503 while the store was down is never redelivered by GitHub)."""

    enabled: bool = True
    interval_seconds: Annotated[float, Field(ge=10)] = 600.0
    # How far back a sweep looks at most (the first one looks one interval back).
    max_lookback_seconds: Annotated[float, Field(gt=0)] = 86400.0
    # The pause between two of a sweep's listing calls (one per repository or query), so
    # a sweep of many repositories stays far under the platforms' rate limits.
    pause_seconds: Annotated[float, Field(ge=0)] = 1.0


class StorageConfig(_WithSecrets):
    """Where jobs live: one SQLite file (one process) or PostgreSQL (any number of replicas)."""

    _secrets: ClassVar[tuple[str, ...]] = ("password",)

    url: str = "sqlite:///review-bot.db"
    # "process": a committed event survives a crashed or killed process (SQLite WAL,
    # synchronous=NORMAL). "power": also survives power loss, at an fsync per commit.
    # SQLite only: PostgreSQL's durability is the server's (synchronous_commit).
    durability: Literal["process", "power"] = "process"
    # PostgreSQL: the password of the URL's user, never in the URL itself.
    password: SecretValue | None = None
    password_file: SecretFileValue | None = None
    # PostgreSQL: connections each replica keeps at most (webhooks, workers, the listener).
    pool_size: Annotated[int, Field(ge=2, le=100)] = 10

    @field_validator("url", mode="before")
    @classmethod
    def _from_environment(cls, url: object, info: ValidationInfo) -> object:
        # The URL is no secret (it never holds the password), but deployments keep it in
        # one (a Kubernetes Secret as a variable): `url: ${REVIEW_BOT_DB_URL}`.
        if isinstance(url, str) and (ref := ENV_REFERENCE.fullmatch(url.strip())):
            value = os.environ.get(ref.group(1), "").strip()
            if value:
                return value
            context = info.context if isinstance(info.context, dict) else {}
            if context.get("resolve_secrets", True):
                raise ValueError(f"environment variable {ref.group(1)} is not set or empty")
        return url  # unset, for a command that reads no store: open_store says so if it does

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url.startswith("sqlite:///") and url != "sqlite:///":
            return url
        if ENV_REFERENCE.fullmatch(url.strip()):
            return url  # see _from_environment
        parts = urlsplit(url)
        if parts.scheme in POSTGRES_SCHEMES:
            if not parts.hostname or not parts.path.strip("/"):
                raise ValueError(
                    "a PostgreSQL storage.url names a host and a database: "
                    "postgresql://USER@HOST:PORT/DATABASE"
                )
            if parts.password is not None:
                raise ValueError(
                    "storage.url must not carry the password: "
                    "use storage.password (${ENV_VAR}) or storage.password_file"
                )
            return url
        raise ValueError(
            "storage.url must be sqlite:///PATH (one process) or "
            "postgresql://USER@HOST:PORT/DATABASE (replicas), "
            "e.g. sqlite:///review-bot.db or sqlite:////var/lib/review-bot/db.sqlite"
        )

    @model_validator(mode="after")
    def _password_for_postgres(self) -> StorageConfig:
        if self.password is not None and not self.is_postgres and not self.url_unresolved:
            raise ValueError("password is for a postgresql:// storage.url")
        return self

    @property
    def url_unresolved(self) -> bool:
        """The URL is still its ``${VAR}`` (loaded without secrets, the variable unset)."""
        return ENV_REFERENCE.fullmatch(self.url.strip()) is not None

    @property
    def is_postgres(self) -> bool:
        return urlsplit(self.url).scheme in POSTGRES_SCHEMES

    @property
    def sqlite_path(self) -> str:
        """The database file (``:memory:`` allowed); relative to the working directory."""
        return self.url.removeprefix("sqlite:///")


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]


def _http_url(url: str, key: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{key} must be an http(s):// URL")
    return url.rstrip("/")


class GitHubConfig(_WithSecrets):
    _secrets: ClassVar[tuple[str, ...]] = ("private_key", "token", "webhook_secret")

    enabled: bool = False
    # https://api.github.com, or GitHub Enterprise Server's https://HOST/api/v3.
    api_url: str = "https://api.github.com"
    app_id: PositiveInt | None = None
    private_key: SecretValue | None = None
    private_key_file: SecretFileValue | None = None
    token: SecretValue | None = None
    token_file: SecretFileValue | None = None
    webhook_secret: SecretValue | None = None
    webhook_secret_file: SecretFileValue | None = None
    dry_run: bool = False
    review_drafts: bool = False
    # A comment matching this (re.search, multi-line) asks for a forced re-check.
    recheck_command: Regex = r"(?m)^\s*/recheck\s*$"
    # author_association values allowed to re-check; the PR's author always may.
    recheck_allowed: list[AuthorAssociation] = Field(
        default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"]
    )
    max_inline: Annotated[int, Field(ge=0)] = 30
    review_event: Literal["COMMENT", "REQUEST_CHANGES"] = "COMMENT"
    # The bot's own login with token auth, so its comments never trigger it (an App's
    # comments come from a user of type Bot, which is always ignored).
    bot_login: str | None = None
    # The repositories the reconciler sweeps with token auth ("owner/name"); an App
    # sweeps the repositories of each of its installations instead.
    repos: list[Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$")]] = Field(default_factory=list)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, url: str) -> str:
        return _http_url(url, "api_url")

    @field_validator("private_key", "private_key_file")
    @classmethod
    def _pem(cls, key: Secret | None) -> Secret | None:
        # Found at load time, not on the first webhook: the App signs every token request.
        if key is not None and key.resolved:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            try:
                load_pem_private_key(key.get_secret_value().encode(), password=None)
            except (ValueError, TypeError):
                raise ValueError(
                    "not an unencrypted PEM private key (the App's .pem file from GitHub)"
                ) from None
        return key

    @model_validator(mode="after")
    def _usable_when_enabled(self) -> GitHubConfig:
        if (self.app_id is None) != (self.private_key is None):
            raise ValueError("app_id and private_key (or private_key_file) go together")
        if self.enabled:
            if self.webhook_secret is None:
                raise ValueError("enabled needs webhook_secret (or webhook_secret_file)")
            if self.app_id is None and self.token is None:
                raise ValueError("enabled needs app_id with private_key(_file), or token(_file)")
        return self


class GerritSshConfig(_Strict):
    """``gerrit stream-events`` over SSH: how bots follow servers without the webhooks plugin."""

    host: str = Field(min_length=1)
    port: Annotated[int, Field(gt=0, le=65535)] = 29418
    username: str = Field(min_length=1)
    key_file: Path
    # Host keys the bot trusts (OpenSSH format); an unknown host is never accepted.
    known_hosts_file: Path
    keepalive_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Reconnects wait backoff_initial * 2**n seconds, up to backoff_max: half of it
    # fixed, half random (jitter), so replicas do not reconnect in step.
    backoff_initial_seconds: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 60.0

    @field_validator("key_file", "known_hosts_file")
    @classmethod
    def _relative(cls, value: Path, info: ValidationInfo) -> Path:
        return _relative_to_file(value, info) or value


GerritNotify = Literal["NONE", "OWNER", "OWNER_REVIEWERS", "ALL"]
PatchSetKind = Literal[
    "REWORK",
    "TRIVIAL_REBASE",
    "TRIVIAL_REBASE_WITH_MESSAGE_UPDATE",
    "MERGE_FIRST_PARENT_UPDATE",
    "NO_CODE_CHANGE",
    "NO_CHANGE",
]


class GerritVote(_Strict):
    """An optional label vote: ``value`` when the review's worst new finding is at least
    ``severity`` (the first matching entry wins), else ``otherwise``."""

    label: str = Field(min_length=1)
    severity: SeverityName
    value: int
    otherwise: int | None = None


class GerritConfig(_WithSecrets):
    _secrets: ClassVar[tuple[str, ...]] = ("password", "token", "webhook_token")

    enabled: bool = False
    url: str | None = None
    # HTTP credentials (Settings > HTTP Credentials), Basic auth under /a/ ...
    username: str | None = None
    password: SecretValue | None = None
    password_file: SecretFileValue | None = None
    # ... or a bearer token (OAuth, or 3.13+ auth tokens).
    token: SecretValue | None = None
    token_file: SecretFileValue | None = None
    # TLS: verified by default; a CA bundle for a private CA.
    ca_bundle: Path | None = None
    # The webhooks plugin cannot sign: the token is the last segment of its URL.
    webhook_token: SecretValue | None = None
    webhook_token_file: SecretFileValue | None = None
    # Source networks the webhooks plugin may post from (CIDR); empty: any.
    webhook_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    ssh: GerritSshConfig | None = None
    # Projects to review (globs, ``*`` crosses ``/``): stream-events and the catch-up see
    # every project on the server, so on a shared server name yours.
    projects: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    dry_run: bool = False
    # The bot's own account: its events never trigger it. Defaults to ``username``.
    bot_account: str | None = None
    skip_kinds: list[PatchSetKind] = Field(
        default_factory=lambda: ["TRIVIAL_REBASE", "NO_CODE_CHANGE", "NO_CHANGE"]
    )
    # Matched (re.search) on the cover message after its "Patch Set N:" header.
    recheck_command: Regex = r"(?im)^\s*recheck\s+review-bot\s*$"
    # OpenDev's rule for third-party CI: a plain "recheck" re-triggers every system.
    recheck_plain: bool = True
    notify: GerritNotify = "OWNER"
    ignore_attention_set: bool = True
    votes: list[GerritVote] = Field(default_factory=list)
    # Gerrit 3.10+ stores fixes on comments behind a server experiment; auto probes.
    fix_suggestions: Literal["auto", "on", "off"] = "auto"
    # Patch sets of changes updated in this window are caught up after a reconnect.
    catch_up_max_seconds: Annotated[float, Field(gt=0)] = 86400.0

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        return None if url is None else _http_url(url, "url")

    @field_validator("projects")
    @classmethod
    def _globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            compile_glob(glob)
        return globs

    @field_validator("ca_bundle")
    @classmethod
    def _ca_relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _relative_to_file(value, info)

    @property
    def account(self) -> str | None:
        return self.bot_account or self.username or (self.ssh.username if self.ssh else None)

    @model_validator(mode="after")
    def _usable_when_enabled(self) -> GerritConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password (or password_file) go together")
        if self.password is not None and self.token is not None:
            raise ValueError("set password or token, not both")
        if self.enabled:
            if self.url is None:
                raise ValueError("enabled needs url")
            if self.webhook_token is None and self.ssh is None:
                raise ValueError(
                    "enabled needs a way in: webhook_token(_file) for the webhooks plugin, "
                    "or ssh for stream-events"
                )
        return self


STUB_TOKEN_ENV = "REVIEW_BOT_STUB_TOKEN"


class StubPlatformConfig(_WithSecrets):
    """The in-process test adapter: records what would be posted.

    Its webhooks carry ``token`` in ``X-Stub-Token``. Without ``token`` or ``token_file``
    the environment variable REVIEW_BOT_STUB_TOKEN gives it; an enabled stub with none of
    the three is refused, as an open webhook would be.
    """

    _secrets: ClassVar[tuple[str, ...]] = ("token",)

    enabled: bool = False
    token: SecretValue | None = None
    token_file: SecretFileValue | None = None
    dry_run: bool = False

    @model_validator(mode="after")
    def _token_when_enabled(self, info: ValidationInfo) -> StubPlatformConfig:
        context = info.context if isinstance(info.context, dict) else {}
        if not context.get("resolve_secrets", True):
            return self  # a command that reads no secret: the variable is not looked at
        if self.enabled and self.token is None:
            value = os.environ.get(STUB_TOKEN_ENV, "").strip()
            if not value:
                raise ValueError(
                    f"enabled needs token (or token_file, or {STUB_TOKEN_ENV} in the environment)"
                )
            object.__setattr__(self, "token", Secret(value, f"env:{STUB_TOKEN_ENV}"))
        return self


class PlatformsConfig(_Strict):
    github: GitHubConfig = Field(default_factory=GitHubConfig)
    gerrit: GerritConfig = Field(default_factory=GerritConfig)
    stub: StubPlatformConfig = Field(default_factory=StubPlatformConfig)


class LoggingConfig(_Strict):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    json_: bool = Field(default=False, alias="json")

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, level: object) -> object:
        return level.lower() if isinstance(level, str) else level


class ProjectOverride(_Strict):
    """Settings for the projects whose name matches ``match``.

    ``match`` is a glob (bot/core/globs.py semantics, ``*`` crosses ``/``). With a ``:`` it is
    matched against ``PLATFORM:PROJECT`` (``gerrit:openstack/*``), else against the
    project alone (``openstack/nova``). Only the keys written here override the
    top-level ones; ``rules.severity`` is merged into the top-level map.
    """

    match: str = Field(min_length=1)
    rules: RulesConfig | None = None
    review: ReviewConfig | None = None
    test_files: TestFilesConfig | None = None

    @field_validator("match")
    @classmethod
    def _compiles(cls, glob: str) -> str:
        compile_glob(glob)
        return glob

    def matches(self, platform: str, project: str) -> bool:
        subject = f"{platform}:{project}" if ":" in self.match else project
        return GlobSet([self.match]).matches(subject)


def _overlay(base: _Strict, override: _Strict | None) -> Any:
    """``base`` with the keys explicitly set in ``override``."""
    if override is None:
        return base
    update = {name: getattr(override, name) for name in override.model_fields_set}
    if isinstance(base, RulesConfig) and "severity" in update:
        update["severity"] = {**base.severity, **update["severity"]}
    return base.model_copy(update=update)


class Config(_Strict):
    rules: RulesConfig = Field(default_factory=RulesConfig)
    test_files: TestFilesConfig = Field(default_factory=TestFilesConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    platforms: PlatformsConfig = Field(default_factory=PlatformsConfig)
    # Global dry run: analyse and log, post nothing anywhere.
    dry_run: bool = False
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    projects: list[ProjectOverride] = Field(default_factory=list)

    @property
    def min_severity(self) -> Severity:
        return Severity.parse(self.review.min_severity)

    def check_options(self) -> CheckOptions:
        """What the core needs of this config for one review."""
        return CheckOptions(
            test_globs=tuple(self.test_files.globs),
            max_files=self.limits.max_files,
            max_file_bytes=self.limits.max_file_bytes,
            filter_mode=self.review.filter_mode,
            min_severity=self.min_severity,
            baseline=self.review.new_findings_only,
            idiom_threshold=self.review.idiom_threshold,
            limits=self.limits.analysis(),
        )

    def is_dry_run(self, platform: str) -> bool:
        """True when nothing may be posted to ``platform`` (global or per-platform)."""
        settings = getattr(self.platforms, platform, None)
        return self.dry_run or bool(getattr(settings, "dry_run", False))

    def project_override(self, platform: str, project: str) -> ProjectOverride | None:
        """The first entry of ``projects`` that matches, in file order."""
        return next((o for o in self.projects if o.matches(platform, project)), None)

    def for_project(self, platform: str, project: str) -> Config:
        """The effective config of one project: the first matching override applied.

        Overrides do not stack: the first entry of ``projects`` whose ``match`` fits
        wins and the rest are ignored. Keys the override sets replace the top-level
        ones (``rules.severity`` is merged, the override winning per rule).
        """
        override = self.project_override(platform, project)
        if override is None:
            return self
        return self.model_copy(
            update={
                "rules": _overlay(self.rules, override.rules),
                "review": _overlay(self.review, override.review),
                "test_files": _overlay(self.test_files, override.test_files),
            }
        )

    def redacted_dump(self) -> dict[str, Any]:
        """The whole config as JSON-able data for logs: every secret is ``**********``."""
        return self.model_dump(mode="json", by_alias=True)


class ConfigError(YamlError):
    pass


def _format_errors(exc: ValidationError, data: object, path: Path) -> str:
    """One ``FILE:LINE: key.path: message`` line per error; input values are never shown."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = [p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")]
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{where}: {key}: {msg}")
    return "\n".join(lines)


def load_config(path: Path | None, *, secrets: bool = True) -> Config:
    """The config at ``path``, or the embedded defaults when None.

    Relative paths in the file are relative to its directory; ``${ENV_VAR}`` secrets
    are resolved from the environment now and ``*_file`` secrets read now, so a
    missing one is a load error. Literal secret values are refused in a file.
    ``secrets=False`` (commands that never call a platform) checks only their form.
    """
    if path is None:
        return Config()
    docs = read_documents(path)
    data = docs[0] if docs else LineDict()
    if len(docs) > 1:
        raise ConfigError(path, None, "expected one YAML document")
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "expected a mapping at the top level")
    context = {"base_dir": path.parent, "secrets_from_file": True, "resolve_secrets": secrets}
    try:
        return Config.model_validate(data, context=context)
    except ValidationError as exc:
        message = _format_errors(exc, data, path)
    err = ConfigError(path, None, "invalid configuration")
    err.args = (message,)
    raise err


def find_sgconfig(config: Config, cwd: Path) -> Path:
    if config.rules.sgconfig is not None:
        return config.rules.sgconfig
    local = cwd / "sgconfig.yml"
    return local if local.is_file() else BUNDLED_SGCONFIG
