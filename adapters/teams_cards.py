"""Teams JSON both ways: Adaptive Cards out (plain dicts); activities, mentions and card
button payloads in. No SDK types here: ``adapters/teams.py`` hands over plain values.

Writing: every string that is not a fixed label of ours (the quoted clause, citations,
contacts, the person's own question) goes into a ``RichTextBlock`` of ``TextRun``s, which
Adaptive Cards never read as markdown; a ``TextBlock`` has no plain-text mode, so it only
ever holds our own constant labels. A clause's ``**emphasis**`` becomes bold runs rather
than markdown, so ``_``, ``*``, ``[x](y)``, ``<at>`` or a leading ``1.`` in a clause or a
question are shown as typed and never render, link or mention anyone.

Reading: ``is_activity`` checks a request body before the SDK sees it; ``to_question``
removes PolicyBot's ``<at>`` mention from a message. Buttons are ``Action.Submit`` with a
``data`` object tagged ``"policybot"``, which Teams sends back as the message's ``value``;
``parse_action`` turns that untrusted object into one of the small values below, or None.

Cards use schema 1.4: every Teams client renders it (1.5 is refused by older clients).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.chat import Citation, Reply

Card = dict[str, Any]
Element = dict[str, Any]

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
ACTION_KEY = "policybot"

# Teams refuses messages over about 28 KB; these keep a card well inside that.
MAX_CLAUSE_CHARS = 3000
MAX_LINE_CHARS = 1000
MAX_QUESTION_ECHO = 300
MAX_BUTTON_TITLE = 40
MAX_EXAMPLES = 4

THANKS_HELPFUL = "Thanks, glad it helped."
THANKS_UNHELPFUL = "Thanks for telling me; I'll use it to improve."
WELCOME = "Hello, I'm PolicyBot."

HELP_WORDS = frozenset({"help", "/help", "?", "hi", "hello", "start"})

_EMPHASIS = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_AT_TAG = re.compile(r"</?at[^>]*>", re.IGNORECASE)


# -- reading --------------------------------------------------------------------------------


def is_activity(data: object) -> bool:
    """True for a JSON value shaped like a Bot Framework activity PolicyBot can answer.

    It needs a ``type``, a ``channelId``, an http(s) ``serviceUrl`` (where replies go) and
    ``conversation`` and ``recipient`` objects with ids.
    """

    def has_id(key: str) -> bool:
        part = data.get(key) if isinstance(data, dict) else None
        return isinstance(part, dict) and isinstance(part.get("id"), str) and bool(part["id"])

    if not isinstance(data, dict) or not isinstance(data.get("type"), str) or not data["type"]:
        return False
    url = data.get("serviceUrl")
    web_url = isinstance(url, str) and url.startswith(("https://", "http://"))
    channel = isinstance(data.get("channelId"), str)
    return web_url and channel and has_id("conversation") and has_id("recipient")


def to_question(text: str | None, entities: Sequence[Mapping[str, Any]], bot_id: str | None) -> str:
    """A message's text without PolicyBot's @mention; other mentions keep their names.

    ``entities`` are the activity's entities as JSON objects; a ``mention`` of ``bot_id``
    names the exact ``<at>…</at>`` text to remove. Total over malformed entities.

    >>> bot = {"type": "mention", "text": "<at>Bot</at>", "mentioned": {"id": "28:b"}}
    >>> to_question("<at>Bot</at> can <at>Jo</at> see it?", [bot], "28:b")
    'can Jo see it?'
    """
    plain_text = text or ""
    for entity in entities:
        mentioned, tag = entity.get("mentioned"), entity.get("text")
        ours = isinstance(mentioned, dict) and mentioned.get("id") == bot_id
        is_mention = str(entity.get("type", "")).lower() == "mention"
        if is_mention and ours and isinstance(tag, str) and tag:
            plain_text = plain_text.replace(tag, " ")
    return " ".join(html.unescape(_AT_TAG.sub("", plain_text)).split())


def is_help(text: str) -> bool:
    """True for "help" and the greetings that deserve the help card instead of an answer."""
    return text.strip().lower().rstrip("!.") in HELP_WORDS


@dataclass(frozen=True)
class Feedback:
    """The "Helpful" or "Not helpful" button pressed under an answer."""

    log_id: int
    helpful: bool


@dataclass(frozen=True)
class ShowClause:
    """A related-clause button: show that clause."""

    clause_id: str


@dataclass(frozen=True)
class Ask:
    """An example-question button: ask it."""

    question: str


CardAction = Feedback | ShowClause | Ask


def parse_action(value: object) -> CardAction | None:
    """The button behind an ``Action.Submit`` payload, or None if it is not one of ours.

    Total over any JSON value (the payload comes from the network).

    >>> parse_action({"policybot": "related", "clause": "social-media-1"})
    ShowClause(clause_id='social-media-1')
    """
    if not isinstance(value, dict):
        return None
    kind = value.get(ACTION_KEY)
    if kind == "feedback":
        log_id, helpful = value.get("log"), value.get("helpful")
        if type(log_id) is int and isinstance(helpful, bool):
            return Feedback(log_id, helpful)
    elif kind == "related":
        clause = value.get("clause")
        if isinstance(clause, str) and 0 < len(clause) <= 200:
            return ShowClause(clause)
    elif kind == "ask":
        question = value.get("question")
        if isinstance(question, str) and question.strip():
            return Ask(question)
    return None


# -- writing: primitives --------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def plain(text: str, limit: int = MAX_LINE_CHARS, **style: Any) -> Element:
    """Text shown exactly as written: one ``RichTextBlock`` of ``TextRun``s, never markdown.

    ``style`` applies to every run (``isSubtle=True``, ``size="Small"``, ``italic=True``).
    """
    return _rich([_run(truncate(text, limit), **style)])


def emphasised(text: str, limit: int = MAX_CLAUSE_CHARS) -> list[Element]:
    """Core text whose ``**emphasis**`` becomes bold runs; one block per paragraph."""
    blocks: list[Element] = []
    for paragraph in truncate(text, limit).split("\n"):
        if not paragraph.strip():
            continue
        runs: list[Element] = []
        for n, piece in enumerate(_EMPHASIS.split(paragraph)):
            if piece:
                runs.append(_run(piece, weight="Bolder") if n % 2 else _run(piece))
        blocks.append(_rich(runs))
    return blocks


def _run(text: str, **style: Any) -> Element:
    return {"type": "TextRun", "text": text, **style}


def _rich(runs: list[Element]) -> Element:
    return {"type": "RichTextBlock", "inlines": runs or [_run(" ")]}


def _label(text: str, **style: Any) -> Element:
    # Only for our own constant labels: TextBlock reads its text as markdown.
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _submit(title: str, data: dict[str, Any]) -> Element:
    return {
        "type": "Action.Submit",
        "title": truncate(title, MAX_BUTTON_TITLE),
        "data": data,
    }


# The building blocks, for the campaign cards. ``label`` only for our own constant text.
submit, label = _submit, _label


def card(body: list[Element], actions: Sequence[Element] = ()) -> Card:
    """An Adaptive Card with this body and these actions."""
    content: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": CARD_VERSION}
    content["body"] = body
    if actions:
        content["actions"] = list(actions)
    return content


# -- writing: what PolicyBot sends ----------------------------------------------------------


def answer_card(reply: Reply, *, question: str | None = None) -> Card:
    """A reply as an Adaptive Card: the same content as the Slack answer.

    An answer shows the obligation in plain words, the clause quoted, its policy, version
    and section, related clauses as buttons that show them, and "Helpful" / "Not helpful"
    buttons (when the question was logged). A decline says the policy doesn't cover it and
    names the contact. ``question`` echoes what was asked (group chats and channels, where
    several people ask), as plain text.
    """
    body: list[Element] = []
    if question:
        body.append(plain(f"You asked: {question}", MAX_QUESTION_ECHO, isSubtle=True))
    actions: list[Element] = []
    citation = reply.answer
    if reply.answered and citation is not None:
        words = reply.obligation or citation.obligation.to_plain_words()
        body.append(plain(words, weight="Bolder", size="Medium"))
        quoted = {"type": "Container", "style": "emphasis", "bleed": False}
        quoted["items"] = emphasised(citation.text)
        body.append(quoted)
        body.append(plain(citation.reference, isSubtle=True, size="Small"))
        actions += [_related_button(c) for c in reply.related[:2]]
    else:
        body.append(plain(reply.text))
    if reply.log_id is not None:
        actions += feedback_buttons(reply.log_id)
    return card(body, actions)


def _related_button(citation: Citation) -> Element:
    gist = _EMPHASIS.sub(r"\1", citation.text)
    return _submit(f"{citation.section}: {gist}", {ACTION_KEY: "related", "clause": citation.id})


def feedback_buttons(log_id: int) -> list[Element]:
    """The "Helpful" and "Not helpful" buttons, carrying the question log id."""
    return [
        _submit("Helpful", {ACTION_KEY: "feedback", "log": log_id, "helpful": True}),
        _submit("Not helpful", {ACTION_KEY: "feedback", "log": log_id, "helpful": False}),
    ]


def help_card(help_text: str, examples: Sequence[str], *, welcome: bool = False) -> Card:
    """What PolicyBot does (the core's help text), with example questions as buttons.

    ``welcome`` adds a greeting, for the card sent when the app is installed.
    """
    body: list[Element] = []
    if welcome:
        body.append(_label(WELCOME, weight="Bolder", size="Medium"))
    body += [plain(line) for line in help_text.split("\n") if line.strip()]
    body.append(_label("Mention me in a channel or group chat, or message me here.", isSubtle=True))
    buttons = [_submit(q, {ACTION_KEY: "ask", "question": q}) for q in examples[:MAX_EXAMPLES]]
    return card(body, buttons)


def notice_card(text: str) -> Card:
    """A short sentence of core text (an error, a thank-you), as plain text."""
    return card([plain(text)])


def thanks_card(helpful: bool) -> Card:
    """The reply to a feedback button."""
    return notice_card(THANKS_HELPFUL if helpful else THANKS_UNHELPFUL)


def summary(reply: Reply) -> str:
    """One line for notifications and screen readers: the obligation, or the decline."""
    if reply.answered and reply.obligation:
        return truncate(reply.obligation, MAX_LINE_CHARS)
    return truncate(reply.text.split("\n", 1)[0], MAX_LINE_CHARS)
