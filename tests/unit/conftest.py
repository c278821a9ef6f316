"""Keep tests/unit pure: a unit test that opens a socket or starts a process fails at once.

Real servers, processes and databases belong in tests/integration (ARCHITECTURE.md, layout).
"""

from __future__ import annotations

import socket
import subprocess
from typing import NoReturn

import pytest

MESSAGE = "unit tests are pure: no sockets/no subprocesses; move this test to tests/integration"


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    raise RuntimeError(MESSAGE)


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    # Patched per test and undone by monkeypatch, so pytest's own machinery (outside tests) and
    # tests/integration keep the real calls. connect and bind cover clients and servers alike;
    # Popen.__init__ covers subprocess.run/check_output/call, which all go through it.
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "bind", _refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse)
