"""A fake Bot Connector service on loopback: where a Teams bot's replies go.

A real aiohttp server bound to 127.0.0.1, port 0. An activity's ``serviceUrl`` points at
it, so the SDK's connector client sends replies here exactly as it would to Teams. It
answers the Connector REST API routes a bot uses and records every request with its
parsed body and headers::

    async with FakeBotConnector() as connector:
        activity = {"serviceUrl": connector.service_url, ...}
        ...
        [reply] = await connector.wait_for(1)
        assert reply.reply_to_id == activity["id"]
        assert reply.body["attachments"][0]["contentType"] == CARD

Routes: ``POST /v3/conversations/{id}/activities`` (send to conversation),
``POST|PUT|DELETE /v3/conversations/{id}/activities/{activityId}`` (reply to, update,
delete), ``POST /v3/conversations`` (create, for proactive messages).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class ConnectorRequest:
    """One request the fake received.

    ``operation`` is ``"send"``, ``"reply"``, ``"update"``, ``"delete"`` or ``"create"``;
    ``reply_to_id`` is the activity id in the path (reply, update, delete).
    """

    http_method: str
    path: str
    operation: str
    conversation_id: str | None
    reply_to_id: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float = field(default_factory=time.perf_counter)

    @property
    def card(self) -> dict[str, Any] | None:
        """The first Adaptive Card attached to the activity, if any."""
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content = attachment.get("content")
                return content if isinstance(content, dict) else None
        return None


class FakeBotConnector:
    """A loopback Bot Connector service that records every request. An async context manager.

    ``fail_next(n)`` answers the next ``n`` activity posts with 503 (or another ``status``,
    with ``headers`` such as ``Retry-After``), to exercise errors; ``block(conversation)``
    answers every send to a conversation with 403, as Teams does when the app was blocked
    or removed.
    """

    def __init__(self) -> None:
        self.requests: list[ConnectorRequest] = []
        self._arrived = asyncio.Condition()
        self._ids = itertools.count(1)
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self.blocked: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start answering."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_route(
            "*", "/v3/conversations/{conversation}/activities/{activity}", self._activity
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotConnector:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def service_url(self) -> str:
        """The ``serviceUrl`` to put in activities sent to the bot."""
        return f"http://127.0.0.1:{self.port}/"

    def fail_next(
        self, times: int = 1, *, status: int = 503, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` activity requests with ``status`` (503 by default)."""
        self._failures.extend((status, dict(headers or {})) for _ in range(times))

    def block(self, conversation_id: str) -> None:
        """Refuse every activity in this conversation with 403 (the app was blocked)."""
        self.blocked.add(conversation_id)

    def activities(self) -> list[ConnectorRequest]:
        """Every recorded send or reply (messages the bot posted), in arrival order."""
        return [r for r in self.requests if r.operation in ("send", "reply")]

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ConnectorRequest]:
        """Wait until ``count`` sends or replies arrived in total; return them all.

        Raises ``TimeoutError`` naming what did arrive.
        """

        async def arrived() -> list[ConnectorRequest]:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.activities()) >= count)
            return self.activities()

        try:
            return await asyncio.wait_for(arrived(), timeout)
        except TimeoutError:
            seen = [(r.operation, r.path) for r in self.requests]
            raise TimeoutError(
                f"{count} replies did not arrive in {timeout}s; saw {seen}"
            ) from None

    async def _activity(self, request: web.Request) -> web.StreamResponse:
        conversation = request.match_info["conversation"]
        activity_id = request.match_info.get("activity")
        operation = {"POST": "reply" if activity_id else "send", "PUT": "update"}.get(
            request.method, "delete"
        )
        body = await _json(request)
        await self._record(request, operation, conversation, activity_id, body)
        if conversation in self.blocked:
            return web.json_response(
                {"error": {"code": "BotDisabledByAdmin", "message": "blocked"}}, status=403
            )
        if self._failures:
            status, headers = self._failures.popleft()
            return web.json_response(
                {"error": {"code": "ServiceError"}}, status=status, headers=headers
            )
        if operation == "delete":
            return web.Response(status=200)
        return web.json_response({"id": activity_id if operation == "update" else self._id()})

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        await self._record(request, "create", None, None, body)
        conversation = f"a:created-{next(self._ids)}"
        return web.json_response(
            {"id": conversation, "activityId": self._id(), "serviceUrl": self.service_url}
        )

    async def _record(
        self,
        request: web.Request,
        operation: str,
        conversation: str | None,
        activity_id: str | None,
        body: dict[str, Any],
    ) -> None:
        headers = dict(request.headers.items())
        self.requests.append(
            ConnectorRequest(
                request.method, request.path, operation, conversation, activity_id, body, headers
            )
        )
        async with self._arrived:
            self._arrived.notify_all()

    def _id(self) -> str:
        return f"1700000000{next(self._ids):06d}"


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if not raw:
        return {}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {"_": parsed}


BOT_ID = "28:policybot"
BOT_NAME = "PolicyBot"
TENANT_ID = "72f988bf-0000-4000-8000-000000000001"


def teams_activity(
    service_url: str,
    text: str | None = None,
    *,
    activity_id: str | None = None,
    kind: str = "message",
    conversation_id: str = "a:personal-1",
    conversation_type: str = "personal",
    user_id: str = "29:user-1",
    aad_object_id: str | None = "aad-user-1",
    mention: bool = False,
    value: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """An activity as Teams sends it to a bot (JSON), pointing replies at ``service_url``.

    ``mention`` puts ``<at>PolicyBot</at>`` before the text with its mention entity, as in
    a channel or group chat. ``extra`` adds or overrides top-level fields.
    """
    sender: dict[str, Any] = {"id": user_id, "name": "Sam Teacher"}
    if aad_object_id is not None:
        sender["aadObjectId"] = aad_object_id
    activity: dict[str, Any] = {
        "type": kind,
        "id": activity_id or f"1700{next(_activity_ids):09d}",
        "timestamp": "2025-11-25T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": sender,
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "conversation": {
            "id": conversation_id,
            "conversationType": conversation_type,
            "tenantId": TENANT_ID,
        },
        "channelData": {"tenant": {"id": TENANT_ID}},
        "locale": "en-GB",
    }
    if text is not None:
        tag = f"<at>{BOT_NAME}</at>"
        activity["text"] = f"{tag} {text}" if mention else text
        activity["textFormat"] = "plain"
        if mention:
            activity["entities"] = [
                {"type": "mention", "text": tag, "mentioned": {"id": BOT_ID, "name": BOT_NAME}}
            ]
    if value is not None:
        activity["value"] = value
    activity.update(extra)
    return activity


_activity_ids = itertools.count(1)
