"""Plan -> Gerrit ReviewInput: comments with ranges and fix suggestions, the fingerprint
line the published comments carry, "Done" replies, votes and the size limit."""

from __future__ import annotations

from dataclasses import replace

from bot.model import (
    Comment,
    Fix,
    LineSuggestion,
    PlanSummary,
    Pos,
    ReviewPlan,
    Severity,
    SkippedFile,
    SkipReason,
    Span,
    TextEdit,
)
from bot.platforms.gerrit import render
from bot.platforms.gerrit.render import TAG, Style, Vote

PATH = "nova/tests/functional/test_x.py"
FILES = {PATH, "nova/compute/api.py"}
SUGGEST = Style(suggestions=True)
TEXT = Style(suggestions=False)


def at(line: int, column: int) -> Pos:
    return Pos(line, column, line * 100 + column)


def comment(
    line: int = 12,
    *,
    fp: str = "a" * 32,
    severity: Severity = Severity.warning,
    fix: Fix | None = None,
    path: str = PATH,
) -> Comment:
    return Comment(
        fingerprint=fp,
        rule_id="hardcoded-uuid",
        severity=severity,
        path=path,
        span=Span(at(line, 8), at(line, 44)),
        message="Use uuids.instance instead of a literal UUID.",
        matched="'9a1f...'",
        note="A literal UUID hides what the value stands for.",
        url="https://example.org/rules/hardcoded-uuid",
        fix=fix,
    )


def two_edit_fix(line: int = 12) -> Fix:
    use = TextEdit(Span(at(line, 8), at(line, 44)), "uuids.instance")
    imp = TextEdit(
        Span(at(3, 0), at(3, 0)), "from oslo_utils.fixture import uuidsentinel as uuids\n"
    )
    return Fix((imp, use), None)


def plan(*comments: Comment, **summary: object) -> ReviewPlan:
    present = tuple(c.fingerprint for c in comments)
    return ReviewPlan(comments, PlanSummary(present=present, **summary))  # type: ignore[arg-type]


def test_a_comment_has_its_range_line_and_fingerprint_line() -> None:
    body = render.comment_input(comment(), TEXT)
    assert body["line"] == 12
    assert body["range"] == {
        "start_line": 12,
        "start_character": 8,
        "end_line": 12,
        "end_character": 44,
    }
    assert body["unresolved"] is True
    assert body["message"].splitlines()[-1] == f"(review-bot: hardcoded-uuid, finding {'a' * 32})"
    assert render.fingerprint_of(body["message"]) == "a" * 32
    assert "Rule: https://example.org/rules/hardcoded-uuid" in body["message"]
    assert "fix_suggestions" not in body


def test_the_note_is_shown_without_trailing_or_blank_whitespace_lines() -> None:
    ragged = replace(comment(), note="A literal hides it.  \n   \nUse a sentinel.\n\n  \n")
    text = render.comment_text(ragged, with_fix_text=True)
    assert "A literal hides it.\n\nUse a sentinel.\n\nRule: https://" in text
    assert [line for line in text.splitlines() if line != line.rstrip()] == []


def test_below_warning_a_comment_is_resolved() -> None:
    assert render.comment_input(comment(severity=Severity.info), TEXT)["unresolved"] is False
    assert render.comment_input(comment(severity=Severity.error), TEXT)["unresolved"] is True


def test_a_two_edit_fix_is_one_suggestion_with_two_replacements() -> None:
    body = render.comment_input(comment(fix=two_edit_fix()), SUGGEST)
    (suggestion,) = body["fix_suggestions"]
    assert suggestion["description"] == "review-bot: hardcoded-uuid"
    replacements = suggestion["replacements"]
    assert [r["replacement"] for r in replacements] == [
        "from oslo_utils.fixture import uuidsentinel as uuids\n",
        "uuids.instance",
    ]
    assert replacements[0]["range"] == {
        "start_line": 3,
        "start_character": 0,
        "end_line": 3,
        "end_character": 0,
    }
    assert all(r["path"] == PATH for r in replacements)
    assert "Suggested fix" not in body["message"]  # not said twice


def test_without_suggestions_the_fix_is_in_the_text() -> None:
    body = render.comment_input(comment(fix=two_edit_fix()), TEXT)
    assert "fix_suggestions" not in body
    text = body["message"]
    assert "Suggested fix:" in text and "- line 3, insert:" in text
    assert "from oslo_utils.fixture import uuidsentinel as uuids" in text
    assert "- line 12, replace with:\n\n```\nuuids.instance\n```" in text


def test_a_whole_line_fix_in_the_text_shows_the_new_lines() -> None:
    edit = TextEdit(Span(at(12, 8), at(12, 44)), "uuids.instance")
    fix = Fix((edit,), LineSuggestion(12, 12, "        uuid = uuids.instance"))
    text = render.comment_input(comment(fix=fix), TEXT)["message"]
    assert "Suggested fix, line 12 become:\n\n```\n        uuid = uuids.instance\n```" in text


def test_an_oversized_fix_is_dropped_but_the_finding_and_its_id_stay() -> None:
    huge = TextEdit(Span(at(12, 8), at(12, 44)), "x" * 20_000)
    text = render.comment_input(comment(fix=Fix((huge,), None)), TEXT)["message"]
    assert len(text.encode()) <= render.MAX_MESSAGE
    assert "too large to show" in text and render.fingerprint_of(text) == "a" * 32


def test_the_review_input() -> None:
    d = render.draft(plan(comment()), set(), patch_set=3, files=FILES)
    assert d is not None
    body = d.request(Style(notify="NONE"))
    assert body["tag"] == TAG == "autogenerated:review-bot"
    assert body["omit_duplicate_comments"] is True
    assert body["ignore_automatic_attention_set_rules"] is True
    assert body["notify"] == "NONE"
    assert list(body["comments"]) == [PATH]
    assert "labels" not in body and "robot_comments" not in body
    assert body["message"].startswith("review-bot: 1 new finding (1 warning).")
    assert "- hardcoded-uuid: 1" in body["message"]


def test_nothing_new_posts_nothing() -> None:
    assert render.draft(plan(comment()), {"a" * 32}, patch_set=4, files=FILES) is None
    assert render.draft(plan(), set(), patch_set=4, files=FILES) is None


def test_replies_alone_post_without_a_message() -> None:
    reply = render.done_reply({"path": PATH, "id": "c0ffee"}, 4)
    d = render.draft(plan(), set(), patch_set=4, files=FILES, replies=[reply])
    assert d is not None
    body = d.request(TEXT)
    assert "message" not in body
    assert body["comments"] == {
        PATH: [
            {
                "in_reply_to": "c0ffee",
                "message": "Done in patch set 4: review-bot no longer finds this.",
                "unresolved": False,
            }
        ]
    }


def test_skipped_files_and_notes_are_said_once() -> None:
    skipped = (SkippedFile("tests/test_big.py", SkipReason.too_large, "not reviewed: too large"),)
    p = plan(skipped=skipped, notes=(".review-bot.yaml:3: rules.x: unknown key",))
    first = render.draft(p, set(), patch_set=2, files=FILES)
    assert first is not None
    text = first.request(TEXT)["message"]
    assert "Not reviewed:\n- tests/test_big.py: not reviewed: too large" in text
    assert "Note: .review-bot.yaml:3: rules.x: unknown key" in text
    history = [{"tag": TAG, "message": f"Patch Set 2:\n\n{text}"}]
    assert render.draft(p, set(), patch_set=3, files=FILES, earlier=render.said(history)) is None
    # A human quoting it does not count as the bot having said it.
    human = [{"tag": None, "message": text}]
    assert render.draft(p, set(), patch_set=3, files=FILES, earlier=render.said(human))


def test_the_message_is_capped_at_gerrits_limit() -> None:
    many = tuple(
        SkippedFile(f"tests/test_{i}.py", SkipReason.not_utf8, "é" * 300) for i in range(200)
    )
    d = render.draft(plan(skipped=many), set(), patch_set=1, files=FILES)
    assert d is not None
    message = d.request(TEXT)["message"]
    assert len(message.encode()) <= render.MAX_MESSAGE
    assert message.endswith("(cut at Gerrit's message size limit)")


def test_votes_follow_the_worst_finding() -> None:
    votes = (Vote("Verified", Severity.error, -1, 0), Vote("Code-Review", Severity.warning, -1))
    assert render.labels(plan(comment(severity=Severity.error)), votes) == {
        "Verified": -1,
        "Code-Review": -1,
    }
    assert render.labels(plan(comment(severity=Severity.warning)), votes) == {
        "Verified": 0,
        "Code-Review": -1,
    }
    assert render.labels(plan(), votes) == {"Verified": 0}
    assert render.labels(plan(comment()), ()) == {}


def test_posted_reads_only_the_bots_finding_comments() -> None:
    text = render.comment_input(comment(), TEXT)["message"]
    by_path = {
        PATH: [
            {"id": "1", "patch_set": 1, "message": text, "tag": TAG},
            # A human pasting the bot's text is not the bot.
            {"id": "2", "patch_set": 1, "message": text, "author": {"username": "grace"}},
            {"id": "3", "patch_set": 2, "message": "Done", "tag": TAG, "in_reply_to": "1"},
        ]
    }
    comments = render.flatten(by_path)
    assert all(c["path"] == PATH for c in comments)
    found = render.posted(comments, "review-bot")
    assert list(found) == ["a" * 32] and found["a" * 32]["id"] == "1"
    assert render.answered(comments, found, "review-bot") == {"a" * 32}
    by_account = [{**comments[0], "tag": None, "author": {"username": "review-bot"}}]
    assert list(render.posted(by_account, "review-bot")) == ["a" * 32]


def test_demote_says_refused_comments_in_the_message() -> None:
    other = replace(comment(fp="b" * 32), path="nova/compute/api.py")
    reply = render.done_reply({"path": PATH, "id": "r1"}, 2)
    d = render.draft(plan(comment(), other), set(), patch_set=2, files=FILES, replies=[reply])
    assert d is not None
    moved = d.demote({PATH}, "Gerrit refused it inline")
    assert [c.path for c in moved.inline] == ["nova/compute/api.py"]
    assert moved.replies == ()
    body = moved.request(TEXT)
    assert f"- {PATH}:12 hardcoded-uuid:" in body["message"]
    assert "(Gerrit refused it inline)" in body["message"]
    everything = d.demote(None, "refused")
    assert everything.inline == () and "comments" not in everything.request(TEXT)


def test_a_done_reply_sits_on_its_threads_line_and_range() -> None:
    where = {"start_line": 12, "start_character": 8, "end_line": 12, "end_character": 44}
    reply = render.done_reply({"path": PATH, "id": "c1", "line": 12, "range": where}, 3)
    assert (reply["line"], reply["range"], reply["in_reply_to"]) == (12, where, "c1")
