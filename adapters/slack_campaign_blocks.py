"""Campaign messages as Block Kit: the prompt with its two buttons, the accepted prompt, the
whole policy in a modal, the "start a campaign" form and the admins' status.

Every string from outside PolicyBot's own code (policy titles and clauses, names) goes
through ``kit.escape``/``kit.to_mrkdwn`` or into ``plain_text`` fields, as in
``adapters/slack_blocks.py``, whose primitives this module reuses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from adapters import slack_blocks as kit
from bot.campaign_status import CampaignStatus, format_day
from bot.campaigns import PendingAcknowledgement
from bot.knowledge import Policy
from bot.messenger import Accepted, Notice, Prompt

ACTION_ACCEPT = "policybot_accept"
ACTION_READ = "policybot_read_policy"
PROMPT_BLOCK = "policybot_ack"  # + ":<marker>": lets the worker find its message again
START_VIEW = "policybot_campaign_start"
POLICY_VIEW = "policybot_policy"
MAX_MODAL_TITLE = 24
MAX_OPTION_TEXT = 75
AUDIENCES = (
    ("slack:workspace", "Everyone in this workspace"),
    ("slack:channel", "Members of the channel chosen below"),
    ("teams:all", "Everyone who uses PolicyBot in Teams"),
)
REPEATS = (("none", "Just this once"), ("12m", "Every year"), ("6m", "Every six months"))


def prompt_message(prompt: Prompt) -> kit.Message:
    """The request to read and accept (or a reminder of it), with Read and Accept buttons."""
    title = kit.escape(prompt.policy_title)
    if prompt.overdue:
        heading = f"Overdue: please accept the {prompt.policy_title}"
        when = f"This was due on *{format_day(prompt.due_on)}*."
    else:
        word = "Reminder: please" if prompt.reminder else "Please"
        heading = f"{word} read and accept the {prompt.policy_title}"
        when = f"Please accept it by *{format_day(prompt.due_on)}*."
    changes = [kit.escape(prompt.changes.describe(prompt.version))]
    changes += [f"• {kit.escape(line)}" for line in prompt.changes.lines]
    if prompt.changes.more:
        changes.append(f"…and {prompt.changes.more} more: read the whole policy.")
    blocks = [
        kit.header(heading),
        kit.section(f"*{title}*, version {kit.escape(prompt.version)}. {when}"),
        *[kit.section(piece) for piece in kit.chunks("\n".join(changes))][:5],
        kit.context(f"Pressing the button records: “{kit.escape(prompt.statement)}”"),
        accept_actions(prompt.campaign_id, f"{PROMPT_BLOCK}:{prompt.marker}"),
    ]
    fallback = f"{heading}. {when.replace('*', '')}"
    return {"text": kit.fallback_text(fallback), "blocks": blocks}


def accept_actions(campaign_id: str, block_id: str) -> kit.Block:
    """The "Read the whole policy" and "I have read and accept" buttons."""
    return {
        "type": "actions",
        "block_id": block_id[:255],
        "elements": [
            kit.button("Read the whole policy", ACTION_READ, campaign_id),
            kit.button("I have read and accept", ACTION_ACCEPT, campaign_id, "primary"),
        ],
    }


def accepted_message(accepted: Accepted) -> kit.Message:
    """A prompt once accepted: no buttons, the date it was recorded."""
    line = (
        f"✅ *Accepted on {format_day(accepted.accepted_at.date())}*: the "
        f"{kit.escape(accepted.policy_title)}, version {kit.escape(accepted.version)}. Thank you."
    )
    return {"text": kit.fallback_text(line.replace("*", "")), "blocks": [kit.section(line)]}


def notice_message(notice: Notice) -> kit.Message:
    """Plain text (the admins' digest), with its marker so it can be found again."""
    message = kit.notice(notice.text)
    if notice.marker and message["blocks"]:
        message["blocks"][0]["block_id"] = f"{PROMPT_BLOCK}:{notice.marker}"[:255]
    return message


def policy_modal(policy_title: str, version: str, text_sha256: str, text: str) -> dict[str, Any]:
    """The whole policy, exactly as pinned by the campaign, in a modal."""
    body = kit.text_blocks(text, limit=kit.MAX_VIEW_BLOCKS - 3)
    return {
        "type": "modal",
        "callback_id": POLICY_VIEW,
        "title": kit.plain("The policy", MAX_MODAL_TITLE),
        "close": kit.plain("Close", MAX_MODAL_TITLE),
        "blocks": [
            kit.header(policy_title),
            kit.context(
                f"Version {kit.escape(version)} · text fingerprint (SHA-256) {text_sha256[:16]}…"
            ),
            *body,
            kit.context("Accept with the button in the message PolicyBot sent you."),
        ],
    }


def start_modal(
    policies: Sequence[Policy], today: date, metadata: dict[str, Any]
) -> dict[str, Any]:
    """The "start an acknowledgement campaign" form: policy, due date, audience, repeat."""
    policy_options = [_option(p.id, f"{p.title} ({p.version})") for p in policies]
    return {
        "type": "modal",
        "callback_id": START_VIEW,
        "private_metadata": json.dumps(metadata)[:3000],
        "title": kit.plain("Acknowledgements", MAX_MODAL_TITLE),
        "submit": kit.plain("Start", MAX_MODAL_TITLE),
        "close": kit.plain("Cancel", MAX_MODAL_TITLE),
        "blocks": [
            _input("policy", "Policy", _select("policy", policy_options[:100])),
            _input(
                "due",
                "Due date",
                {
                    "type": "datepicker",
                    "action_id": "due",
                    "initial_date": (today + timedelta(days=30)).isoformat(),
                },
            ),
            _input(
                "audience",
                "Who",
                _select("audience", [_option(v, label) for v, label in AUDIENCES]),
            ),
            _input(
                "channel",
                "Channel (for channel members)",
                {"type": "conversations_select", "action_id": "channel"},
                optional=True,
            ),
            _input("repeat", "Repeat", _select("repeat", [_option(v, t) for v, t in REPEATS])),
        ],
    }


def read_start_form(view: dict[str, Any]) -> dict[str, str]:
    """The start form's answers: ``policy``, ``due``, ``audience``, ``channel``, ``repeat``."""
    values = (view.get("state") or {}).get("values") or {}
    found: dict[str, str] = {}
    for block in ("policy", "due", "audience", "channel", "repeat"):
        element = (values.get(block) or {}).get(block) or {}
        option = element.get("selected_option") or {}
        chosen = (
            option.get("value")
            or element.get("selected_date")
            or element.get("selected_conversation")
        )
        if isinstance(chosen, str) and chosen:
            found[block] = chosen
    return found


def status_message(status: CampaignStatus) -> kit.Message:
    """A campaign's figures for an admin."""
    lines = [
        f"*{kit.escape(status.title)}*, version {kit.escape(status.version)}: "
        f"due {format_day(status.due)} ({status.status})",
        f"Campaign `{kit.escape(status.campaign)}` · audience {kit.escape(status.audience)}",
        f"• Recipients: {status.recipients}",
        f"• Accepted: {status.accepted}",
        f"• Outstanding: {status.outstanding}"
        + (f" ({status.overdue} overdue)" if status.overdue else ""),
        f"• Unreachable: {status.unreachable}",
    ]
    if status.unknown:
        lines.append(f"• Delivery unknown (a worker stopped mid-send): {status.unknown}")
    if status.not_yet_prompted:
        lines.append(f"• Not yet messaged: {status.not_yet_prompted}")
    return {"text": kit.fallback_text(status.summary()), "blocks": [kit.section("\n".join(lines))]}


def pending_blocks(items: Sequence[PendingAcknowledgement]) -> list[kit.Block]:
    """The App Home's pending acknowledgements, each with its buttons."""
    blocks: list[kit.Block] = []
    for item in items[:10]:
        blocks.append(kit.section(f"• {kit.escape(item.describe())}"))
        blocks.append(accept_actions(item.campaign_id, f"policybot_home:{item.campaign_id}"))
    return blocks


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": kit.plain(text, MAX_OPTION_TEXT), "value": value[:150]}


def _select(action_id: str, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "initial_option": options[0],
    }


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": kit.plain(label, 2000),
        "element": element,
        "optional": optional,
    }
