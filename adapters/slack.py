"""Slack surface: Bolt listeners that turn Slack payloads into questions for the core.

Staff ask by direct message, by @mention (answered in the thread), with ``/policy``
(an ephemeral answer they can share) or the "Ask PolicyBot" message shortcut.
Every listener acks at once and does its work in a background task, so Slack gets its 2xx
well inside 3 seconds (Bolt's lazy listeners would deep-copy each request, client and all).
A question is answered on the event loop (CPU only, bounded); its log row is committed with
other questions' (``bot/storage/group_commit.py``), and the answer waits for it. Buttons,
commands and other database work run in a worker thread.
Rendering lives in ``adapters/slack_blocks.py``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters import slack_blocks as kit
from bot.chat import Incoming, Reply
from bot.errors import PolicyBotError, QuestionError
from bot.service import PolicyBot
from bot.storage import Store

log = logging.getLogger(__name__)

SHORTCUT_CALLBACK_ID = "ask_about_message"
SORRY = "Sorry, something went wrong on my side. Please try again in a minute."
GONE = "That clause is no longer in the policy I know; please ask your question again."

Payload = dict[str, Any]
#: ``(slack_user_id, team_id) -> items`` for the App Home's acknowledgement section: lines
#: of plain text, or blocks (a pending request with its buttons). Runs in a worker thread.
AcknowledgementLines = Callable[[str, str | None], Sequence[str | kit.Block]]


def no_acknowledgement_requests(user: str, workspace: str | None) -> Sequence[str | kit.Block]:
    """The App Home's acknowledgement section when no campaigns are wired in."""
    return ()


async def _ack(ack: AsyncAck) -> None:
    await ack()


def _from_a_bot(event: Payload) -> bool:
    # Edits, deletions, joins and bot posts carry a subtype; bots (ourselves included)
    # carry bot_id. Answering any of them risks loops or answering twice.
    return bool(event.get("bot_id") or event.get("subtype") or not event.get("user"))


def _incoming(text: str, user: Any, workspace: Any, event_id: Any) -> Incoming:
    return Incoming(text=text, platform="slack", user=user, workspace=workspace, event_id=event_id)


@dataclass(frozen=True)
class Delivery:
    """One Slack payload, with the means to answer it."""

    body: Payload
    client: AsyncWebClient
    context: AsyncBoltContext

    async def respond(self, **message: Any) -> None:
        """Post to the payload's response_url, on the Web API client's pooled connections
        and retry handlers (Bolt's ``respond`` opens a new connection every time)."""
        url = self.context.response_url
        if url is None:
            log.warning("no response_url in a %s payload", self.body.get("type"))
            return
        hook = AsyncWebhookClient(
            url, session=self.client.session, retry_handlers=self.client.retry_handlers
        )
        response = await hook.send_dict({k: v for k, v in message.items() if v is not None})
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, response.body)

    @property
    def action(self) -> Payload:
        actions = self.body.get("actions") or [{}]
        return dict(actions[0])


Work = Callable[[Delivery], Coroutine[Any, Any, None]]
Acked = Callable[[Work], Callable[..., Awaitable[None]]]


class SlackExtension(Protocol):
    """More listeners (campaigns): registered before the catch-all, offered commands first."""

    def register(self, app: AsyncApp, acked: Acked) -> None: ...

    async def on_command(self, d: Delivery, text: str) -> bool: ...

    async def drain(self, timeout: float = 10.0) -> None: ...


class SlackListeners:
    """One method per Slack payload PolicyBot handles; each is a thin translation."""

    def __init__(
        self,
        bot: PolicyBot,
        store: Store,
        acknowledgements: AcknowledgementLines,
        extensions: Sequence[SlackExtension] = (),
    ):
        self.bot = bot
        self.store = store
        self.acknowledgements = acknowledgements
        self.extensions = tuple(extensions)
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, app: AsyncApp) -> None:
        """Attach every listener: ack first, then answer in the background."""
        app.event("app_mention")(self._acked(self.on_mention))
        app.event("message")(self._acked(self.on_message))
        app.event("app_home_opened")(self._acked(self.on_home_opened))
        app.command("/policy")(self._acked(self.on_command))
        app.shortcut(SHORTCUT_CALLBACK_ID)(self._acked(self.on_shortcut))
        app.action(re.compile(rf"^{kit.ACTION_RELATED}_\d+$"))(self._acked(self.on_related))
        feedback = re.compile(rf"^({kit.ACTION_HELPFUL}|{kit.ACTION_UNHELPFUL})$")
        app.action(feedback)(self._acked(self.on_feedback))
        app.action(kit.ACTION_SHARE)(self._acked(self.on_share))
        for extension in self.extensions:
            extension.register(app, self._acked)
        app.event(re.compile(".*"))(_ack)  # any other event: 200 and nothing more

    def _acked(self, work: Work) -> Callable[..., Awaitable[None]]:
        # Bolt injects arguments by parameter name, so the listener spells them out.
        async def listener(
            ack: AsyncAck, body: Payload, client: AsyncWebClient, context: AsyncBoltContext
        ) -> None:
            await ack()
            task = asyncio.create_task(work(Delivery(body, client, context)))
            self._tasks.add(task)
            task.add_done_callback(self._finished)

        return listener

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack listener failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` seconds) for answers still being worked on: at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for extension in self.extensions:
            await extension.drain(timeout)

    async def on_mention(self, d: Delivery) -> None:
        event = d.body["event"]
        # A mention inside a DM also arrives as message.im, which answers it.
        if not _from_a_bot(event) and not str(event.get("channel", "")).startswith("D"):
            await self._answer_event(d, event.get("thread_ts") or event["ts"])

    async def on_message(self, d: Delivery) -> None:
        event = d.body["event"]
        if event.get("channel_type") == "im" and not _from_a_bot(event):
            await self._answer_event(d, event.get("thread_ts"))

    async def _answer_event(self, d: Delivery, thread_ts: str | None) -> None:
        event, event_id = d.body["event"], d.body.get("event_id")
        text = kit.to_plain(str(event.get("text") or ""), d.context.bot_user_id)
        incoming = _incoming(text, event.get("user"), d.body.get("team_id"), event_id)
        message = await self._answer(incoming, f"slack:{event_id}" if event_id else None)
        if message is not None:
            await d.client.chat_postMessage(
                channel=event["channel"], thread_ts=thread_ts, **message
            )

    async def on_command(self, d: Delivery) -> None:
        text = kit.to_plain(str(d.body.get("text") or ""))
        if text.lower() in ("", "help", "?"):
            await d.respond(**kit.notice(self.bot.help_text()), response_type="ephemeral")
            return
        for extension in self.extensions:
            if await extension.on_command(d, text):
                return
        ids = d.body.get("user_id"), d.body.get("team_id"), d.body.get("trigger_id")
        message = await self._answer(_incoming(text, *ids), echo=True, share=True)
        await d.respond(**(message or {}), response_type="ephemeral")

    async def on_shortcut(self, d: Delivery) -> None:
        text = str((d.body.get("message") or {}).get("text") or "")
        ids = d.context.user_id, d.context.team_id, d.body.get("trigger_id")
        incoming = _incoming(kit.to_plain(text, d.context.bot_user_id), *ids)
        message = await self._answer(incoming, echo=True, share=True)
        await d.respond(**(message or {}), response_type="ephemeral")

    async def on_related(self, d: Delivery) -> None:
        reply = self._explain(str(d.action.get("value") or ""))
        message = kit.answer(reply) if reply else kit.notice(GONE)
        thread = (d.body.get("message") or {}).get("thread_ts")
        await d.respond(
            **message, response_type="ephemeral", replace_original=False, thread_ts=thread
        )

    async def on_feedback(self, d: Delivery) -> None:
        parsed = kit.parse_feedback_value(str(d.action.get("value") or ""))
        if parsed is None:
            return
        (log_id, clause_id), helpful = parsed, d.action.get("action_id") == kit.ACTION_HELPFUL
        try:
            await asyncio.to_thread(self.bot.record_feedback, log_id, helpful)
        except PolicyBotError as exc:
            log.warning("feedback on question %s not recorded: %s", log_id, type(exc).__name__)
            await d.respond(**kit.notice(SORRY), response_type="ephemeral", replace_original=False)
            return
        original = (d.body.get("message") or {}).get("blocks")
        if not original:  # an ephemeral message: Slack does not send its blocks back
            reply = self._explain(clause_id) if clause_id else None
            original = kit.answer_blocks(reply) if reply else []
        blocks = kit.thanked(original, helpful)
        await d.respond(replace_original=True, text="Thanks for your feedback.", blocks=blocks)

    async def on_share(self, d: Delivery) -> None:
        clause_id, question = kit.parse_share_value(str(d.action.get("value") or ""))
        reply = self._explain(clause_id)
        if reply is None:
            await d.respond(**kit.notice(GONE), response_type="ephemeral", replace_original=False)
            return
        user = str((d.body.get("user") or {}).get("id") or "")
        blocks = kit.shared_blocks(reply, user, question)
        await d.respond(
            text=kit.fallback_text(reply.text), blocks=blocks, response_type="in_channel"
        )
        await d.respond(delete_original=True)

    async def on_home_opened(self, d: Delivery) -> None:
        event = d.body["event"]
        if event.get("tab") == "home" and event.get("user"):
            items = await asyncio.to_thread(self.acknowledgements, event["user"], d.context.team_id)
            view = kit.home_view(self.bot.examples, self.bot.policies, items)
            await d.client.views_publish(user_id=event["user"], view=view)

    async def _answer(
        self,
        incoming: Incoming,
        claim: str | None = None,
        *,
        echo: bool = False,
        share: bool = False,
    ) -> kit.Message | None:
        """The message answering ``incoming``; None if ``claim`` was already claimed.

        The answer is worked out here, on the event loop: it is CPU only and bounded (a
        fraction of a millisecond for a chat question, tens at worst for 4,000 characters),
        and a worker thread would only add GIL hand-offs that cost more than the answer.
        The question log commits it with the claim, alongside other questions (on this
        loop for SQLite), and the answer waits for that commit. A retry or repeated event_id finds
        its key claimed (by any process) and gets nothing.
        """
        try:
            reply = await self.bot.submit_async(incoming, claim=claim)
        except QuestionError as exc:
            return kit.notice(str(exc))
        except PolicyBotError:
            log.exception("question not answered (delivery %s)", incoming.event_id)
            return kit.notice(SORRY)
        if reply is None:
            return None
        return kit.answer(reply, question=incoming.text if echo else None, share=share)

    def _explain(self, clause_id: str) -> Reply | None:
        try:
            return self.bot.explain(clause_id, platform="slack")
        except PolicyBotError:
            return None
