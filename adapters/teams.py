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
import contextlib
import functools
import hashlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar

import requests
from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from botframework.connector.auth import (
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
)
from msrest import Serializer
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters import teams_campaign_cards as campaign_cards
from adapters import teams_cards as cards
from adapters.teams_campaigns import TeamsCampaigns, TeamsTurn
from adapters.teams_package import (
    PUBLIC_CLOUD,
    BotFrameworkCloud,
    check_teams_settings,
    teams_configured,
)
from adapters.teams_trends import TeamsTrends
from bot.admins import Admins
from bot.campaigns import Campaigns
from bot.chat import Incoming
from bot.config import Settings
from bot.errors import KnowledgeError, PolicyBotError, QuestionError, StorageError
from bot.messenger import Accepted, Address, Message, Notice, Outcome, SendResult
from bot.service import PolicyBot
from bot.storage import Store, conversations

__all__ = [
    "MESSAGES_PATH",
    "PUBLIC_CLOUD",
    "BotFrameworkCloud",
    "TeamsBot",
    "TeamsMessenger",
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
#: People whose last conversation reference this process remembers (then it starts over).
SEEN_LIMIT = 10_000

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
    campaigns: Campaigns | None = None,
    admins: Admins | None = None,
) -> None:
    """Add ``POST /api/messages`` when Teams is configured, or unauthenticated in dev mode.

    With ``campaigns`` the bot also handles acknowledgement campaigns (buttons, commands
    for ``admins``, enrolling people who install it).

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
    trends = TeamsTrends(bot, store, settings) if store is not None else None
    teams_bot = TeamsBot(bot, store, campaigns=campaigns, admins=admins, trends=trends)
    app.router.add_post(MESSAGES_PATH, messages_route(adapter, teams_bot))


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
        make = functools.partial(self._connector, service_url, audience)
        return await self._auth.reuse(("connector", self._app, service_url, audience), make)

    async def _connector(self, service_url: str, audience: str | None) -> Any:
        client = await self._inner.create(service_url, audience)
        fast = _CardSerializer(client._serialize.dependencies)  # type: ignore[no-untyped-call]
        client._serialize = client.conversations._serialize = client.attachments._serialize = fast
        return client


_ATTACHMENT_FIELDS = tuple(
    (name, field["key"]) for name, field in Attachment._attribute_map.items()
)


class _CardSerializer(Serializer):
    """msrest's serializer with shorter paths for plain JSON: Adaptive Cards above all.

    For every dict and list inside an ``object`` field (a card is dozens of them) msrest
    first compares its type with each of the ~160 connector models; a reply's card then
    cost more to serialise than the answer did to find. A card PolicyBot attached
    (``_CardAttachment``) is plain JSON already and goes out as it is; other JSON in
    ``object`` fields (channel data) is copied without the model scan. The output is
    msrest's (``tests/adapters/test_teams.py`` compares them; every card a test sends is
    checked to be plain JSON).
    """

    def _serialize(self, target_obj: Any, data_type: Any = None, **kwargs: Any) -> Any:
        if type(target_obj) is _CardAttachment and not target_obj.additional_properties:
            # msrest's output, field by field in its order, without its per-field machinery.
            # The fields are strings and the card is plain JSON (``teams_cards`` builds it
            # so), which msrest would copy unchanged: it is sent as it is.
            return {
                key: value
                for name, key in _ATTACHMENT_FIELDS
                if (value := getattr(target_obj, name)) is not None
            }
        return super()._serialize(target_obj, data_type, **kwargs)  # type: ignore[no-untyped-call]

    def serialize_object(self, attr: Any, **kwargs: Any) -> Any:
        kind = type(attr)
        if kind is str or kind is bool or kind is int or kind is float:
            return attr
        if kind is dict:
            serialized = {}
            for key, value in attr.items():
                # msrest's serialize_unicode raises and catches an AttributeError per key.
                name = key if type(key) is str else self.serialize_unicode(key)  # type: ignore[no-untyped-call]
                try:
                    serialized[name] = self.serialize_object(value, **kwargs)
                except ValueError:  # as msrest does
                    serialized[name] = None
            return serialized
        if kind is list:
            items = []
            for value in attr:
                with contextlib.suppress(ValueError):  # as msrest does
                    items.append(self.serialize_object(value, **kwargs))
            return items
        return super().serialize_object(attr, **kwargs)  # type: ignore[no-untyped-call]


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

    A question is answered on the event loop and handed to the question log, which commits
    it with the delivery claim (alongside other questions; on this loop for SQLite); the
    reply goes out once that commit is done. Other turns that read or write the database
    (buttons, commands, the welcome) run as one job on a worker thread.
    """

    def __init__(
        self,
        bot: PolicyBot,
        store: Store | None,
        *,
        campaigns: Campaigns | None = None,
        admins: Admins | None = None,
        trends: TeamsTrends | None = None,
    ) -> None:
        self.bot = bot
        self.store = store
        self.trends = trends
        self.references = conversations.References(store) if store is not None else None
        self.campaigns = (
            TeamsCampaigns(campaigns, admins or Admins(()), bot.policies)
            if campaigns is not None
            else None
        )
        # SQLite has one writer: concurrent writers would sleep in its busy handler, so
        # database work queues on one thread (a few for PostgreSQL).
        workers = 4 if store is not None and store.db.dialect == "postgresql" else 1
        self._worker = ThreadPoolExecutor(workers, thread_name_prefix="policybot-teams")
        self._seen: dict[str, tuple[str | None, ...]] = {}

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = self._question_of(activity)
        # A question costs CPU only (its log row is queued for the group commit), so it is
        # answered here; turns that read or write the database go to the worker thread.
        if text is not None:
            answer = await self._answer(activity, text)
        else:
            answer = await self._run(self._respond, activity)
        if answer.card is None:
            return
        if answer.replace and activity.reply_to_id:
            replacement = _message(answer.card, answer.summary)
            replacement.id = activity.reply_to_id
            try:
                await turn_context.update_activity(replacement)
                return
            except (HttpOperationError, ClientRequestError) as exc:  # show it as a reply
                log.info("teams: could not update the prompt (%s)", type(exc).__name__)
        await turn_context.send_activity(_message(answer.card, answer.summary))

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        if any(m.id == turn_context.activity.recipient.id for m in members_added):
            await self._enrol(turn_context.activity)
            await self._welcome(turn_context)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._enrol(turn_context.activity)
        await self._welcome(turn_context)

    async def _enrol(self, activity: Activity) -> None:
        # Someone installed PolicyBot while a campaign runs: they are asked too. The
        # reference that reaches them was saved by on_turn, just before.
        user = _user_id(activity)
        if self.campaigns is None or user is None:
            return
        name = (activity.from_property.name if activity.from_property else None) or ""
        enrolled = await self._run(self.campaigns.enrol, _tenant(activity) or "", user, name)
        if enrolled:
            log.info("teams: enrolled a new installer in %s", ", ".join(enrolled))

    async def _welcome(self, turn_context: TurnContext) -> None:
        # Teams sends both conversationUpdate and installationUpdate on install: greet once.
        key = f"teams:welcome:{_digest(turn_context.activity.conversation.id)}"
        if await self._run(self._claim, key):
            card = cards.help_card(self.bot.help_text(), self.bot.examples, welcome=True)
            await turn_context.send_activity(_message(card))

    async def _answer(self, activity: Activity, text: str) -> _Answer:
        """The card answering a question, once its log row (and delivery claim) committed;
        no card for a repeat of an activity already answered."""
        key = _delivery_key(activity)
        incoming = Incoming(
            text=text,
            platform="teams",
            user=_user_id(activity),
            workspace=_tenant(activity),
            event_id=activity.id,
        )
        try:  # the claim is made with the question's log row, in one transaction
            reply = await self.bot.submit_async(incoming, claim=key if activity.id else None)
        except QuestionError as exc:
            if activity.id and not await self._run(self._claim, key):
                return _Answer(None)
            return _Answer(cards.notice_card(str(exc)))
        except PolicyBotError as exc:
            log.error("teams: question failed (%s: %s)", type(exc).__name__, exc)
            return _Answer(cards.notice_card(SORRY))
        if reply is None:
            log.info("teams: activity %s delivered again; answered once", activity.id)
            return _Answer(None)
        shared = activity.conversation.conversation_type in ("channel", "groupChat")
        card = cards.answer_card(reply, question=text if shared else None)
        return _Answer(card, cards.summary(reply))

    def _respond(self, activity: Activity) -> _Answer:
        """The card answering a turn that is not a question (a button, a command, help), or
        none (a repeat, or another app's button). Runs on the worker thread."""
        key = _delivery_key(activity)
        if activity.id and not self._claim(key):
            log.info("teams: activity %s delivered again; answered once", activity.id)
            return _Answer(None)
        if self.campaigns is not None:
            campaign = self.campaigns.handle(_turn(activity))
            if campaign is not None:
                return _Answer(campaign.card, replace=campaign.replace)
        if self.trends is not None:
            personal = activity.conversation.conversation_type in (None, "personal")
            report = self.trends.handle(_turn(activity), personal=personal)
            if report is not None:
                return _Answer(report)
        action = cards.parse_action(activity.value)
        if isinstance(action, cards.Feedback):
            return _Answer(self._feedback(action))
        if isinstance(action, cards.ShowClause):
            return _Answer(self._explain(action.clause_id))
        if action is None and activity.value is not None and not (activity.text or "").strip():
            return _Answer(None)
        return _Answer(cards.help_card(self.bot.help_text(), self.bot.examples))

    def _question_of(self, activity: Activity) -> str | None:
        """The question a message asks; None for a button, a command, help or nothing."""
        turn = _turn(activity)
        if self.campaigns is not None and self.campaigns.takes(turn):
            return None
        if self.trends is not None and self.trends.takes(turn):
            return None
        action = cards.parse_action(activity.value)
        if isinstance(action, (cards.Feedback, cards.ShowClause)):
            return None
        if action is None and activity.value is not None and not (activity.text or "").strip():
            return None  # another app's button, or an empty card submit
        text = action.question if isinstance(action, cards.Ask) else turn.text
        return None if cards.is_help(text) else text

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
        # Building the reference costs more than answering; most turns repeat the last one.
        seen = _reference_fields(activity)
        if self._seen.get(user) == seen:
            return
        reference = TurnContext.get_conversation_reference(activity).serialize()
        reference.pop("activityId", None)  # changes with every message; not needed
        details = ("teams", _tenant(activity), user, reference)
        if self.references.changed(*details):
            try:
                await asyncio.wrap_future(self.references.submit(*details))
            except StorageError as exc:
                log.warning("teams: conversation reference not saved (%s)", type(exc).__name__)
                return
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        self._seen[user] = seen

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)


class _Answer(NamedTuple):
    card: cards.Card | None
    summary: str | None = None
    replace: bool = False


def _reference_fields(activity: Activity) -> tuple[str | None, ...]:
    """The parts of an activity a conversation reference is built from, cheaply: while they
    stay the same, so does the part of the reference that reaches the person."""
    sender, bot, conversation = activity.from_property, activity.recipient, activity.conversation
    return (
        activity.service_url,
        activity.channel_id,
        activity.locale,
        *((sender.id, sender.name, sender.aad_object_id, sender.role) if sender else ()),
        *((bot.id, bot.name) if bot else ()),
        *(
            (
                conversation.id,
                conversation.name,
                conversation.tenant_id,
                conversation.conversation_type,
            )
            if conversation
            else ()
        ),
        str(conversation.is_group) if conversation else None,
    )


def _delivery_key(activity: Activity) -> str:
    """The delivery-ledger key of an activity: a retried activity has the same one."""
    return f"teams:{(activity.id or '')[:200]}@{_digest(activity.conversation.id)}"


def _turn(activity: Activity) -> TeamsTurn:
    sender = activity.from_property
    ids = tuple(i for i in (sender.aad_object_id, sender.id) if i) if sender else ()
    return TeamsTurn(
        text=_question(activity) if activity.text else "",
        value=activity.value,
        user_id=_user_id(activity) or "",
        ids=ids,
        name=(sender.name if sender else None) or "",
        tenant=_tenant(activity) or "",
        activity_id=activity.id or "",
    )


def _question(activity: Activity) -> str:
    # Teams' own mention entities say exactly what to remove (remove_recipient_mention also
    # deletes the bot's name elsewhere in the text, and fails on a malformed entity).
    entities = [
        {"type": e.type, **(e.additional_properties or {})} for e in activity.entities or []
    ]
    return cards.to_question(activity.text, entities, activity.recipient.id)


class _CardAttachment(Attachment):  # type: ignore[misc]
    """A card attachment that outgoing copies share instead of copying.

    The SDK deep-copies every outgoing activity; for an answer card that is a hundred
    copied objects, half the copy's cost. A card is built for one message and nobody
    changes it once attached, so the copy can share it. msrest serialises it as any
    ``Attachment`` (the subclass adds no field).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _CardAttachment:
        return self


def _message(card: cards.Card, summary: str | None = None) -> Activity:
    attachment = _CardAttachment(content_type=cards.CONTENT_TYPE, content=card)
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


class TeamsMessenger:
    """Proactive campaign messages in Teams, for the synchronous campaign worker.

    Each send continues the person's stored conversation (``CloudAdapter
    .continue_conversation``); from a channel or group-chat reference it opens a one-to-one
    chat first. The SDK is asynchronous, so the messenger runs its own event loop on a
    thread and waits for each send. Teams has no message history a bot can read, so
    ``find`` answers ``unknown`` and the worker never sends such a step twice.
    """

    platform = "teams"

    def __init__(
        self,
        settings: Settings,
        *,
        cloud: BotFrameworkCloud = PUBLIC_CLOUD,
        credentials: ServiceClientCredentialsFactory | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._adapter = build_adapter(settings, cloud=cloud, credentials=credentials)
        self._app_id = settings.microsoft_app_id
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="policybot-teams-send", daemon=True
        )
        self._thread.start()

    def send(self, to: Address, message: Message) -> SendResult:
        """Send a prompt (as its card) or a notice to one person."""
        if to.reference is None:
            return SendResult.failed("unreachable", "no conversation with PolicyBot in Teams")
        if isinstance(message, Notice):
            card, summary = cards.notice_card(message.text), message.text[:200]
        else:
            card, summary = campaign_cards.prompt_card(message), message.policy_title
        return self._call(self._send(to.reference, _message(card, summary)), sent_maybe=True)

    def find(self, to: Address, marker: str, since: datetime) -> SendResult:
        """Teams keeps no history a bot can read: always ``unknown``."""
        return SendResult.failed("unknown", "Teams keeps no message history a bot can read")

    def update(self, to: Address, message_id: str, accepted: Accepted) -> SendResult:
        """Replace a prompt's card with its accepted form."""
        if to.reference is None:
            return SendResult.failed("unreachable", "no conversation with PolicyBot in Teams")
        replacement = _message(campaign_cards.accepted_card(accepted))
        replacement.id = message_id
        failures: list[Exception] = []

        async def update(turn_context: TurnContext) -> None:
            try:
                await turn_context.update_activity(replacement)
            except Exception as exc:  # the adapter would swallow it into on_turn_error
                failures.append(exc)

        async def run() -> SendResult:
            reference = ConversationReference().deserialize(to.reference)
            await self._adapter.continue_conversation(reference, update, self._app_id)
            if failures:
                raise failures[0]
            return SendResult.sent(str(reference.conversation.id), message_id)

        return self._call(run(), sent_maybe=False)

    def close(self) -> None:
        """Stop the messenger's event loop."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _send(self, data: dict[str, Any], activity: Activity) -> SendResult:
        # A new message, never a reply to whatever activity the reference was taken from.
        reference = ConversationReference().deserialize(
            {k: v for k, v in data.items() if k != "activityId"}
        )
        where: list[tuple[str, str]] = []
        failures: list[Exception] = []

        async def deliver(turn_context: TurnContext) -> None:
            # The SDK would send it as a reply to its made-up continuation event.
            turn_context.activity.id = None
            try:
                response = await turn_context.send_activity(activity)
            except Exception as exc:  # the adapter would swallow it into on_turn_error
                failures.append(exc)
                return
            conversation = turn_context.activity.conversation
            where.append((str(conversation.id if conversation else ""), str(response.id or "")))

        conversation = reference.conversation
        if conversation is not None and conversation.conversation_type in ("channel", "groupChat"):
            tenant = conversation.tenant_id
            parameters = ConversationParameters(
                is_group=False,
                bot=reference.bot,
                members=[reference.user],
                tenant_id=tenant,
                channel_data={"tenant": {"id": tenant}},
            )
            await self._adapter.create_conversation(
                self._app_id, deliver, parameters, reference.channel_id, reference.service_url
            )
        else:
            await self._adapter.continue_conversation(reference, deliver, self._app_id)
        if failures:
            raise failures[0]
        if not where:
            return SendResult.failed("unknown", "the SDK reported no send")
        return SendResult.sent(*where[0])

    def _call(self, work: Coroutine[Any, Any, SendResult], *, sent_maybe: bool) -> SendResult:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(self._timeout)
        except HttpOperationError as exc:
            return _teams_failure(exc)
        except PermissionError as exc:  # our credentials were refused: nothing went out
            return SendResult.failed("retry", f"credentials: {exc}"[:300])
        except (ClientRequestError, TimeoutError, OSError) as exc:
            future.cancel()
            outcome: Outcome = "unknown" if sent_maybe else "retry"
            return SendResult.failed(outcome, f"{type(exc).__name__}: {exc}"[:300])


def _teams_failure(exc: HttpOperationError) -> SendResult:
    response = exc.response
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    wait = float(retry_after) if retry_after and str(retry_after).isdigit() else None
    reason = f"HTTP {status}: {exc.message}"[:300]
    if status == 429:
        return SendResult.failed("rate_limited", reason, wait)
    if status in (403, 404):  # the app was blocked or removed, or the chat is gone
        return SendResult.failed("unreachable", reason)
    return SendResult.failed("retry", reason, wait)
