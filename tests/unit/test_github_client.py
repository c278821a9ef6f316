"""GitHub's answers -> the errors the job store acts on, and the write pacing."""

from __future__ import annotations

import pytest

from bot.errors import PermanentError, TransientError
from bot.platforms.github.client import Unprocessable, WritePacer, error_for, rate_limit_wait

NOW = 1_000_000.0
EP = "POST /repos/{o}/{r}/pulls/{n}/reviews"


def test_primary_rate_limit_waits_until_the_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 30)}
    data = {"message": "API rate limit exceeded for installation ID 1."}
    assert rate_limit_wait(403, headers, data, NOW) == 31.0
    error = error_for(EP, 403, headers, data, NOW)
    assert isinstance(error, TransientError) and error.retry_after == 31.0 and error.status == 403


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_retry_after(status: int) -> None:
    data = {"message": "You have exceeded a secondary rate limit."}
    error = error_for(EP, status, {"retry-after": "7"}, data, NOW)
    assert isinstance(error, TransientError) and error.retry_after == 7.0


def test_a_secondary_limit_without_retry_after_waits_a_minute() -> None:
    data = {"message": "You have exceeded a secondary rate limit."}
    assert rate_limit_wait(403, {}, data, NOW) == 60.0


def test_a_forbidden_that_is_no_rate_limit_is_permanent() -> None:
    data = {"message": "Resource not accessible by integration"}
    error = error_for(EP, 403, {"x-ratelimit-remaining": "4999"}, data, NOW)
    assert type(error) is PermanentError and "Resource not accessible" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 409])
def test_server_errors_and_conflicts_are_transient(status: int) -> None:
    error = error_for(EP, status, {}, {"message": "Server Error"}, NOW)
    assert (
        isinstance(error, TransientError) and error.retry_after is None and error.status == status
    )


def test_422_keeps_githubs_error_strings() -> None:
    data = {"message": "Unprocessable Entity", "errors": ["Line could not be resolved"]}
    error = error_for(EP, 422, {}, data, NOW)
    assert isinstance(error, Unprocessable) and error.errors == ["Line could not be resolved"]
    assert "Line could not be resolved" in str(error)


@pytest.mark.parametrize("status", [401, 404])
def test_auth_and_missing_are_permanent(status: int) -> None:
    error = error_for(EP, status, {}, {"message": "Bad credentials"}, NOW)
    assert type(error) is PermanentError and error.status == status


def test_a_non_json_error_body_still_gives_a_message() -> None:
    error = error_for(EP, 502, {}, "<html>Bad gateway</html>", NOW)
    assert isinstance(error, TransientError) and "Bad gateway" in str(error)


def test_the_pacer_holds_writes_to_the_per_minute_budget_per_installation() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = WritePacer(per_minute=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        assert pacer.wait(1) == 0.0
        now[0] += 1.0
    assert pacer.wait(2) == 0.0  # another installation has its own budget
    assert pacer.wait(1) == pytest.approx(57.0)  # the first write leaves the window at 60 s
    assert slept == [pytest.approx(57.0)]
