"""A fake GitHub REST + GraphQL API on 127.0.0.1, for the adapter and the service tests.

It is built from GitHub's documented behaviour (the reference notes copied with the
fixtures under ``tests/fixtures/github/``) and enforces what the real API enforces:

- auth: ``Authorization: token|Bearer <t>`` with a known, unexpired token, else 401 with
  GitHub's body; App endpoints want an RS256 JWT whose ``iss`` is the App id; check runs
  refuse a token that is not an installation's (403);
- lists: ``per_page`` (default 30, max 100), ``page``, ``Link`` with absolute URLs on the
  same base (PyGithub asserts host, port and prefix); a PR's files stop at 3,000;
- request bodies against the official operation schemas (``jsonschema``); a violation
  answers 422 and is kept in ``schema_errors``;
- a review is all or nothing: a comment whose ``line`` is not in a hunk of its file's
  patch on that side, a ``start_line`` outside that hunk, or not before ``line``, answers
  422 with GitHub's strings, and nothing of the review is stored;
- contents over 1 MB come with ``"encoding": "none"``, as the contents API sends them;
- injected failures: any status, headers and body for the next N matching requests
  (rate limits, 500s); an injected failure may still store the request's effect first,
  as GitHub does when a 500 comes after the review was saved;
- GraphQL ``reviewThreads`` (paginated) and ``resolveReviewThread``.

Every request is recorded in ``requests``. The server runs on its own event loop in a
thread; ``stop()`` ends it.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from aiohttp import web

from tests.fakes.app_thread import AppThread

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
DOCS = "https://docs.github.com/rest"
MAX_FILES = 3000
MAX_BODY = 65536  # characters in a review's or a comment's body
CONTENTS_LIMIT = 1024 * 1024
JSON: web.RequestKey[Any] = web.RequestKey("json", object)
INSTALLATION: web.RequestKey[bool] = web.RequestKey("installation", bool)
BOT = {"login": "review-bot[bot]", "id": 9001, "type": "Bot"}


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_sha(files: dict[str, bytes]) -> str:
    digest = hashlib.sha1()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path])
    return digest.hexdigest()


def patch_of(old: bytes | None, new: bytes | None) -> str:
    """GitHub's ``patch``: the hunks alone, no file header."""
    # GitHub shows a non-UTF-8 file's diff too; latin-1 keeps every byte a character.
    a = [] if old is None else old.decode("latin-1").splitlines()
    b = [] if new is None else new.decode("latin-1").splitlines()
    lines = list(difflib.unified_diff(a, b, lineterm="", n=3))
    return "\n".join(lines[2:])


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)


def hunk_ranges(patch: str, side: str) -> list[range]:
    out = []
    for m in _HUNK.finditer(patch):
        start, count = (m.group(1), m.group(2)) if side == "LEFT" else (m.group(3), m.group(4))
        n = 1 if count is None else int(count)
        out.append(range(int(start), int(start) + n))
    return out


def _schema(name: str) -> Any:
    data = json.loads((FIXTURES / "rest-operations" / f"{name}.json").read_text())
    return data["requestBody"]["content"]["application/json"]["schema"]


SCHEMAS = {
    "review": _schema("POST_repos_owner_repo_pulls_pull_number_reviews"),
    "check_create": _schema("POST_repos_owner_repo_check-runs"),
    "check_update": _schema("PATCH_repos_owner_repo_check-runs_check_run_id"),
    "token": _schema("POST_app_installations_installation_id_access_tokens"),
}


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int
    after_effect: bool  # do the request's work, then answer the failure


@dataclass
class PullRequest:
    number: int
    base: str
    head: str
    author: str = "Codertocat"
    state: str = "open"
    draft: bool = False
    drop_patch: set[str] = field(default_factory=set)
    files: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    updated: float = field(default_factory=time.time)  # what the PR list sorts by


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str
    status: int = 0
    at: float = field(default_factory=time.monotonic)


class FakeGitHub:
    def __init__(
        self,
        *,
        prefix: str = "",
        token: str | None = "test-token",
        app_id: int | None = None,
        public_key: str | None = None,
        token_ttl: float = 3600.0,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        # GHES puts GraphQL at /api/graphql beside /api/v3; github.com at /graphql.
        self.graphql_path = (
            self.prefix.removesuffix("/v3") + "/graphql" if self.prefix else "/graphql"
        )
        self.tokens: dict[str, float] = {} if token is None else {token: float("inf")}
        self.installation_tokens: set[str] = set()
        self.app_id = app_id
        self.public_key = public_key
        self.token_ttl = token_ttl
        self.trees: dict[str, dict[str, bytes]] = {}
        self.pulls: dict[tuple[str, int], PullRequest] = {}
        # An App's installations: id -> the repositories it was granted.
        self.installations: dict[int, list[str]] = {}
        self._token_installation: dict[str, int] = {}
        self.reactions: list[dict[str, Any]] = []
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.schema_errors: list[str] = []
        self.failures: list[Failure] = []
        self.hooks: list[tuple[str, re.Pattern[str], Callable[[], object]]] = []
        self._ids = itertools.count(100)
        self._lock = threading.Lock()
        self._server = AppThread(self._app, "fake-github")
        self.port = 0

    # --- setting the scene -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def tree(self, files: dict[str, bytes | str]) -> str:
        data = {p: v.encode() if isinstance(v, str) else v for p, v in files.items()}
        sha = tree_sha(data)
        self.trees[sha] = data
        return sha

    def open_pr(
        self,
        repo: str,
        number: int,
        base: dict[str, bytes | str],
        head: dict[str, bytes | str],
        **options: Any,
    ) -> PullRequest:
        pr = PullRequest(number, self.tree(base), self.tree(head), **options)
        self.pulls[(repo, number)] = pr
        self._diff(pr)
        return pr

    def push(self, repo: str, number: int, head: dict[str, bytes | str]) -> str:
        pr = self.pulls[(repo, number)]
        pr.head = self.tree(head)
        pr.updated = time.time()
        self._diff(pr)
        return pr.head

    def _diff(self, pr: PullRequest) -> None:
        old, new = self.trees[pr.base], self.trees[pr.head]
        entries = []
        for path in sorted(set(old) | set(new)):
            a, b = old.get(path), new.get(path)
            if a == b:
                continue
            status = "added" if a is None else "removed" if b is None else "modified"
            patch = patch_of(a, b)
            adds = sum(1 for line in patch.splitlines() if line.startswith("+"))
            dels = sum(1 for line in patch.splitlines() if line.startswith("-"))
            entry: dict[str, Any] = {
                "sha": blob_sha(b if b is not None else a or b""),
                "filename": path,
                "status": status,
                "additions": adds,
                "deletions": dels,
                "changes": adds + dels,
                "blob_url": f"https://github.com/o/r/blob/{pr.head}/{path}",
                "raw_url": f"https://github.com/o/r/raw/{pr.head}/{path}",
                "contents_url": f"{self.base_url}/repos/o/r/contents/{path}?ref={pr.head}",
            }
            if path not in pr.drop_patch:
                entry["patch"] = patch
            entries.append(entry)
        pr.files = entries

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        after_effect: bool = False,
    ) -> None:
        """The next ``times`` requests of ``method`` whose path matches ``path`` (a regex,
        searched) answer ``status``."""
        message = {"message": "Server Error"} if body is None else body
        self.failures.append(
            Failure(method, re.compile(path), status, message, headers or {}, times, after_effect)
        )

    def before(self, method: str, path: str, action: Callable[[], object]) -> None:
        """Run ``action`` once, before the next matching request is handled (a push that
        lands between the bot's reads and its post, say)."""
        self.hooks.append((method, re.compile(path), action))

    def rate_limit(self, method: str, path: str, *, secondary: bool = False) -> None:
        if secondary:
            # Secondary limits come as 403 or 429, with Retry-After.
            self.fail(
                method,
                path,
                429,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                },
                {"Retry-After": "1"},
            )
        else:
            self.fail(
                method,
                path,
                403,
                {
                    "message": "API rate limit exceeded for installation ID 1.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                },
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)},
            )

    def calls(self, method: str | None = None, pattern: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(pattern, r.path)
            ]

    # --- the server ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        p = self.prefix
        r = app.router
        r.add_post(p + "/app/installations/{id}/access_tokens", self._access_token)
        r.add_get(p + "/app/installations", self._installations)
        r.add_get(p + "/installation/repositories", self._installation_repos)
        repo = p + "/repos/{owner}/{name}"
        r.add_get(repo + "/pulls", self._pulls)
        r.add_get(repo + "/pulls/{n}", self._pull)
        r.add_get(repo + "/pulls/{n}/files", self._files)
        r.add_get(repo + "/pulls/{n}/comments", self._comments)
        r.add_post(repo + "/pulls/{n}/comments/{id}/replies", self._reply)
        r.add_get(repo + "/pulls/{n}/reviews", self._reviews)
        r.add_post(repo + "/pulls/{n}/reviews", self._create_review)
        r.add_get(repo + "/contents/{path:.+}", self._contents)
        r.add_get(repo + "/git/blobs/{sha}", self._blob)
        r.add_post(repo + "/issues/comments/{id}/reactions", self._react)
        r.add_post(repo + "/check-runs", self._create_check)
        r.add_patch(repo + "/check-runs/{id}", self._update_check)
        r.add_post(self.graphql_path, self._graphql)
        return app

    def start(self) -> FakeGitHub:
        self.port = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- plumbing --------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _error(400, "Problems parsing JSON")
        record = Recorded(
            request.method,
            request.path,
            dict(request.query),
            body,
            request.headers.get("Authorization", ""),
        )
        with self._lock:
            self.requests.append(record)
        request[JSON] = body
        denied = self._authenticate(request)
        if denied is not None:
            record.status = denied.status
            return denied
        for hook in list(self.hooks):
            if hook[0] == request.method and hook[1].search(request.path):
                self.hooks.remove(hook)
                hook[2]()
        failure = self._failure(request)
        if failure is not None and not failure.after_effect:
            record.status = failure.status
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        response = await handler(request)
        if failure is not None:
            response = web.json_response(
                failure.body, status=failure.status, headers=failure.headers
            )
        record.status = response.status
        return response

    def _failure(self, request: web.Request) -> Failure | None:
        with self._lock:
            for f in self.failures:
                if f.times > 0 and f.method == request.method and f.path.search(request.path):
                    f.times -= 1
                    return f
        return None

    def _authenticate(self, request: web.Request) -> web.Response | None:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if request.path.startswith(self.prefix + "/app/"):
            if scheme != "Bearer" or self.public_key is None:
                return _error(401, "A JSON web token could not be decoded")
            try:
                claims = jwt.decode(credential, self.public_key, algorithms=["RS256"])
            except jwt.PyJWTError:
                return _error(401, "A JSON web token could not be decoded")
            if str(claims.get("iss")) != str(self.app_id):
                return _error(401, "'Issuer' claim ('iss') must be an Integer")
            return None
        if (
            scheme.lower() not in ("token", "bearer")
            or self.tokens.get(credential, 0) < time.time()
        ):
            return _error(401, "Bad credentials")
        request[INSTALLATION] = credential in self.installation_tokens
        return None

    def _validate(self, schema: str, body: Any) -> web.Response | None:
        errors = sorted(jsonschema.Draft202012Validator(SCHEMAS[schema]).iter_errors(body), key=str)
        if not errors:
            return None
        text = "; ".join(f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors)
        self.schema_errors.append(f"{schema}: {text}")
        return _error(422, "Invalid request.", errors=[text])

    def _pr(self, request: web.Request) -> PullRequest:
        key = (
            f"{request.match_info['owner']}/{request.match_info['name']}",
            int(request.match_info["n"]),
        )
        pr = self.pulls.get(key)
        if pr is None:
            raise web.HTTPNotFound(
                text=json.dumps({"message": "Not Found"}), content_type="application/json"
            )
        return pr

    def _page(
        self,
        request: web.Request,
        items: list[Any],
        wrap: Callable[[list[Any]], Any] | None = None,
    ) -> web.Response:
        """One page of ``items`` with GitHub's Link header; ``wrap`` makes the body an
        object around the page (``{"repositories": [...]}``). The next links keep the
        request's other query parameters, as GitHub's do."""
        try:
            per_page = min(int(request.query.get("per_page", "30")), 100)
            page = max(int(request.query.get("page", "1")), 1)
        except ValueError:
            return _error(422, "Invalid pagination")
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        kept = "".join(
            f"&{k}={v}" for k, v in request.query.items() if k not in ("per_page", "page")
        )
        url = f"http://127.0.0.1:{self.port}{request.path}"
        if page < last:
            links.append(f'<{url}?per_page={per_page}&page={page + 1}{kept}>; rel="next"')
            links.append(f'<{url}?per_page={per_page}&page={last}{kept}>; rel="last"')
        if page > 1:
            links.append(f'<{url}?per_page={per_page}&page=1{kept}>; rel="first"')
        headers = {"Link": ", ".join(links)} if links else {}
        return web.json_response(chunk if wrap is None else wrap(chunk), headers=headers)

    # --- handlers --------------------------------------------------------------------------

    async def _access_token(self, request: web.Request) -> web.Response:
        invalid = self._validate("token", request[JSON] or {})
        if invalid is not None:
            return invalid
        token = f"ghs_{next(self._ids)}_{int(time.time() * 1000)}"
        expires = time.time() + self.token_ttl
        self.tokens[token] = expires
        self.installation_tokens.add(token)
        self._token_installation[token] = int(request.match_info["id"])
        return web.json_response(
            {
                "token": token,
                "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"pull_requests": "write", "checks": "write"},
                "repository_selection": "selected",
            },
            status=201,
        )

    def _pull_json(self, pr: PullRequest) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (FIXTURES / "rest-examples" / "pull-request.json").read_text()
        )
        data.update(number=pr.number, state=pr.state, draft=pr.draft)
        data["updated_at"] = datetime.fromtimestamp(pr.updated, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data["head"]["sha"], data["base"]["sha"] = pr.head, pr.base
        data["user"]["login"] = pr.author
        return data

    async def _pull(self, request: web.Request) -> web.Response:
        return web.json_response(self._pull_json(self._pr(request)))

    async def _pulls(self, request: web.Request) -> web.Response:
        """``GET /repos/{o}/{r}/pulls``: state open (default), closed or all; sort created
        (default), updated, popularity or long-running; direction desc by default for
        created, else asc. A value outside those is 422, as GitHub's validation is."""
        q = request.query
        state, sort = q.get("state", "open"), q.get("sort", "created")
        direction = q.get("direction", "desc" if sort == "created" else "asc")
        if (
            state not in ("open", "closed", "all")
            or sort not in ("created", "updated", "popularity", "long-running")
            or direction not in ("asc", "desc")
        ):
            return _error(422, "Validation Failed")
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        pulls = [
            pr
            for (name, _), pr in self.pulls.items()
            if name == repo and (state == "all" or pr.state == state)
        ]
        # Whole seconds, as GitHub's timestamps are; ties keep the number order.
        by = (lambda pr: int(pr.updated)) if sort == "updated" else (lambda pr: pr.number)
        pulls.sort(key=by, reverse=direction == "desc")
        return self._page(request, [self._pull_json(pr) for pr in pulls])

    async def _installations(self, request: web.Request) -> web.Response:
        base = json.loads((FIXTURES / "rest-examples" / "installation.json").read_text())
        items = [{**base, "id": n, "app_id": self.app_id} for n in sorted(self.installations)]
        return self._page(request, items)

    async def _installation_repos(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").partition(" ")[2]
        installation = self._token_installation.get(token)
        if installation is None:
            return _error(403, "This endpoint requires an installation access token")
        repos = [
            {"id": n, "name": name.split("/")[1], "full_name": name, "private": False}
            for n, name in enumerate(self.installations.get(installation, []), 1)
        ]
        return self._page(
            request,
            repos,
            lambda page: {
                "total_count": len(repos),
                "repository_selection": "selected",
                "repositories": page,
            },
        )

    async def _files(self, request: web.Request) -> web.Response:
        return self._page(request, self._pr(request).files[:MAX_FILES])

    async def _comments(self, request: web.Request) -> web.Response:
        return self._page(request, self._pr(request).comments)

    async def _reviews(self, request: web.Request) -> web.Response:
        return self._page(request, self._pr(request).reviews)

    def _comment(
        self, pr: PullRequest, review_id: int, c: dict[str, Any], reply_to: int | None
    ) -> dict[str, Any]:
        made = {
            "id": next(self._ids),
            "node_id": f"PRRC_{next(self._ids)}",
            "pull_request_review_id": review_id,
            "diff_hunk": "@@",
            "path": c["path"],
            "commit_id": pr.head,
            "original_commit_id": pr.head,
            "user": dict(BOT),
            "body": c["body"],
            "line": c.get("line"),
            "side": c.get("side", "RIGHT"),
            "start_line": c.get("start_line"),
            "start_side": c.get("start_side"),
            "author_association": "NONE",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if reply_to is not None:
            made["in_reply_to_id"] = reply_to
        pr.comments.append(made)
        return made

    def _review_errors(self, pr: PullRequest, body: dict[str, Any]) -> list[str]:
        if body.get("event") in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
            return ["Body is required for this event"]
        texts = [body.get("body") or "", *(c.get("body", "") for c in body.get("comments", []))]
        if any(len(t) > MAX_BODY for t in texts):
            return [f"Body is too long (maximum is {MAX_BODY} characters)"]
        patches = {f["filename"]: f.get("patch") for f in pr.files}
        errors = []
        for c in body.get("comments", []):
            patch = patches.get(c["path"])
            if not patch:
                errors.append(
                    "Pull request review thread path is invalid and Pull request review "
                    "thread diff hunk can't be blank"
                )
                continue
            side = c.get("side", "RIGHT")
            hunks = hunk_ranges(patch, side)
            home = next((h for h in hunks if c.get("line") in h), None)
            if home is None:
                errors.append("Line could not be resolved")
                continue
            start = c.get("start_line")
            if start is not None:
                if start >= c["line"]:
                    errors.append("Pull request review thread start line must precede the end line")
                elif start not in home or c.get("start_side", side) != side:
                    errors.append(
                        "Pull request review thread start line must be part of the same hunk "
                        "as the line."
                    )
        return errors

    async def _create_review(self, request: web.Request) -> web.Response:
        pr = self._pr(request)
        body = request[JSON] or {}
        invalid = self._validate("review", body)
        if invalid is not None:
            return invalid
        errors = self._review_errors(pr, body)
        if errors:
            return _error(
                422,
                "Unprocessable Entity",
                errors=errors,
                status="422",
                documentation_url=f"{DOCS}/pulls/reviews#create-a-review-for-a-pull-request",
            )
        review = {
            "id": next(self._ids),
            "node_id": f"PRR_{next(self._ids)}",
            "user": dict(BOT),
            "body": body.get("body", ""),
            "state": "COMMENTED" if body.get("event") == "COMMENT" else "PENDING",
            "commit_id": body.get("commit_id", pr.head),
            "author_association": "NONE",
        }
        pr.reviews.append(review)
        for c in body.get("comments", []):
            made = self._comment(pr, review["id"], c, None)
            pr.threads.append(
                {"id": f"PRRT_{made['id']}", "isResolved": False, "comments": [made["id"]]}
            )
        return web.json_response(review)

    async def _reply(self, request: web.Request) -> web.Response:
        pr = self._pr(request)
        body = request[JSON] or {}
        if not isinstance(body.get("body"), str) or not body["body"]:
            return _error(422, "Invalid request.", errors=["body is required"])
        target = int(request.match_info["id"])
        parent = next((c for c in pr.comments if c["id"] == target), None)
        if parent is None:
            return _error(404, "Not Found")
        made = self._comment(
            pr, parent["pull_request_review_id"], {**parent, "body": body["body"]}, target
        )
        for thread in pr.threads:
            if target in thread["comments"]:
                thread["comments"].append(made["id"])
        return web.json_response(made, status=201)

    async def _contents(self, request: web.Request) -> web.Response:
        ref = request.query.get("ref", "")
        files = self.trees.get(ref)
        path = request.match_info["path"]
        if files is None or path not in files:
            return _error(404, "Not Found")
        data = files[path]
        big = len(data) > CONTENTS_LIMIT
        return web.json_response(
            {
                "type": "file",
                "encoding": "none" if big else "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": "" if big else base64.b64encode(data).decode(),
                "sha": blob_sha(data),
            }
        )

    async def _blob(self, request: web.Request) -> web.Response:
        sha = request.match_info["sha"]
        for files in self.trees.values():
            for data in files.values():
                if blob_sha(data) == sha:
                    return web.json_response(
                        {
                            "sha": sha,
                            "size": len(data),
                            "encoding": "base64",
                            "content": base64.b64encode(data).decode(),
                        }
                    )
        return _error(404, "Not Found")

    async def _react(self, request: web.Request) -> web.Response:
        body = request[JSON] or {}
        if body.get("content") not in (
            "+1",
            "-1",
            "laugh",
            "confused",
            "heart",
            "hooray",
            "rocket",
            "eyes",
        ):
            return _error(422, "Invalid request.", errors=["content is not a reaction"])
        reaction = {
            "id": next(self._ids),
            "content": body["content"],
            "comment": int(request.match_info["id"]),
        }
        self.reactions.append(reaction)
        return web.json_response(reaction, status=201)

    def _checks_allowed(self, request: web.Request) -> web.Response | None:
        if not request.get(INSTALLATION):
            return _error(403, "You must authenticate via a GitHub App.")
        return None

    async def _create_check(self, request: web.Request) -> web.Response:
        denied = self._checks_allowed(request) or self._validate(
            "check_create", request[JSON] or {}
        )
        if denied is not None:
            return denied
        run = {"id": next(self._ids), **(request[JSON] or {})}
        self.check_runs[run["id"]] = run
        return web.json_response(run, status=201)

    async def _update_check(self, request: web.Request) -> web.Response:
        denied = self._checks_allowed(request) or self._validate(
            "check_update", request[JSON] or {}
        )
        if denied is not None:
            return denied
        run = self.check_runs.get(int(request.match_info["id"]))
        if run is None:
            return _error(404, "Not Found")
        run.update(request[JSON] or {})
        return web.json_response(run)

    async def _graphql(self, request: web.Request) -> web.Response:
        body = request[JSON] or {}
        query, variables = str(body.get("query", "")), body.get("variables") or {}
        if "resolveReviewThread" in query:
            for pr in self.pulls.values():
                for thread in pr.threads:
                    if thread["id"] == variables.get("id"):
                        thread["isResolved"] = True
                        return web.json_response(
                            {
                                "data": {
                                    "resolveReviewThread": {
                                        "thread": {"id": thread["id"], "isResolved": True}
                                    }
                                }
                            }
                        )
            return web.json_response(
                {
                    "data": None,
                    "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a node"}],
                }
            )
        if "reviewThreads" in query:
            pr = self.pulls.get(
                (
                    f"{variables.get('owner')}/{variables.get('name')}",
                    int(variables.get("number", 0)),
                )
            )
            if pr is None:
                return web.json_response(
                    {"data": None, "errors": [{"type": "NOT_FOUND", "message": "no PR"}]}
                )
            start = int(variables.get("after") or 0)
            chunk = pr.threads[start : start + 100]
            nodes = [
                {
                    "id": t["id"],
                    "isResolved": t["isResolved"],
                    "comments": {"nodes": [{"databaseId": t["comments"][0]}]},
                }
                for t in chunk
            ]
            more = start + 100 < len(pr.threads)
            return web.json_response(
                {
                    "data": {
                        "repository": {
                            "pullRequest": {
                                "reviewThreads": {
                                    "nodes": nodes,
                                    "pageInfo": {
                                        "hasNextPage": more,
                                        "endCursor": str(start + 100),
                                    },
                                }
                            }
                        }
                    }
                }
            )
        return web.json_response({"errors": [{"message": "unsupported query in the fake"}]})


def _error(code: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"message": message, "documentation_url": DOCS, **extra}, status=code)
