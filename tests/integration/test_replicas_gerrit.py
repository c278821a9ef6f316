"""Gerrit's `stream-events` listener across two `review-bot serve` replicas on one
PostgreSQL database: exactly one replica (the leader) streams; when it is killed, the
other takes over and catches up on what was uploaded in between. Real processes, the fake
Gerrit REST API and its SSH server (tests/fakes/gerrit.py, gerrit_ssh.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.gerrit import FakeGerrit
from tests.fakes.gerrit_ssh import FakeGerritSsh
from tests.fakes.serve_process import PG_PASSWORD_ENV
from tests.integration.gerrit_service import GerritService
from tests.integration.test_gerrit import new_change, reviews

pytestmark = pytest.mark.timeout(180)


def replica(root: Path, name: str, fake: FakeGerrit, ssh: FakeGerritSsh, url: str) -> GerritService:
    directory = root / name
    directory.mkdir()
    return GerritService(directory, fake, ssh=ssh, webhook=False, storage_url=url)


def leading(service: GerritService) -> bool:
    status, body = service.get("/readyz")
    return status == 200 and body.get("leading") is True


def test_the_stream_moves_to_the_other_replica_when_the_leader_dies_and_catches_up(
    tmp_path: Path, pg_url: str, pg_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_PASSWORD_ENV, pg_password)  # the replicas inherit it
    with FakeGerrit() as fake, FakeGerritSsh(tmp_path) as ssh:
        first = replica(tmp_path, "a", fake, ssh, pg_url)
        with first:
            first.wait_for("a to lead", lambda: leading(first))
            ssh.wait_sessions(1)
            second = replica(tmp_path, "b", fake, ssh, pg_url)
            with second:
                status, ready = second.get("/readyz")
                assert status == 200 and ready["leading"] is False
                assert ready["leader"] == first.get("/readyz")[1]["replica"]
                time.sleep(1.0)
                assert ssh.sessions == 1  # the follower does not stream

                streamed = new_change(fake)
                ssh.emit(fake.patchset_created(streamed))
                first.wait_for("the leader's review", lambda: reviews(fake, streamed))

                first.server.kill()  # kill -9: no shutdown, no lock released by hand
                first.server.reap()
                # Uploaded while nobody streams: no event will ever arrive for it.
                missed = new_change(fake)
                second.wait_for("b to lead", lambda: leading(second), timeout=60)
                second.wait_for("b's stream", lambda: ssh.sessions == 1, timeout=60)
                second.wait_for("the catch-up review", lambda: reviews(fake, missed), timeout=60)

                after = new_change(fake)  # and the new leader's stream works
                ssh.emit(fake.patchset_created(after))
                second.wait_for("a review from b's stream", lambda: reviews(fake, after))
                metrics = second.metrics()
        assert [len(reviews(fake, n)) for n in (streamed, missed, after)] == [1, 1, 1]
    replica_id = ready["replica"]
    assert f'review_bot_leader{{replica="{replica_id}"}} 1.0' in metrics
    assert f'review_bot_leader_elected_total{{replica="{replica_id}"}} 1.0' in metrics
