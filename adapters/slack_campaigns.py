"""Campaigns in Slack: the accept and read buttons, ``/policy campaign ...``, the start
modal, new joiners, and the App Home's pending acknowledgements.

A thin translation, like ``adapters/slack.py`` (whose ``SlackListeners`` mounts this as an
extension): Slack payloads become ``Click``s, commands and forms for ``bot/campaigns.py``
and ``bot/campaign_commands.py``; their answers become Block Kit
(``adapters/slack_campaign_blocks.py``). The acceptance is recorded (in a worker thread)
before any message says so; if the database is down the person is told it was NOT recorded
and the prompt keeps its button.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters import slack_blocks as kit
from adapters import slack_campaign_blocks as blocks
from adapters.slack import SORRY, Acked, Delivery
from adapters.slack_messenger import SlackDirectory, is_guest
from bot.admins import REFUSAL, Admins
from bot.audience import Member
from bot.campaign_commands import check_form, parse_command, run_command, start_from_form
from bot.campaigns import NOT_RECORDED, Campaigns, Click, now_utc
from bot.errors import PolicyBotError, StorageError
from bot.service import PolicyBot

log = logging.getLogger(__name__)


class SlackCampaignListeners:
    """Campaign listeners, mounted by ``SlackListeners`` (see ``register``)."""

    def __init__(
        self,
        bot: PolicyBot,
        campaigns: Campaigns,
        admins: Admins,
        directory: SlackDirectory | None,
    ) -> None:
        self.bot = bot
        self.campaigns = campaigns
        self.admins = admins
        self.directory = directory
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, app: AsyncApp, acked: Acked) -> None:
        """Attach the buttons, the start form and the new-joiner event."""
        app.action(blocks.ACTION_ACCEPT)(acked(self.on_accept))
        app.action(blocks.ACTION_READ)(acked(self.on_read))
        app.view(blocks.START_VIEW)(self.on_start_submitted)
        app.event("team_join")(acked(self.on_team_join))

    # -- the prompt's buttons ---------------------------------------------------------------

    async def on_accept(self, d: Delivery) -> None:
        user = d.body.get("user") or {}
        team = (d.body.get("team") or {}).get("id") or user.get("team_id") or d.context.team_id
        source = d.body.get("trigger_id") or d.action.get("action_ts") or ""
        click = Click(
            platform="slack",
            workspace=str(team or ""),
            user_id=str(user.get("id") or ""),
            display_name=str(user.get("name") or user.get("username") or ""),
            campaign_id=str(d.action.get("value") or ""),
            source_event=f"slack:{source}",
        )
        from_home = (d.body.get("container") or {}).get("type") == "view"
        try:
            outcome = await asyncio.to_thread(self.campaigns.accept, click)
        except PolicyBotError as exc:
            log.warning("acceptance NOT recorded (%s): %s", click.campaign_id, type(exc).__name__)
            text = NOT_RECORDED if isinstance(exc, StorageError) else SORRY
            await self._tell(d, text, from_home)
            return
        if outcome.accepted is None:
            await self._tell(d, outcome.message, from_home)
            return
        accepted = blocks.accepted_message(outcome.accepted)
        if from_home:
            await self._publish_home(d.client, click.user_id, click.workspace, outcome.message)
            if outcome.channel and outcome.prompt_ref:  # the DM prompt shows it too
                await _quietly(
                    d.client.chat_update(channel=outcome.channel, ts=outcome.prompt_ref, **accepted)
                )
            return
        await d.respond(replace_original=True, **accepted)
        if outcome.result == "already":
            await d.respond(
                **kit.notice(outcome.message), response_type="ephemeral", replace_original=False
            )

    async def _tell(self, d: Delivery, text: str, from_home: bool) -> None:
        if from_home:
            user = (d.body.get("user") or {}).get("id")
            if user:
                await self._publish_home(d.client, str(user), d.context.team_id, text)
            return
        await d.respond(**kit.notice(text), response_type="ephemeral", replace_original=False)

    async def on_read(self, d: Delivery) -> None:
        try:
            campaign, text = await asyncio.to_thread(
                self.campaigns.policy_text, str(d.action.get("value") or "")
            )
        except PolicyBotError as exc:
            await self._tell(d, str(exc), (d.body.get("container") or {}).get("type") == "view")
            return
        view = blocks.policy_modal(
            campaign.policy_title, campaign.policy_version, campaign.text_sha256, text
        )
        await _quietly(d.client.views_open(trigger_id=d.body.get("trigger_id"), view=view))

    # -- /policy campaign ... and /policy my acknowledgements --------------------------------

    async def on_command(self, d: Delivery, text: str) -> bool:
        """Handle a campaign command; False when ``text`` is not one (it is a question)."""
        command = parse_command(text)
        if command is None:
            return False
        user, team = str(d.body.get("user_id") or ""), d.body.get("team_id")
        try:
            allowed = await asyncio.to_thread(self.admins.allows, "slack", user, team)
            reply = await asyncio.to_thread(
                run_command,
                command,
                self.campaigns,
                allowed=allowed,
                by=f"slack:{user}",
                platform="slack",
                workspace=team,
                user_id=user,
            )
        except PolicyBotError as exc:
            log.warning("campaign command failed: %s", type(exc).__name__)
            await d.respond(**kit.notice(SORRY), response_type="ephemeral")
            return True
        if reply.start_form:
            metadata = {"response_url": d.context.response_url}
            view = blocks.start_modal(self.bot.policies, now_utc().date(), metadata)
            await _quietly(d.client.views_open(trigger_id=d.body.get("trigger_id"), view=view))
        elif reply.status is not None:
            await d.respond(**blocks.status_message(reply.status), response_type="ephemeral")
        elif reply.pending:
            message = {
                "text": "What you still have to accept",
                "blocks": blocks.pending_blocks(reply.pending),
            }
            await d.respond(**message, response_type="ephemeral")
        else:
            await d.respond(**kit.notice(reply.text), response_type="ephemeral")
        return True

    async def on_start_submitted(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = body.get("user") or {}
        user_id, team = str(user.get("id") or ""), user.get("team_id") or context.team_id
        if not await asyncio.to_thread(self.admins.allows, "slack", user_id, team):
            await ack(response_action="errors", errors={"policy": REFUSAL[:150]})
            return
        form = blocks.read_start_form(body.get("view") or {})
        today = now_utc().date()
        problems = check_form(form, today)
        if problems:
            await ack(response_action="errors", errors=problems)
            return
        await ack()
        metadata = _metadata(body.get("view") or {})
        task = asyncio.create_task(
            self._start(client, form, user_id, today, metadata.get("response_url"))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(
        self, client: AsyncWebClient, form: dict[str, str], user_id: str, today: date, url: Any
    ) -> None:
        try:
            campaign = await asyncio.to_thread(
                start_from_form,
                self.campaigns,
                form,
                started_by=f"slack:{user_id}",
                slack=self.directory,
                today=today,
            )
            started = await asyncio.to_thread(self.campaigns.started, campaign.id)
            text = f"{started} Follow it with /policy campaign status."
        except PolicyBotError as exc:
            text = f"The campaign was not started: {exc}"
        if isinstance(url, str) and url:
            hook = AsyncWebhookClient(url, session=client.session)
            await hook.send_dict({"response_type": "ephemeral", **kit.notice(text)})
        else:
            log.info("campaign start by %s: %s", user_id, text)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for campaign starts still in progress (at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # -- new joiners and the App Home ---------------------------------------------------------

    async def on_team_join(self, d: Delivery) -> None:
        user = (d.body.get("event") or {}).get("user") or {}
        if self.directory is None or not isinstance(user, dict):
            return
        member = self.directory.member(user)
        if member is None:
            return
        if not member.workspace:
            member = Member(
                "slack", str(d.body.get("team_id") or ""), member.user_id, member.display_name
            )
        try:
            enrolled = await asyncio.to_thread(self.campaigns.enrol, member, guest=is_guest(user))
        except StorageError as exc:
            log.error("new joiner %s not enrolled: %s", member.user_id, exc)
            return
        if enrolled:
            log.info("new joiner %s enrolled in %s", member.user_id, ", ".join(enrolled))

    def home_items(self, user_id: str, workspace: str | None) -> Sequence[str | kit.Block]:
        """The App Home's acknowledgement section: pending requests with their buttons."""
        try:
            pending = self.campaigns.pending("slack", workspace, user_id)
        except StorageError as exc:
            log.warning("App Home without acknowledgements: %s", type(exc).__name__)
            return ["Your acknowledgements can't be shown just now; please look again later."]
        return blocks.pending_blocks(pending)

    async def _publish_home(
        self, client: AsyncWebClient, user_id: str, workspace: str | None, note: str
    ) -> None:
        items = [note, *await asyncio.to_thread(self.home_items, user_id, workspace)]
        view = kit.home_view(self.bot.examples, self.bot.policies, items)
        await _quietly(client.views_publish(user_id=user_id, view=view))


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        found = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


async def _quietly(call: Awaitable[Any]) -> None:
    try:
        await call
    except SlackApiError as exc:
        log.warning("slack refused a campaign update: %s", exc.response.get("error"))
