"""Slack for the campaign worker and the CLI: sending prompts (a ``Messenger``) and looking
people up (a ``Directory``), on slack_sdk's synchronous ``WebClient``.

A prompt goes out as ``conversations.open`` (the person's DM with the app; its id is kept,
so reminders skip this call) then ``chat.postMessage``. Each message carries its step's
marker twice: in message metadata and in the id of its button block. After a crash the
worker calls ``find``, which reads the DM's recent history (``im:history``) for that
marker: the message is then confirmed, never sent twice.

The sending client has no retry handlers: a 429, a 5xx or a dropped connection goes back
to the worker as an outcome, because only the worker knows whether a second attempt could
send a message twice. The directory's client retries freely (reads are harmless to repeat).
"""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from adapters import slack_campaign_blocks as blocks
from bot.audience import Member
from bot.config import Settings
from bot.errors import AudienceError
from bot.messenger import Accepted, Address, Message, Notice, SendResult

log = logging.getLogger(__name__)

#: Errors that mean this person cannot be messaged, now or later.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "user_not_found",
        "user_disabled",
        "user_not_visible",
        "channel_not_found",
        "not_in_channel",
        "cannot_dm_bot",
        "is_archived",
        "messages_tab_disabled",
    }
)
SLACKBOT = "USLACKBOT"
EVENT_TYPE = "policybot_message"
PAGE_SIZE = 200
TIMEOUT_SECONDS = 20
#: How far before a claim to look back in a DM's history for its message.
LOOK_BACK_SECONDS = 120


def web_client(settings: Settings, *, retries: bool) -> WebClient:
    """A synchronous Web API client on ``SLACK_API_URL`` with the bot token.

    ``retries``: retry 429s (after ``Retry-After``) and dropped connections, for reads.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers = (
        [
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=5),
        ]
        if retries
        else []
    )
    return WebClient(
        token=token,
        base_url=settings.slack_api_url.rstrip("/") + "/",
        timeout=TIMEOUT_SECONDS,
        retry_handlers=handlers,
    )


class SlackMessenger:
    """Sends campaign messages to Slack users' DMs with the app. See the module docstring."""

    platform = "slack"

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def send(self, to: Address, message: Message) -> SendResult:
        """Post ``message`` in the person's DM with PolicyBot."""
        channel = to.channel
        if not channel:
            opened = self._open(to.user_id)
            if isinstance(opened, SendResult):
                return opened
            channel = opened
        rendered = (
            blocks.notice_message(message)
            if isinstance(message, Notice)
            else blocks.prompt_message(message)
        )
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"marker": message.marker}}
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
                **rendered,
            )
        except SlackApiError as exc:
            return _failure(exc, sent_maybe=True)
        except _NETWORK_ERRORS as exc:
            return _network_failure(exc, sent_maybe=True)
        return SendResult.sent(str(response.get("channel") or channel), str(response["ts"]))

    def find(self, to: Address, marker: str, since: datetime) -> SendResult:
        """Look in the DM's recent history for the message carrying ``marker``."""
        channel = to.channel
        if not channel:
            opened = self._open(to.user_id)
            if isinstance(opened, SendResult):
                return opened if opened.outcome != "unreachable" else SendResult("not_sent")
            channel = opened
        try:
            response = self.client.conversations_history(
                channel=channel,
                oldest=f"{since.timestamp() - LOOK_BACK_SECONDS:.6f}",
                limit=200,
                include_all_metadata=True,
            )
        except SlackApiError as exc:
            failure = _failure(exc, sent_maybe=False)
            return (
                failure
                if failure.outcome == "rate_limited"
                else SendResult("retry", reason=failure.reason)
            )
        except _NETWORK_ERRORS as exc:
            return SendResult.failed("retry", f"history unavailable: {type(exc).__name__}")
        for item in response.get("messages") or []:
            if _carries(item, marker):
                return SendResult.sent(channel, str(item.get("ts")))
        return SendResult("not_sent", channel=channel)

    def update(self, to: Address, message_id: str, accepted: Accepted) -> SendResult:
        """Turn a prompt into its accepted form (after an App Home click)."""
        if not to.channel:
            return SendResult.failed("unreachable", "no conversation known")
        try:
            self.client.chat_update(
                channel=to.channel, ts=message_id, **blocks.accepted_message(accepted)
            )
        except SlackApiError as exc:
            return _failure(exc, sent_maybe=False)
        except _NETWORK_ERRORS as exc:
            return _network_failure(exc, sent_maybe=False)
        return SendResult.sent(to.channel, message_id)

    def _open(self, user_id: str) -> str | SendResult:
        try:
            response = self.client.conversations_open(users=user_id)
        except SlackApiError as exc:
            return _failure(exc, sent_maybe=False)
        except _NETWORK_ERRORS as exc:
            return _network_failure(exc, sent_maybe=False)
        channel = (response.get("channel") or {}).get("id")
        if not isinstance(channel, str) or not channel:
            return SendResult.failed("retry", "conversations.open gave no channel")
        return channel


def _carries(message: dict[str, Any], marker: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    if isinstance(payload, dict) and payload.get("marker") == marker:
        return True
    wanted = f"{blocks.PROMPT_BLOCK}:{marker}"
    return any(
        b.get("block_id") == wanted for b in message.get("blocks") or [] if isinstance(b, dict)
    )


_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout)


def _failure(exc: SlackApiError, *, sent_maybe: bool) -> SendResult:
    status = exc.response.status_code
    error = str(exc.response.get("error") or f"HTTP {status}")
    if status == 429:
        retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
            "retry-after"
        )
        return SendResult.failed("rate_limited", error, _seconds(retry_after))
    if error in PERMANENT_ERRORS:
        return SendResult.failed("unreachable", error)
    if status >= 500 and sent_maybe:
        return SendResult.failed("unknown", error)
    return SendResult.failed("retry", error)


def _network_failure(exc: BaseException, *, sent_maybe: bool) -> SendResult:
    reason = f"{type(exc).__name__}: {exc}"[:300]
    refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
    if sent_maybe and not refused:
        return SendResult.failed("unknown", reason)
    return SendResult.failed("retry", reason)


def _seconds(value: object) -> float:
    try:
        return max(float(str(value)), 0.0)
    except ValueError:
        return 1.0


class SlackDirectory:
    """The workspace's people, for audiences and admin checks (``users:read``)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._team: str | None = None

    def workspace_members(self, *, include_guests: bool) -> list[Member]:
        """Everyone active in the workspace: no bots, no deactivated accounts, and guests
        only when asked for."""
        return [self._member(u) for u in self._users() if _counts(u, include_guests)]

    def channel_members(self, channel: str, *, include_guests: bool) -> list[Member]:
        """The channel's members, left out as ``workspace_members`` leaves them out."""
        ids = set(
            self._pages(
                lambda cursor: self.client.conversations_members(
                    channel=channel, cursor=cursor, limit=PAGE_SIZE
                ),
                "members",
            )
        )
        return [
            self._member(u)
            for u in self._users()
            if u.get("id") in ids and _counts(u, include_guests)
        ]

    def is_workspace_admin(self, user_id: str, workspace: str | None = None) -> bool:
        """True for a workspace admin, owner or primary owner."""
        try:
            found = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            raise AudienceError(
                f"Slack would not say who {user_id} is ({exc.response.get('error')})."
            ) from None
        except _NETWORK_ERRORS as exc:
            raise AudienceError(f"Slack is unreachable ({type(exc).__name__}).") from None
        return any(bool(found.get(flag)) for flag in ("is_admin", "is_owner", "is_primary_owner"))

    def member(self, user: dict[str, Any]) -> Member | None:
        """A ``team_join`` event's user as a member, or None for a bot or deactivated account."""
        return self._member(user) if _counts(user, include_guests=True) else None

    def _users(self) -> list[dict[str, Any]]:
        return list(
            self._pages(
                lambda cursor: self.client.users_list(cursor=cursor, limit=PAGE_SIZE), "members"
            )
        )

    def _pages(self, call: Callable[[str | None], Any], key: str) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            try:
                response = call(cursor)
            except SlackApiError as exc:
                error = exc.response.get("error")
                raise AudienceError(f"Slack refused to list people ({error}).") from None
            except _NETWORK_ERRORS as exc:
                raise AudienceError(f"Slack is unreachable ({type(exc).__name__}).") from None
            yield from response.get(key) or []
            cursor = ((response.get("response_metadata") or {}).get("next_cursor")) or None
            if not cursor:
                return

    def _member(self, user: dict[str, Any]) -> Member:
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name") or ""
        team = user.get("team_id") or self._workspace()
        return Member("slack", str(team), str(user["id"]), str(name))

    def _workspace(self) -> str:
        if self._team is None:
            try:
                self._team = str(self.client.auth_test().get("team_id") or "")
            except (SlackApiError, *_NETWORK_ERRORS):
                self._team = ""
        return self._team


def _counts(user: dict[str, Any], include_guests: bool) -> bool:
    if not user.get("id") or user.get("id") == SLACKBOT:
        return False
    if user.get("deleted") or user.get("is_bot") or user.get("is_app_user"):
        return False
    guest = bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
    return include_guests or not guest


def is_guest(user: dict[str, Any]) -> bool:
    """True for a multi- or single-channel guest."""
    return bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
