"""``/api/messages`` over real HTTP: JWTs checked by the SDK's own code, replies to a fake
Bot Connector, outbound tokens from a fake identity provider. Everything on loopback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.teams import MESSAGES_PATH, BotFrameworkCloud, mount_teams
from bot.config import Settings
from bot.service import Library, PolicyBot
from bot.storage import Store
from tests.adapters.test_teams import APP_ID, DECLINED, QUESTION, small_policy
from tests.fakes.bot_connector import FakeBotConnector, teams_activity
from tests.fakes.openid import FakeIdentityProvider, LoopbackCredentialsFactory, stranger_key

PASSWORD = "s3cret-client-secret"


@pytest.fixture(scope="module")
def library() -> Library:
    from bot.lexicon import EMPTY_LEXICON

    return Library.from_policies((small_policy(),), EMPTY_LEXICON)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.from_settings(Settings(POLICYBOT_DATA_DIR=tmp_path))
    store.upgrade()
    yield store
    store.close()


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider() as provider:
        yield provider


class World:
    """PolicyBot's web app with Teams mounted, the fake connector and the fake IdP."""

    def __init__(
        self, client: TestClient, connector: FakeBotConnector, idp: FakeIdentityProvider | None
    ) -> None:
        self.client = client
        self.connector = connector
        self.idp = idp

    def token(self, **changes: Any) -> str:
        assert self.idp is not None
        claims: dict[str, Any] = {"app_id": APP_ID, "service_url": self.connector.service_url}
        claims.update(changes)
        return self.idp.channel_token(**claims)

    async def post(
        self, activity: dict[str, Any] | None = None, *, token: str | None = None, **kwargs: Any
    ) -> int:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if activity is not None:
            kwargs["json"] = activity
        async with self.client.post(MESSAGES_PATH, headers=headers, **kwargs) as response:
            await response.read()
            return response.status

    def activity(self, text: str | None = QUESTION, **fields: Any) -> dict[str, Any]:
        return teams_activity(self.connector.service_url, text, **fields)


Scenario = Callable[[World], Awaitable[None]]


def run(
    library: Library,
    store: Store | None,
    scenario: Scenario,
    *,
    idp: FakeIdentityProvider | None = None,
    dev: bool = False,
    metadata_url: str | None = None,
) -> None:
    """Start the app (authenticated when ``idp`` is given) and the connector; run ``scenario``."""

    async def main() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        if idp is None:
            settings = Settings()
            mount_teams(app, bot=PolicyBot(library, store), store=store, settings=settings, dev=dev)
        else:
            settings = Settings(MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD=PASSWORD)
            mount_teams(
                app,
                bot=PolicyBot(library, store),
                store=store,
                settings=settings,
                dev=dev,
                cloud=BotFrameworkCloud(
                    openid_metadata_url=metadata_url or idp.openid_metadata_url
                ),
                credentials=LoopbackCredentialsFactory(idp, APP_ID, PASSWORD),
            )
        async with FakeBotConnector() as connector:
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            try:
                await scenario(World(client, connector, idp))
            finally:
                await client.close()

    asyncio.run(main())


def test_a_valid_token_is_accepted_and_the_reply_reaches_the_connector(
    library: Library, store: Store, idp: FakeIdentityProvider
) -> None:
    async def scenario(world: World) -> None:
        activity = world.activity(mention=True, conversation_type="channel")
        assert await world.post(activity, token=world.token()) == 201
        [reply] = await world.connector.wait_for(1)
        assert reply.operation == "reply" and reply.reply_to_id == activity["id"]
        assert reply.conversation_id == activity["conversation"]["id"]
        assert reply.headers["Authorization"] == f"Bearer {idp.issued_tokens[0]}"
        assert reply.body["replyToId"] == activity["id"]
        assert reply.body["recipient"]["id"] == activity["from"]["id"]
        card = reply.card
        assert card is not None
        texts = json.dumps(card)
        assert f"You asked: {QUESTION}" in texts and "Not allowed." in texts

    run(library, store, scenario, idp=idp)
    [form] = idp.token_requests
    assert form["client_id"] == APP_ID and form["client_secret"] == PASSWORD
    assert form["scope"] == "https://api.botframework.com/.default"


def test_keys_and_outbound_token_are_fetched_once_for_many_messages(
    library: Library, store: Store, idp: FakeIdentityProvider
) -> None:
    async def scenario(world: World) -> None:
        for _ in range(3):
            assert await world.post(world.activity(), token=world.token()) == 201
        replies = await world.connector.wait_for(3)
        assert {r.headers["Authorization"] for r in replies} == {f"Bearer {idp.issued_tokens[0]}"}

    run(library, store, scenario, idp=idp)
    assert idp.metadata_requests == 1
    assert len(idp.token_requests) == 1


def bad_tokens(world: World) -> list[tuple[str | None, str]]:
    """Tokens Teams would never send, each with the reason the SDK gives for refusing it."""
    assert world.idp is not None
    two_hours_ago = time.time() - 7200
    return [
        (None, "Unauthorized Access"),
        ("not-a-jwt", "DecodeError"),
        (world.token(key=stranger_key()), "InvalidSignatureError"),
        (world.token(issued_at=two_hours_ago, lifetime=3600), "ExpiredSignatureError"),
        (world.token(app_id="00000000-0000-4000-8000-000000000000"), "Invalid AppId"),
        (world.token(issuer="https://evil.example"), "Identity missing"),
        (world.token(service_url="https://evil.example/"), "Invalid 'serviceurl' claim"),
        (
            world.idp.sign(
                {"iss": "https://api.botframework.com", "aud": APP_ID, "exp": time.time() + 600}
            ),
            "'serviceurl' claim missing",
        ),
    ]


def test_missing_or_invalid_tokens_get_401_and_no_reply(
    library: Library, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(world: World) -> None:
        for token, reason in bad_tokens(world):
            caplog.clear()
            assert await world.post(world.activity(), token=token) == 401, reason
            assert reason in caplog.text
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        assert await world.post(world.activity(), headers=basic) == 401
        # The key is endorsed for msteams only here: a token is not valid on another channel.
        other_channel = world.activity(channelId="slack")
        assert await world.post(other_channel, token=world.token()) == 401
        await asyncio.sleep(0.1)
        assert world.connector.requests == []

    teams_only = FakeIdentityProvider(endorsements=["msteams"])
    with teams_only, caplog.at_level(logging.INFO, logger="adapters.teams"):
        run(library, store, scenario, idp=teams_only)
    assert store.logged_questions() == []


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"type": "message"}', {}, 415),  # no Content-Type at all
        (b"hello", {"Content-Type": "text/plain"}, 415),
        (b'{"type": "message"', {"Content-Type": "application/json"}, 400),
        (b"\xff\xfe\x00junk", {"Content-Type": "application/json"}, 400),
        (b"[1, 2, 3]", {"Content-Type": "application/json"}, 400),
        (b"[" * 100_000, {"Content-Type": "application/json"}, 400),
        (b"", {"Content-Type": "application/json"}, 400),
        (b'{"type": "message"}', {"Content-Type": "application/json"}, 400),
    ],
)
def test_malformed_requests_get_400_or_415_never_500(
    library: Library, body: bytes, headers: dict[str, str], status: int
) -> None:
    async def scenario(world: World) -> None:
        assert await world.post(data=body, headers=headers) == status

    run(library, None, scenario, dev=True)


@pytest.mark.parametrize(
    "broken",
    [
        {"serviceUrl": None},
        {"serviceUrl": "ftp://127.0.0.1/"},
        {"conversation": {"name": "no id"}},
        {"recipient": "28:bot"},
        {"timestamp": "not a date"},
        {"entities": "not a list"},
        {"entities": [1, 2]},
        {"from": "someone"},
    ],
)
def test_activities_missing_what_a_reply_needs_get_400(
    library: Library, idp: FakeIdentityProvider, broken: dict[str, Any]
) -> None:
    async def scenario(world: World) -> None:
        activity = {**world.activity(), **broken}
        assert await world.post(activity, token=world.token()) == 400

    run(library, None, scenario, idp=idp)


def test_dev_mode_answers_without_a_token(library: Library, store: Store) -> None:
    async def scenario(world: World) -> None:
        assert await world.post(world.activity(DECLINED)) == 201
        [reply] = await world.connector.wait_for(1)
        assert "Authorization" not in reply.headers
        assert "Please ask the Headteacher" in json.dumps(reply.card)

    run(library, store, scenario, dev=True)


def test_a_repeated_activity_is_answered_once_over_http(library: Library, store: Store) -> None:
    async def scenario(world: World) -> None:
        activity = world.activity(activity_id="1700000000042")
        assert await world.post(activity) == 201
        assert await world.post(activity) == 201  # Teams retried: acknowledged, not answered
        await world.connector.wait_for(1)
        await asyncio.sleep(0.1)
        assert len(world.connector.activities()) == 1

    run(library, store, scenario, dev=True)
    assert len(store.logged_questions()) == 1


def test_a_connector_failure_is_logged_not_fatal(library: Library, store: Store) -> None:
    async def scenario(world: World) -> None:
        world.connector.fail_next(2)  # the answer, then the apology, both refused
        assert await world.post(world.activity()) == 201
        assert await world.post(world.activity("help")) == 201
        replies = await world.connector.wait_for(3)
        assert "Staff Acceptable Use Policy" in json.dumps(replies[2].card)

    run(library, store, scenario, dev=True)


def test_unreachable_signing_keys_get_503_not_401(
    library: Library, idp: FakeIdentityProvider
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/{uuid.uuid4().hex}/openid"

    async def scenario(world: World) -> None:
        assert await world.post(world.activity(), token=world.token()) == 503

    run(library, None, scenario, idp=idp, metadata_url=closed)
