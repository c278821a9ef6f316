"""The webhook service's config: server, storage, workers, platforms, secrets, overrides."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.cli.main import main
from bot.config.models import Config, ConfigError, load_config
from bot.config.secrets import MASK, Secret

SECRET = "s3cr3t-Value-42"


def write(tmp_path: Path, text: str, name: str = "review-bot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.__cause__ is None and err.value.__context__ is None
    return str(err.value)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("RB_SECRET", SECRET)
    monkeypatch.delenv("RB_UNSET", raising=False)
    return monkeypatch


def test_service_defaults() -> None:
    config = load_config(None)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.server.max_body_bytes == 25 * 1024 * 1024
    assert config.server.delivery_ttl_seconds == 7 * 86400
    assert config.server.shutdown_grace_seconds == 30
    assert config.storage.url == "sqlite:///review-bot.db"
    assert config.storage.sqlite_path == "review-bot.db"
    assert config.workers.analysis_processes == (os.cpu_count() or 1)
    w = config.workers
    assert (w.platform_concurrency, w.lease_seconds, w.max_attempts) == (4, 300, 5)
    assert (w.backoff_base_seconds, w.backoff_cap_seconds) == (2, 300)
    assert not config.platforms.github.enabled and not config.platforms.gerrit.enabled
    assert config.platforms.github.api_url == "https://api.github.com"
    assert not config.platforms.stub.enabled
    assert config.dry_run is False and config.projects == []
    assert (config.logging.level, config.logging.json_) == ("info", False)


def test_example_config_needs_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GERRIT_")):
            monkeypatch.delenv(name)
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    config = load_config(example)
    assert config.redacted_dump()["server"]["port"] == 8080


def test_example_commented_platform_keys_are_valid(env: pytest.MonkeyPatch) -> None:
    """Uncomment the example's platform and projects keys: they must validate too."""
    for name in ("GITHUB_TOKEN", "GITHUB_WEBHOOK_SECRET", "GERRIT_HTTP_PASSWORD"):
        env.setenv(name, SECRET)
    env.setenv("GERRIT_WEBHOOK_TOKEN", SECRET)
    config = Config.model_validate(
        {
            "platforms": {
                "github": {
                    "enabled": True,
                    "token": "${GITHUB_TOKEN}",
                    "webhook_secret": "${GITHUB_WEBHOOK_SECRET}",
                },
                "gerrit": {
                    "enabled": True,
                    "url": "https://review.opendev.org",
                    "username": "review-bot",
                    "password": "${GERRIT_HTTP_PASSWORD}",
                    "webhook_token": "${GERRIT_WEBHOOK_TOKEN}",
                    "ssh": {
                        "host": "review.opendev.org",
                        "username": "review-bot",
                        "key_file": "/etc/review-bot/gerrit_ssh_key",
                        "known_hosts_file": "/etc/review-bot/gerrit_known_hosts",
                    },
                    "webhook_networks": ["10.0.0.0/8"],
                    "votes": [{"label": "Verified", "severity": "error", "value": -1}],
                },
            },
            "projects": [
                {"match": "gerrit:openstack/nova", "review": {"min_severity": "info"}},
                {"match": "myorg/*", "test_files": {"globs": ["tests/**/*.py"]}},
            ],
        },
        context={"secrets_from_file": True},
    )
    assert config.platforms.gerrit.ssh is not None and config.platforms.gerrit.ssh.port == 29418
    assert config.platforms.github.token is not None
    assert config.platforms.github.token.get_secret_value() == SECRET


def test_storage_url_is_sqlite_or_postgresql(tmp_path: Path) -> None:
    text = load_error(write(tmp_path, "storage:\n  url: mysql://db/x\n"))
    where = tmp_path / "review-bot.yaml"
    assert f"{where}:2: storage.url: storage.url must be sqlite:///PATH" in text
    config = load_config(write(tmp_path, "storage:\n  url: postgresql://bot@db:5432/reviews\n"))
    assert config.storage.is_postgres


def test_postgresql_url_names_host_and_database_and_never_the_password(tmp_path: Path) -> None:
    text = load_error(write(tmp_path, "storage:\n  url: postgresql://bot@db\n"))
    assert "storage.url: a PostgreSQL storage.url names a host and a database" in text
    text = load_error(write(tmp_path, "storage:\n  url: postgresql://bot:hunter2@db/reviews\n"))
    assert "storage.url must not carry the password" in text
    assert "hunter2" not in text


def test_storage_url_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_URL", "postgresql://bot@db:5432/reviews")
    path = write(tmp_path, "storage:\n  url: ${DB_URL}\n")
    assert load_config(path).storage.url == "postgresql://bot@db:5432/reviews"
    monkeypatch.setenv("DB_URL", "postgresql://bot:pw@db/reviews")
    assert "storage.url must not carry the password" in load_error(path)
    monkeypatch.delenv("DB_URL")
    assert f"{path}:2: storage.url: environment variable DB_URL is not set" in load_error(path)
    # A command that reads no secret (`check`) loads it unresolved; a store is not opened.
    assert load_config(path, secrets=False).storage.url == "${DB_URL}"


def test_storage_password_is_for_postgresql_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PW", "pw")
    text = load_error(write(tmp_path, "storage:\n  url: sqlite:///x.db\n  password: ${DB_PW}\n"))
    assert "password is for a postgresql:// storage.url" in text
    text = load_error(write(tmp_path, "storage:\n  url: postgresql://bot@db/r\n  password: pw\n"))
    assert "storage.password: a secret must not be written into the config" in text


def test_unknown_service_keys_are_named_by_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "platforms:\n  github:\n    enabled: false\n    apiurl: x\n")
    assert f"{path}:4: platforms.github.apiurl: unknown key" in load_error(path)


def test_bad_values_in_service_sections(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server:\n  port: 70000\nworkers:\n  backoff_base_seconds: 10\n  backoff_cap_seconds: 5\n"
        "logging:\n  level: loud\n",
    )
    text = load_error(path)
    assert f"{path}:2: server.port" in text
    assert f"{path}:3: workers: backoff_cap_seconds must be >= backoff_base_seconds" in text
    assert f"{path}:7: logging.level" in text


def test_logging_level_is_case_insensitive_and_json_is_a_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "logging: {level: DEBUG, json: true}\n"))
    assert config.logging.level == "debug" and config.logging.json_ is True
    assert config.redacted_dump()["logging"] == {"level": "debug", "json": True}


def test_github_enterprise_api_url(tmp_path: Path) -> None:
    path = write(tmp_path, "platforms:\n  github:\n    api_url: https://ghe.corp/api/v3/\n")
    assert load_config(path).platforms.github.api_url == "https://ghe.corp/api/v3"
    bad = write(tmp_path, "platforms:\n  github:\n    api_url: ftp://x\n", "bad.yaml")
    assert "platforms.github.api_url: api_url must be an http(s):// URL" in load_error(bad)


# --- secrets -------------------------------------------------------------------------


def test_env_secret_is_resolved_at_load(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    token: ${RB_SECRET}\n"
        "    webhook_secret: '${RB_SECRET}'\n",
    )
    github = load_config(path).platforms.github
    assert github.token is not None and github.token.get_secret_value() == SECRET
    assert github.token.source == "env:RB_SECRET"


def test_missing_env_variable_names_key_and_variable(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "platforms:\n  gerrit:\n    webhook_token: ${RB_UNSET}\n")
    text = load_error(path)
    assert (
        f"{path}:3: platforms.gerrit.webhook_token: environment variable RB_UNSET is not set"
        in (text)
    )
    env.setenv("RB_UNSET", "  ")
    assert "environment variable RB_UNSET is empty" in load_error(path)


def test_file_secret_is_read_stripped_relative_to_the_config(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hook").write_text(f"\n{SECRET}\n")
    path = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    token: ${RB_SECRET}\n"
        "    webhook_secret_file: secrets/hook\n",
    )
    github = load_config(path).platforms.github
    assert github.webhook_secret is not None
    assert github.webhook_secret.get_secret_value() == SECRET
    assert github.webhook_secret.source == f"file:{tmp_path / 'secrets' / 'hook'}"


def test_missing_secret_file_names_key_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, "platforms:\n  gerrit:\n    password_file: nope/pw\n")
    text = load_error(path)
    assert f"{path}:3: platforms.gerrit.password_file: cannot read secret file" in text
    assert str(tmp_path / "nope" / "pw") in text
    (tmp_path / "empty").write_text("\n")
    empty = write(tmp_path, "platforms:\n  gerrit:\n    password_file: empty\n", "e.yaml")
    assert "platforms.gerrit.password_file: secret file" in load_error(empty)


def test_value_and_file_both_set_is_an_error(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    (tmp_path / "tok").write_text(SECRET)
    path = write(tmp_path, "platforms:\n  github:\n    token: ${RB_SECRET}\n    token_file: tok\n")
    text = load_error(path)
    assert f"{path}:2: platforms.github: set token or token_file, not both" in text
    assert SECRET not in text


def test_literal_secret_in_a_file_is_refused_without_echo(tmp_path: Path) -> None:
    path = write(tmp_path, f"platforms:\n  github:\n    webhook_secret: {SECRET}\n")
    text = load_error(path)
    assert "platforms.github.webhook_secret: a secret must not be written into the config" in text
    assert SECRET not in text


def _pem_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_secret_is_masked_everywhere(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    pem = _pem_key()
    (tmp_path / "pem").write_text(pem)
    path = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    app_id: 7\n    private_key_file: pem\n"
        "    webhook_secret: ${RB_SECRET}\n  gerrit:\n    username: bot\n"
        "    password: ${RB_SECRET}\n",
    )
    config = load_config(path)
    secret = config.platforms.github.webhook_secret
    assert isinstance(secret, Secret)
    assert str(secret) == repr(secret) == f"{secret}" == MASK
    for text in (
        repr(config),
        str(config),
        str(config.model_dump()),
        config.model_dump_json(),
        str(config.redacted_dump()),
        repr(config.platforms),
        str(config.for_project("github", "a/b").model_dump()),
    ):
        assert SECRET not in text and pem.strip().splitlines()[1] not in text
    dump = config.redacted_dump()["platforms"]
    assert dump["github"]["webhook_secret"] == MASK
    assert dump["github"]["private_key"] == dump["github"]["private_key_file"] == MASK
    assert dump["gerrit"]["password"] == MASK and dump["github"]["token"] is None
    assert config.platforms.github.private_key is not None
    assert config.platforms.github.private_key.get_secret_value() == pem.strip()
    assert pickle.loads(pickle.dumps(secret)) == secret


def test_wrong_types_next_to_a_secret_do_not_echo_it(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text(SECRET)
    path = write(
        tmp_path,
        "platforms:\n  github:\n    token: {value: " + SECRET + "}\n    app_id: " + SECRET + "\n"
        "    enabled: " + SECRET + "\n    extra: " + SECRET + "\n"
        "  gerrit:\n    password_file: pw\n    ssh: " + SECRET + "\n"
        "server:\n  port: " + SECRET + "\n",
    )
    text = load_error(path)
    for key in (
        "platforms.github.token",
        "platforms.github.app_id",
        "platforms.github.enabled",
        "platforms.github.extra",
        "platforms.gerrit.ssh",
        "server.port",
    ):
        assert key in text
    assert SECRET not in text


def test_programmatic_validation_errors_hide_inputs(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as err:
        Config.model_validate(
            {
                "platforms": {
                    "github": {"token": {"nested": SECRET}, "app_id": SECRET, "x": SECRET},
                    "gerrit": {"password": SECRET, "username": None},
                }
            }
        )
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert SECRET not in str(err.value.errors(include_input=False))


def test_programmatic_literal_secret_is_allowed() -> None:
    config = Config.model_validate(
        {"platforms": {"github": {"enabled": True, "token": "t", "webhook_secret": "w"}}}
    )
    assert config.platforms.github.webhook_secret == Secret("w")
    assert config.platforms.github.webhook_secret != Secret("x")


def test_config_check_never_prints_a_secret(
    tmp_path: Path, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    token: ${RB_SECRET}\n"
        "    webhook_secret: " + SECRET + "\n",
    )
    assert main(["config", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "platforms.github.webhook_secret" in err
    assert SECRET not in out + err


# --- platforms -------------------------------------------------------------------------


def test_enabled_platforms_need_their_credentials(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    no_secret = write(tmp_path, "platforms:\n  github:\n    enabled: true\n", "a.yaml")
    assert "platforms.github: enabled needs webhook_secret" in load_error(no_secret)
    no_auth = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    webhook_secret: ${RB_SECRET}\n",
        "b.yaml",
    )
    assert "enabled needs app_id with private_key(_file), or token(_file)" in load_error(no_auth)
    half_app = write(tmp_path, "platforms:\n  github:\n    app_id: 3\n", "c.yaml")
    assert "app_id and private_key (or private_key_file) go together" in load_error(half_app)
    gerrit = write(tmp_path, "platforms:\n  gerrit:\n    enabled: true\n", "d.yaml")
    assert "platforms.gerrit: enabled needs url" in load_error(gerrit)
    user_only = write(tmp_path, "platforms:\n  gerrit:\n    username: bot\n", "e.yaml")
    assert "username and password (or password_file) go together" in load_error(user_only)


def test_an_enabled_stub_needs_a_token(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    env.delenv("REVIEW_BOT_STUB_TOKEN", raising=False)
    bare = write(tmp_path, "platforms:\n  stub:\n    enabled: true\n", "a.yaml")
    assert "platforms.stub: enabled needs token (or token_file" in load_error(bare)
    off = load_config(write(tmp_path, "platforms: {stub: {enabled: false}}", "b.yaml"))
    assert off.platforms.stub.token is None  # a disabled stub needs none
    by_key = write(tmp_path, "platforms: {stub: {enabled: true, token: '${RB_SECRET}'}}", "c.yaml")
    token = load_config(by_key).platforms.stub.token
    assert token is not None and token.get_secret_value() == SECRET
    (tmp_path / "stub-token").write_text(SECRET + "\n")
    by_file = write(
        tmp_path, "platforms: {stub: {enabled: true, token_file: stub-token}}", "d.yaml"
    )
    token = load_config(by_file).platforms.stub.token
    assert token is not None and token.get_secret_value() == SECRET
    assert SECRET not in str(load_config(by_file).redacted_dump())
    # Without the key, REVIEW_BOT_STUB_TOKEN gives it (as it did before the key existed).
    env.setenv("REVIEW_BOT_STUB_TOKEN", "from-env")
    token = load_config(bare).platforms.stub.token
    assert token is not None and token.get_secret_value() == "from-env"


def test_gerrit_ssh(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "platforms:\n  gerrit:\n    enabled: true\n    url: https://review.example.org/\n"
        "    ssh:\n      host: review.example.org\n      key_file: keys/id\n"
        "      username: bot\n      known_hosts_file: known_hosts\n",
    )
    gerrit = load_config(path).platforms.gerrit
    assert gerrit.url == "https://review.example.org"
    assert gerrit.ssh is not None and gerrit.ssh.port == 29418
    assert gerrit.ssh.key_file == tmp_path / "keys" / "id"
    assert gerrit.ssh.known_hosts_file == tmp_path / "known_hosts"
    assert gerrit.account == "bot"  # the stream's account, when no HTTP user is set
    no_host = write(tmp_path, "platforms:\n  gerrit:\n    ssh: {port: 22}\n", "b.yaml")
    assert "platforms.gerrit.ssh.host" in load_error(no_host)
    no_way_in = write(
        tmp_path, "platforms:\n  gerrit:\n    enabled: true\n    url: https://g\n", "c.yaml"
    )
    assert "enabled needs a way in" in load_error(no_way_in)


def test_dry_run_global_and_per_platform() -> None:
    stub = {"enabled": True, "token": "t0ken", "dry_run": True}
    config = Config.model_validate({"platforms": {"stub": stub}})
    assert config.is_dry_run("stub") and not config.is_dry_run("github")
    assert Config(dry_run=True).is_dry_run("github")


# --- per-project overrides ---------------------------------------------------------------


OVERRIDES = """\
rules:
  severity: {a: error, b: warning}
review:
  min_severity: warning
projects:
  - match: "gerrit:openstack/*"
    rules:
      severity: {b: "off"}
    review:
      min_severity: info
  - match: "openstack/nova"
    review:
      min_severity: error
      filter_mode: file
  - match: "*"
    test_files:
      globs: ["spec/**"]
"""


def test_first_matching_override_wins(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, OVERRIDES))
    gerrit_nova = config.for_project("gerrit", "openstack/nova")
    assert gerrit_nova.review.min_severity == "info"
    assert gerrit_nova.review.filter_mode == "added"  # not set by the override: kept
    assert gerrit_nova.rules.severity == {"a": "error", "b": "off"}  # merged
    assert gerrit_nova.test_files.globs == config.test_files.globs  # later entries ignored
    github_nova = config.for_project("github", "openstack/nova")
    assert (github_nova.review.min_severity, github_nova.review.filter_mode) == ("error", "file")
    assert github_nova.rules.severity == {"a": "error", "b": "warning"}
    other = config.for_project("github", "me/x")
    assert other.test_files.globs == ["spec/**"] and other.review == config.review
    assert config.project_override("stub", "openstack/nova") is config.projects[1]


def test_no_matching_override_is_the_config_itself(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "projects:\n  - match: 'gerrit:x'\n"))
    assert config.for_project("github", "x") is config
    assert config.for_project("gerrit", "x") == config


def test_override_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "projects:\n  - match: a\n    rules:\n      sgconfig: sub/sg.yml\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sg.yml").write_text("ruleDirs: []\n")
    effective = load_config(path).for_project("github", "a")
    assert effective.rules.sgconfig == tmp_path / "sub" / "sg.yml"


def test_bad_override_is_named_by_index(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "projects:\n  - match: a\n  - match: '[x'\n    review: {min_severity: loud}\n"
        "    limits: {}\n",
    )
    text = load_error(path)
    assert f"{path}:3: projects.1.match" in text
    assert f"{path}:4: projects.1.review.min_severity" in text
    assert f"{path}:5: projects.1.limits: unknown key" in text


# --- review-bot config check ---------------------------------------------------------------


def test_config_check_reports_every_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "server:\n  port: -1\nstorage:\n  url: mysql://x\nplatforms:\n  gerrit:\n    tokn: 1\n",
    )
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: server.port" in err
    assert f"{path}:4: storage.url" in err
    assert f"{path}:7: platforms.gerrit.tokn: unknown key" in err


def test_storage_durability_defaults_to_process_and_is_checked(tmp_path: Path) -> None:
    assert load_config(None).storage.durability == "process"
    path = tmp_path / "c.yaml"
    path.write_text("storage: {durability: always}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "storage.durability" in str(err.value)


def test_a_github_app_key_that_is_no_pem_key_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "app.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nnot a key\n")
    (tmp_path / "secret").write_text("s")
    path = write(
        tmp_path,
        "platforms:\n  github:\n    enabled: true\n    app_id: 3\n"
        "    private_key_file: app.pem\n    webhook_secret_file: secret\n",
    )
    message = load_error(path)
    assert f"{path}:5: platforms.github.private_key_file: not an unencrypted PEM" in message
    assert "not a key" not in message  # never the secret's content


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("recheck_command: '(unclosed'", "platforms.github.recheck_command"),
        ("recheck_allowed: [EVERYONE]", "platforms.github.recheck_allowed.0"),
        ("max_inline: -1", "platforms.github.max_inline"),
        ("review_event: APPROVE", "platforms.github.review_event"),
    ],
)
def test_github_review_settings_are_checked(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, f"platforms:\n  github:\n    {text}\n")
    assert f"{path}:3: {key}:" in load_error(path)


def test_fail_on_is_a_severity(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "review: {fail_on: warning}\n")).review.fail_on == "warning"
    assert "review.fail_on" in load_error(write(tmp_path, "review: {fail_on: loud}\n"))
