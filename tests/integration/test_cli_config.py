"""What the CLI makes of a team's config: secrets it does not need, paths, overrides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config.models import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DIFF = EXAMPLES / "nova-regression.diff"

SERVICE_CONFIG = """\
platforms:
  github:
    enabled: true
    token: ${RB_UNSET_TOKEN}
    webhook_secret_file: secrets/github-webhook
  gerrit:
    enabled: true
    url: https://review.example.org
    username: bot
    password: ${RB_UNSET_PASSWORD}
    webhook_token_file: secrets/gerrit-token
"""


@pytest.fixture
def service_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RB_UNSET_TOKEN", raising=False)
    monkeypatch.delenv("RB_UNSET_PASSWORD", raising=False)
    path = tmp_path / "team.yaml"
    path.write_text(SERVICE_CONFIG)
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "--root", str(EXAMPLES), "--diff", str(DIFF), "--fail-on", "off", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_does_not_need_the_services_secrets(
    service_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = check(capsys, "-c", str(service_config))
    assert code == 0, err
    assert "7 findings" in out


def test_the_service_still_resolves_its_secrets_at_load(service_config: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(service_config)
    text = str(err.value)
    assert (
        f"{service_config}:4: platforms.github.token: environment variable RB_UNSET_TOKEN" in text
    )
    assert "platforms.github.webhook_secret_file: cannot read secret file" in text


def test_an_unresolved_secret_cannot_be_used(service_config: Path) -> None:
    token = load_config(service_config, secrets=False).platforms.github.token
    assert token is not None and not token.resolved and token.source == "env:RB_UNSET_TOKEN"
    with pytest.raises(RuntimeError, match="env:RB_UNSET_TOKEN was not resolved"):
        token.get_secret_value()


def test_check_still_refuses_a_literal_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("platforms:\n  github:\n    token: s3cret-in-the-file\n")
    code, _out, err = check(capsys, "-c", str(path))
    assert code == 2
    assert "platforms.github.token: a secret must not be written into the config" in err
    assert "s3cret-in-the-file" not in err


def test_example_config_works_when_copied_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "config.yaml"
    shutil.copy(REPO / "config.example.yaml", copy)
    code, out, err = check(capsys, "-c", str(copy))
    assert code == 0, err
    assert "7 findings" in out


def test_a_missing_sgconfig_names_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("review:\n  min_severity: info\nrules:\n  sgconfig: nowhere/sgconfig.yml\n")
    code, _out, err = check(capsys, "-c", str(path))
    assert code == 2
    assert f"{path}:4: rules.sgconfig: {tmp_path / 'nowhere/sgconfig.yml'}: no such file" in err


def test_a_missing_extra_rule_dir_names_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text("rules:\n  extra_dirs: [team-rules]\n")
    code, _out, err = check(capsys, "-c", str(path))
    assert code == 2
    assert f"{path}:2: rules.extra_dirs: no such directory: {tmp_path / 'team-rules'}" in err


def test_min_severity_off_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--min-severity", "off", str(EXAMPLES)])
    assert exit_.value.code == 2
    assert "--min-severity: 'off' is not a threshold" in capsys.readouterr().err


OVERRIDES = """\
projects:
  - match: "gerrit:openstack/*"
    rules:
      severity: {hardcoded-hostname: "off"}
  - match: "openstack/nova"
    review:
      min_severity: error
"""


@pytest.fixture
def overrides(tmp_path: Path) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(OVERRIDES)
    return path


def rules_in(out: str) -> list[str]:
    return sorted(f["rule_id"] for f in json.loads(out)["findings"])


def test_project_applies_the_override_the_service_would(
    overrides: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, out, _err = check(capsys, "-c", str(overrides), "-f", "json")
    everything = rules_in(out)
    assert everything.count("hardcoded-hostname") == 3
    _code, out, _err = check(
        capsys, "-c", str(overrides), "-f", "json", "--project", "gerrit:openstack/nova"
    )
    assert rules_in(out) == [r for r in everything if r != "hardcoded-hostname"]
    # The first matching entry wins: on GitHub the second one applies, which shows only errors.
    _code, out, _err = check(
        capsys, "-c", str(overrides), "-f", "json", "--project", "github:openstack/nova"
    )
    assert rules_in(out) == []


def test_project_without_platform_when_overrides_differ_by_platform(
    overrides: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = check(capsys, "-c", str(overrides), "--project", "openstack/nova")
    assert code == 2
    assert "overrides differ by platform; give one of gerrit:openstack/nova" in err
    # No override depends on the platform for this project: the name alone is enough.
    code, out, _err = check(capsys, "-c", str(overrides), "-f", "json", "--project", "other/x")
    assert code == 0 and len(rules_in(out)) == 7


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gitlab:nova", "unknown platform 'gitlab' (gerrit, github, stub)"),
        ("github:", "no project"),
    ],
)
def test_project_spec_errors(
    overrides: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    code, _out, err = check(capsys, "-c", str(overrides), "--project", spec)
    assert code == 2 and message in err
