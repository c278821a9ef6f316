"""Gerrit REST through python-gerrit-api: its session, auth and ``/a/`` URLs, and its
XSSI-stripping decoder. Synchronous: the adapter calls it in a thread.

Where the library is in the way it is bypassed here, and only here (reference B3):

- it does not encode change ids or queries, so ids are built as ``project~number`` with
  the project quoted (``ChangeInfo.id``'s form depends on server settings) and queries
  go through ``params``;
- its error classes carry no body, and the body says what Gerrit refused, so statuses
  are read from the raw response (``raise_for_status=False``);
- ``get_content(decode=True)`` fails on non-UTF-8 files, so content is base64-decoded here;
- it ignores ``ssl_verify=False`` and knows no bearer token, so the session is ours.

No library retries: a retried review POST could post twice. Retries belong to the store.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import requests
from gerrit import GerritClient as _Library
from gerrit.utils.common import decode_response

from bot.errors import PermanentError, TransientError

RequestHook = Callable[[str, str], None]  # (endpoint template, status or "none")
_XSSI = ")]}'"


class BadRequest(PermanentError):
    """400: Gerrit refused the input (a comment on a path not in the revision, say)."""


class Conflict(PermanentError):
    """409: a vote on a closed change, a change edit..."""


class ServerFailure(TransientError):
    """5xx; ``body`` is Gerrit's text (a missing server experiment reads as one)."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message, None, status)
        self.body = body

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.status, self.body))


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def change_id(project: str, number: int | str) -> str:
    return f"{quote(project, safe='')}~{number}"


def _error_for(response: requests.Response, what: str) -> Exception:
    status = response.status_code
    text = response.text.strip()
    if text.startswith(_XSSI):
        text = text[len(_XSSI) :].strip()
    message = f"Gerrit {what}: {status} {text[:500]}".rstrip()
    if status == 400:
        return BadRequest(message, status)
    if status == 409:
        return Conflict(message, status)
    if status == 429:
        return TransientError(message, _retry_after(response), status)
    if status >= 500:
        return ServerFailure(message, status, text)
    return PermanentError(message, status)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


class GerritClient:
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
        on_request: RequestHook | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._auth = (username, password, token)
        self._verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._timeout = timeout
        self._on_request = on_request
        # requests' Session is not documented as thread-safe: one per calling thread.
        self._local = threading.local()

    def _library(self) -> _Library:
        gc: _Library | None = getattr(self._local, "gc", None)
        if gc is None:
            username, password, token = self._auth
            session = requests.Session()
            if token is not None:
                session.auth = _Bearer(token)
            gc = _Library(
                base_url=self.url,
                username=username,
                password=password,
                session=session,
                timeout=self._timeout,
            )
            session.verify = self._verify  # the library drops ssl_verify=False
            self._local.gc = gc
        return gc

    # --- the transport ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        endpoint: str,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> requests.Response:
        gc = self._library()
        url = gc.get_endpoint_url(endpoint)
        try:
            if method == "GET":
                # The library takes only a dict; a list value repeats the key (o=A&o=B).
                response = gc.requester.get(url, params=dict(params or {}), raise_for_status=False)
            else:
                response = gc.requester.post(
                    url,
                    data=json.dumps(body),
                    headers=dict(gc.default_headers),
                    raise_for_status=False,
                )
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._count(template, "none")
            raise TransientError(f"Gerrit {template}: {type(exc).__name__}: {exc}") from None
        self._count(template, str(response.status_code))
        if response.status_code >= 400:
            raise _error_for(response, f"{method} {template}")
        return response

    def _count(self, template: str, status: str) -> None:
        if self._on_request is not None:
            self._on_request(template, status)

    def _json(self, response: requests.Response, template: str) -> Any:
        if not response.headers.get("content-type", "").startswith("application/json"):
            raise PermanentError(f"Gerrit {template}: expected JSON, got {response.text[:200]!r}")
        return decode_response(response)

    def _get_json(
        self, endpoint: str, template: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        return self._json(self._send("GET", endpoint, template, params=params), template)

    def _base64(
        self, endpoint: str, template: str, params: Mapping[str, Any] | None = None
    ) -> bytes | None:
        try:
            response = self._send("GET", endpoint, template, params=params)
        except PermanentError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return base64.b64decode(response.content, validate=False)
        except (binascii.Error, ValueError):
            raise PermanentError(f"Gerrit {template}: content is not base64") from None

    # --- the calls ----------------------------------------------------------------------------

    def version(self) -> str:
        return str(self._get_json("/config/server/version", "/config/server/version"))

    def change(self, project: str, number: int, options: tuple[str, ...] = ()) -> dict[str, Any]:
        endpoint = f"/changes/{change_id(project, number)}"
        return dict(self._get_json(endpoint, "/changes/{id}", {"o": list(options)}))

    def query(self, query: str, options: tuple[str, ...] = (), limit: int = 500) -> list[Any]:
        """All changes matching ``query``, page by page (``S`` skips, ``_more_changes`` says
        whether another page follows)."""
        out: list[Any] = []
        while True:
            params = {"q": query, "n": str(limit), "S": str(len(out)), "o": list(options)}
            page = self._get_json("/changes/", "/changes/", params)
            out.extend(page)
            if not page or not page[-1].get("_more_changes"):
                return out

    def _revision(self, project: str, number: int, revision: str) -> str:
        return f"/changes/{change_id(project, number)}/revisions/{quote(revision, safe='')}"

    def files(self, project: str, number: int, revision: str) -> dict[str, Any]:
        endpoint = self._revision(project, number, revision) + "/files/"
        return dict(self._get_json(endpoint, "/changes/{id}/revisions/{rev}/files/"))

    def content(
        self, project: str, number: int, revision: str, path: str, *, parent: bool = False
    ) -> bytes | None:
        """The file's bytes at the revision (or its first parent); None when absent."""
        endpoint = f"{self._revision(project, number, revision)}/files/{quote_plus(path)}/content"
        params = {"parent": "1"} if parent else None
        return self._base64(endpoint, "/changes/{id}/revisions/{rev}/files/{path}/content", params)

    def patch(self, project: str, number: int, revision: str) -> bytes:
        endpoint = self._revision(project, number, revision) + "/patch"
        data = self._base64(endpoint, "/changes/{id}/revisions/{rev}/patch")
        if data is None:
            raise PermanentError(f"Gerrit: no patch for {project}~{number} at {revision}", 404)
        return data

    def branch_file(self, project: str, branch: str, path: str) -> bytes | None:
        endpoint = (
            f"/projects/{quote(project, safe='')}/branches/{quote(branch, safe='')}"
            f"/files/{quote(path, safe='')}/content"
        )
        return self._base64(endpoint, "/projects/{p}/branches/{b}/files/{path}/content")

    def comments(self, project: str, number: int) -> dict[str, list[dict[str, Any]]]:
        endpoint = f"/changes/{change_id(project, number)}/comments"
        return dict(self._get_json(endpoint, "/changes/{id}/comments"))

    def messages(self, project: str, number: int) -> list[dict[str, Any]]:
        endpoint = f"/changes/{change_id(project, number)}/messages"
        return list(self._get_json(endpoint, "/changes/{id}/messages"))

    def review(self, project: str, number: int, revision: str, body: dict[str, Any]) -> Any:
        endpoint = self._revision(project, number, revision) + "/review"
        template = "/changes/{id}/revisions/{rev}/review"
        return self._json(self._send("POST", endpoint, template, body=body), template)
