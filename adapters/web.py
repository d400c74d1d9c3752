"""The web process: one aiohttp app for Slack (``/slack/events``), Teams (``/api/messages``)
and the health check (``/healthz``).

``policybot serve`` calls ``serve``; tests build the same app with ``create_app`` and a
temporary database. The Slack route checks the request signature itself before Bolt sees
the body, so a forged, stale, tampered or malformed request is always a 401, never a 500
(Bolt parses the body before verifying it, and chokes on junk timestamps).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.hr_web import mount_hr
from adapters.logs import configure_logging
from adapters.slack import AcknowledgementLines, SlackListeners
from adapters.slack_campaigns import SlackCampaignListeners
from adapters.slack_messenger import SlackDirectory
from adapters.slack_messenger import web_client as sync_web_client
from adapters.slack_trends import SlackTrendsListeners
from adapters.teams import mount_teams
from adapters.teams_package import check_teams_settings
from bot.admins import Admins
from bot.campaigns import Campaigns
from bot.config import Settings
from bot.errors import ConfigError, StorageError
from bot.service import PolicyBot
from bot.storage import Store

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
#: Slack's replay window: a signed request older (or newer) than this is refused.
MAX_CLOCK_SKEW_SECONDS = 300
#: Slack payloads are small; a body larger than this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024

STORE = web.AppKey("store", Store)
SLACK_APP = web.AppKey("slack_app", AsyncApp)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client on ``SLACK_API_URL``: a 429 is retried after its Retry-After, a
    dropped connection at most twice (a lost answer is worse than a rare duplicate)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url.rstrip("/") + "/",
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def build_slack_app(
    settings: Settings, listeners: SlackListeners, *, client: AsyncWebClient | None = None
) -> AsyncApp:
    """The Bolt app with PolicyBot's listeners registered (HTTP or Socket Mode)."""
    secret = settings.slack_signing_secret
    app = AsyncApp(
        name="policybot",
        client=client or web_client(settings),
        signing_secret=secret.get_secret_value() if secret else "",
        process_before_response=True,  # listeners ack inline, then answer in the background
    )
    listeners.register(app)
    return app


def check_platforms(settings: Settings, *, dev: bool = False, socket_mode: bool = False) -> None:
    """Refuse to start with a half-configured or missing chat platform.

    Raises ``ConfigError`` naming the variable to set: one of ``SLACK_SIGNING_SECRET`` and
    ``SLACK_BOT_TOKEN`` without the other, Socket Mode without ``SLACK_APP_TOKEN``, Teams
    settings that cannot work, or no platform at all outside development mode.
    """
    check_teams_settings(settings)
    if socket_mode:
        settings.require("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
        return
    has_secret = settings.slack_signing_secret is not None
    has_token = settings.slack_bot_token is not None
    if has_secret != has_token:
        settings.require("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
    if not (has_secret or settings.microsoft_app_id or dev or settings.development):
        raise ConfigError(
            "No chat platform is configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
            "for Slack, or MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD for Teams "
            "(or run with --dev / POLICYBOT_ENV=development to start without one)."
        )


def create_app(
    settings: Settings,
    bot: PolicyBot,
    *,
    store: Store,
    dev: bool = False,
    socket_mode: bool = False,
    acknowledgements: AcknowledgementLines | None = None,
    campaigns: Campaigns | None = None,
) -> web.Application:
    """The aiohttp application ``policybot serve`` runs.

    Mounts Slack at ``/slack/events`` when ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET``
    are set (in Socket Mode the Bolt app is built but no route is mounted), and Teams at
    ``/api/messages`` as ``adapters.teams.mount_teams`` decides, both with acknowledgement
    campaigns (``campaigns``, by default on ``store`` and the bot's policies). The Slack App
    Home lists each person's pending acknowledgements unless ``acknowledgements`` replaces
    that section. Raises ``ConfigError`` as ``check_platforms`` does.

    Example (a test)::

        app = create_app(settings, PolicyBot.from_settings(settings, store), store=store)
        client = await aiohttp_client(app)
    """
    check_platforms(settings, dev=dev, socket_mode=socket_mode)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STORE] = store
    app.router.add_get("/healthz", healthz)

    campaigns = campaigns or Campaigns(store, bot.policies)
    if socket_mode or settings.slack_bot_token is not None:
        directory = SlackDirectory(sync_web_client(settings, retries=True))
        admins = Admins(
            settings.admins,
            slack_workspace_admin=directory.is_workspace_admin
            if settings.slack_admins_are_admins
            else None,
        )
        extension = SlackCampaignListeners(bot, campaigns, admins, directory)
        listeners = SlackListeners(
            bot,
            store,
            acknowledgements or extension.home_items,
            extensions=[extension, SlackTrendsListeners(bot, store, settings)],
        )
        slack_app = app[SLACK_APP] = build_slack_app(settings, listeners)
        app.cleanup_ctx.append(_slack_lifetime(slack_app, listeners))
        if socket_mode and settings.slack_app_token is not None:
            app.cleanup_ctx.append(
                _socket_mode(slack_app, settings.slack_app_token.get_secret_value())
            )
        elif settings.slack_signing_secret is not None:
            secret = settings.slack_signing_secret.get_secret_value()
            app.router.add_post(SLACK_EVENTS_PATH, slack_events_handler(slack_app, secret))

    # Teams decides for itself: /api/messages with MICROSOFT_APP_ID, unauthenticated in dev.
    mount_teams(
        app,
        bot=bot,
        store=store,
        settings=settings,
        dev=dev,
        campaigns=campaigns,
        admins=Admins(settings.admins),
    )
    # HR's report, behind a short-lived signed link (see /policy trends).
    mount_hr(app, store_provider=lambda: store, settings=settings, library=bot.library)
    return app


def serve(
    settings: Settings, *, port: int | None = None, dev: bool = False, socket_mode: bool = False
) -> None:
    """Run the web process until interrupted (``policybot serve``).

    ``port`` defaults to ``Settings.port`` (``$PORT``). ``dev`` (or POLICYBOT_ENV=development)
    allows starting with no chat platform; ``socket_mode`` connects to Slack over Socket
    Mode with ``SLACK_APP_TOKEN`` instead of receiving HTTP requests.
    """
    check_platforms(settings, dev=dev, socket_mode=socket_mode)
    configure_logging()
    store = Store.from_settings(settings)
    try:
        store.upgrade()  # idempotent; lets a fresh install (or a dev laptop) start in one step
        bot = PolicyBot.from_settings(settings, store=store)
        bot.warm_up()
        app = create_app(settings, bot, store=store, dev=dev, socket_mode=socket_mode)
        listen = settings.port if port is None else port
        log.info("PolicyBot listening on port %s", listen)
        # Heroku sends SIGTERM and kills 30 s later: finish in-flight requests well before.
        web.run_app(app, port=listen, access_log=None, print=None, shutdown_timeout=15)
    finally:
        store.close()


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 when it does not."""
    try:
        await asyncio.to_thread(request.app[STORE].check)
    except StorageError as exc:
        log.warning("health check: database unavailable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def verify_signature(
    secret: bytes, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> bool:
    """Slack's v0 request signature check, total over any input (never raises).

    ``timestamp`` must be whole seconds within five minutes of ``now``, either side;
    ``signature`` must be ``v0=`` + the hex HMAC-SHA256 of ``v0:{timestamp}:{body}``.
    """
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return False
    if not signature.isascii():
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(("v0=" + digest.hexdigest()).encode(), signature.encode())


def slack_events_handler(slack_app: AsyncApp, signing_secret: str) -> Handler:
    """The ``/slack/events`` route: verify the signature, then let Bolt dispatch."""
    secret = signing_secret.encode()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not verify_signature(secret, body, timestamp, signature):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body.decode("utf-8"),
                query=request.query_string,
                headers=dict(request.headers),
            )
        except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
            return web.json_response({"error": "malformed body"}, status=400)
        bolt_response = await slack_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle


def _slack_lifetime(
    slack_app: AsyncApp, listeners: SlackListeners
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        # One connection pool for every Web API call, instead of a session per call;
        # at shutdown, answers still in progress finish before the pool closes.
        async with aiohttp.ClientSession() as session:
            slack_app.client.session = session
            yield
            await listeners.drain()
            slack_app.client.session = None

    return lifetime


def _socket_mode(
    slack_app: AsyncApp, app_token: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def connect(app: web.Application) -> AsyncIterator[None]:
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(slack_app, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack over Socket Mode")
        yield
        await handler.close_async()  # type: ignore[no-untyped-call]

    return connect
