"""The fake Gerrit holds the rules the real one holds, seen through python-gerrit-api, the
library the bot talks to Gerrit with: if the fake let a wrong request through, the
end-to-end tests would prove nothing."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import unidiff
from gerrit import GerritClient
from gerrit.changes.files import GerritChangeRevisionFile
from gerrit.utils.exceptions import ConflictError, ValidationError

from tests.fakes.gerrit import FakeGerrit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gerrit"
PROJECT = "openstack/nova"
OLD = "".join(f"line {i}\n" for i in range(1, 41)).encode()
NEW = OLD.replace(b"line 5\n", b"line five\n").replace(b"line 30\n", b"line thirty\n")
T0 = 1_800_000_000  # 2027-01-15 08:00:00 UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeGerrit]:
    with FakeGerrit(token="tok-123", clock=clock) as server:
        yield server


@pytest.fixture
def gc(fake: FakeGerrit) -> GerritClient:
    return GerritClient(base_url=fake.url, username="review-bot", password="secret")


def cid(number: int) -> str:
    return quote(PROJECT, safe="") + "~" + str(number)


def raw(gc: GerritClient, endpoint: str, **params: Any) -> requests.Response:
    url = gc.get_endpoint_url(endpoint)
    return gc.requester.get(url, params=params or None, raise_for_status=False)


def post(gc: GerritClient, number: int, body: dict[str, Any], rev: str = "current") -> Any:
    url = gc.get_endpoint_url(f"/changes/{cid(number)}/revisions/{rev}/review")
    return gc.requester.post(url, json=body, raise_for_status=False)


def make_change(fake: FakeGerrit) -> int:
    return fake.create_change(
        PROJECT,
        {"t.py": NEW, "new.py": b"x = 1\n", "gone.py": None},
        base={"t.py": OLD, "gone.py": b"old\n", "keep.py": b"same\n"},
    )


def comment(path: str = "t.py", **extra: Any) -> dict[str, Any]:
    return {"comments": {path: [{"line": 5, "message": "nit", **extra}]}}


# --- protocol -------------------------------------------------------------------------------


def test_json_bodies_carry_the_xssi_prefix_the_client_strips(gc: GerritClient) -> None:
    response = raw(gc, "/config/server/version")
    assert response.content.startswith(b")]}'\n")
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert json.loads(response.content[5:]) == "3.10.1"
    assert gc.get("/config/server/version") == "3.10.1"


def test_credentials_are_required_under_a(fake: FakeGerrit, gc: GerritClient) -> None:
    url = f"{fake.url}/a/config/server/version"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and missing.text.strip() == "Unauthorized"
    wrong = requests.get(url, auth=("review-bot", "nope"), timeout=10)
    assert wrong.status_code == 401
    # Without credentials python-gerrit-api drops /a; the fake serves nothing there.
    anonymous = GerritClient(base_url=fake.url)
    assert (
        anonymous.requester.get(
            anonymous.get_endpoint_url("/changes/"), raise_for_status=False
        ).status_code
        == 404
    )
    assert raw(gc, "/config/server/version").status_code == 200
    assert fake.calls("GET", "/a/config")[-1].user == "review-bot"
    assert [r.status for r in fake.calls("GET", "/a/config")] == [401, 401, 200]


def test_bearer_tokens_authenticate_too(fake: FakeGerrit) -> None:
    session = requests.Session()
    session.auth = Bearer("tok-123")
    bearer = GerritClient(base_url=fake.url, session=session)
    assert bearer.get("/config/server/version") == "3.10.1"
    assert fake.requests[-1].headers["Authorization"] == "Bearer tok-123"
    assert fake.requests[-1].user == "review-bot"
    session.auth = Bearer("stale")
    assert (
        bearer.requester.get(
            bearer.get_endpoint_url("/config/server/version"), raise_for_status=False
        ).status_code
        == 401
    )


def test_every_change_id_form_resolves_and_unknown_ones_404(
    fake: FakeGerrit, gc: GerritClient
) -> None:
    n = make_change(fake)
    change_id = fake.change(n).change_id
    for form in (cid(n), str(n), f"{quote(PROJECT, safe='')}~master~{change_id}", change_id):
        assert gc.get(f"/changes/{form}")["_number"] == n
    assert gc.changes.get(cid(n)).id == cid(n)  # the library's own lookup (with a trailing /)
    missing = raw(gc, f"/changes/{cid(999)}")
    assert missing.status_code == 404 and missing.text == f"Not found: {PROJECT}~999\n"
    assert raw(gc, f"/changes/{cid(n)}", o="NOT_AN_OPTION").status_code == 400


def test_change_info_follows_the_options(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    sha2 = fake.upload(n, {"t.py": NEW + b"more\n"})
    bare = gc.get(f"/changes/{cid(n)}")
    assert bare["id"] == cid(n) and bare["status"] == "NEW"
    assert bare["change_id"].startswith("I") and len(bare["change_id"]) == 41
    assert bare["owner"] == {"_account_id": 1000002}  # no DETAILED_ACCOUNTS: the id alone
    assert "revisions" not in bare and bare["updated"] == "2027-01-15 08:00:00.000000000"
    info = gc.get(f"/changes/{cid(n)}?o=ALL_REVISIONS&o=ALL_COMMITS&o=DETAILED_ACCOUNTS")
    assert info["current_revision"] == sha2 and info["owner"]["username"] == "ada"
    assert sorted(r["_number"] for r in info["revisions"].values()) == [1, 2]
    rev = info["revisions"][sha2]
    assert rev["ref"] == f"refs/changes/{n % 100:02d}/{n}/2" and rev["kind"] == "REWORK"
    assert rev["commit"]["parents"][0]["commit"] == fake.change(n).parent
    current = gc.get(f"/changes/{cid(n)}?o=CURRENT_REVISION")
    assert list(current["revisions"]) == [sha2] and "commit" not in current["revisions"][sha2]


# --- files, content, patch, diff ------------------------------------------------------------


def test_content_of_a_quote_plus_path_round_trips_any_bytes(
    fake: FakeGerrit, gc: GerritClient
) -> None:
    latin = b"# caf\xe9 \xff\nx = 1\n"  # not UTF-8
    n = fake.create_change(PROJECT, {"src/a b.py": latin}, base={"src/a b.py": b"x = 0\n"})
    sha = fake.change(n).current.sha
    file = GerritChangeRevisionFile("src/a b.py", {}, cid(n), sha, gc)
    assert file.endpoint.endswith("/files/src%2Fa+b.py")
    assert base64.b64decode(file.get_content()) == latin
    response = raw(gc, f"{file.endpoint}/content")
    assert response.headers["Content-Type"] == "text/plain; charset=ISO-8859-1"
    assert response.headers["X-FYI-Content-Encoding"] == "base64"
    assert response.headers["X-FYI-Content-Type"] == "text/x-python"
    assert base64.b64decode(raw(gc, f"{file.endpoint}/content", parent="1").text) == b"x = 0\n"
    added = GerritChangeRevisionFile("nope.py", {}, cid(n), sha, gc)
    absent = raw(gc, f"{added.endpoint}/content")
    assert absent.status_code == 404 and absent.text == "File not found: nope.py\n"


def test_files_list_has_every_file_and_the_commit_message(
    fake: FakeGerrit, gc: GerritClient
) -> None:
    base = {"t.py": OLD, "gone.py": b"old\n", "img.bin": b"\x00\x01", "old_name.py": OLD}
    n = fake.create_change(
        PROJECT,
        {
            "t.py": NEW,
            "new.py": b"x = 1\n",
            "gone.py": None,
            "img.bin": b"\x00\x02",
            "old_name.py": None,
            "new_name.py": NEW,
        },
        base=base,
    )
    files = gc.get(f"/changes/{cid(n)}/revisions/current/files/")
    assert list(files) == sorted(files)
    assert set(files) == {"/COMMIT_MSG", "t.py", "new.py", "gone.py", "img.bin", "new_name.py"}
    assert files["/COMMIT_MSG"]["status"] == "A"
    assert files["t.py"] == {
        "lines_inserted": 2,
        "lines_deleted": 2,
        "size_delta": len(NEW) - len(OLD),
        "size": len(NEW),
    }
    assert files["new.py"] == {"status": "A", "lines_inserted": 1, "size_delta": 6, "size": 6}
    assert files["gone.py"] == {"status": "D", "lines_deleted": 1, "size_delta": -4, "size": 0}
    assert files["img.bin"] == {"binary": True, "size_delta": 0, "size": 2}
    assert (
        files["new_name.py"]["status"] == "R" and files["new_name.py"]["old_path"] == "old_name.py"
    )
    sha1 = fake.change(n).current.sha
    fake.upload(n, {"new.py": b"x = 2\n"})
    against_ps1 = gc.get(f"/changes/{cid(n)}/revisions/2/files/?base=1")
    assert set(against_ps1) == {"/COMMIT_MSG", "new.py"} and sha1 != fake.change(n).current.sha


def test_the_patch_parses_and_has_the_right_lines(fake: FakeGerrit, gc: GerritClient) -> None:
    n = fake.create_change(
        PROJECT,
        {"t.py": NEW, "new.py": b"a\nb", "gone.py": None, "was.py": None, "moved.py": NEW + b"x\n"},
        base={"t.py": OLD, "gone.py": b"old\n", "was.py": NEW},
    )
    endpoint = f"/changes/{cid(n)}/revisions/current/patch"
    response = raw(gc, endpoint)
    assert response.headers["X-FYI-Content-Encoding"] == "base64"
    text = base64.b64decode(response.text).decode()
    assert raw(gc, endpoint + "?raw").text == text
    ch = fake.change(n)
    assert text.startswith(f"From {ch.current.sha} Mon Sep 17 00:00:00 2001\nFrom: Ada Lovelace")
    assert f"Subject: [PATCH] {ch.subject}\n\nChange-Id: {ch.change_id}\n---\n\ndiff --git" in text
    patch = {f.path: f for f in unidiff.PatchSet(text)}
    assert set(patch) == {"t.py", "new.py", "gone.py", "moved.py"}
    assert [line.value for h in patch["t.py"] for line in h if line.is_added] == [
        "line five\n",
        "line thirty\n",
    ]
    assert patch["new.py"].is_added_file and patch["gone.py"].is_removed_file
    assert patch["moved.py"].is_rename and "rename from was.py\n" in text
    assert "@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file\ndiff --git" in text
    one = raw(gc, endpoint + "?raw&path=t.py").text
    assert one.startswith("diff --git a/t.py b/t.py\n") and "new.py" not in one
    unchanged = raw(gc, endpoint, path="keep.py")
    assert unchanged.status_code == 404 and unchanged.text.startswith("File not found: keep.py")


def test_diff_info_content_and_context(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    endpoint = f"/changes/{cid(n)}/revisions/current/files/t.py/diff"
    full = gc.get(endpoint + "?context=ALL&intraline&whitespace=IGNORE_NONE")
    assert full["change_type"] == "MODIFIED" and full["meta_b"]["lines"] == 41
    assert full["diff_header"][0] == "diff --git a/t.py b/t.py"
    assert full["content"][:2] == [
        {"ab": ["line 1", "line 2", "line 3", "line 4"]},
        {"a": ["line 5"], "b": ["line five"]},
    ]
    b_lines = [x for c in full["content"] for x in c.get("ab", []) + c.get("b", [])]
    assert b_lines == NEW.decode().split("\n")
    default = gc.get(endpoint)  # DEFAULT_CONTEXT lines around each edit, the rest skipped
    assert {"skip": 4} in default["content"] and {
        "ab": ["line 1", "line 2", "line 3", "line 4"]
    } in default["content"]
    added = gc.get(f"/changes/{cid(n)}/revisions/current/files/new.py/diff")
    assert added["change_type"] == "ADDED" and "meta_a" not in added


def test_branch_files_are_served_base64(fake: FakeGerrit, gc: GerritClient) -> None:
    fake.set_branch_file(PROJECT, "master", "conf/a b.ini", b"\xfe\xff")
    p = quote(PROJECT, safe="")
    for branch in ("master", quote("refs/heads/master", safe="")):
        got = raw(gc, f"/projects/{p}/branches/{branch}/files/conf%2Fa%20b.ini/content")
        assert base64.b64decode(got.text) == b"\xfe\xff"
    assert raw(gc, f"/projects/{p}/branches/master/files/nope/content").status_code == 404


# --- reviews --------------------------------------------------------------------------------


def nothing_stored(fake: FakeGerrit, n: int) -> bool:
    ch = fake.change(n)
    return not ch.comments and len(ch.messages) == len(ch.patch_sets) and not fake.reviews


def test_a_comment_on_a_file_outside_the_revision_rejects_the_review(
    fake: FakeGerrit, gc: GerritClient
) -> None:
    n = make_change(fake)
    body = {
        "message": "m",
        "comments": {
            "t.py": [{"line": 5, "message": "ok"}],
            "keep.py": [{"line": 1, "message": "unchanged file"}],
        },
    }
    answer = post(gc, n, body)
    assert (
        answer.status_code == 400 and answer.text == f"file keep.py not found in revision {n},1\n"
    )
    assert nothing_stored(fake, n)
    with pytest.raises(ValidationError):
        gc.post(f"/changes/{cid(n)}/revisions/current/review", json=body)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"path": "t.py", "line": -1}, "negative line number -1 not allowed on t.py"),
        (
            {
                "path": "t.py",
                "range": {"start_line": 5, "start_character": 0, "end_line": 4, "end_character": 0},
            },
            "Range (5:0 - 4:0) is not valid for the comment on t.py",
        ),
        (
            {"path": "/PATCHSET_LEVEL", "line": 3},
            "Patchset-level comments can't have side, range, or line",
        ),
        (
            {"path": "t.py", "in_reply_to": "deadbeef_00000000"},
            "Invalid inReplyTo, comment deadbeef_00000000 not found",
        ),
        (
            {"path": "t.py", "fix_suggestions": [{"description": "d", "replacements": []}]},
            "At least one replacement is required for the suggested fix of the comment on t.py",
        ),
    ],
)
def test_comments_validator_refusals(
    fake: FakeGerrit, gc: GerritClient, entry: dict[str, Any], error: str
) -> None:
    fake.fix_suggestions_experiment = True
    n = make_change(fake)
    path = entry.pop("path")
    answer = post(gc, n, {"comments": {path: [{"message": "x", **entry}]}})
    assert (answer.status_code, answer.text) == (400, error + "\n")
    assert nothing_stored(fake, n)


def test_closed_changes_take_comments_but_not_votes(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    fake.set_status(n, "MERGED")
    assert post(gc, n, {"message": "late", **comment()}).status_code == 200
    assert len(fake.comments(n)) == 1
    lowered = post(gc, n, {"labels": {"Code-Review": -1}, **comment(message="again")})
    assert lowered.status_code == 409
    assert lowered.text == "Cannot reduce vote on labels for closed change: Code-Review\n"
    assert len(fake.comments(n)) == 1  # the 409 stored none of its comments
    with pytest.raises(ConflictError):
        gc.post(f"/changes/{cid(n)}/revisions/current/review", json={"labels": {"Code-Review": -1}})
    raised = post(gc, n, {"labels": {"Code-Review": 1}})  # a post-submit vote may go up
    assert raised.status_code == 200 and json.loads(raised.text[5:]) == {
        "labels": {"Code-Review": 1}
    }
    m = make_change(fake)
    fake.set_status(m, "ABANDONED")
    refused = post(gc, m, {"labels": {"Code-Review": 1}, "message": "x"})
    assert (refused.status_code, refused.text) == (409, "change is closed\n")
    assert post(gc, m, {"labels": {"Code-Review": 0}, "message": "no vote"}).status_code == 200


FIX = {
    "description": "use a constant",
    "replacements": [
        {
            "path": "t.py",
            "range": {"start_line": 5, "start_character": 0, "end_line": 5, "end_character": 9},
            "replacement": "line 5",
        }
    ],
}


def test_fix_suggestions_on_3_10_need_the_experiment(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    answer = post(gc, n, comment(fix_suggestions=[FIX]))
    assert answer.status_code == 500
    assert answer.text.startswith("Internal server error\n")
    assert "feature flag prohibits setting fixSuggestions" in answer.text
    assert nothing_stored(fake, n)
    fake.fix_suggestions_experiment = True
    assert post(gc, n, comment(fix_suggestions=[FIX])).status_code == 200
    [stored] = gc.get(f"/changes/{cid(n)}/comments")["t.py"]
    [fix] = stored["fix_suggestions"]
    assert fix["fix_id"] and fix["replacements"] == FIX["replacements"]


def test_fix_suggestions_before_3_10_are_silently_dropped(
    fake: FakeGerrit, gc: GerritClient
) -> None:
    fake.version = "3.9.7"
    n = make_change(fake)
    assert post(gc, n, comment(fix_suggestions=[{"description": "bad shape"}])).status_code == 200
    [stored] = gc.get(f"/changes/{cid(n)}/comments")["t.py"]
    assert stored["message"] == "nit" and "fix_suggestions" not in stored


def test_messages_over_16056_bytes_are_refused(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    assert post(gc, n, {"message": "a" * 16056}).status_code == 200
    big = post(gc, n, {"message": "é" * 8029})  # 16,058 bytes, 8,029 characters
    assert big.status_code == 400
    assert big.text == (
        "One or more comments were rejected in validation: "
        "Comment size exceeds limit (16058 > 16056)\n"
    )
    inline = post(gc, n, {"comments": {"t.py": [{"line": 5, "message": "b" * 16057}]}})
    assert inline.status_code == 400 and "(16057 > 16056)" in inline.text
    assert len(fake.change(n).messages) == 2 and not fake.comments(n)


def test_omit_duplicate_comments_is_per_patch_set(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    body = {"omit_duplicate_comments": True, **comment()}
    for _ in range(2):
        assert post(gc, n, body).status_code == 200
    assert len(fake.comments(n)) == 1
    assert post(gc, n, comment()).status_code == 200  # without the flag, a second copy
    assert len(fake.comments(n)) == 2
    fake.upload(n, {"t.py": NEW + b"x\n"})
    assert post(gc, n, body).status_code == 200  # another patch set: not a duplicate
    assert [c["patch_set"] for c in fake.comments(n)] == [1, 1, 2]
    empty = post(
        gc, n, {"comments": {"t.py": [{"line": 1, "message": "  "}], "nope.py": [{"message": ""}]}}
    )
    assert empty.status_code == 200 and len(fake.comments(n)) == 3


def test_replies_read_back_and_inherit_unresolved(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    post(
        gc,
        n,
        {
            "tag": "autogenerated:review-bot",
            "message": "Summary",
            "comments": {
                "t.py": [
                    {"line": 5, "message": "open", "unresolved": True},
                    {"line": 30, "message": "fyi"},
                ]
            },
        },
    )
    roots = {c["message"]: c for c in gc.get(f"/changes/{cid(n)}/comments")["t.py"]}
    assert roots["open"]["unresolved"] is True and roots["fyi"]["unresolved"] is False
    assert "path" not in roots["open"] and roots["open"]["patch_set"] == 1
    assert roots["open"]["author"]["username"] == "review-bot"
    assert roots["open"]["author"]["_account_id"] == 1000001
    assert roots["open"]["tag"] == "autogenerated:review-bot"
    replies = [
        {"in_reply_to": roots[m]["id"], "line": roots[m]["line"], "message": "re " + m}
        for m in roots
    ]
    assert post(gc, n, {"comments": {"t.py": replies}}).status_code == 200
    listed = gc.get(f"/changes/{cid(n)}/revisions/1/comments")["t.py"]
    back = {c["message"]: c for c in listed}
    assert (
        back["re open"]["in_reply_to"] == roots["open"]["id"]
        and back["re open"]["unresolved"] is True
    )
    assert back["re fyi"]["unresolved"] is False and "patch_set" not in back["re fyi"]
    messages = gc.get(f"/changes/{cid(n)}/messages")
    assert [m["message"] for m in messages[1:]] == [
        "Patch Set 1:\n\n(2 comments)\n\nSummary",
        "Patch Set 1:\n\n(2 comments)",
    ]
    assert (
        messages[1]["tag"] == "autogenerated:review-bot"
        and messages[0]["message"] == "Uploaded patch set 1."
    )


def test_votes_and_options_are_kept_as_sent(
    fake: FakeGerrit, gc: GerritClient, clock: Clock
) -> None:
    n = make_change(fake)
    clock.now = T0 + 60
    body = {
        "message": "ok",
        "labels": {"Code-Review": 1, "Nonexistent": 1},
        "notify": "OWNER",
        "ignore_automatic_attention_set_rules": True,
    }
    answer = post(gc, n, body)
    assert json.loads(answer.text[5:]) == {"labels": {"Code-Review": 1}}  # strictLabels = false
    assert fake.change(n).votes[(1, "review-bot")] == {"Code-Review": 1}
    assert fake.change(n).messages[-1]["message"] == "Patch Set 1: Code-Review+1\n\nok"
    assert fake.calls("POST", "/review$")[-1].body["notify"] == "OWNER"
    assert fake.reviews == [(n, 1, body)]
    assert gc.get(f"/changes/{cid(n)}")["updated"] == "2027-01-15 08:01:00.000000000"
    assert json.loads(post(gc, n, {}).text[5:]) == {}
    assert len(fake.change(n).messages) == 2  # an empty review writes no message


# --- queries ----------------------------------------------------------------------------------


def test_after_is_inclusive_and_pages_say_more(
    fake: FakeGerrit, gc: GerritClient, clock: Clock
) -> None:
    numbers = []
    for i in range(4):
        clock.now = T0 + 60 * i
        numbers.append(make_change(fake))
    fake.set_status(numbers[3], "MERGED")  # updated at T0 + 180, but not open
    hits = gc.get('/changes/?q=status:open+after:"2027-01-15 08:01:00"')
    assert [c["_number"] for c in hits] == [numbers[2], numbers[1]]  # newest first, inclusive
    spaced = raw(gc, "/changes/", q='status:open after:"2027-01-15 08:01:01"')
    assert [c["_number"] for c in json.loads(spaced.text[5:])] == [numbers[2]]
    first = gc.changes.search("status:open", limit=2)
    assert len(first) == 2 and first[-1]["_more_changes"] is True
    rest = gc.changes.search("status:open", limit=2, skip=2)
    assert [c["_number"] for c in rest] == [numbers[0]] and "_more_changes" not in rest[-1]
    assert [c["_number"] for c in gc.get(f"/changes/?q=project:{PROJECT}+status:merged")] == [
        numbers[3]
    ]
    bad = raw(gc, "/changes/", q="status:open foo:bar")
    assert (bad.status_code, bad.text) == (400, "Unsupported operator foo:bar\n")


# --- control ----------------------------------------------------------------------------------


def test_injected_failures_answer_then_clear(fake: FakeGerrit, gc: GerritClient) -> None:
    n = make_change(fake)
    fake.fail("GET", r"/files/$", 503, "Service Unavailable", times=2, headers={"Retry-After": "1"})
    files = f"/changes/{cid(n)}/revisions/current/files/"
    first = raw(gc, files)
    assert (first.status_code, first.text, first.headers["Retry-After"]) == (
        503,
        "Service Unavailable\n",
        "1",
    )
    assert raw(gc, files).status_code == 503 and raw(gc, files).status_code == 200
    fake.fail("POST", r"/review$", 500, after_effect=True)
    assert post(gc, n, comment()).status_code == 500
    assert len(fake.comments(n)) == 1  # saved before the failure, as a timed-out server may
    assert [r.status for r in fake.calls("POST")] == [500]


def test_events_have_the_fixture_shapes(fake: FakeGerrit, clock: Clock) -> None:
    n = fake.create_change(PROJECT, {"t.py": NEW}, base={"t.py": OLD}, topic="bug/1", number=934127)
    fake.upload(n, {"t.py": NEW + b"x\n"}, kind="TRIVIAL_REBASE")
    clock.now = T0 + 5
    fixtures = {p.stem: json.loads(p.read_text()) for p in FIXTURES.glob("*.json")}
    created = fake.patchset_created(n)
    recheck = fake.comment_added(n, "grace", "recheck")
    vote = fake.comment_added(n, "grace", "Looks good", approvals={"Code-Review": 1})
    merged = fake.change_merged(n)
    for event, name in [
        (created, "patchset-created"),
        (recheck, "comment-added-recheck"),
        (vote, "comment-added-vote"),
        (merged, "change-merged"),
    ]:
        want = fixtures[name]
        assert list(event) == list(want)
        for key in ("change", "patchSet"):
            assert set(event[key]) == set(want[key]), (name, key)
    assert created["patchSet"]["ref"] == "refs/changes/27/934127/2"
    assert created["patchSet"]["kind"] == "TRIVIAL_REBASE" and created["change"]["number"] == 934127
    assert created["change"]["commitMessage"].endswith(f"Change-Id: {created['change']['id']}\n")
    assert (
        recheck["comment"] == "Patch Set 2:\n\nrecheck" and recheck["author"]["username"] == "grace"
    )
    assert vote["comment"] == "Patch Set 2: Code-Review+1\n\nLooks good"
    assert vote["approvals"] == [
        {"type": "Code-Review", "description": "Code-Review", "value": "1", "oldValue": "0"}
    ]
    assert merged["change"]["status"] == "MERGED" and merged["eventCreatedOn"] == T0 + 5
    assert fake.change(n).status == "MERGED"


def test_stop_leaves_no_thread_and_no_listener(clock: Clock) -> None:
    fake = FakeGerrit(clock=clock).start()
    port, thread = fake.port, fake._server.thread
    assert thread is not None and thread.is_alive() and thread.name == "fake-gerrit"
    fake.stop()
    fake.stop()  # idempotent
    assert not thread.is_alive() and thread not in threading.enumerate()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
