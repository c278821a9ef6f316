"""`review-bot check --format json`, as both precision runners call it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def check_json(*args: str | Path, threshold: str = "hint") -> dict[str, Any]:
    """The JSON report of one review at ``threshold``; exits with the error on failure."""
    exe = Path(sys.executable).parent / "review-bot"
    argv = [exe, "check", *args, "--format", "json", "--min-severity", threshold]
    done = subprocess.run(
        [str(a) for a in [*argv, "--fail-on", "off"]], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"review-bot {' '.join(map(str, args))} failed:\n{done.stderr}")
    return json.loads(done.stdout)
