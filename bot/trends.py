"""HR trends: what staff ask about, per ISO week, with every small group of askers hidden.

``read_rows`` is the only function that touches the question log. It keeps, per question,
the ISO week, the policy, section and clause that answered (or came nearest), answered or
declined, the feedback, the masked text, and an *opaque asker number*: the database ranks
the pseudonyms and this module shuffles the ranks afresh on every run, so no pseudonym or
user id reaches the analysis or anything it prints. The numbers serve one purpose: to count
distinct askers.

``analyse`` turns those rows into figures, two tables of them:

* questions: topic rows (all › answered › policy › section › clause, and all › declined)
  by week columns plus a total column;
* feedback: the same topic rows by helpful, not helpful and their total.

Then the disclosure rules, with k = max(5, ``Settings.trends_min_askers``):

1. A figure resting on 1 to k-1 distinct askers is suppressed (shown without a number).
   A zero rests on nobody and is shown.
2. Complementary suppression: every figure is tied to others by sums (a parent is the sum
   of its children, a row total the sum of its weeks). More figures are suppressed until
   no suppressed figure can be worked out exactly from the visible ones by any combination
   of those sums (checked by linear algebra, not just line by line), and the suppressed
   parts of any sum whose total is visible together rest on at least k askers, so
   "total minus the visible parts" never reveals a small group.
3. Distinct askers are counted within each ISO year (pseudonyms change every year), and a
   figure spanning two years counts the larger year's askers only: never an overcount.

Themes of questions the policies do not cover need at least 10 askers each.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from bot.analysis import GENERIC_WORDS, STOP_WORDS, singular, words
from bot.disclosure import SuppressionTable
from bot.knowledge import Policy

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.storage import Store

MIN_ASKERS = 5
THEME_MIN_ASKERS = 10
DEFAULT_WEEKS = 12
#: Said in chat when the figures cannot be read (the database is down).
UNAVAILABLE = "The trends cannot be read right now; please try again in a few minutes."
MAX_THEMES = 8
UNKNOWN_SECTION = "(not in the loaded policies)"
FEEDBACK_COLUMNS = ("helpful", "not_helpful")

Level = Literal["all", "answered", "declined", "policy", "section", "clause"]


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One logged question, reduced to what trends may know. ``asker`` only counts askers."""

    week: str
    policy: str | None
    section: str | None
    clause: str | None
    answered: bool
    helpful: bool | None
    text: str
    asker: int


@dataclass(frozen=True, slots=True)
class Topic:
    """A row of the trend tables: everything, answered, declined, a policy, section or clause."""

    key: str
    level: Level
    parent: str | None = None
    policy: str | None = None
    policy_title: str | None = None
    section: str | None = None
    clause: str | None = None
    clause_text: str | None = None

    @property
    def label(self) -> str:
        """How a person reads this row: "Social Media", "All questions", a clause id."""
        names = {"all": "All questions", "answered": "Answered", "declined": "Not covered"}
        if self.level in names:
            return names[self.level]
        if self.level == "policy":
            return self.policy_title or self.policy or "(no policy)"
        if self.level == "section":
            return self.section or "(no section)"
        return self.clause or "(no clause)"


@dataclass(frozen=True, slots=True)
class Figure:
    """One published number: what it counts and the count, or None when suppressed."""

    topic: Topic
    column: str | None  # a week, "helpful" or "not_helpful"; None is the total
    count: int | None

    @property
    def suppressed(self) -> bool:
        """True when the number is withheld to protect a small group."""
        return self.count is None


@dataclass(frozen=True, slots=True)
class Theme:
    """Declined questions sharing a word: a gap the policies may not cover."""

    terms: tuple[str, ...]
    questions: int
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A topic whose count moved between the last two weeks (both counts visible)."""

    topic: Topic
    previous: int
    latest: int


@dataclass(frozen=True)
class Trends:
    """Every figure HR may see for a run of ISO weeks, already suppressed."""

    k: int
    weeks: tuple[str, ...]
    topics: tuple[Topic, ...]
    questions: dict[tuple[str, str | None], Figure]
    feedback: dict[tuple[str, str | None], Figure]
    themes: tuple[Theme, ...]
    rising: tuple[Change, ...]
    falling: tuple[Change, ...]

    def question(self, key: str, column: str | None = None) -> Figure:
        """The questions figure for a topic key and a week (None: the whole run)."""
        return self.questions[key, column]


def effective_k(requested: int) -> int:
    """The smallest group a figure may rest on: never below 5, whatever was configured."""
    return max(MIN_ASKERS, requested)


def week_of(day: date) -> str:
    """The ISO week of a day, as the question log stores it: ``"2026-W07"``."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def window(weeks: int, now: datetime | None = None) -> tuple[str, ...]:
    """The last ``weeks`` complete ISO weeks before ``now``'s week, oldest first.

    The current week is left out until it is over, so a half-week never looks like a fall.
    """
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    last = today - timedelta(days=today.isoweekday() + 6)  # Monday of last week
    return tuple(week_of(last - timedelta(weeks=n)) for n in range(max(1, weeks) - 1, -1, -1))


def read_rows(
    store: Store, policies: Sequence[Policy], weeks: Sequence[str] | None = None
) -> list[TrendRow]:
    """The question log for ``weeks`` (default: all of it), reduced for trends.

    Asker numbers are shuffled on every call: they mean nothing outside it.
    """
    from bot.storage.trends_queries import trend_records

    sections = {(p.id, c.id): c.section_title for p in policies for c in p.clauses}
    records = trend_records(store, *((weeks[0], weeks[-1]) if weeks else (None, None)))
    ranks = sorted({r.asker for r in records})
    shuffled = random.sample(range(len(ranks)), len(ranks))
    numbers = dict(zip(ranks, shuffled, strict=True))
    return [
        TrendRow(
            week=r.week,
            policy=r.policy_id,
            section=sections.get((r.policy_id or "", r.clause_id or ""), UNKNOWN_SECTION)
            if r.clause_id is not None
            else None,
            clause=r.clause_id,
            answered=r.answered,
            helpful=r.helpful,
            text=r.question,
            asker=numbers[r.asker],
        )
        for r in records
    ]


def build_trends(
    store: Store,
    policies: Sequence[Policy],
    settings: Settings,
    *,
    weeks: int = DEFAULT_WEEKS,
    now: datetime | None = None,
) -> Trends:
    """Read the log for the last ``weeks`` complete weeks and analyse it (CLI, /hr, chat).

    Example::

        trends = build_trends(store, bot.policies, settings, weeks=12)
        print(trends_summary(trends))
    """
    span = window(weeks, now)
    return analyse(read_rows(store, policies, span), policies, span, settings.trends_min_askers)


def analyse(
    rows: Iterable[TrendRow], policies: Sequence[Policy], weeks: Sequence[str], k: int = MIN_ASKERS
) -> Trends:
    """Count, suppress and summarise ``rows`` over ``weeks`` (rows outside are ignored)."""
    k = effective_k(k)
    span = tuple(weeks)
    wanted = set(span)
    kept = [r for r in rows if r.week in wanted]
    topics = _topics(policies, kept)
    children: dict[str, list[str]] = defaultdict(list)
    for topic in topics:
        if topic.parent is not None:
            children[topic.parent].append(topic.key)
    ledger = SuppressionTable({r.asker: r.week[:4] for r in kept})
    tables = {
        "questions": ((*span, None), lambda r: r.week),
        "feedback": ((*FEEDBACK_COLUMNS, None), _feedback_column),
    }
    ids: dict[str, dict[tuple[str, str | None], int]] = {}
    for name, (columns, column_of) in tables.items():
        ids[name] = _fill(ledger, kept, topics, children, columns, column_of)
    hidden = ledger.protect(k)
    figures = {  # in reading order: topic by topic, then column by column
        name: {
            (t.key, c): Figure(t, c, None if hidden[fid] else ledger.counts[fid])
            for t in topics
            for c in tables[name][0]
            for fid in (ids[name][t.key, c],)
        }
        for name in tables
    }
    rising, falling = _changes(topics, figures["questions"], span)
    declined = figures["questions"]["declined", None]
    return Trends(
        k=k,
        weeks=span,
        topics=topics,
        questions=figures["questions"],
        feedback=figures["feedback"],
        themes=_themes([r for r in kept if not r.answered], ledger, k, declined.suppressed),
        rising=rising,
        falling=falling,
    )


def trends_summary(trends: Trends) -> str:
    """A few plain lines for chat: last week's totals, top sections, decline rate, top gaps.

    Suppressed figures read "hidden"; nothing here is finer than the figures themselves.
    """
    week = trends.weeks[-1]
    total, answered, declined = (
        trends.question(key, week) for key in ("all", "answered", "declined")
    )
    lines = [
        f"Questions in {week}: {_say(total)} ({_say(answered)} answered, "
        f"{_say(declined)} not covered by a policy)."
    ]
    if total.count and declined.count is not None:
        lines.append(f"Decline rate: {declined.count / total.count:.0%}.")
    sections = sorted(
        (f for f in _level(trends, "section", week) if f.count),
        key=lambda f: (-(f.count or 0), f.topic.label),
    )[:3]
    if sections:
        lines.append(
            "Top sections: " + ", ".join(f"{f.topic.label} ({f.count})" for f in sections) + "."
        )
    if trends.themes:
        gaps = "; ".join(f"“{' '.join(t.terms)}” ({t.questions})" for t in trends.themes[:3])
        lines.append(f"Gaps over {len(trends.weeks)} weeks: {gaps}.")
    lines.append(f"Figures resting on fewer than {trends.k} people are hidden.")
    return "\n".join(lines)


def _say(figure: Figure) -> str:
    return "hidden" if figure.count is None else f"{figure.count:,}"


def _level(trends: Trends, level: Level, column: str | None) -> list[Figure]:
    return [trends.questions[t.key, column] for t in trends.topics if t.level == level]


def _feedback_column(row: TrendRow) -> str | None:
    if row.helpful is None:
        return None
    return FEEDBACK_COLUMNS[0] if row.helpful else FEEDBACK_COLUMNS[1]


def _leaf(row: TrendRow) -> str:
    if not row.answered:
        return "declined"
    return f"clause:{row.policy or ''}:{row.clause or ''}"


def _topics(policies: Sequence[Policy], rows: Sequence[TrendRow]) -> tuple[Topic, ...]:
    """Every row of the tables in reading order: the loaded knowledge, then any clause the
    log names that the knowledge no longer has."""
    tree: dict[str, dict[str, list[tuple[str, str | None]]]] = {}
    titles = {p.id: p.title for p in policies}
    for policy in policies:
        for clause in policy.clauses:
            sections = tree.setdefault(policy.id, {})
            sections.setdefault(clause.section_title, []).append((clause.id, clause.text))
    known = {(p, c) for p, sections in tree.items() for cs in sections.values() for c, _ in cs}
    for policy_id, clause_id in sorted(
        {(r.policy or "", r.clause or "") for r in rows if r.answered} - known
    ):
        tree.setdefault(policy_id, {}).setdefault(UNKNOWN_SECTION, []).append((clause_id, None))
    topics = [Topic("all", "all"), Topic("answered", "answered", "all")]
    for policy_id, sections in tree.items():
        title = titles.get(policy_id, policy_id or "(no policy)")
        policy_key = f"policy:{policy_id}"
        topics.append(Topic(policy_key, "policy", "answered", policy_id, title))
        for section, clauses in sections.items():
            section_key = f"section:{policy_id}:{section}"
            topics.append(Topic(section_key, "section", policy_key, policy_id, title, section))
            topics += [
                Topic(
                    f"clause:{policy_id}:{c}",
                    "clause",
                    section_key,
                    policy_id,
                    title,
                    section,
                    c,
                    t,
                )
                for c, t in clauses
            ]
    topics.append(Topic("declined", "declined", "all"))
    return tuple(topics)


def _fill(
    ledger: SuppressionTable,
    rows: Sequence[TrendRow],
    topics: Sequence[Topic],
    children: dict[str, list[str]],
    columns: Sequence[str | None],
    column_of: Callable[[TrendRow], str | None],
) -> dict[tuple[str, str | None], int]:
    """Count one table into the ledger, tie its sums, and return each figure's id."""
    leaves: dict[tuple[str, str], set[int]] = defaultdict(set)
    tallies: Counter[tuple[str, str]] = Counter()
    for row in rows:
        column = column_of(row)
        if column is not None:
            leaves[_leaf(row), column].add(row.asker)
            tallies[_leaf(row), column] += 1
    parts = [c for c in columns if c is not None]
    ids: dict[tuple[str, str | None], int] = {}

    def cell(key: str, column: str | None) -> int:
        if (key, column) not in ids:
            if column is None:
                pieces = [cell(key, c) for c in parts]
            elif children.get(key):
                pieces = [cell(child, column) for child in children[key]]
            else:
                ids[key, column] = ledger.add(
                    tallies[key, column], leaves.get((key, column), set())
                )
                return ids[key, column]
            members = set().union(*(ledger.members[p] for p in pieces))
            ids[key, column] = ledger.add(sum(ledger.counts[p] for p in pieces), members)
        return ids[key, column]

    for topic in topics:
        ledger.tie(cell(topic.key, None), [cell(topic.key, c) for c in parts])
        for column in columns:
            if children.get(topic.key):
                ledger.tie(cell(topic.key, column), [cell(c, column) for c in children[topic.key]])
    return ids


def _changes(
    topics: Sequence[Topic], figures: dict[tuple[str, str | None], Figure], weeks: Sequence[str]
) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
    """Sections, clauses and declines that rose or fell from the week before last to last."""
    if len(weeks) < 2:
        return (), ()
    moves = []
    for topic in topics:
        if topic.level in ("section", "clause", "declined"):
            before, after = (figures[topic.key, w].count for w in weeks[-2:])
            if before is not None and after is not None and before != after:
                moves.append(Change(topic, before, after))
    moves.sort(key=lambda m: (m.previous - m.latest, m.topic.key))
    rising = tuple(m for m in moves if m.latest > m.previous)[:5]
    falling = tuple(m for m in reversed(moves) if m.latest < m.previous)[:5]
    return rising, falling


def content_terms(text: str) -> set[str]:
    """The words of a masked question that say what it is about, plurals folded: masks,
    stop words, words about rules in general and words under three letters are dropped."""
    return {
        singular(word)
        for word in words(text)
        if len(word) > 2 and word.isalpha() and word not in _NOT_CONTENT
    }


_NOT_CONTENT = STOP_WORDS | GENERIC_WORDS


def _themes(
    rows: Sequence[TrendRow], ledger: SuppressionTable, k: int, total_hidden: bool
) -> tuple[Theme, ...]:
    """Group declined questions by their most widely shared content word, greedily.

    Masks and stop words carry no topic and are dropped; plurals fold into singulars.
    A theme needs ``THEME_MIN_ASKERS`` askers; a co-word or example text joins its label
    only when k askers share it. Themes never overlap, and the declined questions left
    outside them rest on none or at least k askers, so "declined minus themes" is safe.
    """
    least = max(THEME_MIN_ASKERS, k)
    terms_of = [content_terms(row.text) for row in rows]
    spelling: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for word in words(row.text):
            spelling[singular(word)][word] += 1

    def askers(indices: Iterable[int]) -> int:
        return ledger.askers({rows[i].asker for i in indices})

    def say(term: str) -> str:
        return spelling[term].most_common(1)[0][0]

    pool = set(range(len(rows)))
    found: list[tuple[Theme, list[int]]] = []
    while len(found) < MAX_THEMES:
        holders: dict[str, list[int]] = defaultdict(list)
        for i in sorted(pool):
            for term in terms_of[i]:
                holders[term].append(i)
        # The most askers first; among equals the longer, more specific word.
        ranked = sorted(
            ((askers(ix), len(ix), t) for t, ix in holders.items()),
            key=lambda x: (-x[0], -x[1], -len(x[2]), x[2]),
        )
        if not ranked or ranked[0][0] < least:
            break
        _, size, key = ranked[0]
        members = holders[key]
        shared = Counter(t for i in members for t in terms_of[i] if t != key)
        co_terms = [
            t
            for t, n in sorted(shared.items(), key=lambda x: (-x[1], -len(x[0]), x[0]))
            if 2 * n >= size and askers(i for i in members if t in terms_of[i]) >= k
        ][:2]
        texts = Counter(rows[i].text for i in members)
        examples = [
            text
            for text, _ in texts.most_common()
            if askers(i for i in members if rows[i].text == text) >= k
        ][:2]
        found.append(
            (Theme(tuple(say(t) for t in (key, *co_terms)), size, tuple(examples)), members)
        )
        pool.difference_update(members)
    while found and not total_hidden and pool and askers(pool) < k:
        _, members = found.pop()
        pool.update(members)
    return tuple(theme for theme, _ in found)
