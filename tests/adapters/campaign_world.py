"""The web app with campaigns, a fake Slack Web API and an SQLite database, for the Slack
campaign tests: signed requests in, Web API calls and response_url posts out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters.web import create_app
from bot.audience import Member
from bot.campaigns import Campaigns, StartRequest
from bot.config import Settings
from bot.knowledge import save_policy
from bot.service import PolicyBot
from bot.storage import Store
from bot.storage.campaigns import CampaignRecord
from tests.bot.campaign_fixtures import policy
from tests.fakes.slack_api import (
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlackAPI,
    event_callback,
    interaction,
    sign,
    slash_command,
)

ADMIN = "UADMIN"


@dataclass
class World:
    """The running app, the fake Slack it talks to, its database and campaigns."""

    client: TestClient[Any, Any]
    slack: FakeSlackAPI
    store: Store
    campaigns: Campaigns
    settings: Settings

    async def post(self, body: bytes, content_type: str) -> ClientResponse:
        headers = {"Content-Type": content_type, **sign(body)}
        return await self.client.post("/slack/events", data=body, headers=headers)

    async def command(
        self, text: str, name: str, *, user: str = ADMIN, trigger: str = "trigger-1"
    ) -> ClientResponse:
        body = slash_command(text, self.slack.response_url(name), user=user, trigger_id=trigger)
        return await self.post(body, "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        return await self.post(interaction(payload), "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any], event_id: str) -> ClientResponse:
        return await self.post(event_callback(event, event_id=event_id), "application/json")

    def start(self, user_ids: list[str], **extra: Any) -> CampaignRecord:
        """A campaign on the test policy for these Slack users, due in a month."""
        request = StartRequest(
            policy_id="staff-aup",
            due_on=date.today() + timedelta(days=30),
            audience="slack:workspace",
            started_by="test",
            **extra,
        )
        members = [Member("slack", TEAM_ID, u, f"Staff {u}") for u in user_ids]
        return self.campaigns.start(request, members)


def knowledge_folder(root: Path) -> Path:
    """A knowledge folder with the campaign tests' policy and an empty lexicon."""
    folder = root / "knowledge"
    if not folder.exists():
        save_policy(policy(), folder / "staff-aup")
        (folder / "lexicon.yaml").write_text("groups: []\n", encoding="utf-8")
    return folder


@asynccontextmanager
async def world(
    tmp_path: Path, *, admins: str = f"slack:{ADMIN}", busy_timeout: float = 5.0, **extra: Any
) -> AsyncIterator[World]:
    """The app on a loopback port with campaigns wired, answering into a fresh fake Slack."""
    async with FakeSlackAPI() as slack:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=f"sqlite:///{tmp_path}/campaigns.db",
            POLICYBOT_DATA_DIR=tmp_path,
            POLICYBOT_KNOWLEDGE_DIR=knowledge_folder(tmp_path),
            POLICYBOT_SECRET_KEY="test-key",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            POLICYBOT_ADMINS=admins,
            **extra,
        )
        store = Store.from_settings(settings, busy_timeout=busy_timeout)
        store.upgrade()
        bot = PolicyBot.from_settings(settings, store=store)
        campaigns = Campaigns(store, bot.policies)
        app = create_app(settings, bot, store=store, campaigns=campaigns)
        try:
            async with TestClient(TestServer(app)) as client:
                yield World(client, slack, store, campaigns, settings)
        finally:
            store.close()


def view_of(request: Any) -> dict[str, Any]:
    """The ``view`` a views.open / views.publish request carried."""
    view = request.body["view"]
    parsed = json.loads(view) if isinstance(view, str) else view
    assert isinstance(parsed, dict)
    return parsed


def texts(node: Any) -> str:
    """Every text (mrkdwn and plain) in a block structure, joined by newlines."""
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if item.get("type") in ("mrkdwn", "plain_text") and "text" in item:
                found.append(item["text"])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return "\n".join(found)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    """The action ids of every button in the blocks, in order."""
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]
