"""Gerrit events -> ``ParsedEvent | Ignored``. Pure: no API call, no clock.

The webhooks plugin and ``gerrit stream-events`` carry the same Gson-serialised event
objects, so both ways in end here. What asks for a review:

- ``patchset-created``: review ``patchSet.revision``, unless its ``kind`` is one the config
  skips (a trivial rebase has the previous patch set's code);
- ``comment-added`` whose cover message, after its ``Patch Set N:`` header, matches the
  re-check command: a forced review of the change's *current* patch set (the comment may
  be on an older one).

The plugin cannot sign its requests: it is authenticated by a token in the URL path
(``authorize``) and, optionally, by its source network. It retries up to 5 times on any
failure and sends no delivery id, so the id is a digest of the event itself.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.config.models import GerritConfig
from bot.core.globs import GlobSet
from bot.errors import WebhookRejected
from bot.platforms.base import Ignored, ParsedEvent
from bot.platforms.common import json_object

PLATFORM = "gerrit"
# The job revision of a re-check: "the current patch set when the job runs".
CURRENT = "current"
_HEADER = re.compile(r"\APatch Set \d+:[^\n]*(?:\n|\Z)")
_PLAIN_RECHECK = re.compile(r"(?im)^\s*recheck\s*$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class EventRules:
    """What parsing needs of the config."""

    token: bytes = b""
    networks: tuple[Network, ...] = ()
    account: str | None = None
    skip_kinds: frozenset[str] = frozenset({"TRIVIAL_REBASE", "NO_CODE_CHANGE", "NO_CHANGE"})
    recheck: re.Pattern[str] = re.compile(r"(?im)^\s*recheck\s+review-bot\s*$")
    recheck_plain: bool = True
    projects: GlobSet = field(default_factory=lambda: GlobSet(["*"]))

    @classmethod
    def from_config(cls, settings: GerritConfig) -> EventRules:
        token = settings.webhook_token
        return cls(
            token=b"" if token is None else token.get_secret_value().encode(),
            networks=tuple(settings.webhook_networks),
            account=settings.account,
            skip_kinds=frozenset(settings.skip_kinds),
            recheck=re.compile(settings.recheck_command),
            recheck_plain=settings.recheck_plain,
            projects=GlobSet(settings.projects),
        )


def authorize(rules: EventRules, path_token: str, remote: str | None) -> None:
    """The plugin's URL token, in constant time, then its source network."""
    if not rules.token or not hmac.compare_digest(path_token.encode(), rules.token):
        raise WebhookRejected(401, "wrong webhook token in the URL")
    if rules.networks and not _allowed(remote, rules.networks):
        raise WebhookRejected(403, f"source address {remote} is not in gerrit.webhook_networks")


def _allowed(remote: str | None, networks: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    return any(address in net for net in networks)


def event_id(event: Mapping[str, Any]) -> str:
    """The same event, redelivered by the plugin or seen again on the stream, has one id."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "gerrit:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def parse_body(rules: EventRules, body: bytes) -> ParsedEvent | Ignored:
    return parse_event(rules, json_object(body))


def parse_event(rules: EventRules, event: Mapping[str, Any]) -> ParsedEvent | Ignored:
    """One event object; raises ``WebhookRejected(400)`` when an event we act on lacks
    what a review needs."""
    kind = str(event.get("type") or "")
    handle = {"patchset-created": _patchset_created, "comment-added": _comment_added}.get(kind)
    if handle is None:
        return Ignored(f"event {kind or '(no type)'!r} asks for no review")
    change = _object(event, "change")
    project = _text(change, "project", "change.project")
    if not rules.projects.matches(project):
        return Ignored(f"project {project} is not in gerrit.projects", kind="project")
    return handle(rules, event, change)


def _patchset_created(
    rules: EventRules, event: Mapping[str, Any], change: Mapping[str, Any]
) -> ParsedEvent | Ignored:
    patch_set = _object(event, "patchSet")
    if _by_bot(rules, event.get("uploader"), patch_set.get("uploader")):
        return Ignored("patch set uploaded by the bot's own account", kind="own")
    kind = str(patch_set.get("kind") or "REWORK")
    if kind in rules.skip_kinds:
        return Ignored(f"patch set kind {kind} is skipped (gerrit.skip_kinds)", kind="skipped")
    revision = _text(patch_set, "revision", "patchSet.revision")
    return _event(event, change, revision, _number(patch_set, "patchSet.number"), False)


def _comment_added(
    rules: EventRules, event: Mapping[str, Any], change: Mapping[str, Any]
) -> ParsedEvent | Ignored:
    if _by_bot(rules, event.get("author")):
        return Ignored("comment by the bot's own account", kind="own")
    if not asks_recheck(rules, str(event.get("comment") or "")):
        return Ignored("comment without the re-check command")
    if change.get("open") is False or change.get("status") in ("MERGED", "ABANDONED"):
        return Ignored("re-check on a closed change", kind="closed")
    return _event(event, change, CURRENT, None, True)


def asks_recheck(rules: EventRules, comment: str) -> bool:
    """The cover message's text after its ``Patch Set N: <votes>`` header line."""
    text = _HEADER.sub("", comment, count=1)
    if rules.recheck.search(text):
        return True
    return rules.recheck_plain and _PLAIN_RECHECK.search(text) is not None


def _event(
    event: Mapping[str, Any],
    change: Mapping[str, Any],
    revision: str,
    patch_set: int | None,
    recheck: bool,
) -> ParsedEvent:
    project = _text(change, "project", "change.project")
    number = _number(change, "change.number")
    payload: dict[str, Any] = {
        "project": project,
        "number": number,
        "branch": str(change.get("branch") or ""),
        "type": str(event.get("type")),
    }
    if patch_set is not None:
        payload["patch_set"] = patch_set
    return ParsedEvent(
        platform=PLATFORM,
        project=project,
        change=str(number),
        revision=revision,
        delivery_id=event_id(event),
        recheck=recheck,
        payload=payload,
    )


def _by_bot(rules: EventRules, *accounts: object) -> bool:
    if rules.account is None:
        return False
    return any(isinstance(a, dict) and a.get("username") == rules.account for a in accounts)


def _object(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise WebhookRejected(400, f"{event.get('type')} event without {key!r}")
    return value


def _text(obj: Mapping[str, Any], key: str, name: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookRejected(400, f"event without {name}")
    return value


def _number(obj: Mapping[str, Any], name: str) -> int:
    # Integers on current servers; strings on older ones and in some fakes.
    value = obj.get(name.rsplit(".", 1)[-1])
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        raise WebhookRejected(400, f"event without a valid {name} (got {value!r})")
    return value
