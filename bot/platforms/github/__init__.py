"""The GitHub adapter: webhooks in (events.py), one review out (render.py), through the
REST and GraphQL client (client.py), which runs in a thread off the event loop.

A job's calls, in order: the PR (only when the event did not carry both shas), its files,
the repository's ``.review-bot.yaml`` at the base, then head and base bytes of each test
file; at post time the bot's existing review comments, and the one review. A check run
(App auth) adds two calls, the earlier reviews are read only when a finding must go in a
review's body, and a fixed finding costs a reply plus the GraphQL thread calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.config.models import GitHubConfig, ReviewConfig
from bot.config.repo import REPO_CONFIG_PATH
from bot.core.diff import parse_diff
from bot.errors import DiffError, IntakeError, PermanentError
from bot.model import (
    Change,
    ChangedFile,
    FileStatus,
    Job,
    ReviewPlan,
    Severity,
    SkippedFile,
    SkipReason,
)
from bot.platforms import common
from bot.platforms.base import (
    BackgroundTask,
    Headers,
    Ignored,
    ParsedEvent,
    SweepTarget,
    WebhookRoute,
)
from bot.platforms.github import render
from bot.platforms.github.client import GitHubClient, RequestHook, Unprocessable
from bot.platforms.github.events import CHECK_NAME, CURRENT_HEAD, EventRules, from_pull, parse

log = logging.getLogger("bot.platforms.github")
T = TypeVar("T")
MAX_RUNS = 256  # fetched jobs awaiting their post
MAX_PR_FILES = 3000  # GitHub lists no more of a pull request's files
CAPPED_NOTE = (
    "GitHub lists at most 3,000 files of a pull request; test files past them were not reviewed."
)


@dataclass
class _Run:
    """What one job's fetch learnt that its post needs."""

    repo: str
    number: int
    installation: int | None
    head: str
    base: str
    diffs: dict[str, ChangedFile] = field(default_factory=dict)


def changed_file(entry: dict[str, Any]) -> ChangedFile | SkippedFile | None:
    """One entry of the PR's files -> what the review reads, or why it cannot. GitHub
    leaves ``patch`` out for binary files and for diffs too large to show."""
    path = str(entry["filename"])
    status = entry.get("status")
    old = entry.get("previous_filename")
    patch = entry.get("patch")
    if status == "removed":
        return ChangedFile(path, FileStatus.deleted, whole_file=True)
    if patch is None:
        if int(entry.get("changes") or 0) == 0:
            # Nothing changed in the text (a pure rename) or a binary file.
            return None if status == "renamed" else ChangedFile(path, FileStatus.binary)
        return SkippedFile(
            path,
            SkipReason.no_diff,
            f"not reviewed: GitHub sent no diff for it ({entry.get('changes')} changed lines, "
            "too large to show)",
        )
    header = f"--- {'/dev/null' if status == 'added' else 'a/' + (old or path)}\n+++ b/{path}\n"
    try:
        (parsed,) = parse_diff(header + patch + ("" if patch.endswith("\n") else "\n"))
    except (DiffError, ValueError) as exc:
        return SkippedFile(
            path, SkipReason.no_diff, f"not reviewed: GitHub's patch did not parse ({exc})"
        )
    kind = {"added": FileStatus.added, "renamed": FileStatus.renamed}.get(
        str(status), FileStatus.modified
    )
    # The lines and hunks are the patch's; the status is GitHub's (a patch without git's
    # headers cannot say "renamed").
    return replace(
        parsed,
        status=kind,
        old_path=old if kind is FileStatus.renamed else None,
        whole_file=kind is FileStatus.added,
    )


def diffs_of(entries: list[dict[str, Any]]) -> tuple[list[ChangedFile], list[SkippedFile]]:
    files: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    for entry in entries:
        got = changed_file(entry)
        if isinstance(got, ChangedFile):
            files.append(got)
        elif isinstance(got, SkippedFile):
            skipped.append(got)
    return files, skipped


class GitHubAdapter:
    name = "github"

    def __init__(
        self,
        settings: GitHubConfig,
        *,
        review: Callable[[str], ReviewConfig] | None = None,
        dry_run: bool = False,
        on_request: RequestHook | None = None,
        client: GitHubClient | None = None,
    ) -> None:
        self.settings = settings
        self.rules = EventRules.from_config(settings)
        self.client = client or GitHubClient(
            settings.api_url,
            token=settings.token.get_secret_value() if settings.token else None,
            app_id=settings.app_id,
            private_key=settings.private_key.get_secret_value() if settings.private_key else None,
            on_request=on_request,
        )
        # A project's review settings (fail_on, docs_url), overrides applied.
        self._review = review or (lambda project: ReviewConfig())
        self._writes = not dry_run
        self._runs: dict[int, _Run] = {}
        self._checks: dict[tuple[str, str], int] = {}  # (repo, head) -> check run in progress
        self._said_no_checks = False

    @property
    def has_credentials(self) -> bool:
        return True  # the config refuses an enabled GitHub without them

    def routes(self) -> list[WebhookRoute]:
        return [WebhookRoute("POST", "/webhooks/github", self.parse_webhook)]

    def background_tasks(self) -> list[BackgroundTask]:
        return []

    def health(self) -> dict[str, Any]:
        return {}

    # --- reconcile --------------------------------------------------------------------------

    async def sweep_targets(self) -> list[SweepTarget]:
        """An App's installations' repositories (two listing calls per installation at
        least), else the configured ``repos``."""
        if not self.client.is_app:
            return [SweepTarget(repo) for repo in self.settings.repos]
        targets = []
        for installation in await self._call(self.client.installations):
            repos = await self._call(self.client.installation_repos, installation)
            targets += [SweepTarget(repo, installation) for repo in repos]
        return targets

    async def open_changes(self, target: SweepTarget, since: float) -> list[ParsedEvent]:
        pulls = await self._call(self.client.open_pulls, target.installation, target.name, since)
        found = [from_pull(self.rules, pr, target.name, target.installation) for pr in pulls]
        return [event for event in found if isinstance(event, ParsedEvent)]

    def parse_webhook(self, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
        return parse(self.rules, headers, body)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    # --- fetch ------------------------------------------------------------------------------

    async def fetch(self, job: Job) -> Change:
        p = job.payload
        repo, number, inst = str(p["repo"]), int(p["number"]), p.get("installation")
        c = self.client
        if p.get("comment_id") is not None and self._writes:
            await self._call(c.react, inst, repo, int(p["comment_id"]), "eyes")
        # A comment's re-check reviews whatever the head is now; the payload has no sha.
        head = None if job.key.revision == CURRENT_HEAD else p.get("head")
        base = p.get("base")
        if head is None or base is None:
            pr = await self._call(c.pull, inst, repo, number)
            if pr.get("state") == "closed":
                raise PermanentError(f"GitHub: {repo}#{number} is closed", 409)
            head, base = head or str(pr["head"]["sha"]), str(pr["base"]["sha"])
        run = _Run(repo, number, inst, str(head), str(base))
        self._remember(job.id, run)
        if self._writes:
            await self._start_check(run)
        entries = await self._call(c.files, inst, repo, number)
        files, skipped = diffs_of(entries)
        run.diffs = {f.path: f for f in files}
        # The files API shows the PR as it is now; each entry's sha is its blob at that head.
        blobs = {str(e["filename"]): str(e.get("sha")) for e in entries}
        notes = () if len(entries) < MAX_PR_FILES else (CAPPED_NOTE,)
        found = await self._call(c.contents, inst, repo, REPO_CONFIG_PATH, run.base)
        repo_config = None if found is None else found[0]

        def read(path: str) -> bytes:
            found = c.contents(inst, repo, path, run.head)
            if found is None:
                raise IntakeError(f"GitHub: {path} is not in {repo} at {run.head}")
            if found[1] != blobs.get(path):
                # The PR moved past this job's sha: its hunks are not this file's. The
                # newer push has its own event; commenting here would miss the lines.
                raise PermanentError(
                    f"GitHub: {repo}#{number} is no longer at {run.head[:12]} "
                    f"({path} differs); its newer head is reviewed instead"
                )
            return found[0]

        def read_base(path: str) -> bytes:
            found = c.contents(inst, repo, path, run.base)
            if found is None:
                raise IntakeError(f"GitHub: {path} is not in {repo} at {run.base}")
            return found[0]

        return Change(
            files, read, read_base, skipped=tuple(skipped), repo_config=repo_config, notes=notes
        )

    def _remember(self, job_id: int, run: _Run) -> None:
        # A dry run or a failed job never posts, so its entry is never popped: keep few.
        self._runs[job_id] = run
        while len(self._runs) > MAX_RUNS:
            self._runs.pop(next(iter(self._runs)))

    async def abandon(self, job: Job, outcome: str) -> None:
        run = self._runs.pop(job.id, None)
        if run is None:
            return
        stale = outcome in ("stale", "superseded")
        summary = (
            "A newer commit is reviewed instead."
            if stale
            else f"review-bot could not review this commit ({outcome}); see its logs."
        )
        title = "Superseded by a newer push" if stale else "Not reviewed"
        await self._end_check(run, "cancelled" if stale else "neutral", title, summary)

    async def _end_check(self, run: _Run, conclusion: str, title: str, summary: str) -> None:
        """Complete the head's check run, if this process started one."""
        run_id = self._checks.pop((run.repo, run.head), None)
        if run_id is None:
            return
        body = {
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": _now(),
            "output": {"title": title, "summary": summary},
        }
        await self._call(self.client.update_check_run, run.installation, run.repo, run_id, body)

    async def _start_check(self, run: _Run) -> None:
        # One check run per head across a job's attempts: a retry must not add another.
        if (run.repo, run.head) in self._checks:
            return
        if not self.client.is_app:
            if not self._said_no_checks:
                log.info("token auth cannot create check runs; skipping them")
                self._said_no_checks = True
            return
        body = {
            "name": CHECK_NAME,
            "head_sha": run.head,
            "status": "in_progress",
            "external_id": str(run.number),
            "started_at": _now(),
        }
        made = await self._call(self.client.create_check_run, run.installation, run.repo, body)
        self._checks[(run.repo, run.head)] = made
        while len(self._checks) > MAX_RUNS:
            self._checks.pop(next(iter(self._checks)))

    # --- post -------------------------------------------------------------------------------

    async def post(self, job: Job, plan: ReviewPlan) -> dict[str, Any]:
        run = self._runs.get(job.id)
        if run is None:
            raise PermanentError("GitHub: post without a fetch in this process")  # a bug
        c, inst = self.client, run.installation
        plan = common.with_rule_links(plan, self._review(run.repo).docs_url)
        comments = await self._call(c.review_comments, inst, run.repo, run.number)
        already = render.posted(comments)
        settings = self.settings

        def make(carried: set[str], said: set[str]) -> render.Draft | None:
            return render.draft(
                plan,
                run.diffs,
                carried,
                commit_id=run.head,
                event=settings.review_event,
                max_inline=settings.max_inline,
                said=said,
            )

        draft = make(set(already), set())
        if draft is not None and draft.needs_history:
            # What went in earlier reviews' bodies has no comment; their markers say it.
            bodies = [
                str(r.get("body") or "")
                for r in await self._call(c.reviews, inst, run.repo, run.number)
            ]
            draft = make({*already, *render.listed(bodies)}, render.stated(bodies))
        review_id = None
        if draft is not None:
            review_id, draft = await self._post_review(run, draft)
        fixed = common.fixed(plan, already, render.answered(comments))
        if fixed:
            await self._answer_fixed(run, fixed)
        new = 0 if draft is None else len(draft.inline) + len(draft.listed)
        output = render.check_output(plan, new)
        fail_on = Severity.parse(self._review(run.repo).fail_on)
        conclusion = render.check_conclusion(plan, fail_on)
        await self._end_check(run, conclusion, output["title"], output["summary"])
        self._runs.pop(job.id, None)
        return {
            "posted": review_id is not None,
            "review_id": review_id,
            "comments": 0 if draft is None else len(draft.inline),
            "in_body": 0 if draft is None else len(draft.listed),
            "already_posted": len(plan.comments) - new,
            "fixed": len(fixed),
        }

    async def _post_review(self, run: _Run, draft: render.Draft) -> tuple[int, render.Draft]:
        """The review's id, and the draft as finally posted."""
        c = self.client
        try:
            made = await self._call(
                c.create_review, run.installation, run.repo, run.number, draft.request()
            )
        except Unprocessable as exc:
            # One bad comment sinks the review; usually a push landed since the fetch.
            log.warning("review refused (%s); re-reading the diff", exc.message)
            files, _ = diffs_of(await self._call(c.files, run.installation, run.repo, run.number))
            draft = render.revalidate(draft, {f.path: f for f in files})
            made = await self._call(
                c.create_review, run.installation, run.repo, run.number, draft.request()
            )
        return int(made["id"]), draft

    async def _answer_fixed(self, run: _Run, fixed: list[tuple[str, Any]]) -> None:
        c, inst = self.client, run.installation
        threads = await self._call(c.review_threads, inst, run.repo, run.number)
        for fp, comment in fixed:
            await self._call(
                c.reply,
                inst,
                run.repo,
                run.number,
                int(comment["id"]),
                render.fixed_reply(fp, run.head),
            )
            thread = threads.get(int(comment["id"]))
            if thread is not None and not thread[1]:
                await self._call(c.resolve_thread, inst, thread[0])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
