"""Campaign commands typed in chat, the same in Slack and Teams:

    campaign                   what admins can do
    campaign start             the start form (a Slack modal, a Teams card)
    campaign status [ID]       the figures (the latest campaign without an id)
    campaign stop ID           stop sending; acceptances so far stay recorded
    my acknowledgements        what I still have to accept (anyone)

Only admins (``bot/admins.py``) may use the ``campaign`` commands; anyone else gets a
polite refusal. The answer is a neutral ``CommandReply`` that each adapter renders, and
the start form's answers come back through ``start_from_form``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from bot.admins import REFUSAL
from bot.audience import Directory, parse_audience, resolve
from bot.campaign_status import CampaignStatus
from bot.campaigns import Campaigns, PendingAcknowledgement, StartRequest
from bot.errors import PolicyBotError, StorageError

if TYPE_CHECKING:
    from bot.storage.campaigns import CampaignRecord

Action = Literal["help", "start", "status", "stop", "mine"]

HELP = (
    "Acknowledgement campaigns ask everyone to read and accept a policy.\n"
    "• campaign start: choose the policy, due date, who, and whether it repeats\n"
    "• campaign status [ID]: who has accepted, who has not, who cannot be reached\n"
    "• campaign stop ID: stop sending prompts and reminders\n"
    "From a terminal: policybot campaign export ID FILE writes everyone's state as CSV."
)
NOTHING_PENDING = "You have nothing to accept right now. Thank you!"
_MINE = ("my acknowledgements", "my acknowledgments", "acknowledgements", "acknowledgments")


@dataclass(frozen=True)
class Command:
    """A parsed chat command."""

    action: Action
    argument: str | None = None


@dataclass(frozen=True)
class CommandReply:
    """What to show: a sentence, a status, the start form, or pending acknowledgements."""

    text: str = ""
    status: CampaignStatus | None = None
    start_form: bool = False
    pending: tuple[PendingAcknowledgement, ...] = ()


def parse_command(text: str) -> Command | None:
    """The campaign command in ``text``, or None when it is not one (then it is a question).

    >>> parse_command("campaign status staff-aup-20260901-3fa2")
    Command(action='status', argument='staff-aup-20260901-3fa2')
    """
    words = text.strip().split()
    lowered = " ".join(words).lower()
    if lowered in _MINE:
        return Command("mine")
    if not words or words[0].lower() != "campaign":
        return None
    verb = words[1].lower() if len(words) > 1 else "help"
    argument = words[2] if len(words) > 2 else None
    if verb in ("start", "status", "stop") and len(words) <= 3:
        return Command(verb, argument)  # type: ignore[arg-type]
    if (verb in ("help", "?") and len(words) == 2) or len(words) == 1:
        return Command("help")
    return None  # "campaign posters in classrooms?" is a question


def run_command(
    command: Command,
    campaigns: Campaigns,
    *,
    allowed: bool,
    by: str,
    platform: str,
    workspace: str | None,
    user_id: str,
) -> CommandReply:
    """Carry out a command for one person; ``allowed`` says whether they are an admin.

    Errors the person can fix (an unknown campaign id) come back as text; a database
    failure raises ``StorageError`` for the adapter to apologise for.
    """
    if command.action == "mine":
        pending = campaigns.pending(platform, workspace, user_id)
        return CommandReply(text="" if pending else NOTHING_PENDING, pending=tuple(pending))
    if not allowed:
        return CommandReply(text=REFUSAL)
    try:
        if command.action == "start":
            return CommandReply(start_form=True)
        if command.action == "status":
            return CommandReply(status=campaigns.status(command.argument))
        if command.action == "stop":
            if not command.argument:
                return CommandReply(text="Which campaign? Write: campaign stop ID")
            stopped = campaigns.stop(command.argument, by)
            return CommandReply(
                text=f"Stopped campaign {stopped.id}: no more messages will go out."
            )
    except StorageError:
        raise
    except PolicyBotError as error:
        return CommandReply(text=str(error))
    return CommandReply(text=HELP)


def check_form(form: Mapping[str, str], today: date) -> dict[str, str]:
    """Problems with the start form's answers, by field; empty when it can be submitted."""
    problems: dict[str, str] = {}
    for field, label in (("policy", "a policy"), ("due", "a due date"), ("audience", "who")):
        if not form.get(field):
            problems[field] = f"Please choose {label}."
    due = form.get("due")
    if due:
        try:
            if date.fromisoformat(due) <= today:
                problems["due"] = "The due date must be after today."
        except ValueError:
            problems["due"] = "Please choose a date."
    if form.get("audience") == "slack:channel" and not form.get("channel"):
        problems["channel"] = "Please choose the channel whose members should accept."
    return problems


def start_from_form(
    campaigns: Campaigns,
    form: Mapping[str, str],
    *,
    started_by: str,
    slack: Directory | None,
    today: date,
) -> CampaignRecord:
    """Start a campaign from the chat form (``check_form`` first). Raises a
    ``PolicyBotError`` subclass with a sentence when it cannot."""
    problems = check_form(form, today)
    if problems:
        raise _FormError(" ".join(problems.values()))
    audience_text = form["audience"]
    if audience_text == "slack:channel":
        audience_text = f"slack:channel:{form['channel']}"
    audience = parse_audience(audience_text)
    repeat = form.get("repeat")
    request = StartRequest(
        policy_id=form["policy"],
        due_on=date.fromisoformat(form["due"]),
        audience=str(audience),
        started_by=started_by,
        every=None if repeat in (None, "", "none") else repeat,
    )
    campaigns.policy(request.policy_id)
    members = resolve(audience, store=campaigns.store, slack=slack)
    return campaigns.start(request, members)


class _FormError(PolicyBotError):
    """The start form was incomplete."""
