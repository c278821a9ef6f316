"""Plan -> GitHub request bodies: placement against the PR's hunks, suggestions, the body,
and what the PR already carries."""

from __future__ import annotations

from dataclasses import replace

from bot.core.fingerprint import marker
from bot.model import (
    ChangedFile,
    Comment,
    FileStatus,
    Fix,
    Hunk,
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
from bot.platforms import common
from bot.platforms.github import changed_file, render

PATH = "tests/test_x.py"
DIFF = {PATH: ChangedFile(PATH, FileStatus.modified, hunks=(Hunk(10, 20), Hunk(40, 45)))}


def span(first: int, last: int) -> Span:
    return Span(Pos(first, 4, first * 100), Pos(last, 30, last * 100 + 30))


def comment(
    first: int,
    last: int | None = None,
    *,
    fp: str = "a" * 32,
    suggestion: tuple[int, int, str] | None = None,
    extra_edit_line: int | None = None,
    severity: Severity = Severity.warning,
) -> Comment:
    last = first if last is None else last
    fix = None
    if suggestion is not None:
        start, end, text = suggestion
        edits = [TextEdit(span(start, end), text)]
        if extra_edit_line is not None:
            at = Pos(extra_edit_line, 0, extra_edit_line * 100)
            edits.append(TextEdit(Span(at, at), "import fixtures\n"))
        fix = Fix(tuple(edits), LineSuggestion(start, end, text))
    return Comment(
        fingerprint=fp,
        rule_id="some-rule",
        severity=severity,
        path=PATH,
        span=span(first, last),
        message="a message",
        matched="code",
        note="Why it matters.",
        url="https://example.org/rules/some-rule",
        fix=fix,
    )


def test_a_one_line_finding_has_no_start_line() -> None:
    placed = render.place(comment(12), DIFF[PATH])
    assert isinstance(placed, render.Placed)
    assert placed.request() == {"path": PATH, "line": 12, "side": "RIGHT", "body": placed.body}


def test_a_multi_line_finding_spans_start_line_to_line() -> None:
    placed = render.place(comment(12, 15), DIFF[PATH])
    assert isinstance(placed, render.Placed)
    request = placed.request()
    assert (request["start_line"], request["line"], request["start_side"]) == (12, 15, "RIGHT")


def test_a_finding_outside_the_hunks_is_not_placed() -> None:
    assert isinstance(render.place(comment(30), DIFF[PATH]), render.Unplaced)
    assert isinstance(render.place(comment(12), None), render.Unplaced)


def test_a_finding_that_starts_above_its_hunk_is_cut_to_the_hunk() -> None:
    placed = render.place(comment(8, 12), DIFF[PATH])
    assert isinstance(placed, render.Placed) and (placed.start_line, placed.line) == (10, 12)


def test_a_suggestion_covers_exactly_the_lines_it_replaces() -> None:
    c = comment(12, suggestion=(12, 13, "    servers = x()\n    server = servers[0]"))
    placed = render.place(c, DIFF[PATH])
    assert isinstance(placed, render.Placed) and (placed.start_line, placed.line) == (12, 13)
    assert "```suggestion\n    servers = x()\n    server = servers[0]\n```" in placed.body
    assert "cannot show" not in placed.body


def test_a_second_edit_elsewhere_is_described_in_words() -> None:
    c = comment(12, suggestion=(12, 12, "    self.useFixture(x)"), extra_edit_line=1)
    placed = render.place(c, DIFF[PATH])
    assert isinstance(placed, render.Placed)
    assert "```suggestion\n    self.useFixture(x)\n```" in placed.body
    assert "also needs edits that a suggestion cannot show" in placed.body
    assert "line 1, insert:\n\n```python\nimport fixtures\n```" in placed.body


def test_a_suggestion_reaching_outside_the_hunk_is_described_not_suggested() -> None:
    c = comment(20, suggestion=(20, 22, "x = 1"))
    placed = render.place(c, DIFF[PATH])
    assert isinstance(placed, render.Placed) and (placed.start_line, placed.line) == (20, 20)
    assert "```suggestion" not in placed.body
    assert "Suggested fix (GitHub cannot show it as a suggestion here)" in placed.body


def test_a_suggestion_with_backticks_gets_a_longer_fence() -> None:
    c = comment(12, suggestion=(12, 12, 'doc = """```"""'))
    placed = render.place(c, DIFF[PATH])
    assert (
        isinstance(placed, render.Placed) and '````suggestion\ndoc = """```"""\n````' in placed.body
    )


def test_the_body_carries_rule_message_note_link_and_marker() -> None:
    placed = render.place(comment(12, fp="b" * 32), DIFF[PATH])
    assert isinstance(placed, render.Placed)
    body = placed.body
    assert body.startswith("**some-rule** (warning): a message")
    assert "Why it matters." in body and "(https://example.org/rules/some-rule)" in body
    assert body.endswith(marker("b" * 32))


def plan(*comments: Comment, **summary: object) -> ReviewPlan:
    return ReviewPlan(tuple(comments), PlanSummary(**summary))  # type: ignore[arg-type]


def test_nothing_new_means_no_review() -> None:
    p = plan(comment(12, fp="c" * 32))
    assert render.draft(p, DIFF, {"c" * 32}, commit_id="h") is None


def test_findings_past_max_inline_and_outside_hunks_go_to_the_body() -> None:
    p = plan(comment(12, fp="1" * 32), comment(13, fp="2" * 32), comment(30, fp="3" * 32))
    d = render.draft(p, DIFF, set(), commit_id="h", max_inline=1)
    assert d is not None
    request = d.request()
    assert [c["line"] for c in request["comments"]] == [12]
    body = request["body"]
    assert "3 new findings (3 warning)" in body
    assert f"`{PATH}:13` **some-rule**: a message _(past github.max_inline (1))_" in body
    assert f"`{PATH}:30` **some-rule**: a message _(outside the diff's hunks)_" in body
    # Listed findings are remembered through the body's marker, so they are said once.
    assert render.listed([body]) == {"2" * 32, "3" * 32}
    again = render.draft(p, DIFF, {"1" * 32, *render.listed([body])}, commit_id="h")
    assert again is None


def test_files_not_reviewed_and_notes_are_said_once() -> None:
    skipped = (SkippedFile(PATH, SkipReason.no_diff, "not reviewed: no diff"),)
    p = plan(skipped=skipped, notes=(".review-bot.yaml:1: storage: unknown key",))
    d = render.draft(p, DIFF, set(), commit_id="h")
    assert d is not None and d.needs_history
    body = d.request()["body"]
    assert "no new findings" in body and f"`{PATH}`: not reviewed: no diff" in body
    assert "**Note:** .review-bot.yaml:1: storage: unknown key" in body
    assert render.draft(p, DIFF, set(), commit_id="h", said=render.stated([body])) is None


def test_revalidate_moves_what_no_longer_fits_or_everything() -> None:
    p = plan(comment(12, fp="1" * 32), comment(42, fp="2" * 32))
    d = render.draft(p, DIFF, set(), commit_id="h")
    assert d is not None
    moved = {PATH: ChangedFile(PATH, FileStatus.modified, hunks=(Hunk(10, 20),))}
    one = render.revalidate(d, moved)
    assert [x.comment.fingerprint for x in one.inline] == ["1" * 32]
    assert [x.comment.fingerprint for x in one.listed] == ["2" * 32]
    everything = render.revalidate(d, DIFF)  # all still fit: the 422 named none
    assert everything.inline == () and len(everything.listed) == 2


def test_a_huge_body_is_cut_under_githubs_limit_and_keeps_its_markers() -> None:
    many = [comment(30, fp=f"{i:032x}") for i in range(2000)]
    d = render.draft(plan(*many), DIFF, set(), commit_id="h")
    assert d is not None
    body = d.request()["body"]
    assert len(body) <= 65_536
    assert "… and 1800 more, which a later review lists." in body
    assert body.startswith("review-bot: 2000 new findings (200 warning shown here).")
    # Only what the body lists is marked as said: the rest comes in the next review.
    assert len(render.listed([body])) == 200
    nxt = render.draft(plan(*many), DIFF, render.listed([body]), commit_id="h")
    assert nxt is not None and len(nxt.listed) == 200 and nxt.unlisted == 1600


def test_posted_and_fixed() -> None:
    existing = [
        {"id": 1, "path": PATH, "body": "x " + marker("1" * 32)},
        {"id": 2, "path": PATH, "body": "reply " + marker("2" * 32), "in_reply_to_id": 1},
        {"id": 3, "path": "tests/big.py", "body": "y " + marker("3" * 32)},
        {"id": 4, "path": PATH, "body": "z " + marker("4" * 32)},
        {"id": 5, "path": PATH, "body": "a human's comment"},
    ]
    already = render.posted(existing)
    assert set(already) == {"1" * 32, "3" * 32, "4" * 32}  # replies are not findings
    skipped = (SkippedFile("tests/big.py", SkipReason.too_large, "too large"),)
    p = plan(comment(12, fp="4" * 32), present=("4" * 32,), skipped=skipped)
    # 1 is gone; 3's file was not reviewed, so nothing is known about it; 4 is still there.
    assert [fp for fp, _ in common.fixed(p, already, set())] == ["1" * 32]
    reply = render.fixed_reply("1" * 32, "0123456789abcdef")
    assert reply.startswith("Fixed in `0123456789ab`.")
    assert common.fixed(p, already, render.answered([{"body": reply}])) == []


def test_check_conclusion_follows_fail_on() -> None:
    p = plan(comment(12, severity=Severity.warning))
    assert render.check_conclusion(p, Severity.off) == "neutral"
    assert render.check_conclusion(p, Severity.error) == "neutral"
    assert render.check_conclusion(p, Severity.warning) == "failure"


def test_pr_file_entries_become_changed_files() -> None:
    entry = {
        "filename": PATH,
        "status": "modified",
        "changes": 2,
        "patch": "@@ -1,2 +1,3 @@\n a\n+b\n c",
    }
    f = changed_file(entry)
    assert (
        isinstance(f, ChangedFile) and f.added_lines == frozenset({2}) and f.hunks == (Hunk(1, 3),)
    )
    renamed = changed_file({**entry, "status": "renamed", "previous_filename": "tests/old.py"})
    assert isinstance(renamed, ChangedFile) and renamed.base_path == "tests/old.py"
    added = changed_file({**entry, "status": "added", "patch": "@@ -0,0 +1,2 @@\n+a\n+b"})
    assert isinstance(added, ChangedFile) and added.whole_file and added.base_path is None
    too_large = changed_file({"filename": PATH, "status": "modified", "changes": 9000})
    assert isinstance(too_large, SkippedFile) and too_large.reason is SkipReason.no_diff
    binary = changed_file({"filename": "tests/x.png", "status": "added", "changes": 0})
    assert isinstance(binary, ChangedFile) and binary.status is FileStatus.binary
    assert changed_file({"filename": PATH, "status": "renamed", "changes": 0}) is None
    removed = changed_file({**entry, "status": "removed"})
    assert isinstance(removed, ChangedFile) and removed.status is FileStatus.deleted


def test_relative_rule_pages_are_linked_only_under_a_docs_url() -> None:
    relative = replace(comment(12), url="docs/rules/some-rule.md")
    elsewhere = replace(comment(14, fp="f" * 32), url="team/pages/some-rule.md")
    p = plan(relative, comment(13, fp="e" * 32), elsewhere)
    linked = common.with_rule_links(p, "https://example.org/review-bot/docs/rules")
    assert [c.url for c in linked.comments] == [
        "https://example.org/review-bot/docs/rules/some-rule.md",
        "https://example.org/rules/some-rule",  # absolute already: kept
        None,  # a relative page outside docs/rules/ is published nowhere we know
    ]
    unlinked = common.with_rule_links(p, None)
    assert unlinked.comments[0].url is None
    assert "[Rule:" not in render.inline_body(relative, False)  # never a relative link


def test_the_note_is_shown_without_trailing_or_blank_whitespace_lines() -> None:
    ragged = replace(comment(12), note="Why it matters.  \n   \nAnd how.\n\n  \n")
    body = render.inline_body(ragged, False)
    assert "Why it matters.\n\nAnd how.\n\n[Rule: some-rule]" in body
    assert [line for line in body.splitlines() if line != line.rstrip()] == []


def test_a_comment_over_githubs_size_limit_drops_its_suggestion_or_goes_to_the_body() -> None:
    huge = "x = 1\n" * 12_000  # 72,000 characters
    placed = render.place(comment(12, suggestion=(12, 12, huge)), DIFF[PATH])
    assert isinstance(placed, render.Placed) and len(placed.body) <= 65_536
    assert "```suggestion" not in placed.body and "too large to show here" in placed.body
    big_note = replace(comment(12), note="n" * 70_000)
    assert isinstance(render.place(big_note, DIFF[PATH]), render.Unplaced)
