"""`review-bot serve` with Gerrit enabled against the fake Gerrit (tests/fakes/gerrit.py)
and, optionally, the fake SSH daemon (tests/fakes/gerrit_ssh.py): config, deliveries as
the webhooks plugin sends them, and waits on the job store."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.model import Job
from tests.fakes.gerrit import FakeGerrit
from tests.fakes.gerrit_ssh import FakeGerritSsh
from tests.fakes.serve_process import ServiceUnderTest, service_config

TOKEN = "plugin-token-0123456789abcdef"
PROJECT = "openstack/nova"


class GerritService(ServiceUnderTest):
    def __init__(
        self,
        tmp: Path,
        fake: FakeGerrit,
        *,
        ssh: FakeGerritSsh | None = None,
        webhook: bool = True,
        gerrit: str = "",
        extra: str = "",
        reconcile: bool = False,
        storage_url: str | None = None,
    ) -> None:
        self.fake = fake
        (tmp / "password").write_text(fake.password)
        (tmp / "token").write_text(TOKEN)
        lines = [
            *service_config(tmp, storage_url=storage_url),  # PostgreSQL: replicas share it
            "platforms:",
            "  gerrit:",
            "    enabled: true",
            f"    url: '{fake.url}'",
            f"    username: {fake.username}",
            "    password_file: password",
        ]
        if webhook:
            lines.append("    webhook_token_file: token")
        if ssh is not None:
            lines += [
                "    ssh:",
                "      host: 127.0.0.1",
                f"      port: {ssh.port}",
                f"      username: {ssh.username}",
                f"      key_file: {ssh.key_file}",
                f"      known_hosts_file: {ssh.known_hosts_file}",
                "      backoff_initial_seconds: 0.1",
                "      backoff_max_seconds: 0.5",
            ]
        lines += [f"    {line}" for line in gerrit.splitlines() if line.strip()]
        if not reconcile:  # a sweep at start would add API calls the tests count
            lines.insert(0, "reconcile: {enabled: false}")
        super().__init__(tmp, "\n".join(lines) + "\n" + extra)

    def send(self, event: dict[str, Any], *, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
        """POST as the webhooks plugin does: JSON, no signature, the token in the path."""
        request = urllib.request.Request(
            f"{self.server.url}/webhooks/gerrit/{token}",
            data=json.dumps(event).encode(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Origin-Url": "https://review.example.org/",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def review(self, event: dict[str, Any]) -> Job:
        """Deliver ``event`` and wait for its job to finish."""
        status, answer = self.send(event)
        assert status == 202 and answer["status"] == "queued", answer
        return self.wait_job(answer["job_id"])

    def jobs(self) -> list[Job]:
        store = self.store()
        try:
            return store.list(limit=500)
        finally:
            store.close()

    def wait_for(self, what: str, predicate: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.server.output()[-4000:]}")
