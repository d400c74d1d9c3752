"""Campaigns in Teams: the accept and read buttons, the typed commands (``campaign ...``,
``my acknowledgements``), the start card, and enrolling people who install PolicyBot.

Plain values in, cards out: ``adapters/teams.py`` (which owns every botbuilder import)
turns an activity into a ``TeamsTurn``, calls ``handle`` on its database thread, and sends
the ``TeamsAnswer`` (replacing the prompt's card when ``replace``). The acceptance is
recorded before any card says so; if the database is down the person is told it was NOT
recorded and the prompt keeps its buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters import teams_campaign_cards as campaign_cards
from adapters import teams_cards as cards
from bot.admins import REFUSAL, Admins
from bot.audience import Member
from bot.campaign_commands import parse_command, run_command, start_from_form
from bot.campaigns import NOT_RECORDED, Campaigns, Click, now_utc
from bot.errors import PolicyBotError, StorageError
from bot.knowledge import Policy

log = logging.getLogger(__name__)

SORRY = "Sorry, something went wrong on my side. Please try again in a minute."


@dataclass(frozen=True)
class TeamsTurn:
    """What a message or button press says, in plain values.

    ``user_id`` is the id PolicyBot keys people by (the AAD object id when Teams gives
    one); ``ids`` are every id of the sender, for matching ``POLICYBOT_ADMINS``.
    """

    text: str
    value: object
    user_id: str
    ids: tuple[str, ...]
    name: str
    tenant: str
    activity_id: str


@dataclass(frozen=True)
class TeamsAnswer:
    """A card to send; ``replace``: put it in place of the card whose button was pressed."""

    card: cards.Card
    replace: bool = False


class TeamsCampaigns:
    """Campaign turns for ``TeamsBot``; runs on its database thread (it touches storage)."""

    def __init__(self, campaigns: Campaigns, admins: Admins, policies: Sequence[Policy]) -> None:
        self.campaigns = campaigns
        self.admins = admins
        self.policies = tuple(policies)

    def takes(self, turn: TeamsTurn) -> bool:
        """Whether ``handle`` answers this turn (a campaign button or command); no I/O."""
        if campaign_cards.parse_campaign_action(turn.value) is not None:
            return True
        return turn.value is None and parse_command(turn.text) is not None

    def handle(self, turn: TeamsTurn) -> TeamsAnswer | None:
        """The answer to a campaign button or command; None when the turn is neither."""
        action = campaign_cards.parse_campaign_action(turn.value)
        try:
            if isinstance(action, campaign_cards.Accept):
                return self._accept(turn, action.campaign_id)
            if isinstance(action, campaign_cards.ReadPolicy):
                campaign, text = self.campaigns.policy_text(action.campaign_id)
                return TeamsAnswer(
                    campaign_cards.policy_card(
                        campaign.policy_title, campaign.policy_version, campaign.text_sha256, text
                    )
                )
            if isinstance(action, campaign_cards.StartForm):
                return TeamsAnswer(campaign_cards.notice(self._start(turn, action.fields)))
            command = parse_command(turn.text) if turn.value is None else None
            if command is None:
                return None
            reply = run_command(
                command,
                self.campaigns,
                allowed=self.admins.allows_any("teams", turn.ids),
                by=f"teams:{turn.user_id}",
                platform="teams",
                workspace=turn.tenant,
                user_id=turn.user_id,
            )
        except StorageError as exc:
            log.warning("teams: campaign turn failed (%s)", type(exc).__name__)
            return TeamsAnswer(campaign_cards.notice(SORRY))
        except PolicyBotError as exc:
            return TeamsAnswer(campaign_cards.notice(str(exc)))
        if reply.start_form:
            return TeamsAnswer(campaign_cards.start_card(self.policies, now_utc().date()))
        if reply.status is not None:
            return TeamsAnswer(campaign_cards.status_card(reply.status))
        if reply.pending:
            return TeamsAnswer(campaign_cards.pending_card(reply.pending))
        return TeamsAnswer(campaign_cards.notice(reply.text))

    def _accept(self, turn: TeamsTurn, campaign_id: str) -> TeamsAnswer:
        click = Click(
            platform="teams",
            workspace=turn.tenant,
            user_id=turn.user_id,
            display_name=turn.name,
            campaign_id=campaign_id,
            source_event=f"teams:{turn.activity_id}",
        )
        try:
            outcome = self.campaigns.accept(click)
        except StorageError as exc:
            log.warning("teams: acceptance NOT recorded (%s)", type(exc).__name__)
            return TeamsAnswer(campaign_cards.notice(NOT_RECORDED))
        if outcome.result == "recorded" and outcome.accepted is not None:
            return TeamsAnswer(campaign_cards.accepted_card(outcome.accepted), replace=True)
        return TeamsAnswer(campaign_cards.notice(outcome.message))

    def _start(self, turn: TeamsTurn, fields: dict[str, str]) -> str:
        if not self.admins.allows_any("teams", turn.ids):
            return REFUSAL
        campaign = start_from_form(
            self.campaigns,
            fields,
            started_by=f"teams:{turn.user_id}",
            slack=None,
            today=now_utc().date(),
        )
        started = self.campaigns.started(campaign.id)
        return f'{started} Type "campaign status" to follow it.'

    def enrol(self, tenant: str, user_id: str, name: str) -> list[str]:
        """Enrol someone who just installed PolicyBot in the running Teams campaigns."""
        try:
            return self.campaigns.enrol(Member("teams", tenant, user_id, name))
        except StorageError as exc:
            log.error("teams: %s not enrolled (%s)", user_id, type(exc).__name__)
            return []
