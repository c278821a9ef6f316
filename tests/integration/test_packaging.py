"""Building the package, as `make install` does, prints no warning a new user must read."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # PEP 639: a string; the `{ text = ... }` table is deprecated and setuptools warns on it.
    assert project["license"] == "Apache-2.0"


def test_building_the_package_prints_no_warning(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", "dist", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    # pip's own notes about this machine's index settings are not the package's.
    ours = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith("WARNING: Location")
    ]
    assert ours == []
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["review_bot-0.1.0-py3-none-any.whl"]
