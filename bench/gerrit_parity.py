"""Benchmark (Gerrit parity): on real commits, the Gerrit review posts what `check` prints.

For a sample of a project's commits that touch its tests, runs `review-bot check --git
SHA~1..SHA --format json`, then uploads the same change as a patch set to the fake Gerrit
(tests/fakes/gerrit.py: the parent's and the commit's trees from git; the patch the bot reads
is the fake's own, from difflib, where a real server's comes from JGit) and lets the real
`review-bot serve` review its `patchset-created` event. Compares the fingerprints: those
`check` prints against those the published comments carry (their last line). Also reports
reviews Gerrit refused (400) and fix suggestions posted.

Needs NOVA_GIT (a git directory of openstack/nova); the sample is bench/parity.py's,
as for bench/github_parity.py. Unset, it says so and exits 0.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import progress
from parity import Tally, cli_fingerprints, commits, trees

from bot.platforms.gerrit.render import fingerprint_of
from tests.fakes.gerrit import FakeGerrit
from tests.integration.gerrit_service import PROJECT, GerritService


def main(argv: list[str] | None = None) -> int:
    picked = commits(__doc__, "gerrit parity", argv)
    if picked is None:
        return 0
    git_dir, shas = picked
    tally = Tally()
    fixes = 0
    with FakeGerrit() as fake, tempfile.TemporaryDirectory() as d:
        fake.fix_suggestions_experiment = True
        with GerritService(Path(d), fake) as svc:
            for i, sha in enumerate(shas, 1):
                expected = cli_fingerprints(git_dir, sha)
                base, head = trees(git_dir, sha)
                changes: dict[str, bytes | None] = {p: head.get(p) for p in {*base, *head}}
                n = fake.create_change(PROJECT, changes, base=base)
                job = svc.review(fake.patchset_created(n))
                comments = [c for c in fake.comments(n) if not c.get("in_reply_to")]
                got = {fp for c in comments if (fp := fingerprint_of(c["message"]))}
                fixes += sum(1 for c in comments if c.get("fix_suggestions"))
                tally.add(sha, expected, got, job)
                progress(f"{i}/{len(shas)} {sha[:12]}: {len(expected)} printed, {len(got)} posted")
        refused = [r for r in fake.requests if r.method == "POST" and r.status == 400]
    return tally.report(
        "gerrit parity",
        f" ({fixes} with a fix suggestion); {len(refused)} reviews refused with 400",
    )


if __name__ == "__main__":
    sys.exit(main())
