"""A fake Slack Web API on loopback: a real aiohttp server bound to 127.0.0.1, port 0.

It answers the Web API methods PolicyBot calls (``auth.test``, ``chat.postMessage``,
``views.publish``, ...) under ``/api/`` and plays Slack's ``response_url`` webhooks under
``/respond/<name>``. Every request is recorded with its parsed body, so a test can assert
on what the bot sent, not just where::

    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        ...
        [post] = await slack.wait_for("chat.postMessage")
        assert post.body["thread_ts"] == "1700000000.000100"

It also plays Slack's Socket Mode endpoint (``apps.connections.open`` hands out a
``ws://`` URL on the same server; ``push`` sends an envelope, ``wait_for_ack`` waits for
the app's acknowledgement). Canned answers (``respond_with``), rate limiting with
``Retry-After`` (``rate_limit``) and dropped connections (``drop_connection``) let tests
exercise the client's retry handlers.

The other direction, what Slack sends to an app, is built by the payload functions below
(``app_mention``, ``slash_command``, ``block_action``, ...) and signed by ``sign`` exactly
as Slack signs requests (v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
SIGNING_SECRET = "test-signing-secret"
USER_ID = "U123"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received.

    ``method`` is the Web API method (``"chat.postMessage"``) or ``"respond/<name>"`` for a
    response_url; ``body`` is the parsed JSON or form body (form values that hold JSON,
    such as ``blocks``, are decoded too).
    """

    http_method: str
    path: str
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float = field(default_factory=time.perf_counter)


@dataclass
class _Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeSlackAPI:
    """A loopback Slack Web API that records every request. Use as an async context manager."""

    def __init__(
        self, *, bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID, team_id: str = TEAM_ID
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.requests: list[RecordedRequest] = []
        self._canned: dict[str, deque[_Canned]] = {}
        self._drops: dict[str, int] = {}
        self.dropped: list[str] = []
        #: Called with every recorded request, as it arrives (benchmarks match answers here).
        self.observers: list[Callable[[RecordedRequest], None]] = []
        self._arrived = asyncio.Condition()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._sockets: list[web.WebSocketResponse] = []
        #: Socket Mode acknowledgements the app sent back (``{"envelope_id": ...}``).
        self.socket_acks: list[dict[str, Any]] = []

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start answering."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_route("*", "/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop the server."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- what tests configure -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The Web API base URL to give the client (``SLACK_API_URL``)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        """A response_url for a slash command or interaction payload."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def respond_with(
        self,
        method: str,
        body: dict[str, Any],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this body and status."""
        queue = self._canned.setdefault(method, deque())
        queue.extend(_Canned(status, body, dict(headers or {})) for _ in range(times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        self.respond_with(
            method,
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
            times=times,
        )

    def drop_connection(self, method: str, *, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` calls of ``method``.

        The request is not recorded: to the client it looks like a network failure before
        Slack saw anything.
        """
        self._drops[method] = self._drops.get(method, 0) + times

    # -- what tests read ------------------------------------------------------------------

    def calls(self, method: str) -> list[RecordedRequest]:
        """Every recorded request to ``method`` (``"chat.postMessage"``, ``"respond/r1"``)."""
        return [r for r in self.requests if r.method == method]

    def responses(self) -> list[RecordedRequest]:
        """Every recorded response_url request, whatever its name."""
        return [r for r in self.requests if r.method.startswith("respond/")]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests to ``method`` arrived; return them.

        ``method`` may end with ``*`` to match a prefix (``"respond/*"``). Raises
        ``TimeoutError`` naming what did arrive.
        """

        def matching() -> list[RecordedRequest]:
            if method.endswith("*"):
                return [r for r in self.requests if r.method.startswith(method[:-1])]
            return self.calls(method)

        async def arrived() -> list[RecordedRequest]:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(matching()) >= count)
            return matching()

        try:
            return await asyncio.wait_for(arrived(), timeout)
        except TimeoutError:
            seen = [r.method for r in self.requests]
            raise TimeoutError(
                f"{count} x {method} did not arrive in {timeout}s; saw {seen}"
            ) from None

    async def push(self, envelope: dict[str, Any], timeout: float = 5.0) -> None:
        """Send a Socket Mode envelope to the connected app (waits for it to connect)."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: bool(self._sockets)), timeout)
        await self._sockets[-1].send_json(envelope)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait for the app to acknowledge a Socket Mode envelope."""

        def acked() -> list[dict[str, Any]]:
            return [a for a in self.socket_acks if a.get("envelope_id") == envelope_id]

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: bool(acked())), timeout)
        return acked()[0]

    # -- the server -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        self._sockets.append(ws)
        async with self._arrived:
            self._arrived.notify_all()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(message.data))
                    async with self._arrived:
                        self._arrived.notify_all()
        finally:
            self._sockets.remove(ws)
        return ws

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self._drops.get(method):
            self._drops[method] -= 1
            self.dropped.append(method)
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("dropped by the fake")
        body = await _parse(request)
        await self._record(request, method, body)
        canned = self._canned.get(method)
        if canned:
            answer = canned.popleft()
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        return web.json_response(self._default(method, body))

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        body = await _parse(request)
        method = f"respond/{request.match_info['name']}"
        await self._record(request, method, body)
        canned = self._canned.get(method)
        if canned:
            answer = canned.popleft()
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        return web.Response(text="ok")

    async def _record(self, request: web.Request, method: str, body: dict[str, Any]) -> None:
        headers = {k: v for k, v in request.headers.items()}
        recorded = RecordedRequest(request.method, request.path, method, body, headers)
        self.requests.append(recorded)
        for observer in self.observers:
            observer(recorded)
        async with self._arrived:
            self._arrived.notify_all()

    def _default(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://policybot-test.slack.com/",
                "team": "Test School",
                "team_id": self.team_id,
                "user": "policybot",
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": body}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method == "views.publish":
            view = body.get("view")
            if isinstance(view, str):
                view = json.loads(view)
            return {"ok": True, "view": view}
        return {"ok": True}


async def _parse(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if not raw:
        return dict(request.query)
    if request.content_type == "application/json" or raw.lstrip().startswith("{"):
        parsed = json.loads(raw)
        return parsed if isinstance(parsed, dict) else {"_": parsed}
    form: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        form[key] = _maybe_json(value)
    return form


def _maybe_json(value: str) -> Any:
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# -- what Slack sends to the app ----------------------------------------------------------


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """The ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers Slack would send."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def event_callback(
    event: dict[str, Any], *, event_id: str = "Ev1", team_id: str = TEAM_ID
) -> bytes:
    """An Events API delivery (JSON body) wrapping ``event``."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    ).encode()


def app_mention(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = "C1",
    ts: str = "1700000000.000100",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event; ``text`` is in Slack's markup (``<@UBOT> ...``)."""
    event = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def direct_message(
    text: str,
    *,
    user: str = USER_ID,
    channel: str = "D1",
    ts: str = "1700000000.000200",
    **extra: Any,
) -> dict[str, Any]:
    """A ``message.im`` event; ``extra`` adds fields such as ``subtype`` or ``bot_id``."""
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        **extra,
    }


def slash_command(
    text: str,
    response_url: str,
    *,
    command: str = "/policy",
    user: str = USER_ID,
    channel: str = "C1",
    trigger_id: str = "trigger-1",
) -> bytes:
    """A slash command delivery (form-encoded body)."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "school",
            "channel_id": channel,
            "channel_name": "staffroom",
            "user_id": user,
            "user_name": "teacher",
            "command": command,
            "text": text,
            "api_app_id": "A1",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    ).encode()


def interaction(payload: dict[str, Any]) -> bytes:
    """An interactivity delivery: ``payload=<json>``, form-encoded."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_action(
    action_id: str,
    value: str,
    response_url: str,
    *,
    user: str = USER_ID,
    message: dict[str, Any] | None = None,
    channel: str = "C1",
) -> dict[str, Any]:
    """A ``block_actions`` payload for a button click.

    Without ``message`` the click came from an ephemeral message (Slack then sends no blocks).
    """
    container: dict[str, Any] = {
        "type": "message",
        "channel_id": channel,
        "is_ephemeral": message is None,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "teacher", "team_id": TEAM_ID},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "trigger-2",
        "team": {"id": TEAM_ID, "domain": "school"},
        "channel": {"id": channel, "name": "staffroom"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": "1700000001.000001",
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    if message is not None:
        container["message_ts"] = message.get("ts", "1700000000.000300")
        payload["message"] = message
    return payload


def message_shortcut(text: str, response_url: str, *, user: str = USER_ID) -> dict[str, Any]:
    """A ``message_action`` payload: "Ask PolicyBot about this message" on ``text``."""
    return {
        "type": "message_action",
        "callback_id": "ask_about_message",
        "trigger_id": "trigger-3",
        "action_ts": "1700000002.000001",
        "message_ts": "1700000000.000400",
        "response_url": response_url,
        "team": {"id": TEAM_ID, "domain": "school"},
        "channel": {"id": "C1", "name": "staffroom"},
        "user": {"id": user, "name": "teacher", "team_id": TEAM_ID},
        "message": {"type": "message", "user": "U777", "ts": "1700000000.000400", "text": text},
        "token": "legacy-verification-token",
    }
