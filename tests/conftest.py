"""The whole suite: a test that leaves a process running fails the session (tests/leftovers.py)."""

pytest_plugins = ["tests.leftovers"]
