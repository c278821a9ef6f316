"""Benchmark (GitHub end to end): API calls per review, and the time from webhook to review.

Starts the fake GitHub of tests/fakes/github.py and the real `review-bot serve` on
127.0.0.1, opens pull requests that touch three test files (one finding each) and two
other files, and sends each one's signed `pull_request.opened` delivery. Reports:

- the API calls one review made, by endpoint, with token auth and with App auth;
- the time from sending the webhook to the review being stored by the fake (median and
  max over the runs), against the peer measured in the same run: `review-bot check` on the
  same three files as a local diff (process start-up included), i.e. what the analysis
  costs without the platform around it.

Timing is reported, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import REVIEW_BOT, progress

from tests.fakes.github import FakeGitHub, patch_of
from tests.integration.github_service import REPO, GitHubService, pr_event
from tests.integration.test_github import app_key

TEST_BODY = """\
from nova.tests.functional import integrated_helpers


class {name}(integrated_helpers._IntegratedTestBase):

    def test_list(self):
        servers = self.api.get_servers()
        self.assertEqual(1, len(servers))
"""
ADDED = """
    def test_boot_{n}(self):
        server = self.api.get_servers()[0]
        self.assertEqual('ACTIVE', server['status'])
"""


def change(n: int) -> tuple[dict[str, str], dict[str, str]]:
    base, head = {}, {}
    for i in range(3):
        path = f"nova/tests/functional/test_part{i}.py"
        base[path] = TEST_BODY.format(name=f"Part{i}Test")
        head[path] = base[path] + ADDED.format(n=n)
    base["nova/compute/api.py"] = "x = 1\n"
    head["nova/compute/api.py"] = "x = 2\n"
    head["doc/source/notes.rst"] = "A note.\n"
    return base, head


def endpoint_of(method: str, path: str) -> str:
    parts = path.split("/")
    if "repos" in parts:
        i = parts.index("repos")
        parts = [*parts[: i + 1], "{o}", "{r}", *parts[i + 3 :]]
    shape = "/".join("{n}" if p.isdigit() else p for p in parts)
    if "/contents/" in shape:
        shape = shape.split("/contents/")[0] + "/contents/{path}"
    return f"{method} {shape}"


def one_review_calls(fake: FakeGitHub, since: int) -> Counter[str]:
    return Counter(endpoint_of(r.method, r.path) for r in fake.requests[since:])


def run_mode(tmp: Path, auth: str, runs: int) -> tuple[Counter[str], list[float]]:
    if auth == "app":
        fake = FakeGitHub(token=None, app_id=2, public_key=app_key(tmp)).start()
    else:
        fake = FakeGitHub().start()
    latencies: list[float] = []
    calls: Counter[str] = Counter()
    try:
        with GitHubService(tmp, fake, auth=auth) as svc:
            for n in range(1, runs + 1):
                base, head = change(n)
                pr = fake.open_pr(REPO, n, base, head)
                since = len(fake.requests)
                sent = time.monotonic()
                _, answer = svc.send("pull_request", pr_event("opened", n, pr.head, pr.base))
                job = svc.wait_job(answer["job_id"], timeout=120)
                (posted,) = [
                    r for r in fake.calls("POST", rf"/pulls/{n}/reviews$") if r.status == 200
                ]
                latencies.append(posted.at - sent)
                if n == 1:
                    calls = one_review_calls(fake, since)
                    assert job.result["posted"]["comments"] == 3, job.result
                progress(f"{auth}: review {n}/{runs} in {latencies[-1] * 1000:.0f} ms")
    finally:
        fake.stop()
    return calls, latencies


def cli_time(tmp: Path, runs: int) -> list[float]:
    base, head = change(1)
    root = tmp / "tree"
    diff = []
    for path, text in head.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if path.endswith(".py") and "/tests/" in path:
            old = base.get(path)
            diff.append(
                f"--- a/{path}\n+++ b/{path}\n"
                + patch_of(old.encode() if old else None, text.encode())
                + "\n"
            )
    (tmp / "change.diff").write_text("".join(diff))
    times = []
    for _ in range(runs):
        start = time.monotonic()
        subprocess.run(
            [
                str(REVIEW_BOT),
                "check",
                "--root",
                str(root),
                "--diff",
                str(tmp / "change.diff"),
                "--fail-on",
                "off",
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.monotonic() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="pull requests per mode (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = {}
        for auth in ("token", "app"):
            mode_dir = tmp / auth
            mode_dir.mkdir()
            results[auth] = run_mode(mode_dir, auth, args.runs)
        peer = cli_time(tmp, args.runs)
    for auth, (calls, _) in results.items():
        print(
            f"API calls for one review of a PR touching 3 test files ({auth} auth): "
            f"{sum(calls.values())}"
        )
        for endpoint, count in sorted(calls.items()):
            print(f"  {count:3}  {endpoint}")
    peer_median = statistics.median(peer)
    for auth, (_, latencies) in results.items():
        median = statistics.median(latencies)
        print(
            f"webhook -> review stored ({auth} auth): median {median * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} runs; "
            f"{median / peer_median:.2f}x `review-bot check` on the same diff "
            f"({peer_median * 1000:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
