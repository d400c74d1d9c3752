"""Adaptive Card rendering and the reading of Teams payloads (plain dicts, no SDK)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters import teams_cards as cards
from bot.chat import Citation, Reply
from bot.knowledge import Obligation


def citation(clause_id: str = "social-media-1", text: str = "Staff **must not** do X.") -> Citation:
    return Citation(
        id=clause_id,
        policy="staff-aup",
        policy_title="Staff Acceptable Use Policy",
        version="July 2018",
        section="Social Media",
        text=text,
        obligation=Obligation.PROHIBITED,
        score=5.0,
    )


def answered(**changes: Any) -> Reply:
    reply = Reply(
        question="can I friend a parent?",
        answered=True,
        text="Not allowed.\n...",
        obligation="Not allowed.",
        answer=citation(),
        related=(citation("social-media-2", "Staff must decline friend requests from pupils."),),
        clauses=(citation(),),
        contact="the Headteacher",
        log_id=42,
    )
    return reply.model_copy(update=changes)


def texts(card: dict[str, Any]) -> list[str]:
    """Every piece of text the card shows, in order (TextBlocks and TextRuns)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                found.append(node["text"])
            for key in ("body", "items", "inlines"):
                for child in node.get(key, []):
                    walk(child)

    walk(card)
    return found


def markdown_fields(card: dict[str, Any]) -> list[str]:
    """The texts Teams reads as markdown: TextBlocks only."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            for key in ("body", "items"):
                for child in node.get(key, []):
                    walk(child)

    walk(card)
    return found


def test_an_answer_shows_obligation_clause_citation_related_and_feedback() -> None:
    card = cards.answer_card(answered())
    shown = texts(card)
    assert shown[0] == "Not allowed."
    assert "".join(shown[1:4]) == "Staff must not do X."  # the clause, emphasis as runs
    assert "Staff Acceptable Use Policy, version July 2018, Social Media" in shown
    titles = [a["title"] for a in card["actions"]]
    assert titles[0].startswith("Social Media: Staff must decline")
    assert titles[1:] == ["Helpful", "Not helpful"]
    datas = [a["data"] for a in card["actions"]]
    assert datas[0] == {"policybot": "related", "clause": "social-media-2"}
    assert datas[1] == {"policybot": "feedback", "log": 42, "helpful": True}
    assert datas[2] == {"policybot": "feedback", "log": 42, "helpful": False}
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    json.dumps(card)  # plain JSON, ready for an attachment


def test_clause_emphasis_becomes_bold_runs_not_markdown() -> None:
    quoted = cards.answer_card(answered())["body"][1]
    runs = quoted["items"][0]["inlines"]
    assert runs == [
        {"type": "TextRun", "text": "Staff "},
        {"type": "TextRun", "text": "must not", "weight": "Bolder"},
        {"type": "TextRun", "text": " do X."},
    ]


def test_a_decline_names_the_contact_and_offers_feedback_only() -> None:
    reply = Reply(
        question="canteen menu?",
        answered=False,
        text="The policy doesn't cover this. Please ask the Headteacher.",
        contact="the Headteacher",
        log_id=7,
    )
    card = cards.answer_card(reply)
    assert texts(card) == ["The policy doesn't cover this. Please ask the Headteacher."]
    assert [a["title"] for a in card["actions"]] == ["Helpful", "Not helpful"]


def test_no_feedback_buttons_without_a_log_id() -> None:
    card = cards.answer_card(answered(log_id=None, related=()))
    assert "actions" not in card


@pytest.mark.parametrize(
    "question",
    [
        "**bold** _italic_ [link](https://evil.example) <at>Everyone</at>",
        "1. numbered\n- bullet\n# heading > quote `code`",
        "<script>alert(1)</script> &amp; {{DATE(2017-02-14T06:08:00Z)}}",
    ],
)
def test_user_text_is_only_ever_plain_text(question: str) -> None:
    card = cards.answer_card(answered(), question=question)
    assert "".join(texts(card)).startswith("You asked: ")
    assert any(question in t for t in texts(card) if t.startswith("You asked:"))
    # The question appears only in TextRuns (never read as markdown)...
    assert not any(question in t for t in markdown_fields(card))
    # ...and nothing we send as markdown holds anything user-supplied.
    for text in markdown_fields(card):
        assert "<at>" not in text and "](" not in text


def test_clause_text_with_markup_is_shown_literally() -> None:
    text = "Use a personal_email only for [school](http://x.example) and <at>all</at> notes."
    card = cards.answer_card(answered(answer=citation(text=text)))
    assert text in texts(card)
    assert not any(text in t for t in markdown_fields(card))


def test_long_text_is_cut_with_an_ellipsis() -> None:
    card = cards.answer_card(answered(answer=citation(text="word " * 2000)))
    [run] = card["body"][1]["items"][0]["inlines"]
    assert len(run["text"]) <= cards.MAX_CLAUSE_CHARS and run["text"].endswith("…")


def test_help_card_has_the_core_help_and_example_buttons() -> None:
    card = cards.help_card("I answer.\nTry:\n• one", ["can I x?", "may I y?"], welcome=True)
    assert texts(card)[:4] == [cards.WELCOME, "I answer.", "Try:", "• one"]
    assert [a["data"] for a in card["actions"]] == [
        {"policybot": "ask", "question": "can I x?"},
        {"policybot": "ask", "question": "may I y?"},
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"policybot": "feedback", "log": 3, "helpful": True}, cards.Feedback(3, True)),
        ({"policybot": "feedback", "log": 3, "helpful": False}, cards.Feedback(3, False)),
        ({"policybot": "related", "clause": "a-1"}, cards.ShowClause("a-1")),
        ({"policybot": "ask", "question": "may I?"}, cards.Ask("may I?")),
        ({"policybot": "feedback", "log": "3", "helpful": True}, None),
        ({"policybot": "feedback", "log": True, "helpful": True}, None),
        ({"policybot": "feedback", "log": 3, "helpful": "yes"}, None),
        ({"policybot": "related", "clause": ["a"]}, None),
        ({"policybot": "related", "clause": "x" * 500}, None),
        ({"policybot": "ask", "question": "   "}, None),
        ({"policybot": "launch"}, None),
        ({"other": "card"}, None),
        ([1, 2], None),
        ("text", None),
        (None, None),
    ],
)
def test_parse_action_accepts_only_our_payloads(value: object, expected: object) -> None:
    assert cards.parse_action(value) == expected


def test_to_question_removes_only_the_bots_mention() -> None:
    entities = [
        {"type": "mention", "text": "<at>PolicyBot</at>", "mentioned": {"id": "28:bot"}},
        {"type": "mention", "text": "<at>Jo Bloggs</at>", "mentioned": {"id": "29:jo"}},
        {"type": "clientInfo", "locale": "en-GB"},
    ]
    text = "<at>PolicyBot</at> can <at>Jo Bloggs</at> ask PolicyBot about R&amp;D?"
    assert cards.to_question(text, entities, "28:bot") == "can Jo Bloggs ask PolicyBot about R&D?"


@pytest.mark.parametrize(
    "entities",
    [
        [{"type": "mention"}],
        [{"type": "mention", "mentioned": "28:bot", "text": 5}],
        [{"type": "mention", "mentioned": {"id": "28:bot"}, "text": ""}],
        [{"mentioned": {"id": "28:bot"}, "text": "<at>PolicyBot</at>"}],
    ],
)
def test_to_question_survives_malformed_entities(entities: list[dict[str, Any]]) -> None:
    assert cards.to_question("<at>PolicyBot</at> hello", entities, "28:bot") == "PolicyBot hello"


@pytest.mark.parametrize("text", ["help", " Help! ", "/help", "hi", "HELLO."])
def test_help_words(text: str) -> None:
    assert cards.is_help(text)


def test_a_question_is_not_help() -> None:
    assert not cards.is_help("help me choose a password")


def test_is_activity_needs_the_fields_a_reply_needs() -> None:
    good = {
        "type": "message",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "conversation": {"id": "a:1"},
        "recipient": {"id": "28:bot"},
    }
    assert cards.is_activity(good)
    for key in good:
        assert not cards.is_activity({k: v for k, v in good.items() if k != key}), key
    assert not cards.is_activity({**good, "serviceUrl": "file:///etc/passwd"})
    assert not cards.is_activity({**good, "conversation": {"id": 5}})
    assert not cards.is_activity({**good, "type": ""})
    assert not cards.is_activity([good])
