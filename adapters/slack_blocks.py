"""Slack text both ways: Slack's markup read as plain text, and replies written as Block Kit.

Reading: a message arrives in Slack's markup (``&lt;``, ``<@U123>``, ``<https://x|label>``);
``to_plain`` turns it into the plain question the core reads.

Writing: every string that reaches a ``mrkdwn`` field goes through ``escape`` (``&``, ``<``,
``>``), so ``<!channel>``, ``<@U…>`` or a link typed into a question can never notify anyone
or render; the person's own words are echoed only in ``plain_text``. Every block is kept
within Block Kit's limits (``truncate`` cuts safely, never inside an ``&amp;``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.chat import Citation, Reply
from bot.knowledge import Policy

Block = dict[str, Any]
#: A message payload: ``text`` (the escaped fallback) and ``blocks``, ready for
#: ``chat.postMessage(**message)`` or ``respond(**message)``.
Message = dict[str, Any]

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
#: Slack truncates a message's top-level ``text`` past 40,000 characters; keep it short.
MAX_FALLBACK_TEXT = 3000

ACTION_RELATED = "policybot_related"  # + "_<n>": action ids must be unique within a block
ACTION_HELPFUL = "policybot_helpful"
ACTION_UNHELPFUL = "policybot_unhelpful"
ACTION_SHARE = "policybot_share"
FEEDBACK_BLOCK = "policybot_feedback"

NO_ACKNOWLEDGEMENTS = "No acknowledgement requests for you right now."
HOW_TO_ASK = (
    "Send me a direct message, mention me in a channel (I answer in the thread), or type "
    "`/policy` followed by your question: only you see that answer, with a button to share "
    "it. You can also choose *Ask PolicyBot* from any message's menu (More actions)."
)

_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")
_MARKUP = re.compile(r"<([^<>]*)>")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# -- reading ------------------------------------------------------------------------------


def to_plain(text: str, bot_user_id: str | None = None) -> str:
    """Slack's markup as the plain text a person typed, without mentions of the bot.

    >>> to_plain("<@UBOT> can I use <https://x.com|X> &amp; <!here>?", "UBOT")
    'can I use X & @here?'
    """

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return label or target

    plain = _MARKUP.sub(replace, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(plain.split())


# -- writing: primitives ------------------------------------------------------------------


def escape(text: str) -> str:
    """Text made inert for a mrkdwn field: ``&``, ``<`` and ``>`` escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters with an ellipsis, never mid-entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    cut = _ENTITY_TAIL.sub("", cut)
    return cut.rstrip() + "…"


def to_mrkdwn(text: str) -> str:
    """Core text (which may hold markdown ``**emphasis**``) as escaped Slack mrkdwn."""
    return _BOLD.sub(r"*\1*", escape(text))


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": False}


def _section(mrkdwn: str) -> Block:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(mrkdwn, MAX_SECTION_TEXT)},
    }


def _context(mrkdwn: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(mrkdwn, MAX_CONTEXT_TEXT)}],
    }


def _header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, MAX_HEADER_TEXT)}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": _plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": truncate(value, MAX_BUTTON_VALUE),
    }
    if style is not None:
        button["style"] = style
    return button


def _chunks(mrkdwn: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Split at line ends into pieces of at most ``limit`` characters."""
    pieces: list[str] = []
    current = ""
    for line in mrkdwn.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = truncate(line, limit)
    if current:
        pieces.append(current)
    return pieces


# The building blocks, for the other Block Kit modules (campaign messages).
plain, section, context, header, button, chunks = (
    _plain,
    _section,
    _context,
    _header,
    _button,
    _chunks,
)


def text_blocks(text: str, limit: int = MAX_MESSAGE_BLOCKS) -> list[Block]:
    """Plain core text (help, an error sentence) as escaped sections."""
    return [_section(piece) for piece in _chunks(to_mrkdwn(text))][:limit]


def fallback_text(text: str) -> str:
    """The top-level ``text`` of a message (notifications, screen readers), escaped."""
    return truncate(to_mrkdwn(text), MAX_FALLBACK_TEXT)


# -- writing: answers ---------------------------------------------------------------------


def notice(text: str, **fields: Any) -> Message:
    """A message of plain core text (help, an error sentence), plus any payload ``fields``."""
    return {"text": fallback_text(text), "blocks": text_blocks(text), **fields}


def answer(
    reply: Reply, *, question: str | None = None, share: bool = False, **fields: Any
) -> Message:
    """A reply as a message (see ``answer_blocks``), plus any payload ``fields``."""
    blocks = answer_blocks(reply, question=question, share=share)
    return {"text": fallback_text(reply.text), "blocks": blocks, **fields}


def answer_blocks(reply: Reply, *, question: str | None = None, share: bool = False) -> list[Block]:
    """A reply as Block Kit.

    An answer shows the obligation in plain words, the clause quoted, its policy, version
    and section, related clauses as buttons and "Was this helpful?". A decline says the
    policy doesn't cover it and names the contact. ``question`` echoes what was asked (in
    ``plain_text``) where Slack does not show it; ``share`` adds "Share in channel".
    """
    blocks: list[Block] = []
    if question:
        blocks.append(
            {"type": "context", "elements": [_plain(f"You asked: {question}", MAX_CONTEXT_TEXT)]}
        )
    citation = reply.answer
    if reply.answered and citation is not None:
        plain_words = reply.obligation or citation.obligation.to_plain_words()
        blocks.append(_section(f"*{escape(plain_words)}*"))
        blocks.append(_section(quote(citation.text)))
        blocks.append(_context(escape(citation.reference)))
        buttons = [
            _button(f"Related: {c.section}", f"{ACTION_RELATED}_{n}", c.id)
            for n, c in enumerate(reply.related[:2])
        ]
        if share:
            buttons.append(
                _button("Share in channel", ACTION_SHARE, share_value(citation, reply.question))
            )
        if buttons:
            blocks.append({"type": "actions", "block_id": "policybot_more", "elements": buttons})
    else:
        blocks.append(_section(to_mrkdwn(reply.text)))
    if reply.log_id is not None:
        blocks.extend(feedback_blocks(reply.log_id, citation.id if citation else None))
    return blocks


def quote(text: str) -> str:
    """A clause as a mrkdwn block quote, escaped, within a section's limit."""
    lines = to_mrkdwn(text).split("\n")
    return truncate("\n".join(f">{line}" for line in lines), MAX_SECTION_TEXT)


def feedback_blocks(log_id: int, clause_id: str | None) -> list[Block]:
    """ "Was this helpful?" with Yes and No buttons that carry the question log id."""
    value = json.dumps({"log": log_id, "clause": clause_id})
    return [
        {
            "type": "actions",
            "block_id": FEEDBACK_BLOCK,
            "elements": [
                _button("Yes, helpful", ACTION_HELPFUL, value, "primary"),
                _button("No", ACTION_UNHELPFUL, value),
            ],
        }
    ]


def parse_feedback_value(value: str) -> tuple[int, str | None] | None:
    """``(log_id, clause_id)`` from a feedback button, or None if it is not one of ours."""
    try:
        data = json.loads(value)
        log_id, clause = data["log"], data.get("clause")
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(log_id, int) or not (clause is None or isinstance(clause, str)):
        return None
    return log_id, clause


def thanked(blocks: Sequence[Block], helpful: bool) -> list[Block]:
    """The same message with its feedback buttons replaced by a thank-you line."""
    thanks = (
        "Thanks, glad it helped." if helpful else "Thanks for telling me; I'll use it to improve."
    )
    kept = [b for b in blocks if b.get("block_id") != FEEDBACK_BLOCK][: MAX_MESSAGE_BLOCKS - 1]
    return [*kept, _context(thanks)]


def share_value(citation: Citation, question: str) -> str:
    """A share button's value: the clause id, a newline, then the question (cut to fit)."""
    room = MAX_BUTTON_VALUE - len(citation.id) - 1
    return f"{citation.id}\n{question[:room]}"


def parse_share_value(value: str) -> tuple[str, str]:
    """``(clause_id, question)`` from a share button's value."""
    clause_id, _, question = value.partition("\n")
    return clause_id, question


def shared_blocks(reply: Reply, user_id: str, question: str) -> list[Block]:
    """An answer someone shared to the channel: who shared it, what they asked, the clause."""
    who = f"<@{user_id}>" if _USER_ID.match(user_id) else "Someone"
    intro = _context(f"{who} shared PolicyBot's answer to:")
    asked = {"type": "context", "elements": [_plain(question or "a question", MAX_CONTEXT_TEXT)]}
    bare = reply.model_copy(update={"log_id": None, "related": ()})
    return [intro, asked, *answer_blocks(bare)]


# -- writing: App Home --------------------------------------------------------------------


def home_view(
    examples: Sequence[str],
    policies: Sequence[Policy],
    acknowledgements: Sequence[str | Block],
) -> dict[str, Any]:
    """The App Home tab: how to ask, examples, the person's acknowledgements, the policies.

    Each acknowledgement item is a line of plain text (escaped here) or a ready-made block
    (the campaign adapter's pending request with its buttons).
    """
    blocks: list[Block] = [_header("Ask me about our policies"), _section(HOW_TO_ASK)]
    if examples:
        blocks += [{"type": "divider"}, _header("Try asking")]
        blocks += [
            _section(piece) for piece in _chunks("\n".join(f"• {escape(q)}" for q in examples))
        ]
    blocks += [{"type": "divider"}, _header("Your acknowledgements")]
    lines = [f"• {escape(item)}" for item in acknowledgements if isinstance(item, str)]
    ready = [item for item in acknowledgements if not isinstance(item, str)]
    if not lines and not ready:
        lines = [NO_ACKNOWLEDGEMENTS]
    blocks += [_section(piece) for piece in _chunks("\n".join(lines))][:20] if lines else []
    blocks += ready[:40]
    blocks += [{"type": "divider"}, _header("Policies I know")]
    known = [f"• *{escape(p.title)}*, version {escape(p.version)}" for p in policies]
    blocks += [_section(piece) for piece in _chunks("\n".join(known) or "None loaded yet.")]
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
