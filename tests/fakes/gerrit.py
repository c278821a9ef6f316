"""A fake Gerrit REST API on 127.0.0.1, for the Gerrit adapter and the service tests.

It is built from Gerrit's documentation and sources (``/work/shared/reference/gerrit.md``;
``PostReview``, ``PostReviewOp``, ``CommentsValidator``, ``CommentSizeValidator``,
``GetPatch`` and ``QueryBuilder`` read for it) and enforces what a real server enforces:

- JSON bodies start with the XSSI prefix ``)]}'`` and a newline; errors are plain text
  ending in a newline, as ``RestApiServlet`` writes them;
- auth: only ``/a/...`` is served, to HTTP Basic or ``Authorization: Bearer``; bad or no
  credentials answer 401, any path outside ``/a/`` 404;
- change ids ``project~number``, number, ``project~branch~Change-Id`` and Change-Id, read
  from the raw path (aiohttp decodes ``%2F`` in ``match_info``); file ids decoded with
  ``unquote_plus``, as python-gerrit-api encodes them with ``quote_plus``;
- files, content (base64 with the ``X-FYI-*`` headers), format-patch (base64 or ``raw``,
  one file with ``path``) and DiffInfo, all computed from the trees; renames are found
  at JGit's 60% score; accounts in a ChangeInfo are bare ids unless DETAILED_ACCOUNTS,
  a revision's ``commit`` comes only with CURRENT_COMMIT/ALL_COMMITS;
- queries: ``status:``/``is:``, ``project:``, ``branch:``, ``owner:``, change numbers,
  ``after:``/``since:`` and ``before:``/``until:`` (inclusive, as documented), newest
  ``updated`` first, ``n``/``S`` and ``_more_changes``; other operators answer 400;
- a review is all or nothing: ``CommentsValidator``'s 400s (path not in the revision's
  diff, negative line, backwards range, patch-set-level line, unknown ``in_reply_to``,
  malformed fix suggestion), the comment size limit (400), votes on a closed change (409:
  any on an abandoned one, a lowered one on a merged one), ``fix_suggestions`` on 3.10+
  without the experiment (500; before 3.10 Gson drops the unknown field); empty comments,
  and duplicates on the same patch set with ``omit_duplicate_comments``, are dropped;
  replies inherit ``unresolved``; unknown labels are ignored (``strictLabels`` is false);
- injected failures: any status, text and headers for the next N matching requests, after
  the request's effect was stored if asked (a 500 that still saved the review).

Every request is recorded in ``requests``. The server runs on its own event loop in a
thread; ``stop()`` ends it. ``patchset_created``, ``comment_added`` and ``change_merged``
build stream-events payloads shaped like ``tests/fixtures/gerrit/*.json``.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import itertools
import json
import mimetypes
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, unquote_plus

from aiohttp import web

from tests.fakes.app_thread import AppThread

XSSI = ")]}'\n"
COMMIT_MSG, PATCHSET_LEVEL = "/COMMIT_MSG", "/PATCHSET_LEVEL"
MAGIC = (COMMIT_MSG, "/MERGE_LIST", PATCHSET_LEVEL)
RANGE_KEYS = ("start_line", "start_character", "end_line", "end_character")
RENAME_SCORE = 0.6  # JGit's RenameDetector default, kept by Gerrit's diff cache
QUERY_LIMIT = 500  # a registered user's default queryLimit
DEFAULT_CONTEXT = 10  # DiffPreferencesInfo.DEFAULT_CONTEXT: GetDiff without ?context
NAMES = {"ada": "Ada Lovelace", "grace": "Grace Hopper", "zuul": "Zuul"}
PARENT_SUBJECT = "Parent commit"
# ListChangesOption names: any other ``o`` answers 400, as args4j does.
_OPTIONS = (
    "LABELS DETAILED_LABELS CURRENT_REVISION ALL_REVISIONS CURRENT_COMMIT ALL_COMMITS "
    "CURRENT_FILES ALL_FILES DETAILED_ACCOUNTS REVIEWER_UPDATES MESSAGES CURRENT_ACTIONS "
    "CHANGE_ACTIONS REVIEWED SUBMITTABLE WEB_LINKS CHECK COMMIT_FOOTERS PUSH_CERTIFICATES "
    "TRACKING_IDS DOWNLOAD_COMMANDS DRAFT_COMMENTS SKIP_MERGEABLE SKIP_DIFFSTAT STAR "
    "SUBMIT_REQUIREMENTS CUSTOM_KEYED_VALUES PARENTS"
)
CHANGE_OPTIONS = frozenset(_OPTIONS.split())
STATES = {
    "open": {"NEW"},
    "new": {"NEW"},
    "pending": {"NEW"},
    "closed": {"MERGED", "ABANDONED"},
    "merged": {"MERGED"},
    "abandoned": {"ABANDONED"},
}
_MIME = mimetypes.MimeTypes()  # the built-in table only: the same answer on every host


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_sha(files: dict[str, bytes]) -> str:
    digest = hashlib.sha1()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path] + b"\0")
    return digest.hexdigest()


def gerrit_time(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M:%S.000000000")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3])


def is_binary(data: bytes | None) -> bool:
    return data is not None and b"\0" in data


def mime_type(path: str, data: bytes | None) -> str:
    guessed = _MIME.guess_type(path)[0]
    return guessed or ("application/octet-stream" if is_binary(data) else "text/plain")


def split_lines(data: bytes) -> list[str]:
    """Lines with their newline, split on ``\\n`` alone; latin-1 keeps every byte a char."""
    parts = data.decode("latin-1").split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def text_of(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.decode("latin-1")


def label_vote(name: str, value: int) -> str:
    return f"-{name}" if value == 0 else f"{name}{value:+d}"  # LabelVote.format


@dataclass
class FileDiff:
    path: str
    old: bytes | None
    new: bytes | None
    old_path: str | None = None  # set for a rename
    score: int = 100

    @property
    def status(self) -> str:
        if self.old_path:
            return "R"
        return "A" if self.old is None else "D" if self.new is None else "M"


def tree_diff(old: dict[str, bytes], new: dict[str, bytes]) -> list[FileDiff]:
    changed = sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
    deleted = [p for p in changed if p not in new]
    renamed: dict[str, tuple[str, float]] = {}
    for path in (p for p in changed if p not in old):
        taken = {src for src, _ in renamed.values()}
        scores = [
            (difflib.SequenceMatcher(None, split_lines(old[d]), split_lines(new[path])).ratio(), d)
            for d in deleted
            if d not in taken
        ]
        best = max(scores, default=None)
        if best is not None and best[0] >= RENAME_SCORE:
            renamed[path] = (best[1], best[0])
    gone = {src for src, _ in renamed.values()}
    out = []
    for path in changed:
        if path in renamed:
            src, score = renamed[path]
            out.append(FileDiff(path, old[src], new[path], src, int(score * 100)))
        elif path not in gone:
            out.append(FileDiff(path, old.get(path), new.get(path)))
    return out


def line_counts(fd: FileDiff) -> tuple[int, int]:
    a, b = split_lines(fd.old or b""), split_lines(fd.new or b"")
    inserted = deleted = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            deleted, inserted = deleted + i2 - i1, inserted + j2 - j1
    return inserted, deleted


def _span(start: int, stop: int) -> str:
    length = stop - start
    return str(start + 1) if length == 1 else f"{start + 1 if length else start},{length}"


def _marked(sign: str, lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            yield sign + line[:-1]
        else:
            yield sign + line
            yield "\\ No newline at end of file"


def hunk_lines(old: bytes, new: bytes) -> Iterator[str]:
    a, b = split_lines(old), split_lines(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        yield f"@@ -{_span(group[0][1], group[-1][2])} +{_span(group[0][3], group[-1][4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from _marked(" ", a[i1:i2])
            else:
                yield from _marked("-", a[i1:i2])
                yield from _marked("+", b[j1:j2])


def file_patch(fd: FileDiff) -> list[str]:
    """One file of a ``git diff``, as latin-1 text; paths keep their UTF-8 bytes."""
    a = (fd.old_path or fd.path).encode().decode("latin-1")
    b = fd.path.encode().decode("latin-1")
    old_id = blob_sha(fd.old)[:7] if fd.old is not None else "0000000"
    new_id = blob_sha(fd.new)[:7] if fd.new is not None else "0000000"
    out = [f"diff --git a/{a} b/{b}"]
    if fd.status in "AD":
        out += [f"{'new' if fd.status == 'A' else 'deleted'} file mode 100644"]
        out += [f"index {old_id}..{new_id}"]
    else:
        if fd.status == "R":
            out += [f"similarity index {fd.score}%", f"rename from {a}", f"rename to {b}"]
            if fd.old == fd.new:
                return out
        out.append(f"index {old_id}..{new_id} 100644")
    if is_binary(fd.old) or is_binary(fd.new):
        return [*out, "Binary files differ"]  # JGit's wording, not C git's
    hunks = list(hunk_lines(fd.old or b"", fd.new or b""))
    if hunks:
        out.append("--- /dev/null" if fd.old is None else f"--- a/{a}")
        out.append("+++ /dev/null" if fd.new is None else f"+++ b/{b}")
    return out + hunks


def diff_content(a: list[str], b: list[str], context: int | None) -> list[dict[str, Any]]:
    """DiffInfo ``content``; with a context, long common runs become ``skip``."""
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    chunks: list[dict[str, Any]] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag != "equal":
            chunk = {"a": a[i1:i2]} if i2 > i1 else {}
            chunks.append(chunk | ({"b": b[j1:j2]} if j2 > j1 else {}))
            continue
        same = a[i1:i2]
        head = 0 if n == 0 else context or 0
        tail = 0 if n == len(ops) - 1 else context or 0
        if context is None or len(same) <= head + tail:
            chunks.append({"ab": same})
            continue
        chunks += [{"ab": same[:head]}] if head else []
        chunks.append({"skip": len(same) - head - tail})
        chunks += [{"ab": same[len(same) - tail :]}] if tail else []
    return chunks


def parse_time(value: str) -> float:
    m = re.fullmatch(
        r"(\d{4}-\d\d-\d\d)(?: (\d\d:\d\d:\d\d)(\.\d+)?)?(?: ([+-])(\d\d)(\d\d))?", value
    )
    if m is None:
        raise HttpError(400, f"Invalid date: {value}")
    when = datetime.strptime(f"{m[1]} {m[2] or '00:00:00'}", "%Y-%m-%d %H:%M:%S")
    offset = timedelta(hours=int(m[5] or 0), minutes=int(m[6] or 0)) * (-1 if m[4] == "-" else 1)
    return when.replace(tzinfo=timezone(offset)).timestamp() + float(m[3] or 0)


@dataclass
class PatchSet:
    number: int
    sha: str
    tree: dict[str, bytes]
    kind: str
    created: int
    uploader: str


@dataclass
class Change:
    number: int
    project: str
    branch: str
    change_id: str
    subject: str
    owner: str
    parent: str  # the parent commit's sha
    base: dict[str, bytes]  # the parent commit's tree
    created: int
    updated: int
    topic: str | None = None
    status: str = "NEW"
    patch_sets: list[PatchSet] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)  # CommentInfo + "path"
    messages: list[dict[str, Any]] = field(default_factory=list)  # ChangeMessageInfo
    votes: dict[tuple[int, str], dict[str, int]] = field(default_factory=dict)  # (ps, user)
    merged_in: list[str] = field(default_factory=list)  # a merge commit's other parents

    @property
    def current(self) -> PatchSet:
        return self.patch_sets[-1]

    @property
    def commit_message(self) -> str:
        return f"{self.subject}\n\nChange-Id: {self.change_id}\n"

    def ref(self, ps: int) -> str:
        return f"refs/changes/{self.number % 100:02d}/{self.number}/{ps}"


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    body: str
    headers: dict[str, str]
    times: int
    after_effect: bool  # do the request's work, then answer the failure


@dataclass
class Recorded:
    method: str
    path: str  # raw, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    user: str | None = None
    status: int = 0
    at: float = field(default_factory=time.monotonic)


def _json(data: Any, status: int = 200) -> web.Response:
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "Content-Disposition": "attachment",
        "X-Content-Type-Options": "nosniff",
    }
    body = XSSI + json.dumps(data, indent=2)
    return web.Response(status=status, body=body.encode(), headers=headers)


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = message if message.endswith("\n") else message + "\n"
    h = {"Content-Type": "text/plain; charset=UTF-8", **(headers or {})}
    return web.Response(status=status, body=body.encode(), headers=h)


def _base64(data: bytes, mime: str) -> web.Response:
    headers = {
        "Content-Type": "text/plain; charset=ISO-8859-1",
        "X-FYI-Content-Encoding": "base64",
        "X-FYI-Content-Type": mime,
    }
    return web.Response(body=base64.b64encode(data), headers=headers)


SEG = r"([^/]+)"
REV = rf"/changes/{SEG}/revisions/{SEG}"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("GET", r"/config/server/version", "_version"),
        ("GET", r"/changes/?", "_query"),
        ("GET", rf"/changes/{SEG}/?", "_get_change"),
        ("GET", rf"/changes/{SEG}/comments/?", "_change_comments"),
        ("GET", rf"/changes/{SEG}/messages/?", "_messages"),
        ("GET", rf"{REV}/files/?", "_files"),
        ("GET", rf"{REV}/files/{SEG}/content", "_content"),
        ("GET", rf"{REV}/files/{SEG}/diff", "_diff"),
        ("GET", rf"{REV}/patch", "_patch"),
        ("GET", rf"{REV}/comments/?", "_revision_comments"),
        ("POST", rf"{REV}/review", "_review"),
        ("GET", rf"/projects/{SEG}/branches/{SEG}/files/{SEG}/content", "_branch_content"),
    ]
]
Query = dict[str, list[str]]


class FakeGerrit:
    def __init__(
        self,
        username: str = "review-bot",
        password: str = "secret",
        token: str | None = None,
        version: str = "3.10.1",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.username, self.password, self.token = username, password, token
        self.version = version
        self.clock = clock
        self.fix_suggestions_experiment = False  # GerritBackendFeature__allow_fix_...
        # Zuul's GERRIT_HUMAN_MESSAGE_LIMIT; a stock server's change.commentSizeLimit is 16 KiB.
        self.comment_size_limit = 16056
        self.labels: dict[str, tuple[int, int]] = {"Code-Review": (-2, 2), "Verified": (-1, 1)}
        self.branches: dict[tuple[str, str], dict[str, bytes]] = {}
        self.changes: dict[int, Change] = {}
        self.reviews: list[tuple[int, int, dict[str, Any]]] = []  # accepted ReviewInputs
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.hooks: list[tuple[str, re.Pattern[str], Callable[[], object]]] = []
        self._accounts: dict[str, dict[str, Any]] = {}
        self._account(username)  # the bot is 1000001
        self._numbers = itertools.count(1001)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server = AppThread(self._app, "fake-gerrit")
        self.port = 0

    # --- setting the scene -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_branch_file(self, project: str, branch: str, path: str, data: bytes | None) -> None:
        with self._lock:
            tree = self.branches.setdefault((project, branch.removeprefix("refs/heads/")), {})
            if data is None:
                tree.pop(path, None)
            else:
                tree[path] = data

    def create_change(
        self,
        project: str,
        files: dict[str, bytes | None],
        *,
        base: dict[str, bytes] | None = None,
        branch: str = "master",
        subject: str = "Add regression test",
        owner: str = "ada",
        topic: str | None = None,
        number: int | None = None,
    ) -> int:
        with self._lock:
            n = next(self._numbers) if number is None else number
            parent = dict(self.branches.get((project, branch), {}) if base is None else base)
            now = int(self.clock())
            ch = Change(
                n,
                project,
                branch,
                "I" + hashlib.sha1(f"{project}\0{n}".encode()).hexdigest(),
                subject,
                owner,
                tree_sha(parent),
                parent,
                now,
                now,
                topic,
            )
            self.changes[n] = ch
            self._add_patch_set(ch, _apply(parent, files), "REWORK")
            return n

    def upload(self, number: int, files: dict[str, bytes | None], *, kind: str = "REWORK") -> str:
        with self._lock:
            ch = self._change(number)
            return self._add_patch_set(ch, _apply(ch.current.tree, files), kind).sha

    def _add_patch_set(self, ch: Change, tree: dict[str, bytes], kind: str) -> PatchSet:
        n = len(ch.patch_sets) + 1
        sha = hashlib.sha1(f"{tree_sha(tree)}\0{ch.number}\0{n}".encode()).hexdigest()
        ps = PatchSet(n, sha, tree, kind, int(self.clock()), ch.owner)
        ch.patch_sets.append(ps)
        ch.updated = ps.created
        self._message(
            ch, ch.owner, f"Uploaded patch set {n}.", n, "autogenerated:gerrit:newPatchSet"
        )
        return ps

    def set_status(self, number: int, status: str) -> None:
        assert status in ("NEW", "MERGED", "ABANDONED"), status
        with self._lock:
            ch = self._change(number)
            if status == "MERGED" and ch.status != "MERGED":
                tree = self.branches.setdefault((ch.project, ch.branch), {})
                for fd in tree_diff(ch.base, ch.current.tree):
                    tree.pop(fd.old_path or fd.path, None)
                    if fd.new is not None:
                        tree[fd.path] = fd.new
            ch.status, ch.updated = status, int(self.clock())

    def change(self, number: int) -> Change:
        with self._lock:
            return self._change(number)

    def comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._change(number).comments]

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: str = "Internal server error",
        times: int = 1,
        *,
        after_effect: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests of ``method`` whose raw path (no query) matches ``path``
        (a regex, searched) answer ``status`` with ``body``."""
        with self._lock:
            self.failures.append(
                Failure(method, re.compile(path), status, body, headers or {}, times, after_effect)
            )

    def before(self, method: str, path: str, action: Callable[[], object]) -> None:
        """Run ``action`` once, before the next matching request is handled (a new patch set
        landing between the bot's reads and its post, say)."""
        with self._lock:
            self.hooks.append((method, re.compile(path), action))

    def calls(self, method: str | None = None, pattern: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(pattern, r.path)
            ]

    # --- events ----------------------------------------------------------------------------

    def patchset_created(self, number: int, ps: int | None = None) -> dict[str, Any]:
        with self._lock:
            ch, p = self._change_ps(number, ps)
            return self._event("patchset-created", ch, p, uploader=self._attr(p.uploader))

    def comment_added(
        self,
        number: int,
        author_username: str,
        text: str,
        ps: int | None = None,
        *,
        approvals: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """A user's reply: stored as a change message (and votes), then the event."""
        with self._lock:
            ch, p = self._change_ps(number, ps)
            votes = ch.votes.setdefault((p.number, author_username), {})
            old, given = dict(votes), approvals or {}
            votes.update(given)
            shown = {"Code-Review": votes.get("Code-Review", 0), **given}
            changed = sorted(label_vote(k, v) for k, v in given.items() if old.get(k, 0) != v)
            comment = f"Patch Set {p.number}:" + "".join(" " + c for c in changed)
            comment += f"\n\n{text}" if text else ""
            self._message(ch, author_username, comment, p.number, None)
            ch.updated = int(self.clock())
            listed = [
                {"type": k, "description": k, "value": str(v)}
                | ({"oldValue": str(old.get(k, 0))} if k in given and old.get(k, 0) != v else {})
                for k, v in shown.items()
            ]
            author = self._attr(author_username)
            return self._event(
                "comment-added", ch, p, author=author, approvals=listed, comment=comment
            )

    def change_merged(self, number: int, *, submitter: str = "zuul") -> dict[str, Any]:
        self.set_status(number, "MERGED")
        with self._lock:
            ch = self._change(number)
            return self._event(
                "change-merged",
                ch,
                ch.current,
                submitter=self._attr(submitter),
                newRev=ch.current.sha,  # fast-forward: the branch is where the change began
            )

    def _event(self, kind: str, ch: Change, ps: PatchSet, **extra: Any) -> dict[str, Any]:
        change: dict[str, Any] = {"project": ch.project, "branch": ch.branch}
        change |= {"topic": ch.topic} if ch.topic else {}  # Gson leaves nulls out
        change |= {
            "id": ch.change_id,
            "number": ch.number,
            "subject": ch.subject,
            "owner": self._attr(ch.owner),
            "url": f"{self.url}/c/{ch.project}/+/{ch.number}",
            "commitMessage": ch.commit_message,
            "createdOn": ch.created,
            "status": ch.status,
            "open": ch.status == "NEW",
            "wip": False,
            "private": False,
        }
        inserted, deleted = self._size(ch, ps)
        patch_set = {
            "number": ps.number,
            "revision": ps.sha,
            "parents": [ch.parent, *ch.merged_in],
            "ref": ch.ref(ps.number),
            "uploader": self._attr(ps.uploader),
            "author": self._attr(ch.owner),
            "createdOn": ps.created,
            "kind": ps.kind,
            "sizeInsertions": inserted,
            "sizeDeletions": deleted,  # positive since 3.x; 2.x sent it negative
        }
        return {
            "type": kind,
            "change": change,
            "patchSet": patch_set,
            **extra,
            "eventCreatedOn": int(self.clock()),
            "changeKey": {"id": ch.change_id},
            "project": ch.project,
            "refName": f"refs/heads/{ch.branch}",
        }

    # --- the server ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    def start(self) -> FakeGerrit:
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeGerrit:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- plumbing --------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        raw = await request.read()
        path, _, query_string = request.raw_path.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        try:
            body, bad_json = (json.loads(raw) if raw else None), False
        except ValueError:
            body, bad_json = None, True
        record = Recorded(request.method, path, query, dict(request.headers), body)
        with self._lock:
            self.requests.append(record)
            response = self._handle(request, record, bad_json)
            record.status = response.status
        return response

    def _handle(self, request: web.Request, record: Recorded, bad_json: bool) -> web.Response:
        if not record.path.startswith("/a/"):
            return _text(404, "Not Found")  # anonymous access is not what the bot does
        record.user = self._authenticate(request.headers.get("Authorization", ""))
        if record.user is None:
            return _text(
                401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Gerrit Code Review"'}
            )
        for hook in list(self.hooks):
            if hook[0] == record.method and hook[1].search(record.path):
                self.hooks.remove(hook)
                hook[2]()
        failure = next(
            (
                f
                for f in self.failures
                if f.times > 0 and f.method == record.method and f.path.search(record.path)
            ),
            None,
        )
        if failure is not None:
            failure.times -= 1
            if not failure.after_effect:
                return _text(failure.status, failure.body, failure.headers)
        response = _text(400, "Invalid JSON") if bad_json else self._route(record)
        if failure is not None:
            return _text(failure.status, failure.body, failure.headers)
        return response

    def _authenticate(self, header: str) -> str | None:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.username if self.token is not None and credential == self.token else None
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(credential).decode().partition(":")
        except ValueError:
            return None
        return user if (user, password) == (self.username, self.password) else None

    def _route(self, record: Recorded) -> web.Response:
        path = record.path[2:]
        for method, pattern, name in ROUTES:
            m = pattern.fullmatch(path)
            if m is not None and method == record.method:
                try:
                    return getattr(self, name)(record, m.groups())
                except HttpError as e:
                    return _text(e.status, e.message)
        return _text(404, "Not Found")

    def _account(self, username: str) -> dict[str, Any]:
        if username not in self._accounts:
            self._accounts[username] = {
                "_account_id": 1000001 + len(self._accounts),
                "name": NAMES.get(username, username.replace("-", " ").title()),
                "email": f"{username}@example.org",
                "username": username,
            }
        return dict(self._accounts[username])

    def _info(self, username: str, detailed: bool = True) -> dict[str, Any]:
        account = self._account(username)
        return account if detailed else {"_account_id": account["_account_id"]}

    def _attr(self, username: str) -> dict[str, Any]:
        a = self._account(username)
        return {"name": a["name"], "email": a["email"], "username": username}

    def _uuid(self) -> str:
        digest = hashlib.sha1(f"id{next(self._ids)}".encode()).hexdigest()
        return f"{digest[:8]}_{digest[8:16]}"

    def _message(self, ch: Change, author: str, text: str, ps: int, tag: str | None) -> str:
        msg_id = hashlib.sha1(f"msg{next(self._ids)}".encode()).hexdigest()
        message: dict[str, Any] = {"id": msg_id, "author": self._info(author)}
        message |= {"date": gerrit_time(self.clock()), "message": text, "_revision_number": ps}
        ch.messages.append(message | ({"tag": tag} if tag else {}))
        return msg_id

    def _change(self, number: int) -> Change:
        ch = self.changes.get(number)
        if ch is None:
            raise KeyError(f"no change {number} in the fake")
        return ch

    def _change_ps(self, number: int, ps: int | None) -> tuple[Change, PatchSet]:
        ch = self._change(number)
        return ch, ch.current if ps is None else ch.patch_sets[ps - 1]

    def _resolve(self, segment: str) -> Change:
        parts = [unquote(p) for p in segment.split("~")]
        found: list[Change] = []
        if len(parts) == 1 and parts[0].isdigit():
            found = [c for c in self.changes.values() if c.number == int(parts[0])]
        elif len(parts) == 1:
            found = [c for c in self.changes.values() if c.change_id == parts[0]]
        elif len(parts) == 2 and parts[1].isdigit():
            number, project = int(parts[1]), parts[0]
            found = [c for c in self.changes.values() if (c.number, c.project) == (number, project)]
        elif len(parts) == 3:
            key = (parts[0], parts[1].removeprefix("refs/heads/"), parts[2])
            found = [c for c in self.changes.values() if (c.project, c.branch, c.change_id) == key]
        if len(found) != 1:
            raise HttpError(404, f"Not found: {unquote(segment)}")
        return found[0]

    def _revision(self, ch: Change, segment: str) -> PatchSet:
        rev = unquote(segment)
        if rev == "current":
            return ch.current
        if rev.isdigit() and 0 < int(rev) <= len(ch.patch_sets):
            return ch.patch_sets[int(rev) - 1]
        hits = [p for p in ch.patch_sets if len(rev) >= 4 and p.sha.startswith(rev.lower())]
        if len(hits) != 1:
            raise HttpError(404, f"Not found: {rev}")
        return hits[0]

    def _size(self, ch: Change, ps: PatchSet) -> tuple[int, int]:
        counts = [line_counts(fd) for fd in tree_diff(ch.base, ps.tree) if not _binary(fd)]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def _commit_msg_file(self, ch: Change, ps: PatchSet) -> str:
        """/COMMIT_MSG as Gerrit diffs it: a header, then the message."""
        a = self._account(ch.owner)
        date = datetime.fromtimestamp(ps.created, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
        who = f"{a['name']} <{a['email']}>"
        head = f"Parent:     {ch.parent[:8]} ({PARENT_SUBJECT})\nAuthor:     {who}\n"
        head += f"AuthorDate: {date}\nCommit:     {who}\nCommitDate: {date}\n\n"
        return head + ch.commit_message

    # --- handlers --------------------------------------------------------------------------

    def _version(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        return _json(self.version)

    def _options(self, q: Query) -> set[str]:
        options = set(q.get("o", []))
        for o in sorted(options - CHANGE_OPTIONS):
            raise HttpError(400, f'"{o}" is not a valid value for "-o"')
        return options

    def _get_change(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        return _json(self._change_info(self._resolve(args[0]), self._options(r.query)))

    def _change_info(self, ch: Change, options: set[str]) -> dict[str, Any]:
        project = quote(ch.project, safe="")
        inserted, deleted = self._size(ch, ch.current)
        info: dict[str, Any] = {
            "id": f"{project}~{ch.number}",
            "triplet_id": f"{project}~{quote(ch.branch, safe='')}~{ch.change_id}",
            "project": ch.project,
            "branch": ch.branch,
        }
        info |= {"topic": ch.topic} if ch.topic else {}
        info |= {
            "hashtags": [],
            "change_id": ch.change_id,
            "subject": ch.subject,
            "status": ch.status,
            "created": gerrit_time(ch.created),
            "updated": gerrit_time(ch.updated),
            "insertions": inserted,
            "deletions": deleted,
            "total_comment_count": len(ch.comments),
            "unresolved_comment_count": _unresolved_threads(ch.comments),
            "_number": ch.number,
            "owner": self._info(ch.owner, "DETAILED_ACCOUNTS" in options),
        }
        every = "ALL_REVISIONS" in options
        if every or "CURRENT_REVISION" in options:
            info["current_revision"] = ch.current.sha
            shown = ch.patch_sets if every else [ch.current]
            info["revisions"] = {p.sha: self._revision_info(ch, p, options) for p in shown}
        if "MESSAGES" in options:
            info["messages"] = ch.messages
        return info

    def _revision_info(self, ch: Change, ps: PatchSet, options: set[str]) -> dict[str, Any]:
        current = ps is ch.current
        out: dict[str, Any] = {
            "kind": ps.kind,
            "_number": ps.number,
            "created": gerrit_time(ps.created),
            "uploader": self._info(ps.uploader, "DETAILED_ACCOUNTS" in options),
            "ref": ch.ref(ps.number),
            "fetch": {},
        }
        if "ALL_COMMITS" in options or (current and "CURRENT_COMMIT" in options):
            a = self._account(ch.owner)
            person = {"name": a["name"], "email": a["email"], "date": gerrit_time(ps.created)}
            out["commit"] = {
                "parents": [
                    {"commit": sha, "subject": PARENT_SUBJECT} for sha in [ch.parent, *ch.merged_in]
                ],
                "author": person | {"tz": 0},
                "committer": person | {"tz": 0},
                "subject": ch.subject,
                "message": ch.commit_message,
            }
        if "ALL_FILES" in options or (current and "CURRENT_FILES" in options):
            out["files"] = {k: v for k, v in self._file_infos(ch, ps, {}).items() if k not in MAGIC}
        return out

    def _query(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        options = self._options(r.query)
        try:
            limit = min(int(r.query.get("n", [QUERY_LIMIT])[0]), QUERY_LIMIT)
            skip = int(r.query.get("S", ["0"])[0])
        except ValueError as e:
            raise HttpError(400, str(e)) from None
        pages = []
        for text in r.query.get("q") or ["status:open"]:  # QueryChanges' default query
            test = self._matcher(text, r.user or "")
            hits = [c for c in self.changes.values() if test(c)]
            hits.sort(key=lambda c: (c.updated, c.number), reverse=True)
            page = [self._change_info(c, options) for c in hits[skip : skip + limit]]
            if page and len(hits) > skip + limit:
                page[-1]["_more_changes"] = True
            pages.append(page)
        return _json(pages[0] if len(pages) == 1 else pages)

    def _matcher(self, text: str, user: str) -> Callable[[Change], bool]:
        tests: list[Callable[[Change], bool]] = []
        for m in re.finditer(r'(?:([a-z_]+):)?("[^"]*"|\{[^}]*\}|\S+)', text):
            op, value = m[1], m[2][1:-1] if m[2][:1] in '"{' else m[2]
            if op is None and value == "AND":
                continue
            if op is None and re.fullmatch(r"\d+|I[0-9a-f]{4,40}", value):
                op = "change"
            tests.append(self._term(op, value, user))
        if not tests:
            raise HttpError(400, "query is empty")
        return lambda c: all(t(c) for t in tests)

    def _term(self, op: str | None, value: str, user: str) -> Callable[[Change], bool]:
        if op in ("status", "is") and value.lower() in STATES:
            return lambda c: c.status in STATES[value.lower()]
        if op == "project":
            return lambda c: c.project == value
        if op == "branch":
            return lambda c: c.branch == value.removeprefix("refs/heads/")
        if op == "owner":
            return lambda c: c.owner == (user if value == "self" else value)
        if op == "change":
            return lambda c: str(c.number) == value or c.change_id.startswith(value)
        if op in ("after", "since", "before", "until"):
            t = parse_time(value)
            if op in ("after", "since"):
                return lambda c: c.updated >= t  # "inclusive", says user-search.txt
            return lambda c: c.updated <= t
        if op is None:  # Gerrit would search the text fields; the fake does not
            raise HttpError(400, f"Unsupported query: {value}")
        raise HttpError(400, f"Unsupported operator {op}:{value}")

    def _messages(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        return _json(self._resolve(args[0]).messages)

    def _old_tree(self, ch: Change, q: Query) -> dict[str, bytes]:
        if "base" in q:
            return self._revision(ch, q["base"][0]).tree
        if q.get("parent", ["1"])[0] != "1":
            raise HttpError(400, f"invalid parent number: {q['parent'][0]}")
        return ch.base

    def _file_infos(self, ch: Change, ps: PatchSet, q: Query) -> dict[str, dict[str, Any]]:
        message = self._commit_msg_file(ch, ps).encode()
        out: dict[str, dict[str, Any]] = {
            COMMIT_MSG: {
                "status": "A",
                "lines_inserted": len(split_lines(message)),
                "size_delta": len(message),
                "size": len(message),
            }
        }
        for fd in tree_diff(self._old_tree(ch, q), ps.tree):
            info: dict[str, Any] = {} if fd.status == "M" else {"status": fd.status}
            info |= {"old_path": fd.old_path} if fd.old_path else {}
            if _binary(fd):
                info["binary"] = True
            else:
                inserted, deleted = line_counts(fd)
                info |= {"lines_inserted": inserted} if inserted else {}
                info |= {"lines_deleted": deleted} if deleted else {}
            size = len(fd.new or b"")
            out[fd.path] = info | {"size_delta": size - len(fd.old or b""), "size": size}
        return dict(sorted(out.items()))

    def _files(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        return _json(self._file_infos(ch, self._revision(ch, args[1]), r.query))

    def _content(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        ps, path = self._revision(ch, args[1]), unquote_plus(args[2])
        parent = "parent" in r.query
        if path == COMMIT_MSG and not parent:
            return _base64(ch.commit_message.encode(), "text/plain")
        data = (self._old_tree(ch, r.query) if parent else ps.tree).get(path)
        if data is None:
            raise HttpError(404, f"File not found: {path}")
        return _base64(data, mime_type(path, data))

    def _branch_content(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        project, branch = unquote(args[0]), unquote(args[1]).removeprefix("refs/heads/")
        tree, path = self.branches.get((project, branch)), unquote_plus(args[2])
        if tree is None:
            raise HttpError(404, f"Not found: {unquote(args[1])}")
        if path not in tree:
            raise HttpError(404, f"Not found: {path}")
        return _base64(tree[path], mime_type(path, tree[path]))

    def _diff(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        ps, path = self._revision(ch, args[1]), unquote_plus(args[2])
        old = self._old_tree(ch, r.query)
        raw_context = r.query.get("context", [str(DEFAULT_CONTEXT)])[0]
        context = None if raw_context == "ALL" else int(raw_context)
        if path == COMMIT_MSG:
            fd = FileDiff(path, None, self._commit_msg_file(ch, ps).encode())
        else:
            fd = next((d for d in tree_diff(old, ps.tree) if d.path == path), None) or FileDiff(
                path, old.get(path), ps.tree.get(path)
            )
        if fd.old is None and fd.new is None:
            raise HttpError(404, f"File not found: {path}")
        a = text_of(fd.old).split("\n") if fd.old is not None else []
        b = text_of(fd.new).split("\n") if fd.new is not None else []
        kinds = {"A": "ADDED", "D": "DELETED", "R": "RENAMED", "M": "MODIFIED"}
        info: dict[str, Any] = {}
        for side, name, data, lines in (
            ("a", fd.old_path or path, fd.old, a),
            ("b", path, fd.new, b),
        ):
            if data is not None:
                info[f"meta_{side}"] = {
                    "name": name,
                    "content_type": mime_type(name, data),
                    "lines": len(lines),
                }
        info["change_type"] = kinds[fd.status]
        if "intraline" in r.query:
            info["intraline_status"] = "OK"
        patch = file_patch(fd)
        head = next((i for i, line in enumerate(patch) if line.startswith("@@")), len(patch))
        info["diff_header"] = [
            line.encode("latin-1").decode(errors="replace") for line in patch[:head]
        ]
        if _binary(fd):
            return _json(info | {"content": [], "binary": True})
        return _json(info | {"content": diff_content(a, b, context)})

    def _patch(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        ps = self._revision(ch, args[1])
        if "zip" in r.query:
            raise HttpError(
                400,
                "raw and zip options are mutually exclusive"
                if "raw" in r.query
                else "zip is not modelled by the fake",
            )
        diffs = tree_diff(self._old_tree(ch, r.query), ps.tree)
        path = r.query.get("path", [None])[0]
        if path is not None:
            diffs = [d for d in diffs if path in (d.path, d.old_path)]
            if not diffs:
                raise HttpError(404, f"File not found: {path}.")
        text = "".join(line + "\n" for fd in diffs for line in file_patch(fd)).encode("latin-1")
        if path is None:
            text = self._patch_header(ch, ps).encode() + text
        if "raw" in r.query:
            return web.Response(body=text, headers={"Content-Type": "text/plain"})
        return _base64(text, "application/mbox")

    def _patch_header(self, ch: Change, ps: PatchSet) -> str:
        a = self._account(ch.owner)
        date = datetime.fromtimestamp(ps.created, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        body = ch.commit_message[len(ch.subject) :].removeprefix("\n\n")
        return (
            f"From {ps.sha} Mon Sep 17 00:00:00 2001\nFrom: {a['name']} <{a['email']}>\n"
            f"Date: {date}\nSubject: [PATCH] {ch.subject}\n\n{body}"
            + ("" if body.endswith("\n") else "\n")
            + "---\n\n"
        )

    def _change_comments(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        return _json(_comment_map(self._resolve(args[0]).comments, True))

    def _revision_comments(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        ps = self._revision(ch, args[1])
        return _json(_comment_map([c for c in ch.comments if c["patch_set"] == ps.number], False))

    # --- posting a review ------------------------------------------------------------------

    def _review(self, r: Recorded, args: tuple[str, ...]) -> web.Response:
        ch = self._resolve(args[0])
        ps, body, user = self._revision(ch, args[1]), r.body, r.user or ""
        body = {} if body is None else body  # no body: a default ReviewInput
        if not isinstance(body, dict):
            raise HttpError(400, "Expected JSON object")
        version = version_tuple(self.version)
        if body.get("robot_comments") and version < (3, 13):
            raise HttpError(400, "robot_comments are not modelled by the fake")
        # PostReview.apply: labels, then comments, are checked before anything is written.
        labels = self._clean_labels(body.get("labels"))
        comments = _clean_comments(body.get("comments"), fixes=version >= (3, 10))
        self._check_comments(ch, ps, comments)
        # PostReviewOp: duplicates, size validators, votes, then NoteDb (the feature flag).
        existing = {_key(c["path"], c["patch_set"], c) for c in ch.comments}
        if body.get("omit_duplicate_comments"):
            comments = [(p, c) for p, c in comments if _key(p, ps.number, c) not in existing]
        text = str(body.get("message") or "").strip()
        sizes = [len(c["message"].encode()) for _, c in comments] + [len(text.encode())]
        too_big = [
            f"Comment size exceeds limit ({s} > {self.comment_size_limit})"
            for s in sizes
            if s > self.comment_size_limit
        ]
        if too_big:
            raise HttpError(
                400, "One or more comments were rejected in validation: " + "; ".join(too_big)
            )
        votes, deltas = self._votes(ch, ps, user, labels)
        if (
            any(c.get("fix_suggestions") for _, c in comments)
            and not self.fix_suggestions_experiment
        ):
            raise HttpError(
                500, "Internal server error\nfeature flag prohibits setting fixSuggestions"
            )
        self._store(ch, ps, user, body, comments, votes, deltas, text)
        return _json({"labels": labels} if body.get("labels") is not None else {})

    def _clean_labels(self, labels: Any) -> dict[str, int]:
        out = {}
        names = {n.lower(): n for n in self.labels}
        for name, value in (labels or {}).items():
            known = names.get(str(name).lower())
            if known is None:
                continue  # strictLabels = false: unknown labels are dropped, not refused
            v = int(value or 0)
            low, high = self.labels[known]
            if v == 0 or low <= v <= high:
                out[known] = v
        return out

    def _check_comments(
        self, ch: Change, ps: PatchSet, comments: list[tuple[str, dict[str, Any]]]
    ) -> None:
        paths = set()
        for fd in tree_diff(ch.base, ps.tree):
            paths |= {fd.path, fd.old_path or fd.path}
        known = {c["id"] for c in ch.comments}
        for path, c in comments:
            if path not in paths and path not in MAGIC:
                raise HttpError(400, f"file {path} not found in revision {ch.number},{ps.number}")
            line = c.get("line")
            if line is not None and int(line) < 0:
                raise HttpError(400, f"negative line number {line} not allowed on {path}")
            if path in MAGIC and c.get("side") == "PARENT" and c.get("parent") is None:
                raise HttpError(400, f"cannot comment on {path} on auto-merge")
            _check_range(c.get("range"), path)
            if path == PATCHSET_LEVEL and any(
                c.get(k) is not None for k in ("side", "range", "line")
            ):
                raise HttpError(400, "Patchset-level comments can't have side, range, or line")
            reply = c.get("in_reply_to")
            if reply is not None and unquote(str(reply)) not in known:
                raise HttpError(400, f"Invalid inReplyTo, comment {reply} not found")
            for fix in c.get("fix_suggestions") or []:
                _check_fix(fix, path)

    def _votes(
        self, ch: Change, ps: PatchSet, user: str, labels: dict[str, int]
    ) -> tuple[dict[str, int], list[str]]:
        """The votes that change, and their change-message deltas; 409 where Gerrit refuses."""
        current = ch.votes.get((ps.number, user), {})
        changed: dict[str, int] = {}
        deltas, lowered = [], []
        for name, value in labels.items():
            before = current.get(name)
            if before == value or (before is None and value == 0):
                continue
            changed[name] = value
            deltas.append(label_vote(name, value))
            if (before or 0) > value or (value == 0 and before):
                lowered.append(name)
        if changed and ch.status == "ABANDONED":
            raise HttpError(409, "change is closed")
        if lowered and ch.status == "MERGED":  # post-submit votes may only go up
            names = ", ".join(sorted(lowered))
            raise HttpError(409, f"Cannot reduce vote on labels for closed change: {names}")
        return changed, sorted(deltas)

    def _store(
        self,
        ch: Change,
        ps: PatchSet,
        user: str,
        body: dict[str, Any],
        comments: list[tuple[str, dict[str, Any]]],
        votes: dict[str, int],
        deltas: list[str],
        text: str,
    ) -> None:
        now, tag = int(self.clock()), body.get("tag")
        by_id = {c["id"]: c for c in ch.comments}
        summary = "".join(" " + d for d in deltas)
        if comments:
            summary += (
                "\n\n(1 comment)" if len(comments) == 1 else f"\n\n({len(comments)} comments)"
            )
        summary += f"\n\n{text}" if text else ""
        msg_id = (
            self._message(ch, user, f"Patch Set {ps.number}:{summary}", ps.number, tag)
            if summary
            else None
        )
        for path, c in comments:
            rng = {k: int(c["range"].get(k) or 0) for k in RANGE_KEYS} if c.get("range") else None
            line = rng["end_line"] if rng else int(c.get("line") or 0)
            parent = unquote(str(c["in_reply_to"])) if c.get("in_reply_to") else None
            unresolved = c.get("unresolved")
            if unresolved is None:  # a reply carries its thread's state on
                unresolved = bool(by_id[parent]["unresolved"]) if parent else False
            stored: dict[str, Any] = {"id": self._uuid(), "path": path, "patch_set": ps.number}
            stored["commit_id"] = ps.sha
            stored |= {"side": "PARENT"} if c.get("side") == "PARENT" else {}
            stored |= ({"line": line} if line else {}) | ({"range": rng} if rng else {})
            stored |= {"in_reply_to": parent} if parent else {}
            stored |= {
                "message": c["message"],
                "updated": gerrit_time(now),
                "author": self._info(user),
                "unresolved": bool(unresolved),
                "change_message_id": msg_id,
            }
            stored |= {"tag": tag} if tag else {}
            if c.get("fix_suggestions"):
                stored["fix_suggestions"] = [
                    {
                        "fix_id": self._uuid(),
                        "description": f["description"],
                        "replacements": f["replacements"],
                    }
                    for f in c["fix_suggestions"]
                ]
            ch.comments.append(stored)
            by_id[stored["id"]] = stored
        mine = ch.votes.setdefault((ps.number, user), {})
        for name, value in votes.items():
            if value:
                mine[name] = value
            else:
                mine.pop(name, None)
        if msg_id is not None or votes:
            ch.updated = now
        self.reviews.append((ch.number, ps.number, body))


def _apply(tree: dict[str, bytes], files: dict[str, bytes | None]) -> dict[str, bytes]:
    out = dict(tree)
    for path, data in files.items():
        if data is None:
            out.pop(path, None)
        else:
            out[path] = data
    return out


def _binary(fd: FileDiff) -> bool:
    return is_binary(fd.old) or is_binary(fd.new)


def _unresolved_threads(comments: list[dict[str, Any]]) -> int:
    root: dict[str, str] = {}
    last: dict[str, dict[str, Any]] = {}
    for c in comments:  # stored in the order they were written
        parent = c.get("in_reply_to")
        root[c["id"]] = root.get(parent, parent) if parent else c["id"]
        last[root[c["id"]]] = c
    return sum(1 for c in last.values() if c["unresolved"])


def _comment_map(comments: list[dict[str, Any]], with_ps: bool) -> dict[str, list[Any]]:
    """Gerrit's map form: the path is the key, so CommentInfo does not repeat it."""
    out: dict[str, list[Any]] = {}
    order = sorted(comments, key=lambda c: (c["path"], c["patch_set"], c.get("line", 0)))
    for c in order:
        drop = ("path",) if with_ps else ("path", "patch_set")
        out.setdefault(c["path"], []).append({k: v for k, v in c.items() if k not in drop})
    return out


def _clean_comments(raw: Any, *, fixes: bool) -> list[tuple[str, dict[str, Any]]]:
    """PostReview.cleanUpComments: blank messages go; before 3.10 Gson drops the fixes."""
    out = []
    for path, items in (raw or {}).items():
        for c in items or []:
            if isinstance(c, dict) and str(c.get("message") or "").strip():
                c = dict(c)
                if not fixes:
                    c.pop("fix_suggestions", None)
                out.append((str(path), c))
    return out


def _key(path: str, ps: int, c: dict[str, Any]) -> tuple[Any, ...]:
    """PostReview.CommentSetEntry: what makes two comments duplicates."""
    r = c.get("range")
    rng = tuple(int(r.get(k) or 0) for k in RANGE_KEYS) if r else None
    line = rng[2] if rng else int(c.get("line") or 0)
    return (path, ps, line, c.get("side") or "REVISION", c.get("message"), rng)


def _range_values(r: dict[str, Any]) -> tuple[int, int, int, int]:
    sl, sc, el, ec = (int(r.get(k) or 0) for k in RANGE_KEYS)
    return sl, sc, el, ec


def _check_range(r: Any, path: str) -> None:
    if r is None:
        return
    sl, sc, el, ec = _range_values(r)
    if not (sl > 0 and sc >= 0 and el > 0 and ec >= 0 and sl <= el and (sl != el or sc <= ec)):
        raise HttpError(
            400, f"Range ({sl}:{sc} - {el}:{ec}) is not valid for the comment on {path}"
        )


def _check_fix(fix: dict[str, Any], path: str) -> None:
    where = f"the comment on {path}"
    if fix.get("description") is None:
        raise HttpError(400, f"A description is required for the suggested fix of {where}")
    replacements = fix.get("replacements")
    if not replacements:
        raise HttpError(
            400, f"At least one replacement is required for the suggested fix of {where}"
        )
    for r in replacements:
        if r.get("path") is None:
            raise HttpError(400, f"A file path must be given for the replacement of {where}")
        if r["path"] == PATCHSET_LEVEL:
            raise HttpError(
                400, f"A file path must not be {PATCHSET_LEVEL} for the replacement of {where}"
            )
        if r.get("range") is None:
            raise HttpError(400, f"A range must be given for the replacement of {where}")
        _check_range(r["range"], path)
        if r.get("replacement") is None:
            raise HttpError(
                400, f"A content for replacement must be indicated for the replacement of {where}"
            )
    by_path: dict[str, list[tuple[int, int, int, int]]] = {}
    for r in replacements:
        by_path.setdefault(r["path"], []).append(_range_values(r["range"]))
    for ranges in by_path.values():
        end_line, end_char = 0, -1
        for sl, sc, el, ec in sorted(ranges):
            if sl < end_line or (sl == end_line and sc < end_char):
                raise HttpError(400, f"Replacements overlap for {where}")
            end_line, end_char = el, ec
