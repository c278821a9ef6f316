"""GitHub end to end: real `review-bot serve` on 127.0.0.1, signed deliveries built from
GitHub's own webhook examples, and the fake GitHub of tests/fakes/github.py."""

from __future__ import annotations

import re
import time
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
    assert "](docs/rules/" not in comment["body"]  # a relative link would point into the PR's repo
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
        job = svc.review("synchronize", 7, head, pr.base)
        assert job.state is JobState.done, job.last_error
        assert job.result["posted"]["already_posted"] == 1
    assert len(review_bodies(fake)) == 1


def test_a_fixed_finding_is_answered_and_its_thread_resolved(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    with GitHubService(tmp_path, fake) as svc:
        svc.review("opened", 7, pr.head, pr.base)
        head = fake.push(REPO, 7, {TEST: FIXED_TEST, "README": "x\n"})
        job = svc.review("synchronize", 7, head, pr.base)
        assert job.result["posted"]["fixed"] == 1
        # Once: a further push does not answer again.
        head = fake.push(REPO, 7, {TEST: FIXED_TEST + "\n", "README": "x\n"})
        assert svc.review("synchronize", 7, head, pr.base).result["posted"]["fixed"] == 0
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


MOVED_BASE = (
    BASE_TEST
    + """
    def test_old(self):
        server = self.api.get_servers()[0]
        self.assertEqual('ACTIVE', server['status'])
"""
)
# The same test, moved above test_list and renamed: its lines are added lines.
MOVED_HEAD = BASE_TEST.replace(
    "    def test_list(self):",
    """    def test_renamed(self):
        server = self.api.get_servers()[0]
        self.assertEqual('ACTIVE', server['status'])

    def test_list(self):""",
)


def test_code_moved_within_the_pr_gets_no_comment(tmp_path: Path, fake: FakeGitHub) -> None:
    pr = fake.open_pr(REPO, 7, {TEST: MOVED_BASE}, {TEST: MOVED_HEAD})
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done, job.last_error
        assert job.result["plan"]["summary"]["in_base"] == 1
    assert review_bodies(fake) == []
    # The base was read at the base sha: the baseline needs it.
    assert any(r.query.get("ref") == pr.base for r in fake.calls("GET", "/contents/" + TEST))


def test_a_500_after_the_review_was_stored_posts_it_once(tmp_path: Path, fake: FakeGitHub) -> None:
    pr = open_pr(fake)
    # GitHub stored the review, then answered 500: a blind retry would post it twice.
    fake.fail("POST", r"/pulls/7/reviews$", 500, after_effect=True)
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done and job.attempts == 2, job.last_error
        assert job.result["posted"]["already_posted"] == 1
    assert len(fake.calls("POST", r"/pulls/7/reviews$")) == 1  # PyGithub did not re-send it
    assert len(fake.pulls[(REPO, 7)].reviews) == 1


@pytest.mark.parametrize("status", [502, 409])
def test_a_5xx_or_409_before_anything_was_stored_is_retried_by_the_store(
    tmp_path: Path, fake: FakeGitHub, status: int
) -> None:
    pr = open_pr(fake)
    fake.fail("POST", r"/pulls/7/reviews$", status)
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done and job.attempts == 2, job.last_error
        assert job.result["posted"]["comments"] == 1
    assert len(fake.pulls[(REPO, 7)].reviews) == 1


def test_a_422_moves_the_comment_that_no_longer_fits_into_the_body(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake, head=HEAD_TEST.replace("'ACTIVE'", "'BUILD'"))
    # A push lands between fetch and post: the commented lines leave the diff, and the
    # fake answers the review as GitHub does, 422 "Line could not be resolved".
    fake.before("GET", r"/pulls/7/comments$", lambda: fake.push(REPO, 7, {TEST: BASE_TEST}))
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done, job.last_error
        assert job.result["posted"]["in_body"] == 1
    refused, posted = fake.calls("POST", r"/pulls/7/reviews$")
    assert refused.status == 422 and posted.status == 200
    (review,) = review_bodies(fake)
    assert review["comments"] == []
    assert f"`{TEST}:11` **unchecked-first-element**" in review["body"]
    assert "the diff changed while the review was being posted" in review["body"]


def test_a_422_that_names_no_comment_moves_them_all(tmp_path: Path, fake: FakeGitHub) -> None:
    pr = open_pr(fake)
    fake.fail("POST", r"/pulls/7/reviews$", 422, {"message": "Unprocessable Entity", "errors": []})
    with GitHubService(tmp_path, fake) as svc:
        assert svc.review("opened", 7, pr.head, pr.base).result["posted"]["in_body"] == 1
    (review,) = review_bodies(fake)
    assert review["comments"] == [] and "**unchecked-first-element**" in review["body"]


@pytest.mark.parametrize("secondary", [False, True], ids=["primary", "secondary"])
def test_a_rate_limit_waits_then_posts_once(
    tmp_path: Path, fake: FakeGitHub, secondary: bool
) -> None:
    pr = open_pr(fake)
    fake.rate_limit("POST", r"/pulls/7/reviews$", secondary=secondary)
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done and job.attempts == 2, job.last_error
    limited, posted = fake.calls("POST", r"/pulls/7/reviews$")
    assert (limited.status, posted.status) == (403 if not secondary else 429, 200)
    # Not before the wait the answer named (1 s, or the reset second).
    assert posted.at - limited.at >= 0.9
    assert len(fake.pulls[(REPO, 7)].reviews) == 1


def test_a_pr_of_3000_files_is_read_in_30_pages(tmp_path: Path, fake: FakeGitHub) -> None:
    others = {f"src/mod{i}.py": f"x = {i}\n" for i in range(3001)}
    pr = fake.open_pr(REPO, 7, {TEST: BASE_TEST}, {TEST: HEAD_TEST, **others})
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done, job.last_error
    pages = fake.calls("GET", r"/pulls/7/files$")
    assert len(pages) == 30 and pages[0].query["per_page"] == "100"
    (review,) = review_bodies(fake)
    assert "GitHub lists at most 3,000 files" in review["body"]
    # The test file sorts first, so it is within the cap and reviewed.
    assert len(review["comments"]) == 1


def test_a_file_without_patch_is_named_once_as_not_reviewed(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake, drop_patch={TEST})
    with GitHubService(tmp_path, fake) as svc:
        svc.review("opened", 7, pr.head, pr.base)
        head = fake.push(REPO, 7, {TEST: HEAD_TEST + "\n", "README": "x\n"})
        svc.review("synchronize", 7, head, pr.base)
    (review,) = review_bodies(fake)  # said once, not on every push
    assert review["comments"] == []
    assert f"`{TEST}`: not reviewed: GitHub sent no diff for it" in review["body"]
    assert not fake.calls("GET", "/contents/" + TEST)


def test_the_base_repo_config_applies_and_the_head_one_is_ignored(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    head_test = HEAD_TEST.replace(
        "integrated_helpers._IntegratedTestBase):\n",
        "integrated_helpers._IntegratedTestBase):\n    microversion = 'latest'\n",
    )
    pr = fake.open_pr(
        REPO,
        7,
        {
            TEST: BASE_TEST,
            ".review-bot.yaml": "rules:\n  severity:\n    latest-microversion: warning\n",
        },
        {
            TEST: head_test,
            ".review-bot.yaml": "rules:\n  severity:\n    unchecked-first-element: 'off'\n",
        },
    )
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done, job.last_error
    (review,) = review_bodies(fake)
    rules = sorted(
        re.findall(r"\*\*([a-z-]+)\*\*", " ".join(c["body"] for c in review["comments"]))
    )
    assert rules == ["latest-microversion", "unchecked-first-element"]
    (read,) = fake.calls("GET", r"/contents/\.review-bot\.yaml$")
    assert read.query["ref"] == pr.base


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("review:\n  min_severity: loud\n", ".review-bot.yaml:2: review.min_severity:"),
        ("rules:\n  severity: {no-such-rule: error}\n", "no-such-rule: no such rule"),
        ("storage: {url: 'sqlite:///x'}\n", ".review-bot.yaml:1: storage: unknown key"),
    ],
    ids=["bad-value", "unknown-rule", "team-only-key"],
)
def test_a_broken_repo_config_is_named_and_the_team_config_applies(
    tmp_path: Path, fake: FakeGitHub, text: str, error: str
) -> None:
    pr = fake.open_pr(
        REPO,
        7,
        {TEST: BASE_TEST, ".review-bot.yaml": text},
        {TEST: HEAD_TEST},
    )
    with GitHubService(tmp_path, fake) as svc:
        svc.review("opened", 7, pr.head, pr.base)
    (review,) = review_bodies(fake)
    assert len(review["comments"]) == 1
    assert error in review["body"] and "settings were not applied" in review["body"]


def test_drafts_wait_unless_configured(tmp_path: Path, fake: FakeGitHub) -> None:
    pr = open_pr(fake, draft=True)
    with GitHubService(tmp_path, fake) as svc:
        status, answer = svc.send(
            "pull_request", pr_event("opened", 7, pr.head, pr.base, draft=True)
        )
        assert (status, answer["status"]) == (202, "ignored") and "draft" in answer["reason"]
        _, answer = svc.send("pull_request", pr_event("ready_for_review", 7, pr.head, pr.base))
        assert answer["status"] == "queued"
        svc.wait_job(answer["job_id"])
    assert len(review_bodies(fake)) == 1
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    extra = "    review_drafts: true\n"
    with GitHubService(drafts, fake, extra=extra) as svc:
        _, answer = svc.send("pull_request", pr_event("opened", 8, pr.head, pr.base, draft=True))
        assert answer["status"] == "queued"


def app_key(tmp: Path) -> str:
    """A fresh RSA key for the App: its PEM goes to the service, its public half to the fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp / "app.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def test_app_auth_uses_installation_tokens_and_a_check_run(tmp_path: Path) -> None:
    fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp_path)).start()
    try:
        pr = open_pr(fake)
        first = pr.head  # push() moves pr.head
        with GitHubService(tmp_path, fake, auth="app") as svc:
            assert svc.review("opened", 7, pr.head, pr.base).state is JobState.done
            head = fake.push(REPO, 7, {TEST: HEAD_TEST + "\n", "README": "x\n"})
            job = svc.review("synchronize", 7, head, pr.base)
            assert job.state is JobState.done, job.last_error
    finally:
        fake.stop()
    # One token for both jobs: it is cached per installation.
    issued = fake.calls("POST", r"/app/installations/1/access_tokens$")
    assert len(issued) == 1 and issued[0].status == 201
    assert all(r.auth.startswith("Bearer ") for r in issued)
    assert not [r for r in fake.requests if r.status == 401]
    assert fake.schema_errors == []
    runs = sorted(fake.check_runs.values(), key=lambda r: r["id"])
    assert [(r["name"], r["head_sha"], r["status"]) for r in runs] == [
        ("review-bot", first, "completed"),
        ("review-bot", head, "completed"),
    ]
    assert runs[0]["conclusion"] == "neutral" and runs[0]["external_id"] == "7"
    assert runs[0]["output"]["title"] == "1 finding (1 new)"
    assert runs[1]["output"]["title"] == "1 finding (0 new)"
    # in_progress first, completed at the end: a POST then a PATCH per run.
    created = fake.calls("POST", r"/check-runs$")
    assert [r.body["status"] for r in created] == ["in_progress", "in_progress"]
    assert len(fake.calls("PATCH", r"/check-runs/\d+$")) == 2


def test_rerun_on_our_check_run_runs_a_forced_review(tmp_path: Path) -> None:
    fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp_path)).start()
    try:
        pr = open_pr(fake)
        # Per project, as the service applies every setting: the override fails the check.
        extra = (
            "review: {rule_docs_url: 'https://example.org/rb/'}\n"
            "projects:\n  - match: 'github:Codertocat/*'\n    review: {fail_on: warning}\n"
        )
        with GitHubService(tmp_path, fake, auth="app", extra=extra) as svc:
            first = svc.review("opened", 7, pr.head, pr.base)
            rerun = payload("check_run.rerequested")
            rerun["check_run"].update(name="review-bot", head_sha=pr.head, external_id="7")
            rerun["check_run"]["app"]["id"] = 2
            rerun["repository"]["full_name"] = REPO
            status, answer = svc.send("check_run", rerun)
            assert (status, answer["status"]) == (202, "queued")
            second = svc.wait_job(answer["job_id"])
            assert second.id != first.id and second.state is JobState.done, second.last_error
            # Another app's run is not ours to re-run.
            rerun["check_run"]["app"]["id"] = 99
            assert svc.send("check_run", rerun)[1]["status"] == "ignored"
    finally:
        fake.stop()
    runs = sorted(fake.check_runs.values(), key=lambda r: r["id"])
    assert [r["conclusion"] for r in runs] == [
        "failure",
        "failure",
    ]  # the project's review.fail_on: warning
    (review,) = review_bodies(fake)
    link = "(https://example.org/rb/docs/rules/unchecked-first-element.md)"
    assert link in review["comments"][0]["body"]
    assert len(fake.pulls[(REPO, 7)].reviews) == 1  # the re-run found nothing new to post


def test_github_enterprise_server_api_url(tmp_path: Path) -> None:
    fake = FakeGitHub(prefix="/api/v3").start()
    try:
        pr = open_pr(fake)
        with GitHubService(tmp_path, fake) as svc:
            svc.review("opened", 7, pr.head, pr.base)
            head = fake.push(REPO, 7, {TEST: FIXED_TEST, "README": "x\n"})
            job = svc.review("synchronize", 7, head, pr.base)
            assert job.result["posted"]["fixed"] == 1, job.last_error
    finally:
        fake.stop()
    paths = {r.path for r in fake.requests}
    assert "/api/v3/repos/Codertocat/Hello-World/pulls/7/reviews" in paths
    assert "/api/graphql" in paths  # GraphQL beside /api/v3, not under it
    assert all(p.startswith(("/api/v3/", "/api/graphql")) for p in paths)
    assert fake.pulls[(REPO, 7)].threads[0]["isResolved"]


def test_an_installation_token_is_renewed_five_minutes_before_it_expires(tmp_path: Path) -> None:
    from bot.platforms.github.client import GitHubClient

    fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp_path)).start()
    now = [time.time()]
    try:
        client = GitHubClient(
            fake.base_url,
            app_id=2,
            private_key=(tmp_path / "app.pem").read_text(),
            clock=lambda: now[0],
        )
        open_pr(fake)
        client.pull(1, REPO, 7)
        client.pull(1, REPO, 7)
        now[0] += 3600 - 301  # 5 min 1 s before the expiry: still good
        client.pull(1, REPO, 7)
        now[0] += 2  # within five minutes of it: renewed before use, not after a 401
        client.pull(1, REPO, 7)
    finally:
        fake.stop()
    issued = fake.calls("POST", r"/app/installations/1/access_tokens$")
    used = [r.auth for r in fake.calls("GET", r"/pulls/7$")]
    assert len(issued) == 2
    assert used[0] == used[1] == used[2] != used[3]
    assert all(r.status == 200 for r in fake.calls("GET", r"/pulls/7$"))


def test_with_app_auth_a_retry_keeps_one_check_run_and_a_failure_completes_it(
    tmp_path: Path,
) -> None:
    fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp_path)).start()
    try:
        pr = open_pr(fake)
        fake.fail("POST", r"/pulls/7/reviews$", 503)  # retried by the store
        with GitHubService(tmp_path, fake, auth="app") as svc:
            job = svc.review("opened", 7, pr.head, pr.base)
            assert job.state is JobState.done and job.attempts == 2, job.last_error
            (run,) = fake.check_runs.values()
            assert run["conclusion"] == "neutral"
            # A PR the bot may not review (404 from the API): the run does not spin forever.
            other = fake.open_pr(REPO, 8, {TEST: BASE_TEST}, {TEST: HEAD_TEST})
            fake.fail("POST", r"/pulls/8/reviews$", 404, {"message": "Not Found"})
            assert svc.review("opened", 8, other.head, other.base).state is JobState.failed
    finally:
        fake.stop()
    runs = sorted(fake.check_runs.values(), key=lambda r: r["id"])
    assert len(runs) == 2 and runs[1]["head_sha"] == other.head
    assert (runs[1]["status"], runs[1]["conclusion"]) == ("completed", "neutral")
    assert runs[1]["output"]["title"] == "Not reviewed"


def test_an_event_for_a_head_the_pr_has_moved_past_posts_nothing(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    pr = open_pr(fake)
    old = pr.head
    # A late delivery: the PR was pushed to again before its job ran.
    fake.push(REPO, 7, {TEST: HEAD_TEST.replace("'ACTIVE'", "'BUILD'"), "README": "x\n"})
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, old, pr.base)
    assert job.state is JobState.failed and "is no longer at" in (job.last_error or "")
    assert review_bodies(fake) == []  # its hunks would not have been this head's


def test_a_test_file_that_is_not_utf8_or_too_large_is_named_not_reviewed(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    latin = "tests/unit/test_latin.py"
    big = "tests/unit/test_big.py"
    pr = fake.open_pr(
        REPO,
        7,
        {TEST: BASE_TEST},
        {
            TEST: HEAD_TEST,
            latin: "# caf\xe9\nx = 1\n".encode("latin-1"),
            big: "x = 1\n" * 400_000,  # 2.4 MB: over limits.max_file_bytes, read as a blob
        },
    )
    with GitHubService(tmp_path, fake) as svc:
        job = svc.review("opened", 7, pr.head, pr.base)
        assert job.state is JobState.done, job.last_error
    (review,) = review_bodies(fake)
    assert len(review["comments"]) == 1
    assert f"`{latin}`: skipped: not valid UTF-8 (byte 5)" in review["body"]
    assert f"`{big}`: skipped: 2,400,000 bytes is over the limit" in review["body"]
