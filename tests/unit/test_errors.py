"""Errors cross process boundaries (the analysis pool sends a child's exception back by
pickle): each one must come back as itself, or the pool reports a crashed child."""

from __future__ import annotations

import pickle

import pytest

from bot.config.models import ConfigError
from bot.errors import (
    DiffError,
    IntakeError,
    LeaseLost,
    NotReviewable,
    PermanentError,
    StoreError,
    TransientError,
    WebhookRejected,
    YamlError,
)
from bot.platforms.github.client import Unprocessable

CASES = [
    DiffError("hunk is longer than its header says", 12),
    YamlError("rules/x.yml", 3, "unknown key"),
    ConfigError("team.yaml", None, "invalid"),
    IntakeError("no such file"),
    TransientError("try later", 4.5, 503),
    PermanentError("refused", 404),
    WebhookRejected(401, "bad signature"),
    StoreError("sqlite:///x", "read-only"),
    LeaseLost(3, "host:1"),
    NotReviewable("change 7 is merged", 409),
]


@pytest.mark.parametrize("error", CASES, ids=lambda e: type(e).__name__)
def test_each_error_survives_a_pickle_round_trip(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_a_config_error_keeps_its_long_text() -> None:
    # load_config replaces args with one line per problem; the pool must not lose them.
    error = ConfigError("team.yaml", None, "invalid")
    error.args = ("team.yaml:3: rules.severity.x: no such rule\nteam.yaml:4: ...",)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_unprocessable_keeps_its_errors() -> None:
    error = Unprocessable("GitHub POST reviews: 422", ["Line could not be resolved"])
    back = pickle.loads(pickle.dumps(error))
    assert (back.status, back.errors) == (422, ["Line could not be resolved"])
