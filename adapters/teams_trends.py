"""``trends`` in Teams: HR gets the short summary and a short-lived link to ``/hr``.

Answered only in a personal chat, so the link is not left in a channel. SDK-free: the
``TeamsBot`` in ``adapters/teams.py`` passes the turn in and sends the card back.
"""

from __future__ import annotations

import logging

from adapters import teams_cards as cards
from adapters.teams_campaigns import TeamsTurn
from bot.config import Settings
from bot.errors import PolicyBotError
from bot.links import NO_LINK, NOT_HR, is_hr, report_link
from bot.service import PolicyBot
from bot.storage import Store
from bot.trends import UNAVAILABLE, build_trends, trends_summary

log = logging.getLogger(__name__)

PERSONAL_ONLY = 'Ask me "trends" in our personal chat: the report link is for you only.'


class TeamsTrends:
    """The ``trends`` command for HR identities; runs on the bot's database thread."""

    def __init__(self, bot: PolicyBot, store: Store, settings: Settings) -> None:
        self.bot = bot
        self.store = store
        self.settings = settings

    def takes(self, turn: TeamsTurn) -> bool:
        """Whether ``handle`` answers this turn (the ``trends`` command); no I/O."""
        return turn.value is None and turn.text.strip().lower() == "trends"

    def handle(self, turn: TeamsTurn, *, personal: bool) -> cards.Card | None:
        """The card answering ``trends``; None for any other turn."""
        if not self.takes(turn):
            return None
        if not any(is_hr(self.settings, "teams", i) for i in turn.ids):
            return cards.notice_card(NOT_HR)
        if not personal:
            return cards.notice_card(PERSONAL_ONLY)
        try:
            trends = build_trends(self.store, self.bot.policies, self.settings)
        except PolicyBotError as exc:
            log.warning("teams: trends not built (%s)", type(exc).__name__)
            return cards.notice_card(UNAVAILABLE)
        link = report_link(self.settings)
        note = f"Full report (valid for 15 minutes): {link}" if link else NO_LINK
        return cards.notice_card(f"{trends_summary(trends)}\n\n{note}")
