"""The trends report: JSON names what each figure counts, CSV matches it, and the HTML page
is self-contained, fits a phone and shows its charts in a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from bot.trends import TrendRow, Trends, analyse
from bot.trends_audit import audit
from bot.trends_report import to_csv, to_html, to_json
from tests.bot.test_trends_properties import POLICIES, WEEKS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def busy_rows() -> list[TrendRow]:
    """Plenty of askers on most clauses, a few small groups, declines sharing words."""
    rows = []
    clauses = [("aup", "Social Media", "sm-1"), ("aup", "Social Media", "sm-2")]
    clauses += [("aup", "Phones", "ph-1"), ("data", "Records", "rec-1")]
    for w, week in enumerate(WEEKS[2:]):  # one ISO year
        for c, (policy, section, clause) in enumerate(clauses):
            for n in range(6 + 3 * c + 4 * w):
                helpful = None if n % 3 else n % 2 == 0
                rows.append(TrendRow(week, policy, section, clause, True, helpful, "x", n))
        rows += [
            TrendRow(week, "aup", "Social Media", "sm-3", True, None, "x", n) for n in range(2)
        ]
        rows += [
            TrendRow(week, None, None, None, False, None, "can I take [..] maternity leave", m)
            for m in range(100 + 10 * w, 107 + 10 * w)
        ]
    return rows


@pytest.fixture(scope="module")
def trends() -> Trends:
    return analyse(busy_rows(), POLICIES, WEEKS)


def test_json_figures_name_what_they_count(trends: Trends) -> None:
    document = to_json(trends)
    assert document["k"] == 5 and document["weeks"] == list(WEEKS)
    clause = next(
        f
        for f in document["figures"]
        if f["row"] == "clause" and f["clause"] == "ph-1" and f["week"] == WEEKS[3]
    )
    assert clause == {
        "table": "questions",
        "row": "clause",
        "policy": "aup",
        "policy_title": "Policy aup",
        "section": "Phones",
        "clause": "ph-1",
        "clause_text": "Staff must follow rule ph-1 here.",
        "week": WEEKS[3],
        "count": 16,
    }
    hidden = [f for f in document["figures"] if f.get("suppressed")]
    assert hidden and all("count" not in f and f["suppressed"] is True for f in hidden)
    feedback = [f for f in document["figures"] if f["table"] == "feedback"]
    assert {f["feedback"] for f in feedback} == {"helpful", "not_helpful", "rated"}
    assert document["themes"][0]["terms"][0] == "maternity"
    assert document["themes"][0]["questions"] == 14
    json.dumps(document)  # serialisable as it stands


def test_csv_has_one_line_per_figure(trends: Trends) -> None:
    lines = list(csv.DictReader(io.StringIO(to_csv(trends))))
    figures = to_json(trends)["figures"]
    assert len(lines) == len(figures)
    hidden = [line for line in lines if line["suppressed"] == "true"]
    assert hidden and all(line["count"] == "" for line in hidden)
    first = lines[0]
    assert (first["table"], first["row"], first["week"]) == ("questions", "all", WEEKS[0])


def test_the_report_passes_its_own_audit(trends: Trends) -> None:
    assert audit(to_json(trends), busy_rows(), 5) == []


def test_the_audit_catches_a_leak(trends: Trends) -> None:
    document = to_json(trends)
    leaked = next(f for f in document["figures"] if f.get("suppressed"))
    del leaked["suppressed"]
    leaked["count"] = 2
    problems = audit(document, busy_rows(), 5)
    assert any("rests on" in p or "shows" in p for p in problems)
    document = to_json(trends)
    document["themes"][0]["questions"] += 1
    assert any("theme" in p for p in audit(document, busy_rows(), 5))


def test_html_is_self_contained_and_fits_a_phone(trends: Trends) -> None:
    html = to_html(trends)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 4  # by section, top clauses, declines, gaps
    for title in ("Questions per week by section", "Top clauses", "Declines and gaps"):
        assert title in html


def test_html_escapes_what_it_quotes() -> None:
    rows = [TrendRow(WEEKS[3], "aup", "Phones", "ph-1", True, None, "x", n) for n in range(6)] + [
        TrendRow(WEEKS[3], None, None, None, False, None, "<script>alert(1)</script> leave", n)
        for n in range(12)
    ]
    html = to_html(analyse(rows, POLICIES, WEEKS))
    assert "<script>" not in html


# A real browser ---------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        if kind == 1:
            for i in range(step, stride):
                line[i] = (line[i] + line[i - step]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - step] if i >= step else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - step] if i >= step else 0
                b, c = previous[i], previous[i - step] if i >= step else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + predictor) & 255
        rows.append(
            bytes(line[j] for j in range(stride) if j % step < 3) if step == 4 else bytes(line)
        )
        previous = line
    return width, height, rows


def coloured_rows(rows: list[bytes]) -> list[int]:
    """How many clearly coloured (saturated) pixels each screen row holds: chart marks, not
    text, which is black or grey."""
    counts = []
    for row in rows:
        n = 0
        for x in range(0, len(row), 3):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if max(r, g, b) - min(r, g, b) > 60:
                n += 1
        counts.append(n)
    return counts


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_shows_its_charts_in_headless_chromium(trends: Trends, tmp_path: Path) -> None:
    page = tmp_path / "trends.html"
    page.write_text(to_html(trends), encoding="utf-8")
    shot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=390,1600",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    width, height, rows = decode_png(shot.read_bytes())
    assert (width, height) == (390, 1600)
    per_row = coloured_rows(rows)
    assert sum(per_row) > 0.04 * width * height  # charts, not just text
    # Three separate bands of colour down the page: the charts, one under another.
    bands, inside = 0, False
    for count in per_row:
        if count > 20 and not inside:
            bands, inside = bands + 1, True
        elif count == 0:
            inside = False
    assert bands >= 3
    # Nothing is wider than the phone: no coloured pixel hugs the right edge.
    assert all(row[-3 * 4 :] == row[-3:] * 4 for row in rows[::50])
