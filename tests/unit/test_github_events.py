"""GitHub deliveries -> events: signature, routing, drafts, re-check permissions, loops."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.errors import WebhookRejected
from bot.platforms.base import Ignored, ParsedEvent
from bot.platforms.github.events import CURRENT_HEAD, EventRules, parse, signature

HOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
RULES = EventRules(secret=b"s3cret", app_id=2, bot_login="our-bot")


def load(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((HOOKS / f"{name}.json").read_text()))


def deliver(event: str, data: dict[str, Any], rules: EventRules = RULES) -> ParsedEvent | Ignored:
    body = json.dumps(data).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": signature(rules.secret, body),
    }
    return parse(rules, headers, body)


def pr_comment(body: str, association: str = "MEMBER", **user: Any) -> dict[str, Any]:
    data = load("issue_comment.created")
    data["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    data["comment"].update(body=body, author_association=association)
    data["comment"]["user"].update(user)
    return data


def test_signature_matches_githubs_documented_test_vector() -> None:
    assert signature(b"It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize("header", [None, "", "sha256=" + "0" * 64, "sha1=abc"])
def test_a_missing_or_wrong_signature_is_401(header: str | None) -> None:
    body = json.dumps(load("pull_request.opened")).encode()
    headers = {"X-GitHub-Event": "pull_request"}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    with pytest.raises(WebhookRejected) as caught:
        parse(RULES, headers, body)
    assert caught.value.status == 401


def test_a_signed_body_that_is_not_json_is_400() -> None:
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature(RULES.secret, b"{")}
    with pytest.raises(WebhookRejected) as caught:
        parse(RULES, headers, b"{")
    assert caught.value.status == 400


def test_a_signed_payload_without_the_fields_it_needs_is_400() -> None:
    data = load("pull_request.opened")
    del data["pull_request"]["head"]
    with pytest.raises(WebhookRejected) as caught:
        deliver("pull_request", data)
    assert caught.value.status == 400 and "head" in caught.value.reason


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_reviewed_pull_request_actions_queue_the_head(action: str) -> None:
    data = load("pull_request.opened")
    data["action"] = action
    event = deliver("pull_request", data)
    assert isinstance(event, ParsedEvent)
    pr = data["pull_request"]
    assert (event.project, event.change, event.revision) == (
        "Codertocat/Hello-World",
        "2",
        pr["head"]["sha"],
    )
    assert event.payload == {
        "repo": "Codertocat/Hello-World",
        "number": 2,
        "installation": 1,
        "head": pr["head"]["sha"],
        "base": pr["base"]["sha"],
    }
    assert event.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958" and not event.recheck


@pytest.mark.parametrize("action", ["closed", "labeled", "edited", "converted_to_draft"])
def test_other_pull_request_actions_are_ignored(action: str) -> None:
    data = load("pull_request.opened")
    data["action"] = action
    assert isinstance(deliver("pull_request", data), Ignored)


def test_a_closed_pr_is_ignored_whatever_the_action() -> None:
    data = load("pull_request.reopened")
    data["pull_request"]["state"] = "closed"
    assert isinstance(deliver("pull_request", data), Ignored)


def test_drafts_are_skipped_unless_configured() -> None:
    data = load("pull_request.opened")
    data["pull_request"]["draft"] = True
    skipped = deliver("pull_request", data)
    assert isinstance(skipped, Ignored) and "draft" in skipped.reason
    with_drafts = EventRules(secret=RULES.secret, review_drafts=True)
    assert isinstance(deliver("pull_request", data, with_drafts), ParsedEvent)


def test_ping_is_answered_200_and_unknown_events_202() -> None:
    pong = deliver("ping", load("ping.none"))
    assert isinstance(pong, Ignored) and pong.status == 200
    other = deliver("push", {"ref": "refs/heads/main"})
    assert isinstance(other, Ignored) and other.status == 202 and other.kind == "ignored"


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_recheck_by_an_allowed_commenter_forces_a_review_of_the_head(association: str) -> None:
    event = deliver("issue_comment", pr_comment("/recheck", association))
    assert isinstance(event, ParsedEvent)
    assert event.recheck and event.revision == CURRENT_HEAD
    assert event.payload["comment_id"] == load("issue_comment.created")["comment"]["id"]


def test_the_prs_author_may_recheck_without_an_association() -> None:
    data = pr_comment("/recheck", "CONTRIBUTOR", login="author-1")
    data["issue"]["user"]["login"] = "author-1"
    assert isinstance(deliver("issue_comment", data), ParsedEvent)


def test_an_outsiders_recheck_is_ignored_and_counted_as_unauthorised() -> None:
    event = deliver("issue_comment", pr_comment("/recheck", "NONE", login="drive-by"))
    assert isinstance(event, Ignored) and event.kind == "unauthorised"


@pytest.mark.parametrize(
    "body", ["/recheck please", "please /recheck", "`/recheck`", "/rechecked", "recheck"]
)
def test_only_the_command_alone_on_a_line_counts(body: str) -> None:
    assert isinstance(deliver("issue_comment", pr_comment(body)), Ignored)


def test_the_command_may_sit_on_its_own_line_among_others() -> None:
    assert isinstance(deliver("issue_comment", pr_comment("Thanks!\n  /recheck  \n")), ParsedEvent)


def test_the_recheck_regex_is_configurable() -> None:
    rules = EventRules(secret=RULES.secret, recheck=re.compile(r"(?mi)^@review-bot\s+again$"))
    assert isinstance(deliver("issue_comment", pr_comment("@Review-Bot again"), rules), ParsedEvent)
    assert isinstance(deliver("issue_comment", pr_comment("/recheck"), rules), Ignored)


@pytest.mark.parametrize("user", [{"type": "Bot", "login": "x[bot]"}, {"login": "our-bot"}])
def test_comments_by_bots_and_by_ourselves_never_trigger(user: dict[str, str]) -> None:
    assert isinstance(deliver("issue_comment", pr_comment("/recheck", "OWNER", **user)), Ignored)


def test_comments_on_issues_and_edits_are_ignored() -> None:
    plain = load("issue_comment.created")
    plain["comment"]["body"] = "/recheck"
    assert isinstance(deliver("issue_comment", plain), Ignored)  # no issue.pull_request
    edited = pr_comment("/recheck")
    edited["action"] = "edited"
    assert isinstance(deliver("issue_comment", edited), Ignored)


def rerun(**run: Any) -> dict[str, Any]:
    data = load("check_run.rerequested")
    data["check_run"].update(name="review-bot", **run)
    data["check_run"]["app"]["id"] = 2
    return data


def test_rerun_of_our_check_run_is_a_forced_review_of_its_sha() -> None:
    data = rerun(external_id="12")
    event = deliver("check_run", data)
    assert isinstance(event, ParsedEvent) and event.recheck
    assert (event.change, event.revision) == ("12", data["check_run"]["head_sha"])


def test_rerun_takes_the_pr_from_the_runs_pull_requests_first() -> None:
    data = rerun(
        external_id="12",
        pull_requests=[{"number": 5, "head": {"sha": "h"}, "base": {"sha": "b"}}],
    )
    event = deliver("check_run", data)
    assert isinstance(event, ParsedEvent) and event.change == "5" and event.payload["base"] == "b"


@pytest.mark.parametrize(
    "change",
    [{"name": "ci"}, {"app_id": 3}, {"external_id": ""}, {"action": "completed"}],
)
def test_other_check_runs_are_ignored(change: dict[str, Any]) -> None:
    data = rerun(external_id="12")
    if "name" in change:
        data["check_run"]["name"] = change["name"]
    if "app_id" in change:
        data["check_run"]["app"]["id"] = change["app_id"]
    if "external_id" in change:
        data["check_run"]["external_id"] = change["external_id"]
    if "action" in change:
        data["action"] = change["action"]
    assert isinstance(deliver("check_run", data), Ignored)


def test_token_auth_has_no_check_runs_to_rerun() -> None:
    no_app = EventRules(secret=RULES.secret)
    assert isinstance(deliver("check_run", rerun(external_id="12"), no_app), Ignored)


def test_a_form_encoded_delivery_carries_the_json_in_payload() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(load("pull_request.opened"))}).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Hub-Signature-256": signature(RULES.secret, body),  # over the raw form body
    }
    event = parse(RULES, headers, body)
    assert isinstance(event, ParsedEvent) and event.change == "2"
    headers["X-Hub-Signature-256"] = signature(RULES.secret, b"payload=%7B")
    with pytest.raises(WebhookRejected) as caught:
        parse(RULES, headers, b"payload=%7B")
    assert caught.value.status == 400
