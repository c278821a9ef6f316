"""A project the CLI tests run `review-bot check` in: team rules, an sgconfig.yml naming
them, and a review-bot.yaml pointing at it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.cli.main import main


def team_project(root: Path, rules: Mapping[str, str], *, config: bool = True) -> Path:
    """``rules`` (file name -> YAML) under rules/team; with ``config``, review-bot.yaml."""
    directory = root / "rules" / "team"
    directory.mkdir(parents=True)
    for name, text in rules.items():
        (directory / name).write_text(text)
    (root / "sgconfig.yml").write_text("ruleDirs: [rules/team]\n")
    if config:
        (root / "review-bot.yaml").write_text("rules:\n  sgconfig: sgconfig.yml\n")
    return root


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`review-bot check -c review-bot.yaml ARGS` in-process: exit code, stdout, stderr."""
    code = main(["check", "-c", "review-bot.yaml", "--color", "never", *args])
    out, err = capsys.readouterr()
    return code, out, err


def git(root: Path, *args: str) -> str:
    """git in ``root`` with a fixed identity and no user config: stdout."""
    return subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "HOME": str(root),
            "PATH": "/usr/bin:/bin",
        },
    ).stdout
