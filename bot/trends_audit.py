"""An independent audit of a published trends document against the rows behind it.

``audit`` re-derives every published figure from the rows and checks the disclosure rules
again (every visible figure rests on k askers or is zero; no hidden figure can be worked
out from visible ones; themes rest on enough askers), independently of how the figures
were suppressed. The tests and the benchmark run it on real output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from bot.analysis import singular
from bot.disclosure import solved
from bot.trends import (
    FEEDBACK_COLUMNS,
    THEME_MIN_ASKERS,
    TrendRow,
    content_terms,
    effective_k,
)
from bot.trends_report import RATED

Ident = tuple[str, str | None, str | None, str | None]


def audit(document: dict[str, Any], rows: Sequence[TrendRow], k: int) -> list[str]:
    """Re-derive every published figure of a JSON report from ``rows``; list what is wrong.

    Checks that each visible figure equals its count in the rows and rests on no fewer than
    k askers (or on none); that no suppressed figure can be worked out exactly from the
    visible ones through the sums tying them; that the suppressed parts of each visible
    total rest on k askers together; that every theme, co-word and example rests on enough
    askers and that the declined questions outside the themes rest on none or k; and that
    the rising and falling topics quote visible figures. Empty means all is well.
    """
    k = effective_k(k)
    weeks: list[str] = document["weeks"]
    wanted = set(weeks)
    kept = [r for r in rows if r.week in wanted]
    years = {r.asker: r.week[:4] for r in kept}

    def askers(members: Iterable[int]) -> int:
        return max(Counter(years[m] for m in set(members)).values(), default=0)

    items: list[dict[str, Any]] = document["figures"]
    sections = {(i["policy"], i["clause"]): i["section"] for i in items if i["row"] == "clause"}
    problems: list[str] = []
    tallies: Counter[tuple[str, Ident, str | None]] = Counter()
    seen: dict[tuple[str, Ident, str | None], set[int]] = {}
    for row in kept:
        for table, column, ident in _cells(row, sections, problems):
            tallies[table, ident, column] += 1
            seen.setdefault((table, ident, column), set()).add(row.asker)
    truth = {place: (tallies[place], members) for place, members in seen.items()}
    position: dict[tuple[str, Ident, str | None], int] = {}
    for index, item in enumerate(items):
        table = item["table"]
        column = item["week"] if table == "questions" else item["feedback"]
        place = (table, _ident(item), column)
        position[place] = index
        count, members = truth.get(place, (0, set()))
        if "count" in item and item["count"] != count:
            problems.append(f"{place}: shows {item['count']}, the rows give {count}")
        if "count" in item and count and askers(members) < k:
            problems.append(f"{place}: visible, but rests on {askers(members)} askers")
    hidden = [bool(i.get("suppressed")) or "count" not in i for i in items]
    sums = _sums(items, position, weeks)
    for index in solved(sums, hidden):
        problems.append(f"{_describe(items[index])}: suppressed, yet the visible figures give it")
    for total, parts in sums:
        secret = [p for p in parts if hidden[p]]
        if secret and not hidden[total]:
            members = set().union(*(truth.get(_place(items[p]), (0, set()))[1] for p in secret))
            if askers(members) < k:
                problems.append(
                    f"{_describe(items[total])} minus its visible parts rests on "
                    f"{askers(members)} askers"
                )
    problems += _audit_themes(document, kept, items, position, k, askers)
    problems += _audit_moves(document, items, position)
    return problems


def _ident(item: dict[str, Any]) -> Ident:
    return (item["row"], item.get("policy"), item.get("section"), item.get("clause"))


def _place(item: dict[str, Any]) -> tuple[str, Ident, str | None]:
    column = item["week"] if item["table"] == "questions" else item["feedback"]
    return (item["table"], _ident(item), column)


def _describe(item: dict[str, Any]) -> str:
    return "/".join(str(v) for v in _place(item))


def _cells(
    row: TrendRow, sections: dict[tuple[str, str], str], problems: list[str]
) -> Iterable[tuple[str, str | None, Ident]]:
    """Every (table, column, row identity) a logged question counts in."""
    path: list[Ident] = [("all", None, None, None)]
    if not row.answered:
        path.append(("declined", None, None, None))
    else:
        policy, clause = row.policy or "", row.clause or ""
        section = sections.get((policy, clause))
        if section is None:
            problems.append(f"clause {policy}/{clause} of an answered question is not reported")
        path += [
            ("answered", None, None, None),
            ("policy", policy, None, None),
            ("section", policy, section, None),
            ("clause", policy, section, clause),
        ]
    columns: list[tuple[str, str | None]] = [("questions", row.week), ("questions", None)]
    if row.helpful is not None:
        columns += [("feedback", FEEDBACK_COLUMNS[0] if row.helpful else FEEDBACK_COLUMNS[1])]
        columns += [("feedback", RATED)]
    for table, column in columns:
        for ident in path:
            yield table, column, ident


def _sums(
    items: list[dict[str, Any]],
    position: dict[tuple[str, Ident, str | None], int],
    weeks: list[str],
) -> list[tuple[int, list[int]]]:
    """The equations a reader can write down from the report's own structure."""
    children: dict[Ident, list[Ident]] = {}
    for item in items:
        ident = _ident(item)
        level, policy, section, _ = ident
        parent: Ident | None = {
            "answered": ("all", None, None, None),
            "declined": ("all", None, None, None),
            "policy": ("answered", None, None, None),
            "section": ("policy", policy, None, None),
            "clause": ("section", policy, section, None),
        }.get(level)
        if parent is not None and ident not in children.setdefault(parent, []):
            children[parent].append(ident)
    layouts: dict[str, tuple[list[str | None], str | None]] = {
        "questions": ([*weeks], None),
        "feedback": ([*FEEDBACK_COLUMNS], RATED),
    }
    sums: list[tuple[int, list[int]]] = []
    for table, (parts, total) in layouts.items():
        for parent, kids in children.items():
            for column in (*parts, total):
                if (table, parent, column) in position:
                    found = [
                        position[table, kid, column]
                        for kid in kids
                        if (table, kid, column) in position
                    ]
                    sums.append((position[table, parent, column], found))
        for ident in {_ident(i) for i in items if i["table"] == table}:
            if (table, ident, total) in position:
                found = [position[table, ident, c] for c in parts if (table, ident, c) in position]
                sums.append((position[table, ident, total], found))
    return sums


def _audit_themes(
    document: dict[str, Any],
    rows: Sequence[TrendRow],
    items: list[dict[str, Any]],
    position: dict[tuple[str, Ident, str | None], int],
    k: int,
    askers: Any,
) -> list[str]:
    problems: list[str] = []
    pool = [r for r in rows if not r.answered]
    terms = {text: content_terms(text) for text in {r.text for r in pool}}
    for theme in document["themes"]:
        key = singular(theme["terms"][0])
        members = [r for r in pool if key in terms[r.text]]
        if len(members) != theme["questions"]:
            problems.append(
                f"theme {theme['terms']}: shows {theme['questions']}, rows give {len(members)}"
            )
        if askers(r.asker for r in members) < max(THEME_MIN_ASKERS, k):
            problems.append(f"theme {theme['terms']} rests on too few askers")
        for term in theme["terms"][1:]:
            if askers(r.asker for r in members if singular(term) in terms[r.text]) < k:
                problems.append(f"theme word {term!r} rests on too few askers")
        for example in theme["examples"]:
            if askers(r.asker for r in members if r.text == example) < k:
                problems.append(f"theme example {example!r} rests on too few askers")
        pool = [r for r in pool if key not in terms[r.text]]
    declined = items[position["questions", ("declined", None, None, None), None]]
    if "count" in declined and pool and askers(r.asker for r in pool) < k:
        problems.append("declined questions outside the themes rest on too few askers")
    return problems


def _audit_moves(
    document: dict[str, Any],
    items: list[dict[str, Any]],
    position: dict[tuple[str, Ident, str | None], int],
) -> list[str]:
    problems = []
    for move in document["rising"] + document["falling"]:
        for week, value in (
            (move["previous_week"], move["previous"]),
            (move["latest_week"], move["latest"]),
        ):
            index = position.get(("questions", _ident(move), week))
            if index is None or items[index].get("count") != value:
                problems.append(
                    f"change {_ident(move)} quotes {value} for {week}, not a visible figure"
                )
    return problems
