"""Campaigns in Teams: conversations through botbuilder's TestAdapter (buttons, commands,
installs), and proactive prompts through ``TeamsMessenger`` to the fake Bot Connector on
loopback (sends, blocked apps, 429s, the worker end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ChannelAccount

from adapters import teams_campaign_cards as campaign_cards
from adapters.teams import TeamsBot, TeamsMessenger
from bot.admins import REFUSAL, Admins
from bot.audience import Member
from bot.campaign_worker import Worker
from bot.campaigns import NOT_RECORDED, Campaigns, StartRequest
from bot.config import Settings
from bot.errors import StorageUnavailable
from bot.lexicon import EMPTY_LEXICON
from bot.messenger import Address
from bot.rate_limits import RateLimits
from bot.service import Library, PolicyBot
from bot.storage import Store
from bot.storage.campaigns import CampaignRecord
from tests.adapters.test_teams import actions, shown, template
from tests.bot.campaign_fixtures import policy
from tests.fakes.bot_connector import BOT_ID, TENANT_ID, FakeBotConnector, teams_activity

USER = "aad-user-1"  # what template() sends: from.id 29:user-1, AAD id aad-user-1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.from_settings(Settings.model_validate({"POLICYBOT_DATA_DIR": tmp_path}))
    opened.upgrade()
    yield opened
    opened.close()


@pytest.fixture
def bot(store: Store) -> PolicyBot:
    return PolicyBot(Library.from_policies((policy(),), EMPTY_LEXICON), store)


@pytest.fixture
def campaigns(store: Store, bot: PolicyBot) -> Campaigns:
    return Campaigns(store, bot.policies)


def start(campaigns: Campaigns, user_ids: list[str]) -> CampaignRecord:
    request = StartRequest(
        policy_id="staff-aup",
        due_on=date.today() + timedelta(days=30),
        audience="teams:all",
        started_by="test",
    )
    return campaigns.start(request, [Member("teams", TENANT_ID, u, u) for u in user_ids])


class Chat:
    """A Teams conversation with campaigns wired in; ``admins`` as POLICYBOT_ADMINS."""

    chats = 0

    def __init__(self, bot: PolicyBot, campaigns: Campaigns, admins: tuple[str, ...] = ()):
        teams_bot = TeamsBot(bot, bot.store, campaigns=campaigns, admins=Admins(admins))
        # TestAdapter numbers activities from 1 in every chat: a conversation of its own
        # keeps the delivery ledger from taking them for repeats.
        Chat.chats += 1
        where = template(conversation_id=f"a:chat-{Chat.chats}")
        self.adapter = TestAdapter(teams_bot.on_turn, where)

    def send(self, activity: Activity) -> list[dict[str, Any]]:
        asyncio.run(self.adapter.receive_activity(activity))
        sent, self.adapter.activity_buffer[:] = list(self.adapter.activity_buffer), []
        return [a.attachments[0].content for a in sent]

    def say(self, text: str) -> list[dict[str, Any]]:
        return self.send(Activity(type="message", text=text))

    def press(self, data: dict[str, Any], **fields: Any) -> list[dict[str, Any]]:
        return self.send(Activity(type="message", value=data, **fields))

    @property
    def updated(self) -> list[dict[str, Any]]:
        return [a.attachments[0].content for a in self.adapter.updated_activities]


# -- conversations -----------------------------------------------------------------------------


def test_accepting_replaces_the_prompt_card_and_a_second_press_says_already(
    bot: PolicyBot, campaigns: Campaigns, store: Store
) -> None:
    campaign = start(campaigns, [USER])
    chat = Chat(bot, campaigns)
    press = {"policybot": "accept", "campaign": campaign.id}
    assert chat.press(press, reply_to_id="prompt-1", id="act-1") == []
    [update] = chat.adapter.updated_activities
    assert update.id == "prompt-1"
    assert "Accepted on" in shown(update.attachments[0].content)
    [ack] = store.acknowledgements_for("teams", TENANT_ID, USER)
    assert (ack.source_event, ack.display_name) == ("teams:act-1", "Sam")
    [again] = chat.press(press, reply_to_id="prompt-1", id="act-2")
    assert "Already recorded" in shown(again)
    assert store.verify_chain().rows == 1


def test_when_the_database_is_down_the_press_is_not_recorded(
    bot: PolicyBot, campaigns: Campaigns, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = start(campaigns, [USER])

    def down(*args: object) -> object:
        raise StorageUnavailable("The database is unavailable (test); try again.")

    chat = Chat(bot, campaigns)
    monkeypatch.setattr(campaigns.store, "record_acknowledgement", down)
    [card] = chat.press({"policybot": "accept", "campaign": campaign.id}, reply_to_id="p")
    assert shown(card) == NOT_RECORDED
    assert chat.adapter.updated_activities == []


def test_read_the_whole_policy_shows_the_pinned_text(bot: PolicyBot, campaigns: Campaigns) -> None:
    campaign = start(campaigns, [USER])
    [card] = Chat(bot, campaigns).press({"policybot": "read_policy", "campaign": campaign.id})
    assert "Staff must not accept pupils as friends on social media." in shown(card)
    assert campaign.text_sha256[:16] in shown(card)


def test_campaign_commands_are_for_admins_and_my_acknowledgements_for_everyone(
    bot: PolicyBot, campaigns: Campaigns
) -> None:
    start(campaigns, [USER])
    member = Chat(bot, campaigns)
    for text in ("campaign status", "campaign start", "campaign stop x"):
        [card] = member.say(text)
        assert shown(card) == REFUSAL
    [mine] = member.say("my acknowledgements")
    assert "Staff Acceptable Use Policy, version 2025" in shown(mine)
    pressable = [a["data"] for s in mine["body"] if s["type"] == "ActionSet" for a in s["actions"]]
    assert {d["policybot"] for d in pressable} == {"accept", "read_policy"}

    admin = Chat(bot, campaigns, admins=("teams:29:user-1",))  # matched by the channel id
    [status] = admin.say("campaign status")
    facts = {
        f["title"]: f["value"] for s in status["body"] if s["type"] == "FactSet" for f in s["facts"]
    }
    assert (facts["Recipients"], facts["Accepted"]) == ("1", "0")
    [form] = admin.say("campaign start")
    assert {i["id"] for i in form["body"] if i["type"].startswith("Input.")} == {
        "policy",
        "due",
        "audience",
        "repeat",
    }
    assert actions(form) == [{"policybot": campaign_cards.START}]


def test_an_admin_starts_a_campaign_from_the_card(
    bot: PolicyBot, campaigns: Campaigns, store: Store
) -> None:
    store.save_conversation_reference(
        "teams", TENANT_ID, "aad-2", {"conversation": {"id": "a:2", "conversationType": "personal"}}
    )
    due = (date.today() + timedelta(days=14)).isoformat()
    submitted = {"policybot": "campaign_start", "policy": "staff-aup", "due": due}
    submitted |= {"audience": "teams:all", "repeat": "none"}
    [refused] = Chat(bot, campaigns).press(submitted)
    assert shown(refused) == REFUSAL
    [started] = Chat(bot, campaigns, admins=("teams:aad-user-1",)).press(submitted)
    # The person typed in Teams (the admin) and the one whose reference was stored.
    assert "2 people will be asked to accept" in shown(started)
    assert campaigns.status().due.isoformat() == due


def test_installing_the_app_during_a_campaign_enrols_the_installer(
    bot: PolicyBot, campaigns: Campaigns
) -> None:
    campaign = start(campaigns, ["someone-else"])
    chat = Chat(bot, campaigns)
    [welcome] = chat.send(Activity(type="installationUpdate", action="add"))
    assert "Hello" in shown(welcome)
    [pending] = campaigns.pending("teams", TENANT_ID, USER)
    assert pending.campaign_id == campaign.id
    other = Chat(bot, campaigns)
    other.send(Activity(type="conversationUpdate", members_added=[ChannelAccount(id=BOT_ID)]))
    assert campaigns.status(campaign.id).recipients == 2  # the same person, enrolled once


# -- proactive prompts through the Bot Connector -----------------------------------------------


def reference(service_url: str, user_id: str, conversation: str) -> dict[str, Any]:
    activity = Activity().deserialize(
        teams_activity(
            service_url,
            "hi",
            user_id=f"29:{user_id}",
            aad_object_id=user_id,
            conversation_id=conversation,
        )
    )
    data: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
    return data


def test_the_messenger_sends_prompts_and_reads_the_connector_s_refusals(
    campaigns: Campaigns,
) -> None:
    campaign = start(campaigns, ["aad-1"])
    prompt = campaigns.prompt(campaign, "teams", TENANT_ID, "aad-1", 0)
    messenger = TeamsMessenger(Settings())

    async def scenario() -> None:
        async with FakeBotConnector() as connector:
            to = Address(
                "teams",
                TENANT_ID,
                "aad-1",
                reference=reference(connector.service_url, "aad-1", "a:1"),
            )
            sent = await asyncio.to_thread(messenger.send, to, prompt)
            assert (sent.outcome, sent.channel) == ("sent", "a:1")
            [request] = connector.activities()
            assert request.conversation_id == "a:1" and request.operation == "send"
            assert request.card is not None
            assert "Please read and accept" in shown(request.card)
            assert {a["data"]["policybot"] for a in request.card["actions"]} == {
                "accept",
                "read_policy",
            }

            connector.fail_next(1, status=429, headers={"Retry-After": "7"})
            limited = await asyncio.to_thread(messenger.send, to, prompt)
            assert (limited.outcome, limited.retry_after) == ("rate_limited", 7.0)
            for status in (412, 502, 504):
                connector.fail_next(1, status=status)
                assert (await asyncio.to_thread(messenger.send, to, prompt)).outcome == "retry"
            connector.block("a:1")
            blocked = await asyncio.to_thread(messenger.send, to, prompt)
            assert (blocked.outcome, blocked.reason[:8]) == ("unreachable", "HTTP 403")
            assert len(connector.activities()) == 6  # one request each: no hidden retries
            found = await asyncio.to_thread(messenger.find, to, prompt.marker, campaign.started_at)
            assert found.outcome == "unknown"

    try:
        asyncio.run(scenario())
    finally:
        messenger.close()


def test_the_worker_prompts_everyone_reachable_in_teams_once(
    campaigns: Campaigns, store: Store
) -> None:
    messenger = TeamsMessenger(Settings())

    async def scenario() -> None:
        async with FakeBotConnector() as connector:
            for n in range(5):
                ref = reference(connector.service_url, f"aad-{n}", f"a:{n}")
                store.save_conversation_reference("teams", TENANT_ID, f"aad-{n}", ref)
            from bot.audience import parse_audience, resolve

            members = resolve(parse_audience("teams:all"), store=store)
            campaign = start(campaigns, [m.user_id for m in members])
            connector.block("a:3")
            worker = Worker(campaigns, {"teams": messenger}, limits=RateLimits({"teams": 100.0}))
            report = await asyncio.to_thread(worker.drain)
            sends = {r.conversation_id for r in connector.activities()}
            assert sends == {f"a:{n}" for n in range(5)}
            assert report.sent == 4 and report.unreachable == 1
            status = campaigns.status(campaign.id)
            assert (status.recipients, status.unreachable, status.not_yet_prompted) == (5, 1, 0)

    try:
        asyncio.run(scenario())
    finally:
        messenger.close()


def test_from_a_channel_reference_the_messenger_opens_a_one_to_one_chat_first(
    campaigns: Campaigns,
) -> None:
    campaign = start(campaigns, ["aad-9"])
    prompt = campaigns.prompt(campaign, "teams", TENANT_ID, "aad-9", 0)
    messenger = TeamsMessenger(Settings())

    async def scenario() -> None:
        async with FakeBotConnector() as connector:
            activity = teams_activity(
                connector.service_url,
                "hi",
                user_id="29:nine",
                aad_object_id="aad-9",
                conversation_id="19:staffroom@thread.tacv2",
                conversation_type="channel",
            )
            data = TurnContext.get_conversation_reference(Activity().deserialize(activity))
            to = Address("teams", TENANT_ID, "aad-9", reference=data.serialize())
            sent = await asyncio.to_thread(messenger.send, to, prompt)
            create, send = connector.requests
            assert create.operation == "create" and create.body["isGroup"] is False
            assert [m["id"] for m in create.body["members"]] == ["29:nine"]
            assert send.operation == "send" and send.conversation_id == sent.channel
            assert send.conversation_id != "19:staffroom@thread.tacv2"  # never the channel

    try:
        asyncio.run(scenario())
    finally:
        messenger.close()
