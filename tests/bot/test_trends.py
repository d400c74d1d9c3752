"""HR trends: reading the log without pseudonyms, counting, suppressing, themes, summary."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from adapters.cli_trends import show
from bot.config import Settings
from bot.disclosure import SuppressionTable, solved
from bot.knowledge import load_policies
from bot.service import bundled_knowledge_dir
from bot.storage import Store
from bot.trends import (
    TrendRow,
    analyse,
    build_trends,
    content_terms,
    effective_k,
    read_rows,
    trends_summary,
    week_of,
    window,
)
from bot.trends_audit import audit
from bot.trends_report import to_csv, to_html, to_json
from tests.bot.test_trends_properties import POLICIES, WEEKS

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday in 2026-W10
LAST_WEEKS = window(4, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    settings = Settings(
        _env_file=None,
        DATABASE_URL=f"sqlite:///{tmp_path / 'trends.db'}",
        POLICYBOT_DATA_DIR=tmp_path,
        POLICYBOT_SECRET_KEY="trends-test-secret",
    )
    opened = Store.from_settings(settings)
    opened.upgrade()
    yield opened
    opened.close()


def known(word: str) -> bool:
    return (word.isalpha() and word[:1].islower()) or word in {"I"}


def log(store: Store, user: str, question: str, clause: str | None, when: datetime) -> int:
    answered = clause is not None
    clauses = [("staff-acceptable-use", clause or "computer-network-5d451d", 3.0)]
    return store.log_question(
        platform="slack",
        user=user,
        workspace="T1",
        question=question,
        is_known=known,
        answered=answered,
        clauses=clauses,
        when=when,
    )


def test_the_window_is_complete_weeks_before_this_one() -> None:
    assert LAST_WEEKS == ("2026-W06", "2026-W07", "2026-W08", "2026-W09")
    assert week_of(NOW.date()) == "2026-W10"
    assert window(2, datetime(2026, 1, 5, tzinfo=UTC)) == ("2025-W52", "2026-W01")


def test_k_is_never_below_five() -> None:
    assert effective_k(1) == 5 and effective_k(7) == 7
    rows = [TrendRow(WEEKS[0], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(4)]
    trends = analyse(rows, POLICIES, WEEKS, k=2)
    assert trends.k == 5
    assert trends.question("all", WEEKS[0]).suppressed


def test_read_rows_reduce_askers_to_opaque_numbers(store: Store) -> None:
    for n in range(6):
        log(store, f"U{n:03d}", "can I text a parent", "social-media-1", NOW - timedelta(days=7))
    log(store, "U000", "can I text a parent", "social-media-1", NOW - timedelta(days=8))
    policies = load_policies(bundled_knowledge_dir())
    rows = read_rows(store, policies, LAST_WEEKS)
    pseudonyms = {q.asker for q in store.logged_questions()}
    assert len(pseudonyms) == 6 and len(rows) == 7
    assert {type(r.asker) for r in rows} == {int}
    assert sorted({r.asker for r in rows}) == list(range(6))  # renumbered, no gaps
    for row in rows:
        assert not any(p in repr(row) for p in pseudonyms if p)
        assert "U00" not in repr(row)


def test_rows_outside_the_window_are_left_out(store: Store) -> None:
    log(store, "U1", "can I text a parent", None, NOW)  # this week: not complete yet
    log(store, "U1", "can I text a parent", None, NOW - timedelta(weeks=8))
    assert read_rows(store, POLICIES, LAST_WEEKS) == []
    assert len(read_rows(store, POLICIES)) == 2


def test_no_output_holds_a_user_id_or_pseudonym(store: Store, tmp_path: Path) -> None:
    clauses = ["social-media-1", "computer-network-5d451d", None]
    for n in range(40):
        when = NOW - timedelta(days=7 * (1 + n % 3))
        clause = clauses[n % 3]
        question = "can I claim maternity leave" if clause is None else "can I text a parent"
        log_id = log(store, f"USECRET{n:03d}", question, clause, when)
        if n % 2:
            store.record_feedback(log_id, helpful=n % 4 == 1)
    settings = Settings(_env_file=None, POLICYBOT_DATA_DIR=tmp_path, POLICYBOT_SECRET_KEY="x")
    policies = load_policies(bundled_knowledge_dir())
    trends = build_trends(store, policies, settings, weeks=4, now=NOW)
    console = Console(record=True, width=160, color_system=None)
    show(trends, console)
    outputs = [
        json.dumps(to_json(trends)),
        to_csv(trends),
        to_html(trends),
        console.export_text(),
        trends_summary(trends),
    ]
    secrets = {q.asker for q in store.logged_questions()} - {None}
    assert len(secrets) == 40
    for output in outputs:
        assert "USECRET" not in output
        assert not any(secret in output for secret in secrets)
        assert not re.search(r"[0-9a-f]{64}", output)  # no pseudonym-shaped string at all
    assert trends.question("all").count == 40
    assert audit(to_json(trends), read_rows(store, policies, trends.weeks), trends.k) == []


def test_small_groups_are_hidden_with_a_partner() -> None:
    rows = [TrendRow(WEEKS[0], "aup", "Social Media", "sm-1", True, None, "x", n) for n in range(8)]
    rows += [
        TrendRow(WEEKS[0], "aup", "Social Media", "sm-2", True, None, "x", n) for n in range(2)
    ]
    rows += [
        TrendRow(WEEKS[1], "aup", "Social Media", "sm-2", True, None, "x", n) for n in range(9)
    ]
    trends = analyse(rows, POLICIES, WEEKS)
    hidden = {(f.topic.key, f.column) for f in trends.questions.values() if f.suppressed}
    assert hidden == {
        ("clause:aup:sm-2", WEEKS[0]),  # 2 askers
        # Social Media that week (10) minus sm-1 (8) would give sm-2 away: sm-1 goes too;
        ("clause:aup:sm-1", WEEKS[0]),
        # sm-2's total (11) minus its other week (9) would too, and sm-1's total is its one
        # week: both totals go, and then neither follows from Social Media's total (19).
        ("clause:aup:sm-2", None),
        ("clause:aup:sm-1", None),
    }
    assert trends.question("section:aup:Social Media", WEEKS[0]).count == 10
    assert trends.question("section:aup:Social Media").count == 19


def test_askers_are_counted_within_each_iso_year() -> None:
    # Three people before New Year and the same three after it: pseudonyms differ, so the
    # log shows six numbers, but the honest count is three.
    rows = [TrendRow("2025-W52", "aup", "Phones", "ph-1", True, None, "x", n) for n in range(3)]
    rows += [
        TrendRow("2026-W01", "aup", "Phones", "ph-1", True, None, "x", n + 10) for n in range(3)
    ]
    trends = analyse(rows, POLICIES, WEEKS)
    assert trends.question("all").suppressed


def test_solved_finds_a_bridge_between_two_protected_blocks() -> None:
    # Two 2x2 blocks hidden in a table with totals, joined by one hidden cell (9): every
    # line has two hidden cells, yet the joining cell follows from the sums.
    sums = [(100, [1, 2, 9]), (101, [3, 4]), (102, [1, 3]), (103, [2, 4])]
    sums += [(104, [5, 6]), (105, [7, 8, 9]), (106, [5, 7]), (107, [6, 8])]
    hidden = [False] * 110
    for fid in (1, 2, 3, 4, 5, 6, 7, 8, 9):
        hidden[fid] = True
    assert solved(sums, hidden) == [9]


def test_the_ledger_shields_a_figure_that_only_the_sums_give_away() -> None:
    ledger = SuppressionTable({n: "2026" for n in range(100)})
    figures = [ledger.add(10, set(range(10))) for _ in range(110)]
    sums = [(100, [1, 2, 9]), (101, [3, 4]), (102, [1, 3]), (103, [2, 4])]
    sums += [(104, [5, 6]), (105, [7, 8, 9]), (106, [5, 7]), (107, [6, 8])]
    for total, parts in sums:
        ledger.tie(figures[total], parts)
    for fid in (1, 2, 3, 4, 5, 6, 7, 8, 9):
        ledger.members[fid] = {0, 1}
    hidden = ledger.protect(5)
    assert all(hidden[f] for f in (1, 2, 3, 4, 5, 6, 7, 8, 9))
    assert solved(ledger.sums, hidden) == []


def themed_rows(people: int, text: str, start: int = 0) -> list[TrendRow]:
    """Declined questions over the last two weeks (one ISO year: askers count in full)."""
    return [
        TrendRow(WEEKS[2 + n % 2], None, None, None, False, None, text, start + n)
        for n in range(people)
    ]


def test_gaps_are_themes_shared_by_ten_askers() -> None:
    rows = themed_rows(12, "can I take [..] maternity leave early")
    rows += themed_rows(9, "where do I park my [..] car", start=100)
    rows += themed_rows(6, "is the staff parking free", start=200)
    trends = analyse(rows, POLICIES, WEEKS)
    assert [t.terms[0] for t in trends.themes] == ["maternity"]
    assert set(trends.themes[0].terms) >= {"maternity", "leave"}
    assert trends.themes[0].questions == 12
    assert trends.themes[0].examples == ("can I take [..] maternity leave early",)
    assert audit(to_json(trends), rows, 5) == []


def test_a_theme_is_dropped_when_the_rest_would_be_a_small_group() -> None:
    rows = themed_rows(12, "maternity leave")
    rows += themed_rows(2, "something quite different", start=100)
    trends = analyse(rows, POLICIES, WEEKS)
    assert trends.question("declined").count == 14
    assert trends.themes == ()  # 14 - 12 would single out two people
    rows += themed_rows(5, "another thing altogether", start=200)
    assert [t.questions for t in analyse(rows, POLICIES, WEEKS).themes] == [12]


def test_content_terms_drop_masks_stop_words_and_plurals() -> None:
    assert content_terms("Can I text [..] parents about the trips?") == {"text", "parent", "trip"}


def test_rising_and_falling_use_visible_figures_only() -> None:
    rows = [TrendRow(WEEKS[2], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(6)]
    rows += [TrendRow(WEEKS[3], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(11)]
    rows += [TrendRow(WEEKS[2], "data", "Records", "rec-1", True, None, "x", n) for n in range(9)]
    rows += [TrendRow(WEEKS[3], "data", "Records", "rec-1", True, None, "x", n) for n in range(5)]
    trends = analyse(rows, POLICIES, WEEKS)
    assert {(c.topic.key, c.previous, c.latest) for c in trends.rising} == {
        ("section:aup:Phones", 6, 11),
        ("clause:aup:ph-1", 6, 11),
    }
    assert [(c.topic.key, c.previous, c.latest) for c in trends.falling][:1] == [
        ("section:data:Records", 9, 5)
    ]


def test_summary_for_chat() -> None:
    rows = [TrendRow(WEEKS[3], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(20)]
    rows += [
        TrendRow(WEEKS[3], "aup", "Social Media", "sm-1", True, None, "x", n) for n in range(6)
    ]
    rows += [TrendRow(WEEKS[3], "data", "Records", "rec-1", True, None, "x", n) for n in range(2)]
    rows += themed_rows(12, "maternity leave")
    rows += [TrendRow(WEEKS[3], None, None, None, False, None, "x", 50 + n) for n in range(5)]
    trends = analyse(rows, POLICIES, WEEKS)
    assert trends_summary(trends).splitlines() == [
        "Questions in 2026-W02: 39 (28 answered, 11 not covered by a policy).",
        "Decline rate: 28%.",
        # Records (2 people) is hidden, and so is Social Media: with the policy's total
        # hidden as Records' partner, Phones and Social Media would give that total away.
        "Top sections: Phones (20).",
        "Gaps over 4 weeks: “maternity leave” (12).",
        "Figures resting on fewer than 5 people are hidden.",
    ]
    assert trends.question("section:aup:Social Media", WEEKS[3]).suppressed


def test_summary_says_hidden_for_hidden_figures() -> None:
    rows = [TrendRow(WEEKS[3], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(3)]
    summary = trends_summary(analyse(rows, POLICIES, WEEKS))
    assert summary.splitlines()[0] == (
        "Questions in 2026-W02: hidden (hidden answered, 0 not covered by a policy)."
    )
    assert "Top sections" not in summary and "3" not in summary


def test_clauses_no_longer_in_the_knowledge_are_still_counted() -> None:
    rows = [TrendRow(WEEKS[0], "aup", None, "gone-1", True, None, "x", n) for n in range(5)]
    trends = analyse(rows, POLICIES, WEEKS)
    figure = trends.question("clause:aup:gone-1")
    assert figure.count == 5
    assert figure.topic.section == "(not in the loaded policies)"
    assert figure.topic.clause_text is None
    assert trends.question("policy:aup").count == 5
