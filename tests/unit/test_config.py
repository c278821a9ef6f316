"""Config loading: pydantic validation with key paths and lines; rule selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.models import Config, ConfigError, load_config
from bot.errors import YamlError
from bot.model import Severity
from bot.rules.ruleset import configured_rules

RULE = "id: {id}\nlanguage: python\nseverity: warning\nrule: {{pattern: f()}}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "review-bot.yaml"
    path.write_text(text)
    return path


def two_packs(tmp_path: Path) -> None:
    for pack, rid in (("python", "a"), ("openstack", "b")):
        (tmp_path / "rules" / pack).mkdir(parents=True)
        (tmp_path / "rules" / pack / f"{rid}.yml").write_text(RULE.format(id=rid))
    (tmp_path / "sgconfig.yml").write_text("ruleDirs: [rules/python, rules/openstack]\n")


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config.min_severity is Severity.warning
    assert "**/test_*.py" in config.test_files.globs


def test_unknown_nested_key_is_named_by_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "review:\n  min_severity: info\n  treshold: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:3: review.treshold: unknown key" in str(err.value)


def test_bad_value_is_named_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, "limits:\n  max_file_bytes: -1\nrules:\n  severity:\n    x: loud\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}:2: limits.max_file_bytes" in text
    assert f"{path}:5: rules.severity.x" in text


def test_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(YamlError) as err:
        load_config(write(tmp_path, "rules: [\n"))
    assert "invalid YAML" in str(err.value)


def test_bad_test_glob_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "test_files:\n  globs: ['[x']\n"))
    assert "test_files.globs" in str(err.value)


def test_packs_and_severity_overrides(tmp_path: Path) -> None:
    two_packs(tmp_path)
    path = write(
        tmp_path, "rules:\n  sgconfig: sgconfig.yml\n  packs: [openstack]\n  severity: {b: 'off'}\n"
    )
    config = load_config(path)
    (rule,) = configured_rules(config, tmp_path, path)
    assert rule.id == "b" and rule.pack == "openstack" and rule.severity is Severity.off


def test_unknown_pack_and_unknown_rule_override_are_errors(tmp_path: Path) -> None:
    two_packs(tmp_path)
    with pytest.raises(ConfigError, match=r"rules\.packs: unknown pack"):
        configured_rules(
            Config.model_validate(
                {"rules": {"sgconfig": tmp_path / "sgconfig.yml", "packs": ["java"]}}
            ),
            tmp_path,
        )
    with pytest.raises(ConfigError, match=r"rules\.severity\.zzz: no such rule"):
        configured_rules(
            Config.model_validate(
                {"rules": {"sgconfig": tmp_path / "sgconfig.yml", "severity": {"zzz": "off"}}}
            ),
            tmp_path,
        )


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    config = load_config(example)
    assert configured_rules(config, example.parent, example)
