"""GitHub end to end: real `review-bot serve` on 127.0.0.1, signed deliveries built from
GitHub's own webhook examples, and the fake GitHub of tests/fakes/github.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.model import JobState
from tests.fakes.github import FakeGitHub
from tests.integration.github_service import (
    REPO,
    GitHubService,
    comment_event,
    payload,
    pr_event,
)

TEST = "nova/tests/functional/test_servers.py"
BASE_TEST = """\
from nova.tests.functional import integrated_helpers


class ServersTest(integrated_helpers._IntegratedTestBase):

    def test_list(self):
        servers = self.api.get_servers()
        self.assertEqual(1, len(servers))
"""
HEAD_TEST = (
    BASE_TEST
    + """
    def test_boot(self):
        server = self.api.get_servers()[0]
        self.assertEqual('ACTIVE', server['status'])
"""
)
FIXED_TEST = (
    BASE_TEST
    + """
    def test_boot(self):
        servers = self.api.get_servers()
        self.assertEqual(1, len(servers))
        self.assertEqual('ACTIVE', servers[0]['status'])
"""
)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


def open_pr(fake: FakeGitHub, head: str = HEAD_TEST, number: int = 7, **options: object):  # type: ignore[no-untyped-def]
    return fake.open_pr(
        REPO, number, {TEST: BASE_TEST, "README": "x\n"}, {TEST: head, "README": "x\n"}, **options
    )


def review_bodies(fake: FakeGitHub, number: int = 7) -> list[dict]:  # type: ignore[type-arg]
    return [r.body for r in fake.calls("POST", rf"/pulls/{number}/reviews$") if r.status == 200]


def test_opened_posts_one_review_with_a_suggestion(tmp_path: Path, fake: FakeGitHub) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        status, answer = svc.send("pull_request", pr_event("opened", 7, pr.head, pr.base))
        assert status == 202 and answer["status"] == "queued"
        job = svc.wait_job(answer["job_id"])
        assert job.state is JobState.done, job.last_error
        metrics = svc.metrics()
    (review,) = review_bodies(fake)
    assert review["commit_id"] == pr.head and review["event"] == "COMMENT"
    (comment,) = review["comments"]
    assert comment["path"] == TEST and comment["side"] == "RIGHT" and comment["line"] == 11
    assert "start_line" not in comment  # one line: GitHub refuses start_line == line
    assert "```suggestion\n        servers = self.api.get_servers()\n" in comment["body"]
    assert "**unchecked-first-element**" in comment["body"]
    assert re.search(r"<!-- review-bot:fp=[0-9a-f]{32} -->", comment["body"])
    assert "1 new finding (1 warning)" in review["body"]
    assert fake.schema_errors == []
    assert all(r.auth == "token test-token" for r in fake.requests)
    posts = 'endpoint="POST /repos/{o}/{r}/pulls/{n}/reviews",status="200"'
    assert f"github_api_requests_total{{{posts}}} 1.0" in metrics


def test_redelivery_and_a_push_with_nothing_new_post_nothing(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        event = pr_event("opened", 7, pr.head, pr.base)
        _, answer = svc.send("pull_request", event, delivery="d-1")
        svc.wait_job(answer["job_id"])
        status, again = svc.send("pull_request", event, delivery="d-1")
        assert status == 202 and again["status"] == "duplicate"
        # A push that changes a line elsewhere: the finding is the same one.
        head = fake.push(
            REPO, 7, {TEST: HEAD_TEST.replace("'ACTIVE'", "'active'"), "README": "y\n"}
        )
        _, answer = svc.send("pull_request", pr_event("synchronize", 7, head, pr.base))
        job = svc.wait_job(answer["job_id"])
        assert job.state is JobState.done, job.last_error
        assert job.result["posted"]["already_posted"] == 1
    assert len(review_bodies(fake)) == 1


def test_a_fixed_finding_is_answered_and_its_thread_resolved(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        _, answer = svc.send("pull_request", pr_event("opened", 7, pr.head, pr.base))
        svc.wait_job(answer["job_id"])
        head = fake.push(REPO, 7, {TEST: FIXED_TEST, "README": "x\n"})
        _, answer = svc.send("pull_request", pr_event("synchronize", 7, head, pr.base))
        job = svc.wait_job(answer["job_id"])
        assert job.result["posted"]["fixed"] == 1
        # Once: a further push does not answer again.
        head = fake.push(REPO, 7, {TEST: FIXED_TEST + "\n", "README": "x\n"})
        _, answer = svc.send("pull_request", pr_event("synchronize", 7, head, pr.base))
        assert svc.wait_job(answer["job_id"]).result["posted"]["fixed"] == 0
    replies = fake.calls("POST", r"/comments/\d+/replies$")
    assert len(replies) == 1 and "Fixed in" in replies[0].body["body"]
    assert [t["isResolved"] for t in fake.pulls[(REPO, 7)].threads] == [True]
    assert len(review_bodies(fake)) == 1  # no review for a run with nothing new


def test_forged_signature_is_refused_and_nothing_is_called(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        event = pr_event("opened", 7, pr.head, pr.base)
        assert svc.send("pull_request", event, sign=lambda b: "sha256=" + "0" * 64)[0] == 401
        assert svc.send("pull_request", event, sign=lambda b: "")[0] == 401
        status, answer = svc.send("ping", payload("ping.none"))
        assert (status, answer["status"]) == (200, "ping")
    assert fake.requests == []


def test_recheck_by_a_member_reacts_and_runs_an_outsider_is_ignored(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        status, answer = svc.send("issue_comment", comment_event(7, "/recheck", "NONE"))
        assert status == 202 and answer["status"] == "unauthorised"
        assert fake.requests == []
        status, answer = svc.send("issue_comment", comment_event(7, "please\n/recheck\n", "MEMBER"))
        assert answer["status"] == "queued"
        job = svc.wait_job(answer["job_id"])
        assert job.state is JobState.done, job.last_error
        assert (
            'review_bot_events_ignored_total{kind="unauthorised",platform="github"} 1.0'
            in svc.metrics()
        )
    assert [(r["content"], r["comment"]) for r in fake.reactions] == [("eyes", 4242)]
    (review,) = review_bodies(fake)
    assert review["commit_id"] == pr.head  # the head, read when the job ran
