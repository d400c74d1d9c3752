"""Policy metadata read from a document's own words: dates, version, contact.

Ingestion uses these to fill in a policy's version, effective date and the person or team
to ask, and to recognise lines that are only a date or a version (not clauses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

_EMPHASIS = re.compile(r"[*_`]+")

_MONTH_NAMES = (
    "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august|"
    "sep sept september|oct october|nov november|dec december"
)
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES.split("|"), 1) for name in names.split()}
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_FORMS = tuple(
    re.compile(form, re.IGNORECASE)
    for form in (
        rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<year>(?:19|20)\d\d)",
        rf"{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)",
        rf"{_MONTH},?\s+(?P<year>(?:19|20)\d\d)",
        r"(?P<year>(?:19|20)\d\d)-(?P<mm>\d\d)-(?P<day>\d\d)",
        r"(?P<day>\d{1,2})[/.](?P<mm>\d{1,2})[/.](?P<year>(?:19|20)\d\d)",
    )
)
DATED = re.compile(
    r"^(?:last\s+)?(?:updated|revised|reviewed|issued|published|approved|dated?|"
    r"effective(?:\s+from|\s+date)?)\b\s*(?:on|from)?\s*:?\s*",
    re.IGNORECASE,
)
VERSION_LINE = re.compile(
    r"^(?:version|issue|revision)\s*(?:no\.?|number)?\s*:?\s*v?\d+(?:\.\d+)*$", re.IGNORECASE
)
_VERSION_NUMBER = re.compile(
    r"\bversion\s*(?:no\.?|number)?\s*:?\s*v?(\d+(?:\.\d+)*)\b", re.IGNORECASE
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HELP = re.compile(
    r"\b(?:ask|help|advice|contact|get in touch|report(?:ed)?|reach out|refer|enquir\w*|"
    r"questions?|speak to|talk to)\b",
    re.IGNORECASE,
)
_TEAM = re.compile(
    r"\b(?:the|your)\s+(?:[\w&/-]+\s+){0,3}?(?:team|service desk|line manager|manager|"
    r"head ?teacher|department|officer|hr|human resources)"
    r"(?=\s+(?:for|in|or|and|first|if|at|on|who|before)\b|\s*[.,;:)]|$)",
    re.IGNORECASE,
)


def parse_date(text: str) -> tuple[str, date] | None:
    """The first date written in ``text`` and its value: ``("July 2018", date(2018, 7, 1))``."""
    found: list[tuple[int, str, date]] = []
    for form in _DATE_FORMS:
        for match in form.finditer(text):
            parts = match.groupdict()
            month = _MONTHS[parts["month"].casefold()] if parts.get("month") else int(parts["mm"])
            try:
                value = date(int(parts["year"]), month, int(parts.get("day") or 1))
            except ValueError:
                continue
            found.append((match.start(), match.group(0), value))
            break
    if not found:
        return None
    _, words, value = min(found, key=lambda f: (f[0], -len(f[1])))
    return words, value


def is_bare_date(line: str) -> bool:
    """True for a line that is only a date ("July 2018", "Date: 3 May 2023")."""
    text = re.sub(r"^date\s*:?\s*", "", line.strip(" .,*_"), flags=re.IGNORECASE)
    found = parse_date(text)
    return found is not None and found[0] == text


def find_version(source: str, *, top_lines: int = 12) -> tuple[str | None, date | None]:
    """The version near the top ("Version 2.1", "Last updated 3 May 2023", "July 2018")."""
    lines = [plain_line(line) for line in source.splitlines() if line.strip()][:top_lines]
    version: str | None = None
    effective: date | None = None
    for line in lines:
        number = _VERSION_NUMBER.search(line)
        rest = DATED.sub("", line)
        dated = parse_date(rest) if DATED.match(line) or is_bare_date(line) else None
        if dated and not rest.startswith(dated[0]):
            dated = None  # "Reviewed annually; next review July 2019" is no version
        if version is None and number:
            version = number.group(1)
        elif version is None and dated:
            version = dated[0]
        if effective is None and dated:
            effective = dated[1]
    return version, effective


def find_contact(texts: Sequence[str], help_texts: Sequence[str] = ()) -> str | None:
    """The e-mail address, else the named team, in sentences about getting help.

    A sentence counts when it speaks of help ("ask", "seek advice", "contact", "report it
    to", ...) or comes from ``help_texts`` (a "Contacts" section); sentences saying an
    address is "no longer" used do not.
    """
    sentences = [
        s
        for text in texts
        for s in re.split(r"(?<=[.!?])\s+", text)
        if (_HELP.search(s) or text in help_texts)
        and not re.search(r"\bno longer\b", s, re.IGNORECASE)
    ]
    for sentence in sentences:
        if email := _EMAIL.search(sentence):
            return email.group(0).rstrip(".")
    for sentence in sentences:
        if team := _TEAM.search(sentence):
            return " ".join(team.group(0).split())
    return None


def plain_line(text: str) -> str:
    """A line without markdown emphasis marks, its white space collapsed."""
    return " ".join(_EMPHASIS.sub("", text).split())
