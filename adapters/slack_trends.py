"""``/policy trends`` in Slack: HR gets a short summary and a short-lived link to ``/hr``.

A ``SlackExtension`` (see ``adapters/slack.py``). Only identities in ``POLICYBOT_HR`` are
answered; the figures are the suppressed ones of ``bot.trends``; the link is signed, lasts
15 minutes, and goes by direct message so it is not left in a channel.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.async_app import AsyncApp

from adapters import slack_blocks as kit
from adapters.slack import Acked, Delivery
from bot.config import Settings
from bot.errors import PolicyBotError
from bot.links import NO_LINK, NOT_HR, is_hr, report_link
from bot.service import PolicyBot
from bot.storage import Store
from bot.trends import UNAVAILABLE, build_trends, trends_summary

log = logging.getLogger(__name__)


class SlackTrendsListeners:
    """``/policy trends`` for HR identities."""

    def __init__(self, bot: PolicyBot, store: Store, settings: Settings) -> None:
        self.bot = bot
        self.store = store
        self.settings = settings

    def register(self, app: AsyncApp, acked: Acked) -> None:
        """Nothing to attach: trends come only through ``/policy``."""

    async def on_command(self, d: Delivery, text: str) -> bool:
        if text.strip().lower() != "trends":
            return False
        user = str(d.body.get("user_id") or "")
        if not is_hr(self.settings, "slack", user):
            await d.respond(**kit.notice(NOT_HR), response_type="ephemeral")
            return True
        try:
            trends = await asyncio.to_thread(
                build_trends, self.store, self.bot.policies, self.settings
            )
        except PolicyBotError as exc:
            log.warning("slack: trends not built (%s)", type(exc).__name__)
            await d.respond(**kit.notice(UNAVAILABLE), response_type="ephemeral")
            return True
        await d.respond(**kit.notice(trends_summary(trends)), response_type="ephemeral")
        link = report_link(self.settings)
        note = f"HR trends report (valid for 15 minutes): {link}" if link else NO_LINK
        await d.client.chat_postMessage(channel=user, text=note)
        return True

    async def drain(self, timeout: float = 10.0) -> None:
        """Nothing runs in the background here."""
