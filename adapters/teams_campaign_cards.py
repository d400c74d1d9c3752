"""Campaign cards for Teams: the prompt with its two buttons, the accepted prompt, the whole
policy, the "start a campaign" form, the admins' status and someone's pending list; and the
campaign buttons' payloads read back. Plain dicts, no SDK types (as ``teams_cards.py``,
whose primitives this reuses: text from outside our code goes into ``RichTextBlock`` runs,
never markdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from adapters import teams_cards as cards
from bot.campaign_status import CampaignStatus, format_day
from bot.campaigns import PendingAcknowledgement
from bot.knowledge import Policy
from bot.messenger import Accepted, Prompt

ACCEPT = "accept"
READ = "read_policy"
START = "campaign_start"
MAX_POLICY_CHARS = 20_000  # Teams refuses messages over about 28 KB


@dataclass(frozen=True)
class Accept:
    """ "I have read and accept" pressed on a campaign's prompt."""

    campaign_id: str


@dataclass(frozen=True)
class ReadPolicy:
    """ "Read the whole policy" pressed."""

    campaign_id: str


@dataclass(frozen=True)
class StartForm:
    """The start form submitted: its fields as typed."""

    fields: dict[str, str]


CampaignAction = Accept | ReadPolicy | StartForm


def parse_campaign_action(value: object) -> CampaignAction | None:
    """The campaign button behind an ``Action.Submit`` payload, or None. Total over any JSON."""
    if not isinstance(value, dict):
        return None
    kind = value.get(cards.ACTION_KEY)
    campaign = value.get("campaign")
    if kind in (ACCEPT, READ) and isinstance(campaign, str) and 0 < len(campaign) <= 200:
        return Accept(campaign) if kind == ACCEPT else ReadPolicy(campaign)
    if kind == START:
        fields = {
            key: str(value[key])[:200]
            for key in ("policy", "due", "audience", "repeat")
            if isinstance(value.get(key), str)
        }
        return StartForm(fields)
    return None


def _buttons(campaign_id: str) -> list[cards.Element]:
    return [
        cards.submit("Read the whole policy", {cards.ACTION_KEY: READ, "campaign": campaign_id}),
        cards.submit("I have read and accept", {cards.ACTION_KEY: ACCEPT, "campaign": campaign_id}),
    ]


def prompt_card(prompt: Prompt) -> cards.Card:
    """The request to read and accept (or a reminder), with Read and Accept buttons."""
    if prompt.overdue:
        label, when = (
            "Overdue: please read and accept",
            f"This was due on {format_day(prompt.due_on)}.",
        )
    else:
        label = "Reminder: please read and accept" if prompt.reminder else "Please read and accept"
        when = f"Please accept it by {format_day(prompt.due_on)}."
    body = [
        cards.label(label, isSubtle=True),
        cards.plain(prompt.policy_title, weight="Bolder", size="Medium"),
        cards.plain(f"Version {prompt.version}. {when}"),
        cards.plain(prompt.changes.describe(prompt.version)),
        *(cards.plain(f"• {line}") for line in prompt.changes.lines),
    ]
    if prompt.changes.more:
        body.append(cards.plain(f"…and {prompt.changes.more} more: read the whole policy."))
    body.append(
        cards.plain(
            f"Pressing the button records: “{prompt.statement}”", isSubtle=True, size="Small"
        )
    )
    return cards.card(body, _buttons(prompt.campaign_id))


def accepted_card(accepted: Accepted) -> cards.Card:
    """A prompt once accepted: the date it was recorded, no buttons."""
    return cards.card(
        [
            cards.label("✅ Accepted", weight="Bolder"),
            cards.plain(
                f"Accepted on {format_day(accepted.accepted_at.date())}: the "
                f"{accepted.policy_title}, version {accepted.version}. Thank you."
            ),
        ]
    )


def policy_card(title: str, version: str, text_sha256: str, text: str) -> cards.Card:
    """The whole policy as pinned by the campaign (cut to fit a Teams message)."""
    shown = cards.truncate(text, MAX_POLICY_CHARS)
    body = [
        cards.plain(title, weight="Bolder", size="Medium"),
        cards.plain(
            f"Version {version} · text fingerprint (SHA-256) {text_sha256[:16]}…", isSubtle=True
        ),
        *(cards.plain(line, MAX_POLICY_CHARS) for line in shown.split("\n") if line.strip()),
    ]
    return cards.card(body)


def start_card(policies: Sequence[Policy], today: date) -> cards.Card:
    """The "start an acknowledgement campaign" form."""
    choices = [
        {"title": cards.truncate(f"{p.title} ({p.version})", 100), "value": p.id} for p in policies
    ]
    body = [
        cards.label("Start an acknowledgement campaign", weight="Bolder", size="Medium"),
        _choice("policy", "Policy", choices),
        {
            "type": "Input.Date",
            "id": "due",
            "label": "Due date",
            "value": (today + timedelta(days=30)).isoformat(),
            "isRequired": True,
        },
        _choice(
            "audience",
            "Who",
            [{"title": "Everyone who uses PolicyBot in Teams", "value": "teams:all"}],
        ),
        _choice(
            "repeat",
            "Repeat",
            [
                {"title": "Just this once", "value": "none"},
                {"title": "Every year", "value": "12m"},
                {"title": "Every six months", "value": "6m"},
            ],
        ),
    ]
    return cards.card(body, [cards.submit("Start", {cards.ACTION_KEY: START})])


def _choice(input_id: str, label: str, choices: list[dict[str, str]]) -> cards.Element:
    return {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "choices": choices,
        "value": choices[0]["value"] if choices else "",
        "isRequired": True,
    }


def status_card(status: CampaignStatus) -> cards.Card:
    """A campaign's figures for an admin."""
    facts = [
        ("Recipients", status.recipients),
        ("Accepted", status.accepted),
        ("Outstanding", status.outstanding),
        ("Overdue", status.overdue),
        ("Unreachable", status.unreachable),
        ("Delivery unknown", status.unknown),
    ]
    body: list[cards.Element] = [
        cards.plain(f"{status.title}, version {status.version}", weight="Bolder"),
        cards.plain(
            f"Campaign {status.campaign} ({status.status}), due {format_day(status.due)}",
            isSubtle=True,
        ),
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": str(value)} for name, value in facts],
        },
    ]
    return cards.card(body)


def pending_card(items: Sequence[PendingAcknowledgement]) -> cards.Card:
    """What someone still has to accept, each with its buttons."""
    body: list[cards.Element] = [cards.label("Still to accept", weight="Bolder")]
    for item in items[:10]:
        body.append(cards.plain(item.describe()))
        body.append({"type": "ActionSet", "actions": _buttons(item.campaign_id)})
    return cards.card(body)


def notice(text: str) -> cards.Card:
    """A sentence (a refusal, "already recorded", "NOT recorded")."""
    return cards.notice_card(text)
