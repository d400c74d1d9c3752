"""Campaigns in Slack, end to end: signed requests to the real aiohttp app, Web API calls
and response_url posts arriving at the fake Slack on loopback, a real SQLite database.

Each test reads like what an admin or a member of staff does in Slack.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Coroutine
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from adapters import slack_campaign_blocks as blocks
from adapters.slack_messenger import SlackMessenger, web_client
from bot.admins import REFUSAL
from bot.campaign_worker import Worker
from bot.campaigns import NOT_RECORDED
from bot.rate_limits import RateLimits
from tests.adapters.campaign_world import ADMIN, World, action_ids, texts, view_of, world
from tests.adapters.test_slack_manifest import METHOD_SCOPES, manifest_scopes
from tests.fakes.slack_api import TEAM_ID, block_action, direct_message, dm_channel, user


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def accept_click(world: World, campaign_id: str, user_id: str, name: str, **extra: Any) -> Any:
    """The "I have read and accept" click on the prompt in ``user_id``'s DM."""
    message = {"type": "message", "ts": "1700000000.000300", "blocks": []}
    payload = block_action(
        blocks.ACTION_ACCEPT,
        campaign_id,
        world.slack.response_url(name),
        user=user_id,
        message=message,
        channel=dm_channel(user_id),
    )
    payload["trigger_id"] = f"trigger-{name}"
    payload.update(extra)
    return payload


async def send_prompts(world: World) -> None:
    """Run the campaign worker once, as `policybot worker --drain` would."""
    messenger = SlackMessenger(web_client(world.settings, retries=False))
    worker = Worker(world.campaigns, {"slack": messenger}, limits=RateLimits({"slack": 100.0}))
    await asyncio.to_thread(worker.drain)


# -- who may run campaigns ----------------------------------------------------------------------


def test_someone_who_is_not_an_admin_gets_a_polite_refusal(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            for n, text in enumerate(("campaign start", "campaign status", "campaign stop x")):
                await w.command(text, f"c{n}", user="U123")
                [answer] = await w.slack.wait_for(f"respond/c{n}")
                assert answer.body["response_type"] == "ephemeral"
                assert texts(answer.body["blocks"]) == REFUSAL
            assert not w.slack.calls("views.open")

    run(scenario)


def test_slack_workspace_admins_may_run_campaigns_when_the_operator_allows_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with world(tmp_path, admins="", POLICYBOT_SLACK_ADMINS_ARE_ADMINS="true") as w:
            w.slack.add_users(user("UOWNER", is_owner=True), user("UTEACHER"))
            w.start(["UTEACHER"])
            await w.command("campaign status", "owner", user="UOWNER")
            await w.command("campaign status", "teacher", user="UTEACHER")
            [owner] = await w.slack.wait_for("respond/owner")
            [teacher] = await w.slack.wait_for("respond/teacher")
            assert "Recipients: 1" in texts(owner.body["blocks"])
            assert texts(teacher.body["blocks"]) == REFUSAL
            assert {r.body["user"] for r in w.slack.calls("users.info")} == {"UOWNER", "UTEACHER"}

    run(scenario)


# -- starting from Slack --------------------------------------------------------------------------


def start_submission(view: dict[str, Any], due: str, user_id: str = ADMIN) -> dict[str, Any]:
    values = {
        "policy": {"policy": {"type": "static_select", "selected_option": {"value": "staff-aup"}}},
        "due": {"due": {"type": "datepicker", "selected_date": due}},
        "audience": {
            "audience": {"type": "static_select", "selected_option": {"value": "slack:workspace"}}
        },
        "channel": {"channel": {"type": "conversations_select", "selected_conversation": None}},
        "repeat": {"repeat": {"type": "static_select", "selected_option": {"value": "12m"}}},
    }
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "school"},
        "user": {"id": user_id, "username": "head", "team_id": TEAM_ID},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": "trigger-submit",
        "view": {**view, "id": "V1", "state": {"values": values}},
    }


def test_an_admin_starts_a_campaign_from_the_modal(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            w.slack.add_users(
                *(user(f"U{i}") for i in range(5)), user("UBOT", is_bot=True), user(ADMIN)
            )
            response = await w.command("campaign start", "start", trigger="trigger-77")
            assert response.status == 200
            [opened] = await w.slack.wait_for("views.open")
            assert opened.body["trigger_id"] == "trigger-77"
            view = view_of(opened)
            assert view["callback_id"] == blocks.START_VIEW
            assert {b["block_id"] for b in view["blocks"]} == {
                "policy",
                "due",
                "audience",
                "channel",
                "repeat",
            }
            assert "Staff Acceptable Use Policy (2025)" in texts(view["blocks"])

            past = await w.interact(start_submission(view, date.today().isoformat()))
            assert await past.json() == {
                "response_action": "errors",
                "errors": {"due": "The due date must be after today."},
            }
            due = (date.today() + timedelta(days=21)).isoformat()
            accepted = await w.interact(start_submission(view, due))
            assert accepted.status == 200
            [confirmation] = await w.slack.wait_for("respond/start")
            assert "6 people will be asked to accept" in texts(confirmation.body["blocks"])
            status = w.campaigns.status()
            assert (status.recipients, status.every, status.started_by) == (
                6,
                "12m",
                "slack:UADMIN",
            )
            assert status.due.isoformat() == due

    run(scenario)


def test_status_shows_the_figures_to_an_admin(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            campaign = w.start(["U1", "U2", "U3"])
            await w.command(f"campaign status {campaign.id}", "s1")
            [answer] = await w.slack.wait_for("respond/s1")
            shown = texts(answer.body["blocks"])
            assert "Recipients: 3" in shown and "Accepted: 0" in shown
            assert "Outstanding: 3" in shown and "Unreachable: 0" in shown

    run(scenario)


# -- the prompt and its buttons ------------------------------------------------------------------


def test_the_prompt_arrives_and_accepting_records_first_then_updates_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            w.slack.add_users(user("U1", "Ann Smith"))
            campaign = w.start(["U1"])
            await send_prompts(w)
            [prompt] = w.slack.posted_to("U1")
            assert prompt.marker == f"{campaign.id}:0"
            shown = texts(prompt.body["blocks"])
            assert "Please read and accept the Staff Acceptable Use Policy" in shown
            assert "version 2025" in shown
            assert "first time you are asked" in shown
            assert action_ids(prompt.body["blocks"]) == [blocks.ACTION_READ, blocks.ACTION_ACCEPT]

            await w.interact(accept_click(w, campaign.id, "U1", "a1", user_name="ann"))
            [update] = await w.slack.wait_for("respond/a1")
            assert update.body["replace_original"] is True
            assert "Accepted on" in texts(update.body["blocks"])
            assert blocks.ACTION_ACCEPT not in json.dumps(update.body["blocks"])
            [ack] = w.store.acknowledgements_for("slack", TEAM_ID, "U1")
            assert (ack.campaign_id, ack.source_event) == (campaign.id, "slack:trigger-a1")
            assert ack.text_sha256 == campaign.text_sha256

            await w.interact(accept_click(w, campaign.id, "U1", "a2"))
            replaced, ephemeral = await w.slack.wait_for("respond/a2", count=2)
            assert "Accepted on" in texts(replaced.body["blocks"])
            assert ephemeral.body["response_type"] == "ephemeral"
            assert "Already recorded" in texts(ephemeral.body["blocks"])
            assert w.store.verify_chain().rows == 1

            called = {r.method for r in w.slack.requests if not r.method.startswith("respond/")}
            assert called <= set(METHOD_SCOPES)
            assert set().union(*(METHOD_SCOPES[m] for m in called)) <= manifest_scopes()

    run(scenario)


def test_when_the_database_is_down_the_click_is_not_recorded_and_questions_still_work(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with world(tmp_path, busy_timeout=0.3) as w:
            campaign = w.start(["U1"])
            blocker = sqlite3.connect(tmp_path / "campaigns.db", isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                await w.interact(accept_click(w, campaign.id, "U1", "down"))
                [answer] = await w.slack.wait_for("respond/down")
                assert answer.body["replace_original"] is False  # the button stays
                assert texts(answer.body["blocks"]) == NOT_RECORDED
                await w.event(direct_message("can I photograph pupils?", user="U1"), "EvQ")
                [reply] = await w.slack.wait_for("chat.postMessage")
                assert "school devices" in texts(reply.body["blocks"])
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert w.store.verify_chain().rows == 0
            await w.interact(accept_click(w, campaign.id, "U1", "up"))
            [update] = await w.slack.wait_for("respond/up")
            assert "Accepted on" in texts(update.body["blocks"])

    run(scenario)


def test_read_the_whole_policy_opens_the_pinned_text_in_a_modal(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            campaign = w.start(["U1"])
            payload = accept_click(w, campaign.id, "U1", "r1")
            payload["actions"][0]["action_id"] = blocks.ACTION_READ
            await w.interact(payload)
            [opened] = await w.slack.wait_for("views.open")
            assert opened.body["trigger_id"] == "trigger-r1"
            shown = texts(view_of(opened)["blocks"])
            assert "Staff must not accept pupils as friends on social media." in shown
            assert campaign.text_sha256[:16] in shown

    run(scenario)


def test_the_app_home_lists_what_to_accept_and_accepting_there_updates_home_and_dm(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            w.slack.add_users(user("U1"))
            campaign = w.start(["U1"])
            await send_prompts(w)
            [prompt] = w.slack.posted_to("U1")
            home = {"type": "app_home_opened", "user": "U1", "tab": "home", "event_ts": "1.1"}
            await w.event(home, "EvHome")
            [published] = await w.slack.wait_for("views.publish")
            view = view_of(published)
            assert "Staff Acceptable Use Policy, version 2025: due" in texts(view["blocks"])
            assert blocks.ACTION_ACCEPT in action_ids(view["blocks"])

            payload = accept_click(w, campaign.id, "U1", "home")
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            del payload["response_url"], payload["message"]
            await w.interact(payload)
            _, refreshed = await w.slack.wait_for("views.publish", count=2)
            shown = texts(view_of(refreshed)["blocks"])
            assert "was recorded on" in shown
            assert blocks.ACTION_ACCEPT not in action_ids(view_of(refreshed)["blocks"])
            [update] = await w.slack.wait_for("chat.update")
            assert (update.body["channel"], update.body["ts"]) == (prompt.channel, prompt.ts)
            assert "Accepted on" in texts(update.body["blocks"])
            assert w.campaigns.status(campaign.id).accepted == 1

    run(scenario)


def test_my_acknowledgements_lists_them_for_anyone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            w.start(["U123"])
            await w.command("my acknowledgements", "mine", user="U123")
            [answer] = await w.slack.wait_for("respond/mine")
            assert "Staff Acceptable Use Policy, version 2025" in texts(answer.body["blocks"])
            assert blocks.ACTION_ACCEPT in action_ids(answer.body["blocks"])

    run(scenario)


def test_someone_who_joins_the_workspace_is_enrolled_in_the_running_campaign(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with world(tmp_path) as w:
            campaign = w.start(["U1"])
            for event_id, joiner in (
                ("EvJ1", user("UNEW", "New Teacher")),
                ("EvJ2", user("UBOT2", is_bot=True)),
                ("EvJ3", user("UGUEST", is_restricted=True)),
            ):
                response = await w.event({"type": "team_join", "user": joiner}, event_id)
                assert response.status == 200
            for _ in range(100):
                if w.campaigns.status(campaign.id).recipients == 2:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            [pending] = w.campaigns.pending("slack", TEAM_ID, "UNEW")
            assert pending.campaign_id == campaign.id
            assert w.campaigns.status(campaign.id).recipients == 2

    run(scenario)
