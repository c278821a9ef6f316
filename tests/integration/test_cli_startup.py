"""The command line as a process: what it loads before it answers, and what reaches stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Modules whose import costs tens of milliseconds and that --version and --help never use.
HEAVY = ("pydantic", "ast_grep_py", "pebble", "yaml", "unidiff", "bot.core.engine", "bot.config")


def loaded_by(*argv: str) -> set[str]:
    """The modules the CLI has imported by the time it exits, run as a real process."""
    probe = (
        "import json, sys\n"
        "from bot.cli.main import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stderr.splitlines()[-1]))


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["check", "--help"], ["serve", "--help"]]
)
def test_version_and_help_load_nothing_heavy(argv: list[str]) -> None:
    loaded = loaded_by(*argv)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert heavy == []


def test_unknown_language_prints_no_rust_panic(tmp_path: Path) -> None:
    # ast-grep-py's panic hook writes to the process's stderr even when Python catches it.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text("id: r\nlanguage: Klingon\nrule: {pattern: f()}\n")
    (tmp_path / "sgconfig.yml").write_text("ruleDirs: [rules]\n")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "rules", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"review-bot: error: {rules / 'r.yml'}:2: rule 'r', key 'language': "
        "unknown language 'Klingon'\n"
    )
