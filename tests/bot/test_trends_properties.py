"""Property tests: no trends output shows a figure resting on fewer than k askers, and no
suppressed figure can be worked out from the visible ones.

Random question logs (weeks, clauses, askers, answers, feedback, masked texts) go through
``analyse``; every output (JSON, CSV, HTML, the terminal tables, the chat summary) is then
checked against counts recomputed here from the rows, independently of ``bot.trends``:
exact rational arithmetic decides whether any suppressed figure is determined.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from adapters.cli_trends import show
from bot.knowledge import Clause, Policy, sha256_text
from bot.trends import TrendRow, Trends, analyse, effective_k, trends_summary
from bot.trends_audit import audit
from bot.trends_report import to_csv, to_html, to_json


def make_policy(policy_id: str, sections: dict[str, list[str]]) -> Policy:
    clauses = tuple(
        Clause(id=clause, section=(section,), text=f"Staff must follow rule {clause} here.")
        for section, ids in sections.items()
        for clause in ids
    )
    return Policy(
        id=policy_id,
        title=f"Policy {policy_id}",
        version="1",
        contact="the office",
        source="source.txt",
        content_hash=sha256_text(policy_id),
        clauses=clauses,
    )


# One section with three clauses, one with a single clause (a child equal to its parent),
# and a second policy: every shape of sum the report has.
POLICIES = (
    make_policy("aup", {"Social Media": ["sm-1", "sm-2", "sm-3"], "Phones": ["ph-1"]}),
    make_policy("data", {"Records": ["rec-1", "rec-2"]}),
)
CLAUSES = [(p.id, c.id, c.section_title) for p in POLICIES for c in p.clauses]
WEEKS = ("2025-W51", "2025-W52", "2026-W01", "2026-W02")  # across an ISO year boundary
VOCABULARY = ["maternity", "leave", "parking", "cover", "supply", "[..]", "can", "i", "the"]


@st.composite
def logs(draw: st.DrawFn) -> list[TrendRow]:
    """A question log: few askers so that small groups are common."""
    askers = draw(st.integers(1, 25))
    skew = draw(st.sampled_from([CLAUSES, CLAUSES[:2], CLAUSES[:1] + CLAUSES[-1:]]))
    rows = []
    for _ in range(draw(st.integers(0, 160))):
        week = draw(st.sampled_from(WEEKS))
        policy, clause, section = draw(st.sampled_from(skew))
        person = draw(st.integers(0, askers - 1))
        words = draw(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4))
        rows.append(
            TrendRow(
                week=week,
                policy=policy,
                section=section,
                clause=clause,
                answered=draw(st.booleans()),
                helpful=draw(st.sampled_from([None, None, True, False])),
                text=" ".join(words),
                # Pseudonyms change every year, so the same person has another number.
                asker=person + (1000 if week.startswith("2026") else 0),
            )
        )
    return rows


def askers_of(rows: Iterable[TrendRow]) -> int:
    """Distinct askers, the largest ISO year standing for the whole (never an overcount)."""
    per_year: dict[str, set[int]] = {}
    for row in rows:
        per_year.setdefault(row.week[:4], set()).add(row.asker)
    return max((len(s) for s in per_year.values()), default=0)


def section_of(policy: str | None, clause: str | None) -> str | None:
    return next((s for p, c, s in CLAUSES if (p, c) == (policy, clause)), None)


def counted(item: dict[str, Any], row: TrendRow, weeks: Sequence[str]) -> bool:
    """Whether a report figure counts this row, from the figure's own description."""
    if item["table"] == "questions":
        if item["week"] is not None and row.week != item["week"]:
            return False
    elif row.helpful is None or (
        item["feedback"] != "rated" and row.helpful != (item["feedback"] == "helpful")
    ):
        return False
    level = item["row"]
    if level == "all":
        return row.week in weeks
    if level == "declined":
        return not row.answered and row.week in weeks
    if not row.answered or row.week not in weeks:
        return False
    return (
        level == "answered"
        or (level == "policy" and row.policy == item["policy"])
        or (
            level == "section"
            and row.policy == item["policy"]
            and section_of(row.policy, row.clause) == item["section"]
        )
        or (level == "clause" and (row.policy, row.clause) == (item["policy"], item["clause"]))
    )


def equations(items: list[dict[str, Any]], weeks: Sequence[str]) -> list[tuple[int, list[int]]]:
    """Every sum a reader of the report can write: parents, row totals, feedback totals."""
    where = {
        (i["table"], i["row"], i.get("policy"), i.get("section"), i.get("clause"), _column(i)): n
        for n, i in enumerate(items)
    }
    parent_of = {
        "answered": lambda i: ("all", None, None, None),
        "declined": lambda i: ("all", None, None, None),
        "policy": lambda i: ("answered", None, None, None),
        "section": lambda i: ("policy", i["policy"], None, None),
        "clause": lambda i: ("section", i["policy"], i["section"], None),
    }
    sums: dict[int, list[int]] = {}
    for n, item in enumerate(items):
        if item["row"] in parent_of:
            parent = where[(item["table"], *parent_of[item["row"]](item), _column(item))]
            sums.setdefault(parent, []).append(n)
    result = list(sums.items())
    for n, item in enumerate(items):
        ident = (
            item["table"],
            item["row"],
            item.get("policy"),
            item.get("section"),
            item.get("clause"),
        )
        if item["table"] == "questions" and item["week"] is None:
            result.append((n, [where[(*ident, w)] for w in weeks]))
        if item["table"] == "feedback" and item["feedback"] == "rated":
            result.append((n, [where[(*ident, "helpful")], where[(*ident, "not_helpful")]]))
    return result


def _column(item: dict[str, Any]) -> str | None:
    return item["week"] if item["table"] == "questions" else item["feedback"]


def determined(sums: list[tuple[int, list[int]]], hidden: set[int]) -> set[int]:
    """Hidden figures fixed by the sums, by exact elimination over the rationals.

    A hidden figure is determined when its unit vector is in the row space of the sums
    restricted to hidden figures: in reduced row echelon form, a pivot row with no other
    non-zero entry.
    """
    order = sorted(hidden)
    rows: list[dict[int, Fraction]] = []
    for total, parts in sums:
        row: dict[int, Fraction] = {}
        for figure, sign in ((total, 1), *((p, -1) for p in parts)):
            if figure in hidden:
                row[figure] = row.get(figure, Fraction(0)) + sign
        row = {f: v for f, v in row.items() if v}
        if row:
            rows.append(row)
    pivots: list[tuple[int, dict[int, Fraction]]] = []
    for column in order:
        chosen = next((r for r in rows if r.get(column)), None)
        if chosen is None:
            continue
        rows.remove(chosen)
        scale = chosen[column]
        chosen = {f: v / scale for f, v in chosen.items()}
        for other in [*rows, *(r for _, r in pivots)]:
            factor = other.get(column)
            if factor:
                for f, v in chosen.items():
                    other[f] = other.get(f, Fraction(0)) - factor * v
                    if not other[f]:
                        del other[f]
        pivots.append((column, chosen))
    return {column for column, row in pivots if set(row) == {column}}


def visible_numbers(trends: Trends) -> set[int]:
    """Every number a reader may see: visible figures, theme sizes, changes."""
    numbers = {f.count for f in (*trends.questions.values(), *trends.feedback.values())}
    numbers |= {t.questions for t in trends.themes}
    return {n for n in numbers if n is not None}


def check_everything(rows: list[TrendRow], k: int) -> None:
    trends = analyse(rows, POLICIES, WEEKS, k)
    k = effective_k(k)
    assert trends.k == k >= 5
    document = to_json(trends)
    items = document["figures"]

    # 1. Every visible number is right and rests on k askers (or on nobody).
    hidden: set[int] = set()
    for n, item in enumerate(items):
        truth = [r for r in rows if counted(item, r, WEEKS)]
        if item.get("suppressed"):
            assert "count" not in item
            hidden.add(n)
            continue
        assert item["count"] == len(truth), item
        assert item["count"] == 0 or askers_of(truth) >= k, item

    # 2. Complementary suppression: nothing hidden follows from what is visible, and the
    #    hidden parts of a visible total rest on k askers together.
    sums = equations(items, WEEKS)
    assert determined(sums, hidden) == set()
    for total, parts in sums:
        secret = [p for p in parts if p in hidden]
        if secret and total not in hidden:
            group = [r for r in rows if any(counted(items[p], r, WEEKS) for p in secret)]
            assert askers_of(group) >= k

    # 3. Themes: 10 askers each; examples and co-words on k.
    for theme in trends.themes:
        assert theme.questions >= 10

    # 4. The product's own audit agrees.
    assert audit(document, rows, k) == []

    # 5. CSV carries exactly the JSON's figures.
    parsed = list(csv.DictReader(io.StringIO(to_csv(trends))))
    assert len(parsed) == len(items)
    for line, item in zip(parsed, items, strict=True):
        assert line["count"] == str(item.get("count", ""))
        assert line["suppressed"] == ("true" if item.get("suppressed") else "false")

    # 6. HTML: every number bound to a figure is that figure's visible count.
    html = to_html(trends)
    figures = {
        f"{table}|{f.topic.key}|{f.column or ''}": f
        for table, group in (("questions", trends.questions), ("feedback", trends.feedback))
        for f in group.values()
    }
    for key, count in re.findall(r'data-key="([^"]*)" data-count="(\d+)"', html):
        if key.startswith("theme|"):
            assert trends.themes[int(key[6:])].questions == int(count)
        else:
            assert figures[_unescape(key)].count == int(count)
    for value, key in re.findall(r'<data value="(\d+)" data-key="([^"]*)"', html):
        assert figures[_unescape(key)].count == int(value)
    for key in re.findall(r'<span class=hidden data-key="([^"]*)"', html):
        assert figures[_unescape(key)].suppressed

    # 7. Terminal tables and chat summary show no number but visible ones.
    allowed = visible_numbers(trends) | {k, len(WEEKS), 1, 2, 25, 51, 52, 2025, 2026}
    allowed |= {c.previous for c in (*trends.rising, *trends.falling)}
    allowed |= {c.latest for c in (*trends.rising, *trends.falling)}
    console = Console(record=True, width=200, color_system=None)
    show(trends, console)
    text = console.export_text()
    text = re.sub(r"\b(?:rule|sm|ph|rec)-\d\b", "", text)  # clause ids and words
    for number in re.findall(r"\d[\d,]*", re.sub(r"\d{4}-W\d\d", "", text)):
        assert int(number.replace(",", "")) in allowed, (number, text)
    summary = trends_summary(trends)
    for number in re.findall(
        r"(?<![\d-])\d[\d,]*(?!%)\b", re.sub(r"\d{4}-W\d\d|\d+%", "", summary)
    ):
        assert int(number.replace(",", "")) in allowed, (number, summary)


def _unescape(text: str) -> str:
    return text.replace("&amp;", "&").replace("&quot;", '"').replace("&#x27;", "'")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), st.sampled_from([1, 5, 6]))
def test_no_output_shows_a_small_group_or_a_derivable_one(rows: list[TrendRow], k: int) -> None:
    check_everything(rows, k)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 40), st.integers(1, 12))
def test_busy_weeks_with_one_rare_clause(common: int, rare: int) -> None:
    """Many askers on one clause, a few on another: the few are hidden with a partner."""
    rows = [
        TrendRow(w, "aup", "Social Media", "sm-1", True, None, "can i", n)
        for w in WEEKS
        for n in range(common)
    ]
    rows += [
        TrendRow(WEEKS[-1], "aup", "Social Media", "sm-2", True, True, "x", n) for n in range(rare)
    ]
    check_everything(rows, 5)
    trends = analyse(rows, POLICIES, WEEKS, 5)
    rare_cell = trends.question("clause:aup:sm-2", WEEKS[-1])
    if rare < 5:
        assert rare_cell.suppressed
        if common:  # zeros are never hidden: they rest on nobody
            assert trends.question("clause:aup:sm-1", WEEKS[-1]).suppressed  # its partner
    elif common >= 5:
        assert rare_cell.count == rare


def test_the_exact_checker_notices_a_lone_suppression() -> None:
    # total 10 = a + b + c with only b hidden: b is determined.
    assert determined([(0, [1, 2, 3])], {2}) == {2}
    assert determined([(0, [1, 2, 3])], {2, 3}) == set()
    # A 2x2 block hidden inside a table with all its totals: no single cell follows.
    sums = [(0, [1, 2]), (3, [4, 5]), (6, [1, 4]), (7, [2, 5])]
    assert determined(sums, {1, 2, 4, 5}) == set()
    assert determined(sums, {1, 2, 4}) == {1, 2, 4}


def test_pure_counts_helper() -> None:
    rows = [TrendRow("2025-W52", None, None, None, False, None, "", 1)] * 3
    rows += [TrendRow("2026-W01", None, None, None, False, None, "", 1001)]
    assert askers_of(rows) == 1
    assert Counter(r.week[:4] for r in rows) == {"2025": 3, "2026": 1}
