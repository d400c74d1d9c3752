"""Teams conversations through botbuilder's TestAdapter, plus settings and mounting rules.

The bot under test is the real ``TeamsBot`` on a real SQLite store; TestAdapter plays the
channel, so each test reads like a conversation: send, then look at the card that came back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from botbuilder.core.adapters import TestAdapter, TestFlow
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, Entity
from botframework.connector import models
from msrest import Serializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapters import teams_cards as cards
from adapters.teams import (
    MESSAGES_PATH,
    PUBLIC_CLOUD,
    TeamsBot,
    _CardSerializer,
    _message,
    check_teams_settings,
    mount_teams,
)
from adapters.teams_trends import TeamsTrends
from bot.config import Settings
from bot.errors import ConfigError, StorageError
from bot.knowledge import Clause, Policy
from bot.lexicon import EMPTY_LEXICON
from bot.service import Library, PolicyBot
from bot.storage import Store, conversations
from tests.fakes.bot_connector import BOT_ID, BOT_NAME, TENANT_ID

APP_ID = "8f0c2b7e-1d2a-4e5f-9a6b-0c1d2e3f4a5b"
QUESTION = "social media friend requests from parents"  # answered, with a related clause
DECLINED = "what is on the canteen menu on fridays?"


def small_policy() -> Policy:
    """A policy of four clauses, made for these tests (independent of the bundled one)."""
    clauses = (
        Clause(
            id="social-media-1",
            section=("Social Media",),
            text="Staff **must not** accept friend requests from parents of pupils on "
            "Facebook or other social media.",
            obligation="prohibited",
        ),
        Clause(
            id="social-media-2",
            section=("Social Media",),
            text="Staff must decline friend requests from pupils on their personal social "
            "media accounts.",
            obligation="required",
        ),
        Clause(
            id="email-1",
            section=("Email",),
            text="Staff must use their school email account for school business.",
            obligation="required",
        ),
        Clause(
            id="photos-1",
            section=("Photographs",),
            text="Photographs of pupils may be taken only on school cameras and devices.",
            obligation="permitted",
        ),
    )
    return Policy(
        id="staff-aup",
        title="Staff Acceptable Use Policy",
        version="July 2018",
        contact="the Headteacher",
        source="source.txt",
        content_hash="0" * 64,
        clauses=clauses,
    )


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.from_policies((small_policy(),), EMPTY_LEXICON)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.from_settings(Settings(POLICYBOT_DATA_DIR=tmp_path))
    store.upgrade()
    yield store
    store.close()


@pytest.fixture
def bot(library: Library, store: Store) -> PolicyBot:
    return PolicyBot(library, store)


def template(conversation_type: str = "personal", conversation_id: str = "a:chat-1") -> Activity:
    return Activity(
        channel_id="msteams",
        service_url="https://smba.trafficmanager.net/emea/",
        from_property=ChannelAccount(id="29:user-1", name="Sam", aad_object_id="aad-user-1"),
        recipient=ChannelAccount(id=BOT_ID, name=BOT_NAME),
        conversation=ConversationAccount(
            id=conversation_id, conversation_type=conversation_type, tenant_id=TENANT_ID
        ),
        channel_data={"tenant": {"id": TENANT_ID}},
    )


class Chat:
    """A conversation with PolicyBot through TestAdapter: ``say`` returns the cards sent back."""

    def __init__(
        self, bot: PolicyBot, store: Store | None, trends: TeamsTrends | None = None, **where: Any
    ) -> None:
        self.teams_bot = TeamsBot(bot, store, trends=trends)
        self.adapter = TestAdapter(self.teams_bot.on_turn, template(**where))

    def send(self, activity: Activity | str) -> list[dict[str, Any]]:
        asyncio.run(self.adapter.receive_activity(activity))
        sent, self.adapter.activity_buffer[:] = list(self.adapter.activity_buffer), []
        return [a.attachments[0].content for a in sent]

    def say(self, text: str, **fields: Any) -> list[dict[str, Any]]:
        return self.send(Activity(type="message", text=text, **fields))

    def press(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return self.send(Activity(type="message", value=data))


def shown(card: dict[str, Any]) -> str:
    """All text a card shows, joined by newlines."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun"):
                out.append(node["text"])
            for key in ("body", "items", "inlines"):
                for child in node.get(key, []):
                    walk(child)

    walk(card)
    return "\n".join(out)


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["data"] for a in card.get("actions", [])]


# -- conversations ------------------------------------------------------------------------


def test_a_question_in_personal_chat_gets_the_clause_as_a_card(bot: PolicyBot) -> None:
    [card] = Chat(bot, bot.store).say(QUESTION)
    text = shown(card)
    assert text.startswith("Not allowed.")
    assert "accept friend requests from parents" in text
    assert "Staff Acceptable Use Policy, version July 2018, Social Media" in text
    assert "You asked" not in text  # personal chat: the question is right above
    assert {"policybot": "related", "clause": "social-media-2"} in actions(card)
    assert [d["helpful"] for d in actions(card) if d["policybot"] == "feedback"] == [True, False]


def test_a_channel_mention_is_stripped_before_answering(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store, conversation_type="channel", conversation_id="19:c@thread")
    mention = Entity(type="mention")
    mention.additional_properties = {
        "text": f"<at>{BOT_NAME}</at>",
        "mentioned": {"id": BOT_ID, "name": BOT_NAME},
    }
    [card] = chat.say(f"<at>{BOT_NAME}</at> {QUESTION}", entities=[mention])
    assert shown(card).startswith(f"You asked: {QUESTION}\nNot allowed.")
    [logged] = bot.store.logged_questions() if bot.store else []
    assert "PolicyBot" not in logged.question and "<at>" not in logged.question


def test_a_decline_names_the_contact(bot: PolicyBot) -> None:
    [card] = Chat(bot, bot.store).say(DECLINED)
    assert shown(card) == "The policy doesn't cover this. Please ask the Headteacher."
    assert [d["policybot"] for d in actions(card)] == ["feedback", "feedback"]


def test_help_and_greetings_get_the_help_card(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store)
    for word in ("help", "Hello!"):
        [card] = chat.say(word)
        assert "Staff Acceptable Use Policy (version July 2018)" in shown(card)
        assert [d["policybot"] for d in actions(card)] == ["ask"] * 4
    assert bot.store is not None and bot.store.logged_questions() == []


def test_an_empty_message_gets_the_core_s_sentence(bot: PolicyBot) -> None:
    [card] = Chat(bot, bot.store).say("   ")
    assert shown(card).startswith("Please type a question")


def test_feedback_button_records_feedback(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store)
    [card] = chat.say(QUESTION)
    [helpful] = [d for d in actions(card) if d.get("helpful") is True]
    [thanks] = chat.press(helpful)
    assert shown(thanks) == cards.THANKS_HELPFUL
    assert bot.store is not None
    [logged] = bot.store.logged_questions()
    assert logged.helpful is True


def test_feedback_without_a_database_says_so(library: Library) -> None:
    [card] = Chat(PolicyBot(library), None).press(
        {"policybot": "feedback", "log": 1, "helpful": False}
    )
    assert "couldn't record" in shown(card)


def test_related_clause_button_shows_that_clause(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store)
    [card] = chat.say(QUESTION)
    related = next(d for d in actions(card) if d["policybot"] == "related")
    [shown_card] = chat.press(related)
    assert "decline friend requests from pupils" in shown(shown_card)
    assert "Social Media" in shown(shown_card)


def test_a_clause_that_is_gone_is_explained(bot: PolicyBot) -> None:
    [card] = Chat(bot, bot.store).press({"policybot": "related", "clause": "no-such-clause"})
    assert "no longer in the policy" in shown(card)


def test_an_example_button_asks_that_question(bot: PolicyBot) -> None:
    [card] = Chat(bot, bot.store).press({"policybot": "ask", "question": QUESTION})
    assert shown(card).startswith("Not allowed.")


def test_another_apps_card_button_is_ignored(bot: PolicyBot) -> None:
    assert Chat(bot, bot.store).press({"action": "vote", "choice": 2}) == []


def test_welcome_when_installed_is_sent_once(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store)
    bot_account = ChannelAccount(id=BOT_ID, name=BOT_NAME)
    [welcome] = chat.send(Activity(type="conversationUpdate", members_added=[bot_account]))
    assert shown(welcome).startswith(cards.WELCOME)
    # Teams also sends installationUpdate for the same install: no second greeting.
    assert chat.send(Activity(type="installationUpdate", action="add")) == []


def test_welcome_on_installation_update(bot: PolicyBot) -> None:
    [welcome] = Chat(bot, bot.store).send(Activity(type="installationUpdate", action="add"))
    assert shown(welcome).startswith(cards.WELCOME)


def test_no_welcome_when_someone_else_joins(bot: PolicyBot) -> None:
    someone = ChannelAccount(id="29:new-teacher", name="New")
    assert (
        Chat(bot, bot.store).send(Activity(type="conversationUpdate", members_added=[someone]))
        == []
    )


def test_a_repeated_activity_id_is_answered_once(bot: PolicyBot) -> None:
    chat = Chat(bot, bot.store)
    assert len(chat.say(QUESTION, id="1700000000001")) == 1
    assert chat.say(QUESTION, id="1700000000001") == []
    assert len(chat.say(QUESTION, id="1700000000002")) == 1
    assert bot.store is not None and len(bot.store.logged_questions()) == 2


def test_the_same_activity_id_in_another_conversation_is_answered(bot: PolicyBot) -> None:
    assert len(Chat(bot, bot.store).say(QUESTION, id="1700000000001")) == 1
    other = Chat(bot, bot.store, conversation_id="a:chat-2")
    assert len(other.say(QUESTION, id="1700000000001")) == 1


def test_conversation_references_are_stored_and_refreshed(bot: PolicyBot) -> None:
    assert bot.store is not None
    chat = Chat(bot, bot.store)
    chat.send(Activity(type="installationUpdate", action="add"))
    [saved] = conversations.references(bot.store.db, "teams")
    assert (saved.tenant, saved.user_id, saved.conversation_id) == (
        TENANT_ID,
        "aad-user-1",
        "a:chat-1",
    )
    assert saved.conversation_type == "personal"
    assert saved.reference["serviceUrl"] == "https://smba.trafficmanager.net/emea/"
    assert saved.reference["bot"]["id"] == BOT_ID
    # Teams moved this tenant to another service URL: the next message refreshes it.
    chat.adapter.template.service_url = "https://smba.trafficmanager.net/amer/"
    chat.say(QUESTION)
    [refreshed] = conversations.references(bot.store.db, "teams", TENANT_ID)
    assert refreshed.reference["serviceUrl"] == "https://smba.trafficmanager.net/amer/"
    assert refreshed.updated_at >= saved.updated_at
    assert conversations.references(bot.store.db, "teams", "another-tenant") == []


def test_trends_is_for_hr_only_and_only_in_a_personal_chat(
    bot: PolicyBot, store: Store, tmp_path: Path
) -> None:
    settings = Settings(
        POLICYBOT_DATA_DIR=tmp_path,
        POLICYBOT_HR="teams:aad-user-1",
        POLICYBOT_SECRET_KEY="k",
        POLICYBOT_PUBLIC_URL="https://bot.example",
    )
    [report] = Chat(bot, store, TeamsTrends(bot, store, settings)).say("trends")
    assert "https://bot.example/hr?token=" in shown(report)
    hr_in_a_channel = Chat(
        bot,
        store,
        TeamsTrends(bot, store, settings),
        conversation_type="channel",
        conversation_id="19:channel",
    )
    [channel] = hr_in_a_channel.say("trends")
    assert "personal chat" in shown(channel) and "token=" not in shown(channel)
    staff = Settings(POLICYBOT_DATA_DIR=tmp_path, POLICYBOT_HR="teams:someone-else")
    staff_chat = Chat(bot, store, TeamsTrends(bot, store, staff), conversation_id="a:chat-2")
    [refusal] = staff_chat.say("trends")
    assert "for the people HR has listed" in shown(refusal)


def test_works_without_a_database(library: Library) -> None:
    [card] = Chat(PolicyBot(library), None).say(QUESTION)
    assert shown(card).startswith("Not allowed.")
    assert actions(card) == [{"policybot": "related", "clause": "social-media-2"}]


def test_a_conversation_as_a_test_flow(bot: PolicyBot) -> None:
    adapter = TestAdapter(TeamsBot(bot, bot.store).on_turn, template())

    def card_saying(expected: str) -> Any:
        def inspect(reply: Activity, description: str | None = None) -> None:
            assert expected in shown(reply.attachments[0].content), description

        return inspect

    async def flow() -> None:
        step = await TestFlow(None, adapter).send("help")
        step = await step.assert_reply(card_saying("Staff Acceptable Use Policy (version"))
        step = await step.send(QUESTION)
        step = await step.assert_reply(card_saying("accept friend requests from parents"))
        step = await step.send(DECLINED)
        await step.assert_reply(card_saying("Please ask the Headteacher."))

    asyncio.run(flow())


# -- settings and mounting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"MICROSOFT_APP_ID": APP_ID}, "MICROSOFT_APP_PASSWORD"),
        ({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": " "}, "MICROSOFT_APP_PASSWORD"),
        (
            {
                "MICROSOFT_APP_ID": APP_ID,
                "MICROSOFT_APP_PASSWORD": "s3cret",
                "MICROSOFT_APP_TYPE": "SingleTenant",
            },
            "MICROSOFT_APP_TENANT_ID",
        ),
        (
            {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_TYPE": "UserAssignedMSI"},
            "MICROSOFT_APP_TENANT_ID",
        ),
        ({"MICROSOFT_APP_PASSWORD": "s3cret"}, "MICROSOFT_APP_ID"),
        ({"MICROSOFT_APP_ID": "my-bot", "MICROSOFT_APP_PASSWORD": "s3cret"}, "MICROSOFT_APP_ID"),
    ],
)
def test_inconsistent_settings_stop_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    with pytest.raises(ConfigError, match=named):
        check_teams_settings(settings)
    with pytest.raises(ConfigError, match=named):
        mount_teams(web.Application(), bot=None, store=None, settings=settings, dev=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "s3cret"},
        {
            "MICROSOFT_APP_ID": APP_ID,
            "MICROSOFT_APP_PASSWORD": "s3cret",
            "MICROSOFT_APP_TYPE": "SingleTenant",
            "MICROSOFT_APP_TENANT_ID": TENANT_ID,
        },
    ],
)
def test_consistent_settings_pass(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    check_teams_settings(Settings())


def test_the_default_cloud_is_the_sdks_public_cloud() -> None:
    from botframework.connector.auth import AuthenticationConstants as sdk

    assert PUBLIC_CLOUD.openid_metadata_url == sdk.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    assert PUBLIC_CLOUD.emulator_openid_metadata_url == (
        sdk.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
    )
    assert PUBLIC_CLOUD.token_issuer == sdk.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    assert PUBLIC_CLOUD.login_url == sdk.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
    assert PUBLIC_CLOUD.oauth_scope == sdk.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    assert PUBLIC_CLOUD.oauth_url == sdk.OAUTH_URL


def mounted(app: web.Application) -> bool:
    return any(
        r.method == "POST" and r.resource is not None and r.resource.canonical == MESSAGES_PATH
        for r in app.router.routes()
    )


def test_not_mounted_without_app_id_or_dev_mode(library: Library) -> None:
    app = web.Application()
    mount_teams(app, bot=PolicyBot(library), store=None, settings=Settings(), dev=False)
    assert not mounted(app)


@pytest.mark.parametrize(("dev", "env"), [(True, "production"), (False, "development")])
def test_dev_mode_mounts_without_authentication_and_warns(
    library: Library, caplog: pytest.LogCaptureFixture, dev: bool, env: str
) -> None:
    app = web.Application()
    settings = Settings(POLICYBOT_ENV=env)
    with caplog.at_level(logging.WARNING, logger="adapters.teams"):
        mount_teams(app, bot=PolicyBot(library), store=None, settings=settings, dev=dev)
    assert mounted(app)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "authentication is OFF" in warning.getMessage()


def test_configured_teams_mounts_with_authentication_and_no_warning(
    library: Library, caplog: pytest.LogCaptureFixture
) -> None:
    app = web.Application()
    settings = Settings(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="s3cret")
    with caplog.at_level(logging.WARNING, logger="adapters.teams"):
        mount_teams(app, bot=PolicyBot(library), store=None, settings=settings, dev=True)
    assert mounted(app)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- conversation references on both databases -------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An upgraded store on SQLite, then on PostgreSQL (in a schema of its own) if configured."""
    if request.param == "sqlite":
        store = Store.from_settings(Settings(POLICYBOT_DATA_DIR=tmp_path))
        store.upgrade()
        yield store
        store.close()
        return
    raw = os.environ.get("POLICYBOT_TEST_DATABASE_URL", "").strip()
    if not raw:
        pytest.skip("PostgreSQL tests skipped: set POLICYBOT_TEST_DATABASE_URL to run them")
    base = make_url(raw).set(drivername="postgresql+psycopg")
    schema = f"pb_teams_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    settings = Settings(
        POLICYBOT_DATA_DIR=tmp_path,
        DATABASE_URL=url.render_as_string(hide_password=False),
        POLICYBOT_SECRET_KEY="test-secret",
    )
    store = Store.from_settings(settings)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def reference(service_url: str, conversation: str = "a:1") -> dict[str, Any]:
    return {
        "serviceUrl": service_url,
        "channelId": "msteams",
        "user": {"id": "29:u", "aadObjectId": "aad-u"},
        "bot": {"id": BOT_ID},
        "conversation": {"id": conversation, "conversationType": "personal"},
    }


def test_references_are_upserted_per_person_and_conversation(any_store: Store) -> None:
    db, save = any_store.db, any_store.save_conversation_reference
    save("teams", TENANT_ID, "aad-u", reference("https://a/"))
    save("teams", TENANT_ID, "aad-u", reference("https://b/"))
    save("teams", TENANT_ID, "aad-u", reference("https://b/", "19:c@thread"))
    save("teams", None, "aad-v", reference("https://c/"))
    save("slack", "T1", "U1", reference("https://d/"))
    saved = conversations.references(db, "teams", TENANT_ID)
    assert [(r.conversation_id, r.reference["serviceUrl"]) for r in saved] == [
        ("a:1", "https://b/"),
        ("19:c@thread", "https://b/"),
    ]
    assert len(conversations.references(db, "teams")) == 3
    [untenanted] = conversations.references(db, "teams", "")
    assert untenanted.user_id == "aad-v"


def test_references_skip_writes_of_what_they_already_saved(any_store: Store) -> None:
    book = conversations.References(any_store)
    first = reference("https://a/")
    assert book.changed("teams", TENANT_ID, "aad-u", first)
    book.submit("teams", TENANT_ID, "aad-u", first).result()
    assert not book.changed("teams", TENANT_ID, "aad-u", dict(first))
    assert book.changed("teams", TENANT_ID, "aad-u", reference("https://b/"))
    assert book.changed("teams", TENANT_ID, "aad-u", reference("https://a/", "a:2"))


def test_a_reference_without_a_conversation_is_refused(any_store: Store) -> None:
    with pytest.raises(StorageError, match=r"conversation\.id"):
        any_store.save_conversation_reference("teams", TENANT_ID, "aad-u", {"serviceUrl": "x"})
    with pytest.raises(StorageError, match="too long"):
        any_store.save_conversation_reference(
            "teams", TENANT_ID, "u" * 500, reference("https://a/")
        )


def test_a_batch_with_two_references_for_one_conversation_keeps_the_last(any_store: Store) -> None:
    rows = [
        conversations.row("teams", TENANT_ID, "aad-u", reference("https://a/")),
        conversations.row("teams", TENANT_ID, "aad-u", reference("https://b/")),
    ]
    with any_store.db.write() as conn:
        conversations.write_rows(conn, rows)
    [saved] = conversations.references(any_store.db, "teams", TENANT_ID)
    assert saved.reference["serviceUrl"] == "https://b/"


def test_a_reply_serialises_exactly_as_msrest_would_on_the_shorter_path(bot: PolicyBot) -> None:
    reply = bot.ask(QUESTION)
    activity = _message(cards.answer_card(reply, question="<at>Sam</at> **hi**"), "summary")
    activity.conversation = ConversationAccount(id="a:chat-1", tenant_id=TENANT_ID)
    # channel data may hold models and numbers among plain JSON: msrest's own path takes them
    activity.channel_data = {"tenant": {"id": TENANT_ID}, "n": [1, 2.5, True, None]}
    activity.channel_data["mention"] = Entity(type="mention")
    known = {name: kind for name, kind in vars(models).items() if isinstance(kind, type)}
    fast = _CardSerializer(known).body(activity, "Activity")
    assert fast == Serializer(known).body(activity, "Activity")
    assert fast["attachments"][0]["content"] == cards.answer_card(
        reply, question="<at>Sam</at> **hi**"
    )
