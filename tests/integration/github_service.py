"""`review-bot serve` with GitHub enabled against the fake GitHub: config, signed
deliveries built from the real webhook payloads, and waits on the job store."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.platforms.github.events import signature
from tests.fakes.github import FakeGitHub
from tests.fakes.serve_process import ServiceUnderTest, service_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "webhooks"
SECRET = "It's a Secret to Everybody"
REPO = "Codertocat/Hello-World"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(data)


def pr_event(action: str, number: int, head: str, base: str, **pr: Any) -> dict[str, Any]:
    name = {"opened": "pull_request.opened", "synchronize": "pull_request.synchronize"}.get(
        action, "pull_request.reopened"
    )
    data = payload(name)
    data["action"] = action
    data["number"] = number
    data["pull_request"].update(number=number, **pr)
    data["pull_request"]["head"]["sha"] = head
    data["pull_request"]["base"]["sha"] = base
    return data


def comment_event(
    number: int, body: str, association: str, login: str = "someone"
) -> dict[str, Any]:
    data = payload("issue_comment.created")
    data["issue"]["number"] = number
    # The real examples are on issues; a PR comment carries issue.pull_request.
    data["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"}
    data["comment"].update(body=body, author_association=association, id=4242)
    data["comment"]["user"].update(login=login, type="User")
    return data


def deliver(
    base_url: str,
    event: str,
    data: dict[str, Any],
    *,
    delivery: str | None = None,
    sign: Callable[[bytes], str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, Any]]:
    """A webhook as GitHub sends it (signed with SECRET unless ``sign`` says otherwise)
    to ``base_url``'s /webhooks/github: the status and the JSON answer."""
    body = json.dumps(data).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": (sign or (lambda b: signature(SECRET.encode(), b)))(body),
        "User-Agent": "GitHub-Hookshot/test",
    }
    request = urllib.request.Request(
        base_url + "/webhooks/github", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class GitHubService(ServiceUnderTest):
    def __init__(
        self,
        tmp: Path,
        fake: FakeGitHub,
        *,
        auth: str = "token",
        extra: str = "",
        reconcile: bool = False,
        repos: list[str] | None = None,
    ) -> None:
        self.fake = fake
        (tmp / "secret").write_text(SECRET)
        lines = [
            *service_config(tmp),
            "platforms:",
            "  github:",
            "    enabled: true",
            f"    api_url: '{fake.base_url}'",
            "    webhook_secret_file: secret",
        ]
        if auth == "token":
            (tmp / "token").write_text("test-token")
            lines.append("    token_file: token")
        else:
            lines += ["    app_id: 2", "    private_key_file: app.pem"]
        if repos:
            lines.append(f"    repos: {list(repos)}")
        if not reconcile:  # a sweep at start would add API calls the tests count
            lines.insert(0, "reconcile: {enabled: false}")
        super().__init__(tmp, "\n".join(lines) + "\n" + extra)

    def send(
        self,
        event: str,
        data: dict[str, Any],
        *,
        delivery: str | None = None,
        sign: Callable[[bytes], str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        return deliver(self.server.url, event, data, delivery=delivery, sign=sign)

    def review(self, action: str, number: int, head: str, base: str, **pr: Any) -> Any:
        """Send a signed pull_request delivery and wait for its job to finish."""
        status, answer = self.send("pull_request", pr_event(action, number, head, base, **pr))
        assert status == 202 and answer["status"] == "queued", answer
        return self.wait_job(answer["job_id"])
