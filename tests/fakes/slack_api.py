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

For campaigns it also plays a workspace: a directory of people (``add_users``, ``users.list``,
``users.info``, ``conversations.members``), direct messages (``conversations.open``, then
``chat.postMessage``/``chat.update`` kept in each conversation's history, which
``conversations.history`` returns with message metadata) and Slack's sending limits, all
off unless a test turns them on: ``limit_per_conversation`` (one message a second in a
conversation), ``limit_workspace`` (a token bucket over every post) and
``rate_limit_share`` (answer a share of calls with 429 and ``Retry-After``). ``fail_user``
makes a person unreachable with a Slack error, and ``posted`` lists the messages that were
really delivered (429s excluded).

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
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@dataclass(frozen=True)
class PostedMessage:
    """A message the fake accepted (chat.postMessage answered ok), as it would appear."""

    channel: str
    ts: str
    body: dict[str, Any]
    received_at: float

    @property
    def marker(self) -> str | None:
        """The ``marker`` in the message's metadata payload, if it has one."""
        metadata = self.body.get("metadata")
        payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
        marker = payload.get("marker") if isinstance(payload, dict) else None
        return marker if isinstance(marker, str) else None


@dataclass
class _Limits:
    per_conversation: float | None = None
    workspace_rate: float | None = None
    workspace_burst: float = 1.0
    tokens: float = 0.0
    refilled: float = 0.0
    share: float = 0.0
    share_retry_after: int = 1
    share_methods: tuple[str, ...] = ("chat.postMessage",)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    last_post: dict[str, float] = field(default_factory=dict)
    limited: list[tuple[str, str, float]] = field(default_factory=list)  # (method, why, when)
    delays: dict[str, float] = field(default_factory=dict)


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
        #: The workspace's people (``users.list`` objects) and channel memberships.
        self.users: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}
        self.user_errors: dict[str, str] = {}
        #: Every conversation's messages, oldest first (what conversations.history reads).
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.posted: list[PostedMessage] = []
        self.limits = _Limits()
        self._last_ts = 0.0

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

    def add_users(self, *users: dict[str, Any]) -> None:
        """Add people to the directory: ``users.list`` objects (``user(...)`` builds one)."""
        for one in users:
            self.users[one["id"]] = one

    def set_members(self, channel: str, user_ids: list[str]) -> None:
        """Who ``conversations.members`` lists for ``channel``."""
        self.members[channel] = list(user_ids)

    def fail_user(self, user_id: str, error: str) -> None:
        """Answer ``conversations.open`` and posts to this person with ``ok: false, error``."""
        self.user_errors[user_id] = error

    def limit_per_conversation(self, seconds: float = 1.0) -> None:
        """429 a post that comes within ``seconds`` of the last one in the same conversation."""
        self.limits.per_conversation = seconds

    def limit_workspace(self, per_second: float, burst: float = 1.0) -> None:
        """429 posts beyond a token bucket of ``per_second`` (bursts of ``burst``)."""
        self.limits.workspace_rate = per_second
        self.limits.workspace_burst = self.limits.tokens = burst
        self.limits.refilled = time.monotonic()

    def rate_limit_share(
        self,
        share: float,
        *,
        retry_after: int = 1,
        methods: tuple[str, ...] = ("chat.postMessage",),
        seed: int = 0,
    ) -> None:
        """Answer about ``share`` of the calls to ``methods`` with 429 and ``Retry-After``."""
        self.limits.share = share
        self.limits.share_retry_after = retry_after
        self.limits.share_methods = methods
        self.limits.rng = random.Random(seed)

    def slow_down(self, method: str, seconds: float) -> None:
        """Take ``seconds`` over each call to ``method``, between receiving and answering it
        (a crash test's window: the call is recorded and acted on even if the caller dies)."""
        self.limits.delays[method] = seconds

    @property
    def rate_limited(self) -> list[tuple[str, str, float]]:
        """Every call the fake answered 429 by its own limits: ``(method, why, perf_counter)``."""
        return list(self.limits.limited)

    # -- what tests read ------------------------------------------------------------------

    def posted_to(self, user_id: str) -> list[PostedMessage]:
        """Messages delivered to ``user_id``'s direct message conversation."""
        return [m for m in self.posted if m.channel == dm_channel(user_id)]

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
        if method in self.limits.delays:
            await asyncio.sleep(self.limits.delays[method])
        limited = self._limit(method, body)
        if limited is not None:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(limited)},
            )
        return web.json_response(self._default(method, body))

    def _limit(self, method: str, body: dict[str, Any]) -> int | None:
        """Seconds to tell the caller to wait, or None to answer normally."""
        limits, now = self.limits, time.monotonic()
        shared = method in limits.share_methods and limits.share
        if shared and limits.rng.random() < limits.share:
            limits.limited.append((method, "share", time.perf_counter()))
            return limits.share_retry_after
        if method != "chat.postMessage":
            return None
        channel = self._channel_of(str(body.get("channel", "")))
        if limits.per_conversation is not None:
            last = limits.last_post.get(channel)
            if last is not None and now - last < limits.per_conversation:
                limits.limited.append((method, "conversation", time.perf_counter()))
                return max(1, int(limits.per_conversation))
        if limits.workspace_rate is not None:
            elapsed = now - limits.refilled
            limits.tokens = min(
                limits.workspace_burst, limits.tokens + elapsed * limits.workspace_rate
            )
            limits.refilled = now
            if limits.tokens < 1:
                limits.limited.append((method, "workspace", time.perf_counter()))
                return max(1, int((1 - limits.tokens) / limits.workspace_rate + 0.999))
            limits.tokens -= 1
        limits.last_post[channel] = now
        return None

    def _channel_of(self, channel: str) -> str:
        # Posting to a user id posts in that person's DM with the app.
        return dm_channel(channel) if channel.startswith(("U", "W")) else channel

    def _next_ts(self) -> str:
        # Real time, strictly increasing: conversations.history filters by it.
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _workspace_api(self, method: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if method == "users.list":
            ids = sorted(self.users)
            return self._page(body, [self.users[i] for i in ids], "members")
        if method == "users.info":
            found = self.users.get(str(body.get("user", "")))
            return {"ok": True, "user": found} if found else _error("user_not_found")
        if method == "conversations.members":
            channel = str(body.get("channel", ""))
            if channel not in self.members:
                return _error("channel_not_found")
            return self._page(body, self.members[channel], "members")
        if method == "conversations.open":
            user = str(body.get("users", ""))
            if user in self.user_errors:
                return _error(self.user_errors[user])
            if user not in self.users:
                return _error("user_not_found")
            return {"ok": True, "channel": {"id": dm_channel(user)}}
        if method == "conversations.history":
            return self._history(body)
        return None

    def _page(self, body: dict[str, Any], items: list[Any], key: str) -> dict[str, Any]:
        limit = int(body.get("limit") or 100)
        start = int(body.get("cursor") or 0)
        page = items[start : start + limit]
        following = str(start + limit) if start + limit < len(items) else ""
        return {"ok": True, key: page, "response_metadata": {"next_cursor": following}}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        oldest = float(body.get("oldest") or 0)
        include = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        found = []
        for message in reversed(self.history.get(channel, [])):
            if float(message["ts"]) > oldest:
                shown = {k: v for k, v in message.items() if include or k != "metadata"}
                found.append(shown)
        limit = int(body.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_of(str(body.get("channel", "")))
        owner = channel[1:] if channel.startswith("D") else None
        if owner is not None and owner in self.user_errors:
            return _error(self.user_errors[owner])
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "bot_id": self.bot_id, "user": self.bot_user_id}
        message.update({k: body[k] for k in ("text", "blocks", "metadata") if k in body})
        self.history.setdefault(channel, []).append(message)
        self.posted.append(PostedMessage(channel, ts, body, time.perf_counter()))
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        for message in self.history.get(channel, []):
            if message["ts"] == ts:
                message.update({k: body[k] for k in ("text", "blocks") if k in body})
        return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", "")}

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
        handled = self._workspace_api(method, body)
        if handled is not None:
            return handled
        if method == "chat.postMessage":
            return self._post(body)
        if method == "chat.update":
            return self._update(body)
        if method == "views.open":
            view = body.get("view")
            return {"ok": True, "view": json.loads(view) if isinstance(view, str) else view}
        if method == "chat.postEphemeral":
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


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def dm_channel(user_id: str) -> str:
    """The id of the fake's direct message conversation with ``user_id``."""
    return f"D{user_id}"


def user(
    user_id: str,
    name: str | None = None,
    *,
    team_id: str = TEAM_ID,
    **flags: Any,
) -> dict[str, Any]:
    """A ``users.list`` member: ``flags`` such as ``is_bot``, ``deleted``, ``is_restricted``,
    ``is_admin`` or ``is_owner``."""
    shown = name or f"Staff {user_id}"
    return {
        "id": user_id,
        "team_id": team_id,
        "name": shown.lower().replace(" ", "."),
        "real_name": shown,
        "deleted": False,
        "is_bot": False,
        "is_app_user": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_admin": False,
        "is_owner": False,
        "profile": {"display_name": shown, "real_name": shown},
        **flags,
    }


@contextmanager
def running_in_thread(**options: Any) -> Iterator[FakeSlackAPI]:
    """A ``FakeSlackAPI`` served from its own event loop in a thread, for synchronous code
    (the campaign worker's ``WebClient``, a subprocess) to call while the test thread reads
    what arrived."""
    import asyncio

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeSlackAPI(**options)

    async def make() -> None:
        fake._arrived = asyncio.Condition()
        await fake.start()

    asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


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
