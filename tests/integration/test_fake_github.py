"""The fake GitHub holds the rules the real one holds, seen through the bot's own client:
if the fake let a wrong request through, the end-to-end tests would prove nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.errors import PermanentError
from bot.platforms.github.client import GitHubClient, Unprocessable
from tests.fakes.github import FakeGitHub

REPO = "o/r"
OLD = "".join(f"line {i}\n" for i in range(1, 41))
NEW = OLD.replace("line 5\n", "line five\n").replace("line 30\n", "line thirty\n")


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    server.open_pr(REPO, 1, {"t.py": OLD}, {"t.py": NEW})
    yield server
    server.stop()


def client(fake: FakeGitHub, token: str = "test-token") -> GitHubClient:
    return GitHubClient(fake.base_url, token=token)


def review(*comments: dict[str, object], **extra: object) -> dict[str, object]:
    return {"commit_id": "x", "event": "COMMENT", "body": "b", "comments": list(comments), **extra}


def test_a_bad_token_gets_githubs_401(fake: FakeGitHub) -> None:
    with pytest.raises(PermanentError) as caught:
        client(fake, "wrong").pull(None, REPO, 1)
    assert caught.value.status == 401 and "Bad credentials" in str(caught.value)


def test_a_line_outside_the_hunks_rejects_the_whole_review(fake: FakeGitHub) -> None:
    good = {"path": "t.py", "line": 5, "side": "RIGHT", "body": "ok"}
    bad = {"path": "t.py", "line": 20, "side": "RIGHT", "body": "not in a hunk"}
    with pytest.raises(Unprocessable) as caught:
        client(fake).create_review(None, REPO, 1, review(good, bad))
    assert caught.value.errors == ["Line could not be resolved"]
    assert fake.pulls[(REPO, 1)].reviews == [] and fake.pulls[(REPO, 1)].comments == []


@pytest.mark.parametrize(
    ("start", "error"),
    [
        (5, "start line must precede the end line"),
        (2, "start line must be part of the same hunk as the line."),
    ],
)
def test_start_line_must_precede_line_in_the_same_hunk(
    fake: FakeGitHub, start: int, error: str
) -> None:
    # Hunks are 2-8 and 27-33: 2..5 is fine, 5..5 and 2..30 are not.
    ok = {"path": "t.py", "start_line": 2, "line": 5, "side": "RIGHT", "body": "x"}
    client(fake).create_review(None, REPO, 1, review(ok))
    line = 5 if start == 5 else 30
    wrong = {"path": "t.py", "start_line": start, "line": line, "side": "RIGHT", "body": "x"}
    with pytest.raises(Unprocessable) as caught:
        client(fake).create_review(None, REPO, 1, review(wrong))
    assert error in caught.value.errors[0]


def test_a_path_outside_the_pr_is_refused(fake: FakeGitHub) -> None:
    other = {"path": "elsewhere.py", "line": 1, "side": "RIGHT", "body": "x"}
    with pytest.raises(Unprocessable) as caught:
        client(fake).create_review(None, REPO, 1, review(other))
    assert "path is invalid" in caught.value.errors[0]


def test_a_body_against_the_schema_is_refused_and_recorded(fake: FakeGitHub) -> None:
    with pytest.raises(Unprocessable):
        client(fake).create_review(None, REPO, 1, review(event="SHOUT"))
    assert len(fake.schema_errors) == 1 and "SHOUT" in fake.schema_errors[0]


def test_files_are_paged_with_link_headers_and_capped_at_3000(fake: FakeGitHub) -> None:
    fake.open_pr(REPO, 2, {}, {f"f{i:04}.py": "x\n" for i in range(3050)})
    files = client(fake).files(None, REPO, 2)
    assert len(files) == 3000 and files[-1]["filename"] == "f2999.py"
    pages = fake.calls("GET", r"/pulls/2/files$")
    assert len(pages) == 30
    assert pages[0].query == {"per_page": "100"} and pages[1].query["page"] == "2"


def test_contents_over_1mb_come_without_content_and_are_read_as_a_blob(fake: FakeGitHub) -> None:
    big = "x = 1\n" * 200_000  # 1.2 MB
    sha = fake.tree({"big.py": big})
    found = client(fake).contents(None, REPO, "big.py", sha)
    assert found is not None and found[0] == big.encode()
    assert len(fake.calls("GET", r"/git/blobs/")) == 1
    assert client(fake).contents(None, REPO, "missing.py", sha) is None


def test_check_runs_need_an_installation_token(fake: FakeGitHub) -> None:
    with pytest.raises(PermanentError) as caught:
        client(fake).create_check_run(None, REPO, {"name": "review-bot", "head_sha": "x"})
    assert caught.value.status == 403


def test_a_body_over_65536_characters_is_refused(fake: FakeGitHub) -> None:
    long = {"path": "t.py", "line": 5, "side": "RIGHT", "body": "x" * 65_537}
    with pytest.raises(Unprocessable) as caught:
        client(fake).create_review(None, REPO, 1, review(long))
    assert "too long" in caught.value.errors[0]
