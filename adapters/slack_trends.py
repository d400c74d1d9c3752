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
from bot.links import hr_link, is_hr
from bot.service import PolicyBot
from bot.storage import Store
from bot.trends import build_trends, trends_summary

log = logging.getLogger(__name__)

NOT_HR = "Question trends are for the people HR has listed (POLICYBOT_HR). Ask HR if you need them."
NO_LINK = "The full report link needs POLICYBOT_PUBLIC_URL and POLICYBOT_SECRET_KEY to be set."
UNAVAILABLE = "The trends cannot be read right now; please try again in a few minutes."


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
        link = self._link()
        note = f"HR trends report (valid for 15 minutes): {link}" if link else NO_LINK
        await d.client.chat_postMessage(channel=user, text=note)
        return True

    async def drain(self, timeout: float = 10.0) -> None:
        """Nothing runs in the background here."""

    def _link(self) -> str | None:
        if self.settings.public_url is None:
            return None
        try:
            return hr_link(self.settings, self.settings.public_url)
        except PolicyBotError:
            return None
