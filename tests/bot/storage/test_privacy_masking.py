"""bot.privacy: question masking and keyed pseudonyms, without a database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.privacy import MASK, mask_question, pseudonym

PII_FILE = Path(__file__).with_name("pii_questions.jsonl")
KNOWN = frozenset("can i text mum on year 9 my email is it call me in a pupil the will may".split())


def pii_cases() -> list[tuple[str, list[str]]]:
    """(question, PII strings it contains) from the labelled set."""
    lines = PII_FILE.read_text(encoding="utf-8").splitlines()
    return [(row["q"], row["pii"]) for row in map(json.loads, lines)]


def survives(pii: str, text: str) -> bool:
    """True if ``pii`` appears in ``text`` as a whole token (case-insensitive)."""
    return re.search(rf"(?<!\w){re.escape(pii)}(?!\w)", text, re.IGNORECASE) is not None


def test_the_brief_example() -> None:
    masked = mask_question("can I text Jayden's mum on 07700 900123?", KNOWN.__contains__)
    assert masked == "can I text [..] mum on [..]"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("My email is jo.smith@school.org.uk", "My email is [..]"),
        ("call me on +44 (0)20 7946 0958", "call me on [..]"),
        ("call me on 0161-496-0000 or 07700900123", "call me on [..]"),
        ("is it in year 9?", "is it in year 9"),  # small numbers the knowledge knows stay
        ("year 14 or year 2011", "year [..] year [..]"),  # ... unknown or large ones do not
        ("a pupil in 7B", "a pupil in [..]"),
        ("can I text @jsmith", "can I text [..]"),
        ("see www.example.com or https://x.io/a?b=1", "[..]"),
        ("email bbc.co.uk", "email [..]"),
        ("a pupil born 12/03/2011", "a pupil [..]"),
        ("can I text Will's mum", "can I text [..] mum"),  # a name that is also a word
        ("Will I call mum?", "Will I call mum"),  # ... but the word starting a sentence stays
        ("in May a pupil. May I call?", "in [..] a pupil May I call"),
        ("Can’t I call? I'm the mum", "Can’t I call I'm the mum"),
        ("Zoë Łukasiewicz is a pupil", "[..] is a pupil"),
        ("", ""),
        ("?!", ""),
    ],
)
def test_masking(question: str, expected: str) -> None:
    assert mask_question(question, KNOWN.__contains__) == expected


def test_adjacent_masks_merge_so_name_length_does_not_show() -> None:
    one = mask_question("text Jo", KNOWN.__contains__)
    three = mask_question("text Jo Anne Smith-Jones", KNOWN.__contains__)
    assert one == three == "text [..]"


def test_digits_and_at_are_masked_even_if_known() -> None:
    def everything(_: str) -> bool:
        return True

    masked = mask_question("room B12 jo@x.org 123 x_y #tag 45", everything)
    assert masked == "room [..] 45"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # Surnames that happen to be (or stem to) known words: after a title or a name.
        ("can Ms Fairbairn-Lowe share her screen", "can [..] share her screen"),
        ("ask Mr. Lowe about it", "ask [..] about it"),
        ("Evie Mcdonald's birthday is today", "[..] birthday is today"),
        # ... but not across punctuation, nor for a lower-case known word.
        ("tell Jayden, Instagram is blocked", "tell [..] Instagram is blocked"),
        ("Jayden on Instagram", "[..] on Instagram"),
        ("Jayden lowe", "[..] lowe"),
    ],
)
def test_a_capitalised_word_after_a_title_or_name_is_a_surname(
    question: str, expected: str
) -> None:
    known = {"can", "share", "her", "screen", "ask", "lowe", "about", "it", "mcdonald", "birthday"}
    known |= {"is", "today", "tell", "instagram", "blocked", "on"}
    assert mask_question(question, known.__contains__) == expected


@pytest.mark.parametrize(("question", "pii"), pii_cases(), ids=lambda v: str(v)[:30])
def test_labelled_pii_never_survives_masking(
    question: str, pii: list[str], is_known: Callable[[str], bool]
) -> None:
    masked = mask_question(question, is_known)
    leaked = [item for item in pii if survives(item, masked)]
    assert not leaked, f"{leaked} survived in {masked!r}"


def test_labelled_set_is_big_enough_and_varied() -> None:
    cases = pii_cases()
    assert len(cases) >= 40
    every = [item for _, items in cases for item in items]
    assert any("@" in item and "." in item for item in every)  # e-mail addresses
    assert sum(bool(re.fullmatch(r"[\d +()-]{10,}", item)) for item in every) >= 5  # phones
    assert any(re.fullmatch(r"[A-Z]{1,2}\d{1,2}[A-Z]? \d[A-Z]{2}", item) for item in every)
    assert any(re.fullmatch(r"\d{1,2}[A-Z]", item) for item in every)  # class names


@given(st.text(max_size=80))
def test_every_kept_token_is_known(text: str) -> None:
    """Whatever is typed, each output token is a mask, a known word or a small known number."""
    known = {"can", "i", "mum", "9", "10"}
    masked = mask_question(text, known.__contains__)
    for token in masked.split():
        folded = token.casefold().replace("’", "'")
        base = folded[:-2] if folded.endswith("'s") else folded
        assert token == MASK or folded in known or base in known or "'" in folded, token
        assert token == MASK or not re.search(r"[@_#]|\d{3}", token)


def test_pseudonym_is_keyed_stable_and_yearly() -> None:
    first = pseudonym("secret", "slack", "T1", "U123", 2026)
    assert first == pseudonym(SecretStr("secret"), "slack", "T1", "U123", 2026)
    assert first == pseudonym(b"secret", "slack", "T1", "U123", 2026)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert "U123" not in first
    assert first != pseudonym("secret", "slack", "T1", "U123", 2027)  # rotated yearly
    assert first != pseudonym("other", "slack", "T1", "U123", 2026)  # keyed
    assert first != pseudonym("secret", "teams", "T1", "U123", 2026)
    assert first != pseudonym("secret", "slack", "T2", "U123", 2026)
    # Fields cannot run into each other.
    assert pseudonym("s", "slack", "T1", "U2", 2026) != pseudonym("s", "slack", "T", "1U2", 2026)
    assert pseudonym("s", "cli", None, "me", 2026) == pseudonym("s", "cli", "", "me", 2026)
