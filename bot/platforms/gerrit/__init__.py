"""The Gerrit adapter: events in from the webhooks plugin (events.py) or from
``gerrit stream-events`` over SSH (stream.py), one review per patch set out (render.py),
through python-gerrit-api (client.py), which runs in a thread off the event loop.

A job's calls: the change (status, revisions, parents), the revision's files and its
patch, the target branch's ``.review-bot.yaml``, then new and base bytes of each test
file; at post time the change again (closed since?), its published comments, and the
review. ``fix_suggestions: auto`` adds one version probe per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.config.models import GerritConfig, ReviewConfig
from bot.config.repo import REPO_CONFIG_PATH
from bot.core.diff import decode_diff, parse_diff
from bot.errors import DiffError, IntakeError, NotReviewable, PermanentError, WebhookRejected
from bot.model import Change, ChangedFile, FileStatus, Job, ReviewPlan, Severity
from bot.platforms import common
from bot.platforms.base import (
    BackgroundTask,
    Checkpoint,
    EventSink,
    Headers,
    Ignored,
    ParsedEvent,
    SweepTarget,
    WebhookRoute,
)
from bot.platforms.gerrit import render
from bot.platforms.gerrit.client import (
    BadRequest,
    Conflict,
    GerritClient,
    RequestHook,
    ServerFailure,
)
from bot.platforms.gerrit.events import CURRENT, EventRules, authorize, parse_body, parse_event
from bot.platforms.gerrit.stream import StreamListener

log = logging.getLogger("bot.platforms.gerrit")
T = TypeVar("T")
MAGIC_FILES = frozenset({"/COMMIT_MSG", "/MERGE_LIST", "/PATCHSET_LEVEL"})
MAX_RUNS = 256  # fetched jobs awaiting their post
FIX_SUGGESTIONS_SINCE = (3, 10)
_OPEN = "NEW"
# What Gerrit says when the fix-suggestions experiment is off.
_FLAG_TEXT = "feature flag prohibits setting fixSuggestions"


@dataclass
class _Run:
    """What one job's fetch learnt that its post needs."""

    project: str
    number: int
    revision: str
    patch_set: int
    files: set[str] = field(default_factory=set)  # paths in the revision's diff
    revisions: dict[int, str] = field(default_factory=dict)  # patch set -> sha


def version_tuple(version: str) -> tuple[int, ...]:
    """``3.10.1-123-gabc`` -> (3, 10, 1); unknown parts end the tuple."""
    out: list[int] = []
    for part in version.strip().strip('"').split("-")[0].split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def changed_files(patch: bytes, listed: dict[str, Any]) -> list[ChangedFile]:
    """The revision's files that a review reads, with their lines from the patch: not
    the magic files, not binary or deleted ones."""
    wanted = {
        path
        for path, info in listed.items()
        if path not in MAGIC_FILES and not info.get("binary") and info.get("status") != "D"
    }
    try:
        parsed = parse_diff(decode_diff(patch))
    except (DiffError, ValueError) as exc:
        raise IntakeError(f"Gerrit's patch did not parse: {exc}") from None
    return [f for f in parsed if f.path in wanted and f.status is not FileStatus.binary]


class GerritAdapter:
    name = "gerrit"

    def __init__(
        self,
        settings: GerritConfig,
        *,
        review: Callable[[str], ReviewConfig] | None = None,
        dry_run: bool = False,
        on_request: RequestHook | None = None,
        client: GerritClient | None = None,
    ) -> None:
        assert settings.url is not None, "the config requires it when enabled"
        self.settings = settings
        self.rules = EventRules.from_config(settings)
        self.client = client or GerritClient(
            settings.url,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            token=settings.token.get_secret_value() if settings.token else None,
            ca_bundle=settings.ca_bundle,
            on_request=on_request,
        )
        self._review = review or (lambda project: ReviewConfig())
        self._writes = not dry_run
        self._runs: dict[int, _Run] = {}
        # None until known: whether this server stores fix suggestions on comments.
        self._suggestions: bool | None = {"on": True, "off": False}.get(settings.fix_suggestions)
        self._suggestions_suspect = False  # a bare 500 came back on fix suggestions
        self._stream: StreamListener | None = None
        self._votes = tuple(
            render.Vote(v.label, Severity.parse(v.severity), v.value, v.otherwise)
            for v in settings.votes
        )

    @property
    def has_credentials(self) -> bool:
        s = self.settings
        return s.password is not None or s.token is not None

    # --- events -----------------------------------------------------------------------------

    def routes(self) -> list[WebhookRoute]:
        if self.rules.token == b"":
            return []  # stream-events only
        return [
            WebhookRoute(
                "POST",
                "/webhooks/gerrit/{token}",
                self.parse_webhook,
                lambda params, remote: authorize(self.rules, params.get("token", ""), remote),
            )
        ]

    def parse_webhook(self, headers: Headers, body: bytes) -> ParsedEvent | Ignored:
        return parse_body(self.rules, body)

    def background_tasks(self) -> list[BackgroundTask]:
        if self.settings.ssh is None:
            return []
        return [self._listen]

    async def _listen(self, sink: EventSink, checkpoint: Checkpoint) -> None:
        assert self.settings.ssh is not None

        async def on_event(event: dict[str, Any]) -> None:
            try:
                parsed = parse_event(self.rules, event)
            except WebhookRejected as exc:
                log.warning("stream event not usable: %s", exc.reason)
                return
            await sink(parsed)

        async def catch_up(since: float) -> None:
            for parsed in await self._call(self._missed, since):
                await sink(parsed)

        self._stream = stream = StreamListener(
            self.settings.ssh, on_event, catch_up, resume_since=await checkpoint.load()
        )
        keeper = asyncio.create_task(_keep_checkpoint(stream, checkpoint))
        try:
            await stream.run()
        finally:
            keeper.cancel()

    def _missed(self, since: float) -> list[ParsedEvent]:
        """What the stream may have missed while disconnected: the open changes updated
        since ``since``, at most catch_up_max_seconds back."""
        since = max(since, time.time() - self.settings.catch_up_max_seconds)
        out = self._updated_since(since)
        log.info("stream catch-up: %d open change(s) updated since %s", len(out), _stamp(since))
        return out

    async def sweep_targets(self) -> list[SweepTarget]:
        return [SweepTarget("open changes")]  # one query covers every project

    async def open_changes(self, target: SweepTarget, since: float) -> list[ParsedEvent]:
        return await self._call(self._updated_since, since)

    def _updated_since(self, since: float) -> list[ParsedEvent]:
        """The current patch sets of open changes updated since ``since``, in the
        configured projects. The store's coalescing drops what ran."""
        stamp = _stamp(since)
        changes = self.client.query(f'status:open after:"{stamp}"', ("CURRENT_REVISION",))
        out = []
        for c in changes:
            revision = c.get("current_revision")
            if not revision or not self.rules.projects.matches(str(c["project"])):
                continue
            number = int(c["_number"])
            info = c["revisions"][revision]
            # What its patchset-created event would be: a skipped kind is not reviewed.
            if str(info.get("kind") or "REWORK") in self.rules.skip_kinds:
                continue
            patch_set = int(info["_number"])
            out.append(
                ParsedEvent(
                    platform=self.name,
                    project=str(c["project"]),
                    change=str(number),
                    revision=str(revision),
                    delivery_id=f"gerrit:catch-up:{c['project']}~{number}:{revision}",
                    payload={
                        "project": str(c["project"]),
                        "number": number,
                        "branch": str(c.get("branch") or ""),
                        "patch_set": patch_set,
                        "type": "catch-up",
                    },
                )
            )
        return out

    def health(self) -> dict[str, Any]:
        if self._stream is None:
            return {}
        s = self._stream.status
        return {
            "stream": {
                "connected": s.connected,
                "reconnects": s.reconnects,
                "events": s.events,
                "last_event": s.last_event,
                "last_error": s.last_error,
            }
        }

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # --- fetch ------------------------------------------------------------------------------

    async def fetch(self, job: Job) -> Change:
        p = job.payload
        project, number = str(p["project"]), int(p["number"])
        c = self.client
        info = await self._call(c.change, project, number, ("ALL_REVISIONS", "ALL_COMMITS"))
        if info.get("status") != _OPEN:
            raise NotReviewable(f"Gerrit: {project}~{number} is {info.get('status')}")
        revisions = info.get("revisions") or {}
        revision = (
            str(info["current_revision"]) if job.key.revision == CURRENT else job.key.revision
        )
        if revision not in revisions:
            raise PermanentError(f"Gerrit: {project}~{number} has no revision {revision}", 404)
        if len((revisions[revision].get("commit") or {}).get("parents") or []) > 1:
            # Its diff against a parent holds everything merged in: comments there would be
            # on code this change did not write.
            raise NotReviewable(f"Gerrit: {project}~{number} {revision[:12]} is a merge commit")
        run = _Run(
            project,
            number,
            revision,
            int(revisions[revision]["_number"]),
            revisions={int(r["_number"]): sha for sha, r in revisions.items()},
        )
        listed = await self._call(c.files, project, number, revision)
        run.files = {path for path in listed if path not in MAGIC_FILES}
        patch = await self._call(c.patch, project, number, revision)
        files = changed_files(patch, listed)
        self._remember(job.id, run)
        branch = str(info.get("branch") or p.get("branch") or "")
        # The target branch's settings: a change must not switch off its own checks.
        repo_config = await self._call(c.branch_file, project, branch, REPO_CONFIG_PATH)

        def read(path: str, *, parent: bool = False) -> bytes:
            data = c.content(project, number, revision, path, parent=parent)
            if data is None:
                side = "the parent of " if parent else ""
                raise IntakeError(f"Gerrit: {path} is not in {side}{project}~{number} {revision}")
            return data

        return Change(
            files,
            read,
            lambda path: read(path, parent=True),
            repo_config=repo_config,
        )

    def _remember(self, job_id: int, run: _Run) -> None:
        # A dry run or a failed job never posts, so its entry is never popped: keep few.
        self._runs[job_id] = run
        while len(self._runs) > MAX_RUNS:
            self._runs.pop(next(iter(self._runs)))

    async def abandon(self, job: Job, outcome: str) -> None:
        self._runs.pop(job.id, None)  # Gerrit has nothing in progress to undo

    # --- post -------------------------------------------------------------------------------

    async def post(self, job: Job, plan: ReviewPlan) -> dict[str, Any]:
        run = self._runs.pop(job.id, None)
        if run is None:
            raise PermanentError("Gerrit: post without a fetch in this process")  # a bug
        c = self.client
        info = await self._call(c.change, run.project, run.number)
        if info.get("status") != _OPEN:
            # Gerrit accepts comments on closed changes; nobody wants them there.
            raise NotReviewable(f"Gerrit: {run.project}~{run.number} is {info.get('status')}")
        plan = common.with_rule_links(plan, self._review(run.project).docs_url)
        comments = render.flatten(await self._call(c.comments, run.project, run.number))
        account = self.settings.account
        already = render.posted(comments, account)
        done = render.answered(comments, already, account or "")
        fixed = [posted for _, posted in common.fixed(plan, already, done)]
        # A "Done" on a file this patch set leaves alone must go on a revision whose diff
        # has the file (Gerrit refuses it here): the one the finding was posted on.
        on_here: list[dict[str, Any]] = []
        elsewhere: list[dict[str, Any]] = []
        for posted in fixed:
            (on_here if posted["path"] in run.files else elsewhere).append(posted)
        earlier = ""
        if plan.summary.skipped or plan.summary.notes:
            earlier = render.said(await self._call(c.messages, run.project, run.number))
        draft = render.draft(
            plan,
            already,
            patch_set=run.patch_set,
            files=run.files,
            earlier=earlier,
            replies=[render.done_reply(posted, run.patch_set) for posted in on_here],
            votes=self._votes,
        )
        style = await self._style()
        if draft is not None:
            draft = await self._post_review(run, draft, style)
        for posted in elsewhere:
            ps = int(posted.get("patch_set") or 0)
            sha = str(posted.get("commit_id") or run.revisions.get(ps, ""))
            if sha:
                reply = render.done_reply(posted, run.patch_set)
                await self._reply_elsewhere(run, sha, render.Draft(ps, (), replies=(reply,)), style)
        new = 0 if draft is None else len(draft.inline) + len(draft.listed)
        return {
            "posted": draft is not None,
            "patch_set": run.patch_set,
            "comments": 0 if draft is None else len(draft.inline),
            "in_message": 0 if draft is None else len(draft.listed),
            "already_posted": len(plan.comments) - new,
            "fixed": len(fixed),
            "fix_suggestions": style.suggestions,
            "answered_elsewhere": len(elsewhere),
        }

    async def _style(self) -> render.Style:
        s = self.settings
        return render.Style(
            suggestions=await self._use_suggestions(),
            notify=s.notify,
            ignore_attention_set=s.ignore_attention_set,
            votes=self._votes,
        )

    async def _use_suggestions(self) -> bool:
        if self._suggestions is None:
            # Before 3.10 the field is most likely dropped silently: never send it there.
            try:
                version = await self._call(self.client.version)
            except PermanentError as exc:
                # Hidden or absent (a proxy, an old server): the text always works.
                log.warning("Gerrit's version is unknown (%s); fixes go in the text", exc)
                self._suggestions = False
                return False
            self._suggestions = version_tuple(version) >= FIX_SUGGESTIONS_SINCE
            log.info(
                "Gerrit %s: fixes go %s",
                version,
                "as fix suggestions" if self._suggestions else "in the comment text",
            )
        return self._suggestions

    async def _send(self, run: _Run, draft: render.Draft, style: render.Style) -> None:
        try:
            await self._call(
                self.client.review, run.project, run.number, run.revision, draft.request(style)
            )
        except Conflict as exc:
            # A vote on a change closed since the check, a change edit: retrying is no use.
            raise NotReviewable(exc.message, exc.status) from None

    async def _post_review(
        self, run: _Run, draft: render.Draft, style: render.Style
    ) -> render.Draft:
        """Post the draft, working around what Gerrit refuses; the draft as posted."""
        try:
            await self._send(run, draft, style)
            self._suggestions_suspect = False
            return draft
        except ServerFailure as exc:
            if not (style.suggestions and draft.has_suggestions):
                raise
            # 3.10+ without the server experiment fails fix suggestions with a 500, and
            # its experiment list needs admin rights, so it cannot be asked. Gerrit's
            # text names the flag: fall back at once. A bare 500 may be the server's own
            # trouble: the store retries the job, and a second 500 on suggestions from
            # this server is taken as the flag.
            named = _FLAG_TEXT in exc.body
            if not (named or self._suggestions_suspect):
                self._suggestions_suspect = True
                raise
            await self._send(run, draft, replace(style, suggestions=False))
            if self.settings.fix_suggestions == "auto":
                self._suggestions = False
            log.warning(
                "Gerrit refused fix suggestions (%s); fixes go in the comment text from now "
                "on. A Gerrit admin can enable the experiment "
                "GerritBackendFeature__allow_fix_suggestions_in_comments.",
                _FLAG_TEXT if named else "a 500 twice",
            )
            return draft
        except BadRequest as exc:
            # One comment Gerrit refuses sinks the review: say those in the message.
            log.warning("review refused (%s); re-reading the revision's files", exc.message)
            listed = await self._call(self.client.files, run.project, run.number, run.revision)
            gone = {c.path for c in draft.inline if c.path not in listed}
            gone |= {str(r["path"]) for r in draft.replies if r["path"] not in listed}
            reason = "Gerrit refused it inline"
            retry = draft.demote(gone or None, reason)
            try:
                await self._send(run, retry, style)
            except BadRequest:
                retry = draft.demote(None, reason)
                await self._send(run, retry, style)
            return retry

    async def _reply_elsewhere(
        self, run: _Run, sha: str, replies: render.Draft, style: render.Style
    ) -> None:
        body = replies.request(replace(style, notify="NONE"))
        try:
            await self._call(self.client.review, run.project, run.number, sha, body)
        except BadRequest as exc:
            log.warning("could not answer a fixed finding on another patch set: %s", exc.message)


def _stamp(since: float) -> str:
    """A query's ``after:`` bound: one second early, as Gerrit compares whole seconds."""
    return datetime.fromtimestamp(since - 1, UTC).strftime("%Y-%m-%d %H:%M:%S")


CHECKPOINT_SECONDS = 5.0  # how often the stream's progress is stored, at most
FIRST_CHECKPOINT_POLL = 0.2  # until the first one is stored


async def _keep_checkpoint(stream: StreamListener, checkpoint: Checkpoint) -> None:
    """Store the stream's progress while it runs, so that whoever streams next (this
    process restarted, or the replica that takes over) catches up from there. The first
    mark is stored as soon as there is one: a leader that dies before any checkpoint
    would leave its successor nothing to catch up from."""
    saved: float | None = None
    while True:
        mark = stream.progress()
        if mark is not None and mark != saved:
            try:
                await checkpoint.save(mark)
                saved = mark
            except Exception as exc:  # the store is down: the next round tries again
                log.warning("stream checkpoint not saved: %s", exc)
        await asyncio.sleep(CHECKPOINT_SECONDS if saved is not None else FIRST_CHECKPOINT_POLL)
