"""GitHub's REST and GraphQL APIs through PyGithub's requester, synchronously; the adapter
calls it from a thread, never on the event loop.

Three choices, each against a default of PyGithub's:

- **No retries** (``retry=None``). PyGithub's default re-sends a POST after a 500 up to ten
  times, and a 500 can come after GitHub stored the review: duplicates. The job store
  retries instead, and the adapter reads the PR's comments before every post.
- **Raw JSON lists.** A list item read as a PyGithub object completes itself with one GET
  per item when an attribute the list left out is read (``in_reply_to_id``); pages of
  plain dicts cost one call per page.
- **Our own installation tokens**, refreshed five minutes before they expire (PyGithub
  refreshes 20 s before), cached per installation.

Statuses become ``TransientError`` (rate limits with their wait, 5xx, 409, no answer) or
``PermanentError``; ``Unprocessable`` is the 422 a review POST must handle itself.
"""

from __future__ import annotations

import base64
import collections
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import github
import requests
from github import Auth, GithubIntegration
from github.Requester import Requester

from bot.errors import IntakeError, PermanentError, TransientError

T = TypeVar("T")
# (endpoint template, HTTP status or "none"): what /metrics counts.
RequestHook = Callable[[str, str], None]
TOKEN_MARGIN = 300.0  # seconds before expiry that an installation token is renewed
WRITES_PER_MINUTE = 80  # GitHub's published pace for content-creating requests
SECONDARY_WAIT = 60.0  # GitHub's advice when a secondary limit names no wait


class Unprocessable(PermanentError):
    """422: GitHub refused the request's content; ``errors`` are its strings."""

    def __init__(self, message: str, errors: list[str]) -> None:
        super().__init__(message, 422)
        self.errors = errors

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.errors))


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name.lower())
    return None if value is None else str(value)


def rate_limit_wait(status: int, headers: dict[str, Any], data: Any, now: float) -> float | None:
    """Seconds to wait when the answer is a primary or secondary rate limit, else None."""
    if status not in (403, 429):
        return None
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None and retry_after.isdigit():
        return float(retry_after)
    if _header(headers, "X-RateLimit-Remaining") == "0":
        reset = _header(headers, "X-RateLimit-Reset")
        if reset is not None and reset.isdigit():
            return max(float(reset) - now, 0.0) + 1.0
        return SECONDARY_WAIT
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    if "rate limit" in message.lower():
        return SECONDARY_WAIT
    return None


def error_for(
    endpoint: str, status: int, headers: dict[str, Any], data: Any, now: float
) -> TransientError | PermanentError:
    message = data.get("message", "") if isinstance(data, dict) else str(data)[:200]
    text = f"GitHub {endpoint}: {status} {message}".rstrip()
    wait = rate_limit_wait(status, headers, data, now)
    if wait is not None:
        return TransientError(f"{text} (rate limited; retry in {wait:.0f} s)", wait, status)
    if status >= 500 or status == 409:
        return TransientError(text, None, status)
    if status == 422:
        errors = data.get("errors", []) if isinstance(data, dict) else []
        strings = [e if isinstance(e, str) else json.dumps(e) for e in errors]
        return Unprocessable(f"{text}: {'; '.join(strings)}" if strings else text, strings)
    return PermanentError(text, status)


class WritePacer:
    """At most ``per_minute`` writes in any 60 s per installation; the caller's thread waits."""

    def __init__(
        self,
        per_minute: int = WRITES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[object, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: object) -> float:
        """Block until a write may go; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                sent = self._sent.setdefault(key, collections.deque())
                now = self._clock()
                while sent and now - sent[0] >= 60.0:
                    sent.popleft()
                if len(sent) < self.per_minute:
                    sent.append(now)
                    return waited
                pause = 60.0 - (now - sent[0])
            self._sleep(pause)
            waited += pause


@dataclass
class _Token:
    value: str
    expires: float  # epoch seconds


class GitHubClient:
    """One GitHub (or GitHub Enterprise Server) API, with App or token auth."""

    def __init__(
        self,
        api_url: str,
        *,
        token: str | None = None,
        app_id: int | None = None,
        private_key: str | None = None,
        on_request: RequestHook | None = None,
        pacer: WritePacer | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if token is None and (app_id is None or private_key is None):
            raise ValueError("GitHub needs a token, or an App id with its private key")
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._clock = clock  # epoch seconds, which token expiry is compared with
        self._on_request = on_request or (lambda endpoint, status: None)
        self.pacer = pacer or WritePacer()
        self._app: GithubIntegration | None = None
        if app_id is not None and private_key is not None:
            self._app = GithubIntegration(
                auth=Auth.AppAuth(app_id, private_key),
                base_url=self.api_url,
                timeout=int(timeout),
                seconds_between_requests=None,
                seconds_between_writes=None,
            )
        self._tokens: dict[int, _Token] = {}
        self._requesters: dict[int | None, tuple[str, Requester]] = {}
        self._lock = threading.Lock()

    @property
    def is_app(self) -> bool:
        return self._app is not None

    # --- auth -------------------------------------------------------------------------------

    def _installation_token(self, installation: int) -> str:
        assert self._app is not None
        with self._lock:
            cached = self._tokens.get(installation)
            if cached is not None and cached.expires - self._clock() > TOKEN_MARGIN:
                return cached.value
        app = self._app
        granted = self._as_app(
            "POST /app/installations/{id}/access_tokens",
            "201",
            lambda: app.get_access_token(installation),
        )
        expires = granted.expires_at
        token = _Token(granted.token, expires.timestamp() if isinstance(expires, datetime) else 0.0)
        with self._lock:
            self._tokens[installation] = token
        return token.value

    def _as_app(self, endpoint: str, ok: str, call: Callable[[], T]) -> T:
        """A call PyGithub makes with the App's JWT, counted and mapped like ours."""
        try:
            result = call()
        except github.GithubException as exc:
            self._on_request(endpoint, str(exc.status))
            raise error_for(
                endpoint, exc.status, exc.headers or {}, exc.data, time.time()
            ) from None
        except requests.RequestException as exc:
            self._on_request(endpoint, "none")
            raise TransientError(f"GitHub {endpoint}: {type(exc).__name__}") from None
        self._on_request(endpoint, ok)
        return result

    def _requester(self, installation: int | None) -> Requester:
        if self._app is not None:
            if installation is None:
                raise PermanentError("GitHub App auth: the event names no installation")
            token = self._installation_token(installation)
        else:
            assert self._token is not None
            token = self._token
        with self._lock:
            known = self._requesters.get(installation)
            if known is not None and known[0] == token:
                return known[1]
            # One per installation: a renewed token replaces the one before it.
            gh = github.Github(
                auth=Auth.Token(token),
                base_url=self.api_url,
                timeout=int(self._timeout),
                retry=None,
                per_page=100,
                seconds_between_requests=None,
                seconds_between_writes=None,
                lazy=True,
            )
            self._requesters[installation] = (token, gh.requester)
            return gh.requester

    # --- requests -----------------------------------------------------------------------------

    def request(
        self,
        installation: int | None,
        verb: str,
        endpoint: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        """One request; ``endpoint`` is its template, for metrics and messages."""
        requester = self._requester(installation)
        if verb != "GET":
            self.pacer.wait(installation)
        try:
            status, response_headers, output = requester.requestJson(
                verb, url, params, headers, body
            )
        except requests.RequestException as exc:
            self._on_request(endpoint, "none")
            raise TransientError(f"GitHub {endpoint}: {type(exc).__name__}: {exc}") from None
        self._on_request(endpoint, str(status))
        try:
            data = json.loads(output) if output else None
        except ValueError:
            data = output
        if status >= 400:
            raise error_for(endpoint, status, response_headers, data, time.time())
        return response_headers, data

    def pages(
        self,
        installation: int | None,
        endpoint: str,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        until: Callable[[Any], bool] | None = None,
    ) -> list[Any]:
        """Every item of a list endpoint, 100 a page, following ``Link: rel="next"``.
        ``key`` names the list in an object page (``{"repositories": [...]}``); paging
        stops after the page holding the first item that ``until`` says ends the list."""
        items: list[Any] = []
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while next_url is not None:
            headers, data = self.request(installation, "GET", endpoint, next_url, params=query)
            if key is not None and isinstance(data, dict):
                data = data.get(key)
            if not isinstance(data, list):
                raise PermanentError(
                    f"GitHub {endpoint}: expected a list, got {type(data).__name__}"
                )
            items += data
            if until is not None and any(until(item) for item in data):
                break
            links = requests.utils.parse_header_links(_header(headers, "Link") or "")
            next_url = next((link["url"] for link in links if link.get("rel") == "next"), None)
            query = None  # the next URL carries its own query
        return items

    def graphql(self, installation: int | None, query: str, variables: dict[str, Any]) -> Any:
        requester = self._requester(installation)
        endpoint = "POST /graphql"
        _, data = self.request(
            installation,
            "POST",
            endpoint,
            requester.graphql_url,
            body={"query": query, "variables": variables},
        )
        if isinstance(data, dict) and data.get("errors"):
            messages = "; ".join(
                str(e.get("message")) for e in data["errors"] if isinstance(e, dict)
            )
            raise PermanentError(f"GitHub GraphQL: {messages}")
        return data.get("data") if isinstance(data, dict) else None

    # --- the calls the adapter makes ----------------------------------------------------------

    def installations(self) -> list[int]:
        """The App's installations (App JWT auth), through PyGithub's paginated list."""
        app = self._app
        assert app is not None, "only an App has installations"
        return self._as_app(
            "GET /app/installations", "200", lambda: [inst.id for inst in app.get_installations()]
        )

    def installation_repos(self, installation: int) -> list[str]:
        """The full names of the repositories an installation can reach."""
        repos = self.pages(
            installation,
            "GET /installation/repositories",
            "/installation/repositories",
            key="repositories",
        )
        return [str(r["full_name"]) for r in repos]

    def open_pulls(self, installation: int | None, repo: str, since: float) -> list[dict[str, Any]]:
        """The repository's open PRs updated at or after ``since``, newest first; paging
        stops at the first older one, so a quiet repository costs one request."""

        def updated(pr: dict[str, Any]) -> float:
            return datetime.fromisoformat(str(pr["updated_at"]).replace("Z", "+00:00")).timestamp()

        pulls = self.pages(
            installation,
            "GET /repos/{o}/{r}/pulls",
            f"/repos/{repo}/pulls",
            {"state": "open", "sort": "updated", "direction": "desc"},
            until=lambda pr: updated(pr) < since,
        )
        return [pr for pr in pulls if updated(pr) >= since]

    def pull(self, installation: int | None, repo: str, number: int) -> dict[str, Any]:
        _, data = self.request(
            installation, "GET", "GET /repos/{o}/{r}/pulls/{n}", f"/repos/{repo}/pulls/{number}"
        )
        return dict(data)

    def files(self, installation: int | None, repo: str, number: int) -> list[dict[str, Any]]:
        return self.pages(
            installation,
            "GET /repos/{o}/{r}/pulls/{n}/files",
            f"/repos/{repo}/pulls/{number}/files",
        )

    def review_comments(
        self, installation: int | None, repo: str, number: int
    ) -> list[dict[str, Any]]:
        return self.pages(
            installation,
            "GET /repos/{o}/{r}/pulls/{n}/comments",
            f"/repos/{repo}/pulls/{number}/comments",
        )

    def reviews(self, installation: int | None, repo: str, number: int) -> list[dict[str, Any]]:
        return self.pages(
            installation,
            "GET /repos/{o}/{r}/pulls/{n}/reviews",
            f"/repos/{repo}/pulls/{number}/reviews",
        )

    def contents(
        self, installation: int | None, repo: str, path: str, ref: str
    ) -> tuple[bytes, str] | None:
        """A file's bytes at ``ref`` and its blob sha; None when it does not exist there."""
        endpoint = "GET /repos/{o}/{r}/contents/{path}"
        try:
            _, data = self.request(
                installation,
                "GET",
                endpoint,
                f"/repos/{repo}/contents/{quote(path)}",
                params={"ref": ref},
            )
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            raise IntakeError(f"GitHub: {path} at {ref} is not a file")
        sha = str(data["sha"])
        if data.get("encoding") == "base64" and data.get("content") is not None:
            return base64.b64decode(data["content"]), sha
        # Over 1 MB the contents API sends no content ("encoding": "none"); the blob API does.
        return self.blob(installation, repo, sha), sha

    def blob(self, installation: int | None, repo: str, sha: str) -> bytes:
        _, data = self.request(
            installation,
            "GET",
            "GET /repos/{o}/{r}/git/blobs/{sha}",
            f"/repos/{repo}/git/blobs/{sha}",
        )
        if data.get("encoding") != "base64":
            raise IntakeError(f"GitHub: blob {sha} came as {data.get('encoding')!r}, not base64")
        return base64.b64decode(data["content"])

    def create_review(
        self, installation: int | None, repo: str, number: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        _, data = self.request(
            installation,
            "POST",
            "POST /repos/{o}/{r}/pulls/{n}/reviews",
            f"/repos/{repo}/pulls/{number}/reviews",
            body=body,
        )
        return dict(data)

    def reply(
        self, installation: int | None, repo: str, number: int, comment_id: int, body: str
    ) -> None:
        self.request(
            installation,
            "POST",
            "POST /repos/{o}/{r}/pulls/{n}/comments/{id}/replies",
            f"/repos/{repo}/pulls/{number}/comments/{comment_id}/replies",
            body={"body": body},
        )

    def react(self, installation: int | None, repo: str, comment_id: int, content: str) -> None:
        self.request(
            installation,
            "POST",
            "POST /repos/{o}/{r}/issues/comments/{id}/reactions",
            f"/repos/{repo}/issues/comments/{comment_id}/reactions",
            body={"content": content},
        )

    def create_check_run(self, installation: int | None, repo: str, body: dict[str, Any]) -> int:
        _, data = self.request(
            installation,
            "POST",
            "POST /repos/{o}/{r}/check-runs",
            f"/repos/{repo}/check-runs",
            body=body,
        )
        return int(data["id"])

    def update_check_run(
        self, installation: int | None, repo: str, run_id: int, body: dict[str, Any]
    ) -> None:
        self.request(
            installation,
            "PATCH",
            "PATCH /repos/{o}/{r}/check-runs/{id}",
            f"/repos/{repo}/check-runs/{run_id}",
            body=body,
        )

    def review_threads(
        self, installation: int | None, repo: str, number: int
    ) -> dict[int, tuple[str, bool]]:
        """First comment's id -> (thread node id, resolved), over every review thread."""
        owner, name = repo.split("/", 1)
        threads: dict[int, tuple[str, bool]] = {}
        after: str | None = None
        while True:
            data = self.graphql(
                installation,
                _THREADS_QUERY,
                {"owner": owner, "name": name, "number": number, "after": after},
            )
            page = data["repository"]["pullRequest"]["reviewThreads"]
            for node in page["nodes"]:
                first = node["comments"]["nodes"]
                if first:
                    threads[int(first[0]["databaseId"])] = (
                        str(node["id"]),
                        bool(node["isResolved"]),
                    )
            if not page["pageInfo"]["hasNextPage"]:
                return threads
            after = page["pageInfo"]["endCursor"]

    def resolve_thread(self, installation: int | None, thread_id: str) -> None:
        self.graphql(installation, _RESOLVE_MUTATION, {"id": thread_id})


_THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""

_RESOLVE_MUTATION = """
mutation($id: ID!) {
  resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } }
}
"""
