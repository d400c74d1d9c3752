"""Microsoft Teams surface: ``/api/messages`` on botbuilder's ``CloudAdapter``.

Staff ask in a personal chat, or by @mentioning PolicyBot in a channel or group chat; the
answer is an Adaptive Card (``adapters/teams_cards.py``). Every botbuilder/botframework
import of PolicyBot lives in this file, so moving to the Microsoft 365 Agents SDK (the
archived SDK's successor) stays a one-file change.

The route checks the body itself (415/400, never 500), then the Bot Framework JWT through
the SDK's own validation (401), then runs the turn. Authentication is off only when
``MICROSOFT_APP_ID`` is unset and the operator asked for development mode.

Example (a test)::

    app = web.Application()
    mount_teams(app, bot=bot, store=store, settings=settings, dev=False)
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, TypeVar

import requests
from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, ActivityTypes, Attachment, ChannelAccount
from botframework.connector.auth import (
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)

from adapters import teams_cards as cards
from adapters.teams_package import (
    PUBLIC_CLOUD,
    BotFrameworkCloud,
    check_teams_settings,
    teams_configured,
)
from bot.chat import Incoming
from bot.config import Settings
from bot.errors import KnowledgeError, PolicyBotError, QuestionError, StorageError
from bot.service import PolicyBot
from bot.storage import Store, conversations

__all__ = [
    "MESSAGES_PATH",
    "PUBLIC_CLOUD",
    "BotFrameworkCloud",
    "TeamsBot",
    "build_adapter",
    "check_teams_settings",
    "messages_route",
    "mount_teams",
    "teams_configured",
]

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
SORRY = "Sorry, something went wrong on my side. Please try again in a minute."
GONE = "That clause is no longer in the policy I know; please ask your question again."
NOT_RECORDED = "Sorry, I couldn't record that just now. Please try again later."
_CLIENTS_MAX = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def mount_teams(
    app: web.Application,
    *,
    bot: PolicyBot,
    store: Store | None,
    settings: Settings,
    dev: bool,
    cloud: BotFrameworkCloud = PUBLIC_CLOUD,
    credentials: ServiceClientCredentialsFactory | None = None,
) -> None:
    """Add ``POST /api/messages`` when Teams is configured, or unauthenticated in dev mode.

    ``dev`` (``policybot serve --dev``) or ``POLICYBOT_ENV=development`` without
    ``MICROSOFT_APP_ID`` mounts it with authentication off (the Emulator's mode) and logs a
    WARNING; with neither, nothing is mounted. ``credentials`` replaces the SDK's factory
    for outbound tokens (tests use a loopback token endpoint).
    """
    check_teams_settings(settings)
    if not teams_configured(settings):
        if not (dev or settings.development):
            return
        log.warning(
            "Teams authentication is OFF: %s accepts unsigned requests (development mode, "
            "for the Bot Framework Emulator). Set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD "
            "before exposing this server.",
            MESSAGES_PATH,
        )
    adapter = build_adapter(settings, cloud=cloud, credentials=credentials)
    app.router.add_post(MESSAGES_PATH, messages_route(adapter, TeamsBot(bot, store)))


def build_adapter(
    settings: Settings,
    *,
    cloud: BotFrameworkCloud = PUBLIC_CLOUD,
    credentials: ServiceClientCredentialsFactory | None = None,
) -> CloudAdapter:
    """A ``CloudAdapter`` configured from ``Settings`` (no secret ever defaults to "")."""
    secret = settings.microsoft_app_password
    config = SimpleNamespace(
        APP_ID=settings.microsoft_app_id,
        APP_PASSWORD=secret.get_secret_value() if secret else None,
        APP_TYPE=settings.microsoft_app_type,
        APP_TENANTID=settings.microsoft_app_tenant_id,
        VALIDATE_AUTHORITY=True,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=cloud.login_url,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=cloud.oauth_scope,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=cloud.token_issuer,
        OAUTH_URL=cloud.oauth_url,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=cloud.openid_metadata_url,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=cloud.emulator_openid_metadata_url,
        CALLER_ID=cloud.caller_id,
    )
    factory = credentials or ConfigurationServiceClientCredentialFactory(config)
    adapter = CloudAdapter(_Authentication(config, factory))
    adapter.on_turn_error = _on_turn_error
    return adapter


class _Authentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    # The SDK builds a connector client and a user-token client on every turn: each brings
    # its own HTTP connection pool (a new connection per reply), sets up MSAL afresh (a
    # blocking token fetch) and msrest's retry policy (milliseconds of CPU). Reuse them per
    # app id and service URL: the fixed-text bench bot went from ~50 to ~500 replies/s.
    def __init__(self, config: SimpleNamespace, factory: ServiceClientCredentialsFactory) -> None:
        super().__init__(config, credentials_factory=factory)
        self._clients: dict[tuple[Any, ...], Any] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str | None) -> Any:
        result = await super().authenticate_request(activity, auth_header)
        result.connector_factory = self.create_connector_factory(result.claims_identity)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> Any:
        inner = super().create_connector_factory(claims_identity)
        return _ReusedConnectors(self, inner, _app_of(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> Any:
        make = functools.partial(super().create_user_token_client, claims_identity)
        return await self.reuse(("user tokens", _app_of(claims_identity)), make)

    async def reuse(self, key: tuple[Any, ...], make: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._clients:
            if len(self._clients) >= _CLIENTS_MAX:  # dev mode lets callers pick service URLs
                self._clients.clear()
            self._clients[key] = await make()
        return self._clients[key]


class _ReusedConnectors(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, auth: _Authentication, inner: Any, app: tuple[Any, ...]) -> None:
        self._auth, self._inner, self._app = auth, inner, app

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        make = functools.partial(self._inner.create, service_url, audience)
        return await self._auth.reuse(("connector", self._app, service_url, audience), make)


def _app_of(claims_identity: ClaimsIdentity) -> tuple[Any, ...]:
    claims = claims_identity.claims or {}
    return tuple(claims.get(name) for name in ("aud", "appid", "azp"))


def messages_route(adapter: CloudAdapter, bot: Any) -> Handler:
    """The ``/api/messages`` handler: check the body, then the JWT, then run ``bot.on_turn``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        activity = await _read_activity(request)
        if isinstance(activity, web.Response):
            return activity
        header = request.headers.get("Authorization")
        try:
            auth = await adapter.bot_framework_authentication.authenticate_request(activity, header)
        except requests.RequestException as exc:
            log.error("teams: Bot Framework signing keys unavailable (%s)", type(exc).__name__)
            return web.json_response({"error": "cannot check tokens now"}, status=503)
        except Exception as exc:  # PermissionError, PyJWT's errors, unknown key: all 401
            log.info("teams: request refused (%s: %s)", type(exc).__name__, exc)
            return web.json_response({"error": "unauthorized"}, status=401)
        invoke = await adapter.process_activity(auth, activity, bot.on_turn)
        if invoke:
            return web.json_response(serializer_helper(invoke.body), status=invoke.status)
        return web.Response(status=201)

    return handle


async def _read_activity(request: web.Request) -> Activity | web.Response:
    if request.content_type != "application/json":
        return web.json_response({"error": "Content-Type must be application/json"}, status=415)
    try:
        data = json.loads(await request.read())
        if cards.is_activity(data):
            return Activity().deserialize(data)
    except (ValueError, TypeError, AttributeError, RecursionError):  # JSON, UTF-8, msrest
        pass
    return web.json_response({"error": "the body is not a Bot Framework activity"}, status=400)


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    log.error("teams: turn failed (%s)", turn_context.activity.type, exc_info=error)
    if turn_context.activity.type == ActivityTypes.message:
        try:
            await turn_context.send_activity(_message(cards.notice_card(SORRY)))
        except Exception as exc:  # the connector itself may be what failed
            log.warning("teams: could not send the apology (%s)", type(exc).__name__)


class TeamsBot(ActivityHandler):  # type: ignore[misc]
    """PolicyBot in Teams: questions, card buttons, help and the welcome, one turn at a time.

    The work of a message (delivery claim, answer, question log) runs as one job on a worker
    thread; only sending stays on the event loop.
    """

    def __init__(self, bot: PolicyBot, store: Store | None) -> None:
        self.bot = bot
        self.store = store
        self.references = conversations.References(store.db) if store is not None else None
        # SQLite has one writer: concurrent writers would sleep in its busy handler, so
        # database work queues on one thread (a few for PostgreSQL).
        workers = 4 if store is not None and store.db.dialect == "postgresql" else 1
        self._worker = ThreadPoolExecutor(workers, thread_name_prefix="policybot-teams")

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        card, summary = await self._run(self._respond, turn_context.activity)
        if card is not None:
            await turn_context.send_activity(_message(card, summary))

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        if any(m.id == turn_context.activity.recipient.id for m in members_added):
            await self._welcome(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._welcome(turn_context)

    async def _welcome(self, turn_context: TurnContext) -> None:
        # Teams sends both conversationUpdate and installationUpdate on install: greet once.
        key = f"teams:welcome:{_digest(turn_context.activity.conversation.id)}"
        if await self._run(self._claim, key):
            card = cards.help_card(self.bot.help_text(), self.bot.examples, welcome=True)
            await turn_context.send_activity(_message(card))

    def _respond(self, activity: Activity) -> tuple[cards.Card | None, str | None]:
        """The card answering one message, or None (a repeat, or another app's button)."""
        key = f"teams:{(activity.id or '')[:200]}@{_digest(activity.conversation.id)}"
        if activity.id and not self._claim(key):
            log.info("teams: activity %s delivered again; answered once", activity.id)
            return None, None
        action = cards.parse_action(activity.value)
        if isinstance(action, cards.Feedback):
            return self._feedback(action), None
        if isinstance(action, cards.ShowClause):
            return self._explain(action.clause_id), None
        if action is None and activity.value is not None and not (activity.text or "").strip():
            return None, None
        text = action.question if isinstance(action, cards.Ask) else _question(activity)
        if cards.is_help(text):
            return cards.help_card(self.bot.help_text(), self.bot.examples), None
        incoming = Incoming(
            text=text,
            platform="teams",
            user=_user_id(activity),
            workspace=_tenant(activity),
            event_id=activity.id,
        )
        try:
            reply = self.bot.handle(incoming)
        except QuestionError as exc:
            return cards.notice_card(str(exc)), None
        except PolicyBotError as exc:
            log.error("teams: question failed (%s: %s)", type(exc).__name__, exc)
            return cards.notice_card(SORRY), None
        shared = activity.conversation.conversation_type in ("channel", "groupChat")
        return cards.answer_card(reply, question=text if shared else None), cards.summary(reply)

    def _feedback(self, action: cards.Feedback) -> cards.Card:
        try:
            self.bot.record_feedback(action.log_id, action.helpful)
        except StorageError as exc:
            log.warning("teams: feedback not recorded (%s)", type(exc).__name__)
            return cards.notice_card(NOT_RECORDED)
        return cards.thanks_card(action.helpful)

    def _explain(self, clause_id: str) -> cards.Card:
        try:
            return cards.answer_card(self.bot.explain(clause_id, platform="teams"))
        except KnowledgeError:
            return cards.notice_card(GONE)

    def _claim(self, key: str) -> bool:
        if self.store is None:
            return True
        try:
            return self.store.claim_delivery(key)
        except StorageError as exc:  # answering twice beats not answering
            log.warning("teams: delivery ledger unavailable (%s)", type(exc).__name__)
            return True

    async def _remember(self, activity: Activity) -> None:
        # Proactive messages need each person's latest reference: Teams can move a
        # conversation to another service URL, so every activity may refresh it.
        user = _user_id(activity)
        if self.references is None or user is None:
            return
        reference = TurnContext.get_conversation_reference(activity).serialize()
        reference.pop("activityId", None)  # changes with every message; not needed
        details = ("teams", _tenant(activity), user, reference)
        if self.references.changed(*details):
            try:
                await self._run(self.references.save, *details)
            except StorageError as exc:
                log.warning("teams: conversation reference not saved (%s)", type(exc).__name__)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)


def _question(activity: Activity) -> str:
    # Teams' own mention entities say exactly what to remove (remove_recipient_mention also
    # deletes the bot's name elsewhere in the text, and fails on a malformed entity).
    entities = [
        {"type": e.type, **(e.additional_properties or {})} for e in activity.entities or []
    ]
    return cards.to_question(activity.text, entities, activity.recipient.id)


def _message(card: cards.Card, summary: str | None = None) -> Activity:
    attachment = Attachment(content_type=cards.CONTENT_TYPE, content=card)
    return Activity(type=ActivityTypes.message, attachments=[attachment], summary=summary)


def _user_id(activity: Activity) -> str | None:
    sender = activity.from_property
    if sender is None:
        return None
    return str(sender.aad_object_id or sender.id or "") or None


def _tenant(activity: Activity) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    found = tenant.get("id") if isinstance(tenant, dict) else None
    return found if isinstance(found, str) else activity.conversation.tenant_id


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
