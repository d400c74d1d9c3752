"""HR trends as documents: JSON, CSV and a self-contained HTML page.

Everything here is drawn from a ``Trends`` whose figures are already suppressed; a
suppressed figure is written as ``"suppressed": true`` (JSON), an empty count (CSV) or a
dash (HTML) and never with its number. The HTML page has no script and no external asset:
its charts are inline SVG drawn here, and it fits a phone's screen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from typing import Any

from bot.trends import (
    FEEDBACK_COLUMNS,
    THEME_MIN_ASKERS,
    Figure,
    Topic,
    Trends,
)

RATED = "rated"
CSV_FIELDS = (
    "table",
    "row",
    "week",
    "feedback",
    "policy",
    "policy_title",
    "section",
    "clause",
    "clause_text",
    "count",
    "suppressed",
)
PALETTE = (
    "#2563eb",
    "#ea580c",
    "#16a34a",
    "#9333ea",
    "#0891b2",
    "#db2777",
    "#ca8a04",
    "#4f46e5",
    "#65a30d",
    "#0d9488",
)
DECLINED_COLOUR = "#dc2626"
THEME_COLOUR = "#f59e0b"


def describe(topic: Topic) -> dict[str, Any]:
    """What a figure counts, in words: the row level and its policy, section and clause."""
    named: dict[str, Any] = {"row": topic.level}
    if topic.level in ("policy", "section", "clause"):
        named |= {"policy": topic.policy, "policy_title": topic.policy_title}
    if topic.level in ("section", "clause"):
        named["section"] = topic.section
    if topic.level == "clause":
        named |= {"clause": topic.clause, "clause_text": topic.clause_text}
    return named


def figure_json(table: str, figure: Figure) -> dict[str, Any]:
    """One figure as the JSON output writes it: what it counts, then its count or
    ``"suppressed": true``."""
    item: dict[str, Any] = {"table": table, **describe(figure.topic)}
    if table == "questions":
        item["week"] = figure.column
    else:
        item["feedback"] = figure.column or RATED
    if figure.count is None:
        item["suppressed"] = True
    else:
        item["count"] = figure.count
    return item


def to_json(trends: Trends) -> dict[str, Any]:
    """The whole report as JSON-ready data (``policybot trends --json``).

    ``figures`` holds every count: table ``questions`` by ``week`` (null: all the weeks),
    table ``feedback`` by ``feedback`` (helpful, not_helpful, rated).
    """
    figures = [figure_json("questions", f) for f in trends.questions.values()]
    figures += [figure_json("feedback", f) for f in trends.feedback.values()]
    weeks = trends.weeks

    def move(change: Any) -> dict[str, Any]:
        return {
            **describe(change.topic),
            "previous_week": weeks[-2],
            "previous": change.previous,
            "latest_week": weeks[-1],
            "latest": change.latest,
        }

    return {
        "k": trends.k,
        "weeks": list(weeks),
        "figures": figures,
        "rising": [move(c) for c in trends.rising],
        "falling": [move(c) for c in trends.falling],
        "themes": [
            {"terms": list(t.terms), "questions": t.questions, "examples": list(t.examples)}
            for t in trends.themes
        ],
    }


def to_csv(trends: Trends) -> str:
    """Every figure as one CSV line (``policybot trends --csv FILE``); suppressed: no count."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in to_json(trends)["figures"]:
        writer.writerow({**item, "suppressed": "true" if item.get("suppressed") else "false"})
    return buffer.getvalue()


# HTML ---------------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
background:#fff;margin:0 auto;padding:12px;max-width:960px}
h1{font-size:1.35rem;margin:.3rem 0}h2{font-size:1.05rem;margin:0 0 .5rem}
p{margin:.3rem 0}.note{color:#57606a;font-size:.85rem}
.card{border:1px solid #d0d7de;border-radius:10px;padding:12px;margin:14px 0}
svg{display:block;width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#1f2328}
.keys{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:8px}
.keys div{background:#f6f8fa;border-radius:8px;padding:8px}.keys b{display:block;font-size:1.3rem}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.8rem;margin-top:6px}
.sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:4px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{padding:3px 6px;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal;min-width:9rem}
.hidden{color:#8c959f}ul{padding-left:1.1rem;margin:.3rem 0}
"""


def to_html(trends: Trends) -> str:
    """A self-contained HTML report with inline SVG charts (``--html FILE`` and ``/hr``)."""
    weeks = trends.weeks
    first, last = weeks[0], weeks[-1]
    body = [
        f"<h1>Question trends</h1><p class=note>ISO weeks {first} to {last} "
        f"({len(weeks)} weeks). A figure resting on fewer than {trends.k} people is hidden "
        "(shown as –), and so are a few more where the hidden one could otherwise be worked "
        "out by subtraction.</p>",
        _card("Last week", _key_numbers(trends)),
        _card("Questions per week by section", _by_section_chart(trends)),
        _card("Top clauses", _top_clauses_chart(trends)),
        _card("Declines and gaps", _declines_chart(trends) + _themes_block(trends)),
        _card("Rising and falling", _moves(trends)),
        _card("Was the answer helpful?", _feedback_table(trends)),
        _card("All the figures", _figure_tables(trends)),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><title>PolicyBot question trends</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def _card(title: str, inner: str) -> str:
    return f"<section class=card><h2>{escape(title)}</h2>{inner}</section>"


def _key(table: str, figure: Figure) -> str:
    return escape(f"{table}|{figure.topic.key}|{figure.column or ''}")


def _number(figure: Figure, table: str = "questions") -> str:
    """A figure in HTML: its number in a <data> element, or a dash when suppressed."""
    if figure.count is None:
        return f'<span class=hidden data-key="{_key(table, figure)}" title="hidden">–</span>'
    return f'<data value="{figure.count}" data-key="{_key(table, figure)}">{figure.count:,}</data>'


def _key_numbers(trends: Trends) -> str:
    week = trends.weeks[-1]
    total, answered, declined = (trends.question(k, week) for k in ("all", "answered", "declined"))
    rate = "–"
    if total.count and declined.count is not None:
        rate = f"{declined.count / total.count:.0%}"
    cells = [
        ("Questions", _number(total)),
        ("Answered", _number(answered)),
        ("Not covered", _number(declined)),
        ("Decline rate", rate),
    ]
    tiles = "".join(f"<div>{label}<b>{value}</b></div>" for label, value in cells)
    return f"<p class=note>{escape(week)}</p><div class=keys>{tiles}</div>"


def _sections(trends: Trends) -> list[Topic]:
    return [t for t in trends.topics if t.level == "section"]


def _bar(x: float, y: float, w: float, h: float, colour: str, key: str, count: int) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}" '
        f'data-key="{key}" data-count="{count}"><title>{count:,}</title></rect>'
    )


def _axis(width: int, top: int, bottom: int, peak: int) -> str:
    ticks = []
    for step in (peak, peak // 2):
        y = bottom - (bottom - top) * step / peak
        ticks.append(
            f'<line x1="34" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<text x="30" y="{y + 4:.1f}" text-anchor="end">{step:,}</text>'
        )
    return (
        "".join(ticks)
        + f'<line x1="34" x2="{width}" y1="{bottom}" y2="{bottom}" stroke="#8c959f"/>'
    )


def _by_section_chart(trends: Trends) -> str:
    weeks, sections = trends.weeks, _sections(trends)
    colours = {t.key: PALETTE[i % len(PALETTE)] for i, t in enumerate(sections)}
    colours["declined"] = DECLINED_COLOUR
    stacked = [*sections, trends.question("declined").topic]
    heights = []
    for week in weeks:
        parts = sum(trends.question(t.key, week).count or 0 for t in stacked)
        heights.append(max(trends.question("all", week).count or 0, parts))
    peak = max(max(heights, default=0), 1)
    width, top, bottom = 360, 8, 170
    slot = (width - 40) / len(weeks)
    shapes = [_axis(width, top, bottom, peak)]
    for i, week in enumerate(weeks):
        x, y = 38 + i * slot, float(bottom)
        for topic in stacked:
            figure = trends.question(topic.key, week)
            if figure.count:
                h = (bottom - top) * figure.count / peak
                y -= h
                shapes.append(
                    _bar(
                        x,
                        y,
                        slot * 0.8,
                        h,
                        colours[topic.key],
                        _key("questions", figure),
                        figure.count,
                    )
                )
        outline = trends.question("all", week)
        if outline.count:
            h = (bottom - top) * outline.count / peak
            shapes.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{slot * 0.8:.1f}" '
                f'height="{h:.1f}" fill="none" stroke="#57606a" stroke-width=".6" '
                f'data-key="{_key("questions", outline)}" data-count="{outline.count}">'
                f"<title>{escape(week)}: {outline.count:,}</title></rect>"
            )
        step = max(1, len(weeks) // 6)
        if i % step == 0 and (i + step // 2 < len(weeks) or i == 0):
            shapes.append(f'<text x="{x:.1f}" y="{bottom + 16}">{escape(week[5:])}</text>')
    legend = "".join(
        f'<span><i class=sw style="background:{colours[t.key]}"></i>{escape(t.label)}</span>'
        for t in stacked
    )
    return (
        f'<svg viewBox="0 0 {width} {bottom + 24}" role="img" aria-label="Questions per week by '
        f'section">{"".join(shapes)}</svg><div class=legend>{legend}</div>'
        "<p class=note>Outlines show each week's total; the unfilled part is questions in "
        "figures hidden to protect small groups.</p>"
    )


def _hbars(items: Sequence[tuple[str, str, int, str]], colour: str) -> str:
    """Horizontal bars with their label above: (label, data-key, count, note)."""
    if not items:
        return "<p class=note>Nothing to show that would not single out a small group.</p>"
    peak = max(count for _, _, count, _ in items) or 1
    rows = []
    for i, (label, key, count, note) in enumerate(items):
        y = i * 40
        text = escape(label if len(label) <= 44 else label[:42] + "…")
        rows.append(
            f'<text x="0" y="{y + 12}">{text}<tspan fill="#57606a"> {escape(note)}</tspan></text>'
            + _bar(0, y + 17, 300 * count / peak, 14, colour, key, count)
            + f'<text x="{300 * count / peak + 4:.1f}" y="{y + 28}">{count:,}</text>'
        )
    return f'<svg viewBox="0 0 360 {len(items) * 40}" role="img">{"".join(rows)}</svg>'


def _top_clauses_chart(trends: Trends) -> str:
    figures = [
        trends.question(t.key)
        for t in trends.topics
        if t.level == "clause" and trends.question(t.key).count
    ]
    figures.sort(key=lambda f: (-(f.count or 0), f.topic.key))
    items = [
        (
            f.topic.clause_text or f.topic.label,
            _key("questions", f),
            f.count or 0,
            f"({f.topic.section})",
        )
        for f in figures[:10]
    ]
    return (
        _hbars(items, PALETTE[0])
        + "<p class=note>Questions answered by each clause over the weeks shown.</p>"
    )


def _declines_chart(trends: Trends) -> str:
    weeks = trends.weeks
    figures = [trends.question("declined", w) for w in weeks]
    peak = max([f.count or 0 for f in figures] + [1])
    width, top, bottom = 360, 8, 100
    slot = (width - 40) / len(weeks)
    shapes = [_axis(width, top, bottom, peak)]
    for i, figure in enumerate(figures):
        if figure.count:
            h = (bottom - top) * figure.count / peak
            shapes.append(
                _bar(
                    38 + i * slot,
                    bottom - h,
                    slot * 0.8,
                    h,
                    DECLINED_COLOUR,
                    _key("questions", figure),
                    figure.count,
                )
            )
    return (
        f'<p class=note>Questions no policy covers, per week.</p><svg viewBox="0 0 {width} '
        f'{bottom + 8}" role="img" aria-label="Declined questions per week">{"".join(shapes)}</svg>'
    )


def _themes_block(trends: Trends) -> str:
    items = [
        (" · ".join(t.terms), f"theme|{n}", t.questions, "") for n, t in enumerate(trends.themes)
    ]
    examples = "".join(
        f"<li>{escape(' · '.join(t.terms))}: "
        + "; ".join(f"“{escape(e)}”" for e in t.examples)
        + "</li>"
        for t in trends.themes
        if t.examples
    )
    return (
        f"<p class=note>Gaps: words the declined questions share (each from at least "
        f"{THEME_MIN_ASKERS} people).</p>"
        + _hbars(items, THEME_COLOUR)
        + (f"<ul class=note>{examples}</ul>" if examples else "")
    )


def _moves(trends: Trends) -> str:
    if len(trends.weeks) < 2:
        return "<p class=note>Needs two weeks.</p>"
    parts = []
    for title, changes in (("Rising", trends.rising), ("Falling", trends.falling)):
        items = "".join(
            f"<li>{escape(_short(c.topic))} <span class=note>({escape(c.topic.level)})</span>: "
            f"{c.previous:,} → {c.latest:,}</li>"
            for c in changes
        )
        parts.append(f"<p><b>{title}</b></p><ul>{items or '<li class=note>none visible</li>'}</ul>")
    return f"<p class=note>{trends.weeks[-2]} to {trends.weeks[-1]}</p>" + "".join(parts)


def _short(topic: Topic) -> str:
    text = topic.clause_text or topic.label
    return text if len(text) <= 80 else text[:78] + "…"


def _feedback_table(trends: Trends) -> str:
    rows = [t for t in trends.topics if t.level in ("all", "answered", "section", "declined")]
    head = "<tr><th></th><th>helpful</th><th>not helpful</th><th>rated</th></tr>"
    body = "".join(
        f"<tr><td>{escape(t.label)}</td>"
        + "".join(
            f"<td>{_number(trends.feedback[t.key, c], 'feedback')}</td>"
            for c in (*FEEDBACK_COLUMNS, None)
        )
        + "</tr>"
        for t in rows
    )
    return f"<div class=scroll><table>{head}{body}</table></div>"


def _figure_tables(trends: Trends) -> str:
    rows = [
        t for t in trends.topics if t.level in ("all", "answered", "policy", "section", "declined")
    ]
    columns: list[str | None] = [*trends.weeks, None]
    head = (
        "<tr><th></th>"
        + "".join(f"<th>{escape(c[5:] if c else 'all')}</th>" for c in columns)
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{escape(t.label)}</td>"
        + "".join(f"<td>{_number(trends.question(t.key, c))}</td>" for c in columns)
        + "</tr>"
        for t in rows
    )
    clauses = [t for t in trends.topics if t.level == "clause"]
    clause_rows = "".join(
        f"<tr><td>{escape(t.clause or '')} <span class=note>{escape(t.section or '')}</span></td>"
        f"<td>{_number(trends.question(t.key))}</td>"
        + "".join(
            f"<td>{_number(trends.feedback[t.key, c], 'feedback')}</td>" for c in FEEDBACK_COLUMNS
        )
        + "</tr>"
        for t in clauses
    )
    return (
        f"<div class=scroll><table>{head}{body}</table></div>"
        "<p class=note>Clauses, over all the weeks shown:</p><div class=scroll><table><tr><th>"
        "clause</th><th>answered</th><th>helpful</th><th>not helpful</th></tr>"
        f"{clause_rows}</table></div>"
    )


# Audit --------------------------------------------------------------------------------------
