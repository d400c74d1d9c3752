"""PolicyBot in Slack, end to end: signed HTTP requests to the real aiohttp app, answers
arriving at a fake Slack Web API on loopback, questions landing in a real SQLite log.

Each test reads like a conversation: someone asks in Slack, the test waits for what the
bot posted and checks what a person would see.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from adapters import slack_blocks as kit
from adapters.slack import AcknowledgementLines, no_acknowledgement_requests
from adapters.web import create_app
from bot.chat import Incoming, Reply
from bot.config import Settings
from bot.knowledge import Clause, Obligation, Policy, save_policy, sha256_text
from bot.service import PolicyBot
from bot.storage import Store
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER_ID,
    SIGNING_SECRET,
    USER_ID,
    FakeSlackAPI,
    RecordedRequest,
    app_mention,
    block_action,
    direct_message,
    event_callback,
    interaction,
    message_shortcut,
    sign,
    slash_command,
)

POLICY = Policy(
    id="test-aup",
    title="Test Acceptable Use Policy",
    version="2024",
    contact="the Data Protection Officer",
    source="source.txt",
    content_hash=sha256_text("test"),
    clauses=(
        Clause(
            id="social-media-1",
            section=("Social Media",),
            obligation=Obligation.PROHIBITED,
            text="Staff must not accept pupils or parents as **friends** on personal social "
            "networking sites.",
            questions=("can I friend a parent on facebook?",),
        ),
        Clause(
            id="social-media-2",
            section=("Social Media",),
            obligation=Obligation.PROHIBITED,
            text="Staff must not post about pupils or parents on personal social networking sites.",
        ),
        Clause(
            id="photos-1",
            section=("Photographs",),
            obligation=Obligation.PERMITTED,
            text="Staff may take photographs of pupils only on school-owned devices.",
        ),
        Clause(
            id="passwords-1",
            section=("Passwords",),
            obligation=Obligation.REQUIRED,
            text="Passwords must be kept private & never shared with <anyone>.",
        ),
    ),
)
FRIEND = "can I friend a parent on facebook?"
FRIEND_CLAUSE = "Staff must not accept pupils or parents as *friends* on personal social"
POSTING = "can I post about parents on social networking sites?"
UNCOVERED = "what is on the canteen menu on tuesday?"
REFERENCE = "Test Acceptable Use Policy, version 2024, Social Media"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge folder and a migrated SQLite file, made once and copied per test."""
    folder = tmp_path_factory.mktemp("template")
    save_policy(POLICY, folder / "knowledge" / POLICY.id)
    (folder / "knowledge" / "lexicon.yaml").write_text("groups: []\n")  # not the bundled one
    settings = Settings(
        DATABASE_URL=f"sqlite:///{folder}/t.db",
        POLICYBOT_DATA_DIR=folder,
        POLICYBOT_SECRET_KEY="test-key",
    )
    store = Store.from_settings(settings)
    store.upgrade()
    store.close()
    return folder


def settings_for(folder: Path, **extra: Any) -> Settings:
    """Settings for a test: its own SQLite file, the test policy, Slack configured."""
    values: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{folder}/t.db",
        "POLICYBOT_DATA_DIR": folder,
        "POLICYBOT_KNOWLEDGE_DIR": folder / "knowledge",
        "POLICYBOT_SECRET_KEY": "test-key",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    values.update(extra)
    return Settings(**values)


@dataclass
class Harness:
    """The running app, the fake Slack it talks to, and its database."""

    client: TestClient[Any, Any]
    slack: FakeSlackAPI
    store: Store
    bot: PolicyBot

    async def post(self, body: bytes, content_type: str, **headers: str) -> ClientResponse:
        """POST ``body`` to /slack/events, signed as Slack signs it (unless overridden)."""
        all_headers = {"Content-Type": content_type, **sign(body), **headers}
        return await self.client.post("/slack/events", data=body, headers=all_headers)

    async def event(
        self, event: dict[str, Any], event_id: str = "Ev1", **headers: str
    ) -> ClientResponse:
        return await self.post(
            event_callback(event, event_id=event_id), "application/json", **headers
        )

    async def command(self, text: str, name: str = "cmd") -> ClientResponse:
        body = slash_command(text, self.slack.response_url(name))
        return await self.post(body, "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> ClientResponse:
        return await self.post(interaction(payload), "application/x-www-form-urlencoded")

    def logged(self) -> int:
        return len(self.store.logged_questions())


@asynccontextmanager
async def running(
    template: Path,
    tmp_path: Path,
    *,
    bot_class: type[PolicyBot] = PolicyBot,
    acknowledgements: AcknowledgementLines = no_acknowledgement_requests,
    **extra: Any,
) -> AsyncIterator[Harness]:
    """The web app on a loopback port, answering into a fresh fake Slack Web API."""
    if not (tmp_path / "t.db").exists():
        shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    async with FakeSlackAPI() as slack:
        settings = settings_for(tmp_path, SLACK_API_URL=slack.base_url, **extra)
        store = Store.from_settings(settings)
        bot = bot_class.from_settings(settings, store=store)
        app = create_app(settings, bot, store=store, acknowledgements=acknowledgements)
        try:
            async with TestClient(TestServer(app)) as client:
                yield Harness(client, slack, store, bot)
        finally:
            store.close()


def run(coroutine: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coroutine())


def mrkdwn_texts(blocks: Sequence[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in the blocks (what Slack would parse for mentions and links)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(blocks))
    return found


def plain_texts(blocks: Sequence[dict[str, Any]]) -> list[str]:
    return [t for t in _all_text(blocks, "plain_text")]


def _all_text(node: Any, kind: str) -> list[str]:
    if isinstance(node, dict):
        here = [node["text"]] if node.get("type") == kind and "text" in node else []
        return here + [t for v in node.values() for t in _all_text(v, kind)]
    if isinstance(node, list):
        return [t for item in node for t in _all_text(item, kind)]
    return []


def buttons(blocks: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def visible(request: RecordedRequest) -> str:
    """All the text a person sees in a posted message, joined."""
    blocks = request.body.get("blocks") or []
    return "\n".join(mrkdwn_texts(blocks) + plain_texts(blocks))


# -- asking ---------------------------------------------------------------------------------


def test_a_mention_is_answered_in_its_thread_with_the_clause_quoted_and_cited(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            response = await h.event(
                app_mention(f"<@{BOT_USER_ID}> {FRIEND}", ts="1700000000.000100")
            )
            assert response.status == 200
            [post] = await h.slack.wait_for("chat.postMessage")
            assert post.body["channel"] == "C1"
            assert post.body["thread_ts"] == "1700000000.000100"
            seen = visible(post)
            assert "*Not allowed.*" in seen
            assert ">" + FRIEND_CLAUSE in seen
            assert REFERENCE in seen
            assert post.headers["Authorization"] == "Bearer xoxb-test"
            feedback = buttons(post.body["blocks"])
            assert {kit.ACTION_HELPFUL, kit.ACTION_UNHELPFUL} <= set(feedback)
            assert h.logged() == 1  # every question goes through the question log

    run(scenario)


def test_a_mention_inside_a_thread_is_answered_in_that_thread(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            event = app_mention(
                f"<@{BOT_USER_ID}> {FRIEND}", ts="1700000000.000900", thread_ts="1700000000.000111"
            )
            await h.event(event)
            [post] = await h.slack.wait_for("chat.postMessage")
            assert post.body["thread_ts"] == "1700000000.000111"

    run(scenario)


def test_a_direct_message_is_answered_in_the_dm(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.event(direct_message(POSTING, channel="D42"))
            [post] = await h.slack.wait_for("chat.postMessage")
            assert post.body["channel"] == "D42"
            assert "thread_ts" not in post.body
            assert "Staff must not post about pupils" in visible(post)
            related = buttons(post.body["blocks"])[f"{kit.ACTION_RELATED}_0"]
            assert related["value"] == "social-media-1"

    run(scenario)


def test_a_question_the_policy_does_not_cover_is_declined_naming_the_contact(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.event(direct_message(UNCOVERED))
            [post] = await h.slack.wait_for("chat.postMessage")
            assert "doesn't cover" in visible(post)
            assert "the Data Protection Officer" in visible(post)
            assert h.logged() == 1

    run(scenario)


def test_slash_policy_answers_ephemerally_with_a_share_button(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            response = await h.command(FRIEND, "cmd1")
            assert response.status == 200
            [answer] = await h.slack.wait_for("respond/cmd1")
            assert answer.body["response_type"] == "ephemeral"
            assert f"You asked: {FRIEND}" in plain_texts(answer.body["blocks"])
            share = buttons(answer.body["blocks"])[kit.ACTION_SHARE]
            assert share["value"].startswith("social-media-1\n")
            assert h.logged() == 1
            assert not h.slack.calls("chat.postMessage")

    run(scenario)


def test_slash_policy_help_explains_what_it_can_do(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            for text, name in (("help", "h1"), ("", "h2")):
                await h.command(text, name)
                [answer] = await h.slack.wait_for(f"respond/{name}")
                assert answer.body["response_type"] == "ephemeral"
                assert "Test Acceptable Use Policy (version 2024)" in visible(answer)
            assert h.logged() == 0

    run(scenario)


def test_sharing_posts_the_answer_in_the_channel_and_removes_the_ephemeral(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            value = f"social-media-1\n{FRIEND} <!channel>"
            await h.interact(block_action(kit.ACTION_SHARE, value, h.slack.response_url("s1")))
            shared, deleted = await h.slack.wait_for("respond/s1", count=2)
            assert shared.body["response_type"] == "in_channel"
            assert "<@U123> shared PolicyBot's answer to:" in visible(shared)
            assert f"{FRIEND} <!channel>" in plain_texts(shared.body["blocks"])
            assert all("<!channel>" not in t for t in mrkdwn_texts(shared.body["blocks"]))
            assert FRIEND_CLAUSE in visible(shared)
            assert deleted.body["delete_original"] is True

    run(scenario)


def test_a_related_clause_button_shows_that_clause(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            url = h.slack.response_url("r1")
            await h.interact(block_action(f"{kit.ACTION_RELATED}_0", "photos-1", url))
            [shown] = await h.slack.wait_for("respond/r1")
            assert shown.body["response_type"] == "ephemeral"
            assert shown.body["replace_original"] is False
            assert "Staff may take photographs of pupils" in visible(shown)
            assert "Test Acceptable Use Policy, version 2024, Photographs" in visible(shown)

            await h.interact(
                block_action(
                    f"{kit.ACTION_RELATED}_1", "no-such-clause", h.slack.response_url("r2")
                )
            )
            [gone] = await h.slack.wait_for("respond/r2")
            assert "no longer in the policy" in visible(gone)

    run(scenario)


def test_feedback_is_recorded_and_the_message_says_thanks(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.event(direct_message(FRIEND))
            [post] = await h.slack.wait_for("chat.postMessage")
            value = buttons(post.body["blocks"])[kit.ACTION_HELPFUL]["value"]
            message = {"type": "message", "ts": "1700000000.000300", "blocks": post.body["blocks"]}
            await h.interact(
                block_action(kit.ACTION_HELPFUL, value, h.slack.response_url("f1"), message=message)
            )
            [updated] = await h.slack.wait_for("respond/f1")
            assert updated.body["replace_original"] is True
            assert kit.ACTION_HELPFUL not in buttons(updated.body["blocks"])
            assert "Thanks, glad it helped." in visible(updated)
            assert FRIEND_CLAUSE in visible(updated)  # the answer itself stays
            [logged] = h.store.logged_questions()
            assert logged.helpful is True

    run(scenario)


def test_feedback_on_an_ephemeral_answer_rebuilds_it_with_thanks(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.command(FRIEND, "cmd1")
            [answer] = await h.slack.wait_for("respond/cmd1")
            value = buttons(answer.body["blocks"])[kit.ACTION_UNHELPFUL]["value"]
            await h.interact(block_action(kit.ACTION_UNHELPFUL, value, h.slack.response_url("f2")))
            [updated] = await h.slack.wait_for("respond/f2")
            assert updated.body["replace_original"] is True
            assert FRIEND_CLAUSE in visible(updated)
            assert "Thanks for telling me" in visible(updated)
            assert kit.ACTION_UNHELPFUL not in buttons(updated.body["blocks"])
            [logged] = h.store.logged_questions()
            assert logged.helpful is False

    run(scenario)


def test_the_message_shortcut_answers_about_that_message(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            text = "Thinking of accepting a parent&#39;s friend request on facebook, ok?"
            await h.interact(message_shortcut(text, h.slack.response_url("m1")))
            [answer] = await h.slack.wait_for("respond/m1")
            assert answer.body["response_type"] == "ephemeral"
            assert FRIEND_CLAUSE in visible(answer)
            assert h.logged() == 1

    run(scenario)


def test_the_app_home_shows_how_to_ask_examples_acknowledgements_and_policies(
    template: Path, tmp_path: Path
) -> None:
    def pending(user: str, workspace: str | None) -> Sequence[str]:
        return [f"Re-read <Test Policy> by Friday ({user} in {workspace})"]

    async def scenario() -> None:
        event = {
            "type": "app_home_opened",
            "user": "U123",
            "channel": "D1",
            "tab": "home",
            "event_ts": "1700000000.000500",
        }
        async with running(template, tmp_path) as h:
            await h.event(event)
            [published] = await h.slack.wait_for("views.publish")
            assert published.body["user_id"] == "U123"
            view = published.body["view"]
            view = json.loads(view) if isinstance(view, str) else view
            seen = "\n".join(mrkdwn_texts(view["blocks"]) + plain_texts(view["blocks"]))
            assert "/policy" in seen
            assert "can I friend a parent on facebook?" in seen
            assert kit.NO_ACKNOWLEDGEMENTS in seen
            assert "*Test Acceptable Use Policy*, version 2024" in seen
        async with running(template, tmp_path / "second", acknowledgements=pending) as h:
            await h.event(event)
            [published] = await h.slack.wait_for("views.publish")
            seen = "\n".join(mrkdwn_texts(published.body["view"]["blocks"]))
            assert "Re-read &lt;Test Policy&gt; by Friday (U123 in T1)" in seen
            assert kit.NO_ACKNOWLEDGEMENTS not in seen

    (tmp_path / "second").mkdir()
    run(scenario)


# -- Slack's rules ----------------------------------------------------------------------------


def test_url_verification_echoes_the_challenge(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
            response = await h.post(body.encode(), "application/json")
            assert response.status == 200
            assert (await response.json()) == {"challenge": "c-123"}

    run(scenario)


class SlowLogBot(PolicyBot):
    """The real bot, whose question log takes a second to commit (a slow database): long
    enough to see who waits for whom. Answering itself is CPU only and bounded."""

    def submit(
        self,
        incoming: Incoming,
        *,
        claim: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Future[Reply | None]:
        logged = super().submit(incoming, claim=claim, loop=loop)
        slow: Future[Reply | None] = Future()
        threading.Timer(1.0, lambda: slow.set_result(logged.result())).start()
        return slow


def test_slack_gets_its_2xx_at_once_and_the_answer_follows(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path, bot_class=SlowLogBot) as h:
            started = time.perf_counter()
            response = await h.event(app_mention(f"<@{BOT_USER_ID}> {FRIEND}"))
            answered_http = time.perf_counter()
            command = await h.command(FRIEND, "cmd1")
            assert response.status == 200 and command.status == 200
            assert answered_http - started < 0.5
            assert time.perf_counter() - started < 1.0
            [post] = await h.slack.wait_for("chat.postMessage")
            await h.slack.wait_for("respond/cmd1")
            assert post.received_at - started >= 1.0

    run(scenario)


def test_retries_and_repeated_event_ids_never_answer_twice(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            event = app_mention(f"<@{BOT_USER_ID}> {FRIEND}")
            first = await h.event(event, event_id="EvSame")
            retry = await h.event(
                event,
                event_id="EvSame",
                **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
            )
            again = await h.event(event, event_id="EvSame")
            assert [first.status, retry.status, again.status] == [200, 200, 200]
            await h.event(direct_message(POSTING), event_id="EvOther")  # a barrier
            await h.slack.wait_for("chat.postMessage", count=2)
            await asyncio.sleep(0.2)
            assert len(h.slack.calls("chat.postMessage")) == 2
            assert h.logged() == 2

    run(scenario)


def test_a_repeated_event_id_is_answered_once_across_processes(
    template: Path, tmp_path: Path
) -> None:
    """Two app instances, each with its own Store and connection pool, share one database."""

    async def scenario() -> None:
        async with running(template, tmp_path) as one, running(template, tmp_path) as two:
            event = app_mention(f"<@{BOT_USER_ID}> {FRIEND}")
            responses = await asyncio.gather(
                one.event(event, event_id="EvTwin"), two.event(event, event_id="EvTwin")
            )
            assert [r.status for r in responses] == [200, 200]
            await one.event(direct_message(POSTING), event_id="EvBarrier1")
            await two.event(direct_message(POSTING), event_id="EvBarrier2")
            await one.slack.wait_for("chat.postMessage")
            await two.slack.wait_for("chat.postMessage")
            await asyncio.sleep(0.2)
            mentions = [
                r
                for h in (one, two)
                for r in h.slack.calls("chat.postMessage")
                if r.body.get("thread_ts")
            ]
            assert len(mentions) == 1
            assert one.logged() == 3

    run(scenario)


@pytest.mark.parametrize(
    "event",
    [
        direct_message("can I friend a parent?", bot_id=BOT_ID, user=BOT_USER_ID),
        direct_message("can I friend a parent?", bot_id="B999", user="U999"),
        direct_message("can I friend a parent?", subtype="bot_message", bot_id="B999"),
        direct_message("can I friend a parent?", subtype="message_changed"),
        direct_message("can I friend a parent?", subtype="message_deleted"),
        direct_message("can I friend a parent?", subtype="channel_join"),
        app_mention(f"<@{BOT_USER_ID}> can I friend a parent?", user="U999") | {"bot_id": "B999"},
        {
            "type": "message",
            "channel_type": "channel",
            "user": "U1",
            "text": "hi",
            "ts": "1.2",
            "channel": "C1",
        },
    ],
    ids=[
        "self",
        "other-bot",
        "bot_message",
        "message_changed",
        "message_deleted",
        "channel_join",
        "mention-from-bot",
        "channel-message",
    ],
)
def test_the_bot_ignores_itself_other_bots_and_edits(
    event: dict[str, Any], template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            response = await h.event(event, event_id="EvIgnored")
            assert response.status == 200
            await h.event(direct_message(POSTING), event_id="EvBarrier")
            await h.slack.wait_for("chat.postMessage")
            await asyncio.sleep(0.1)
            assert len(h.slack.calls("chat.postMessage")) == 1
            assert h.logged() == 1

    run(scenario)


@pytest.mark.parametrize("kind", ["reaction_added", "member_joined_channel", "app_uninstalled"])
def test_events_it_does_not_handle_get_200(kind: str, template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            response = await h.event({"type": kind, "user": "U1", "event_ts": "1.1"})
            assert response.status == 200
            await asyncio.sleep(0.1)
            assert not h.slack.calls("chat.postMessage")

    run(scenario)


def test_a_rate_limited_post_is_retried_after_retry_after(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            h.slack.rate_limit("chat.postMessage", retry_after=1)
            await h.event(direct_message(FRIEND))
            limited, delivered = await h.slack.wait_for("chat.postMessage", count=2, timeout=6)
            assert delivered.received_at - limited.received_at >= 1.0
            assert delivered.body["blocks"] == limited.body["blocks"]
            await asyncio.sleep(0.1)
            assert len(h.slack.calls("chat.postMessage")) == 2

    run(scenario)


def test_a_dropped_connection_is_retried(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            h.slack.drop_connection("chat.postMessage")
            await h.event(direct_message(FRIEND))
            [delivered] = await h.slack.wait_for("chat.postMessage", timeout=6)
            assert h.slack.dropped == ["chat.postMessage"]
            assert FRIEND_CLAUSE in visible(delivered)

    run(scenario)


HOSTILE = (
    "<!channel> <!here> <@U999> <https://evil.example|click me> &amp; "
    "can I friend a parent on facebook?"
)


def test_user_text_never_notifies_anyone_or_renders(template: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.command(HOSTILE, "cmd1")
            [answer] = await h.slack.wait_for("respond/cmd1")
            blocks = answer.body["blocks"]
            for text in [*mrkdwn_texts(blocks), answer.body["text"]]:
                for dangerous in ("<!channel>", "<!here>", "<@U999>", "<https://"):
                    assert dangerous not in text
            [echo] = [t for t in plain_texts(blocks) if t.startswith("You asked:")]
            assert "@channel" in echo and "click me" in echo and "&" in echo

    run(scenario)


def test_a_question_over_4000_characters_gets_a_polite_limit_message(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.event(direct_message("can I friend a parent? " * 200))
            [post] = await h.slack.wait_for("chat.postMessage")
            assert "4,000 characters or fewer" in visible(post)
            assert h.logged() == 0

    run(scenario)


def test_every_web_api_method_called_is_covered_by_the_manifest_scopes(
    template: Path, tmp_path: Path
) -> None:
    """Least privilege, from the other side: the calls PolicyBot makes need only these."""
    from tests.adapters.test_slack_manifest import METHOD_SCOPES, manifest_scopes

    async def scenario() -> None:
        async with running(template, tmp_path) as h:
            await h.event(app_mention(f"<@{BOT_USER_ID}> {FRIEND}"), event_id="E1")
            await h.event(direct_message(POSTING), event_id="E2")
            await h.event(
                {"type": "app_home_opened", "user": "U1", "tab": "home", "event_ts": "1.1"},
                event_id="E3",
            )
            await h.command(FRIEND, "c1")
            await h.slack.wait_for("chat.postMessage", count=2)
            await h.slack.wait_for("views.publish")
            await h.slack.wait_for("respond/c1")
            called = {r.method for r in h.slack.requests if not r.method.startswith("respond/")}
            assert called <= set(METHOD_SCOPES), f"unjustified Web API calls: {called}"
            needed = set().union(*(METHOD_SCOPES[m] for m in called))
            assert needed <= manifest_scopes()

    run(scenario)


def test_socket_mode_connects_with_the_app_token_and_answers(
    template: Path, tmp_path: Path
) -> None:
    """`serve --socket-mode`: no public URL, events arrive over the WebSocket and are acked."""

    async def scenario() -> None:
        shutil.copytree(template, tmp_path, dirs_exist_ok=True)
        async with FakeSlackAPI() as slack:
            settings = settings_for(
                tmp_path,
                SLACK_API_URL=slack.base_url,
                SLACK_APP_TOKEN="xapp-test",
                SLACK_SIGNING_SECRET="",
            )
            store = Store.from_settings(settings)
            app = create_app(
                settings,
                PolicyBot.from_settings(settings, store=store),
                store=store,
                socket_mode=True,
            )
            try:
                async with TestClient(TestServer(app)) as client:
                    [opened] = await slack.wait_for("apps.connections.open")
                    assert opened.headers["Authorization"] == "Bearer xapp-test"
                    payload = json.loads(event_callback(app_mention(f"<@{BOT_USER_ID}> {FRIEND}")))
                    await slack.push(
                        {
                            "envelope_id": "env-1",
                            "type": "events_api",
                            "accepts_response_payload": False,
                            "payload": payload,
                        }
                    )
                    assert (await slack.wait_for_ack("env-1"))["envelope_id"] == "env-1"
                    [post] = await slack.wait_for("chat.postMessage")
                    assert FRIEND_CLAUSE in visible(post)
                    assert post.headers["Authorization"] == "Bearer xoxb-test"
                    assert (await client.post("/slack/events", data=b"{}")).status == 404
            finally:
                store.close()

    run(scenario)


def test_policy_trends_is_for_hr_only_and_sends_hr_a_short_lived_link(
    template: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        hr = {"POLICYBOT_HR": f"slack:{USER_ID}", "POLICYBOT_PUBLIC_URL": "https://bot.example"}
        async with running(template, tmp_path / "hr", **hr) as h:
            await h.command("trends", "t1")
            [summary] = await h.slack.wait_for("respond/t1")
            assert summary.body["response_type"] == "ephemeral"
            [dm] = await h.slack.wait_for("chat.postMessage")
            assert dm.body["channel"] == USER_ID
            link = str(dm.body["text"]).split(": ", 1)[1]
            assert link.startswith("https://bot.example/hr?token=")
            page = await h.client.get("/hr" + link.split("/hr", 1)[1])
            assert page.status == 200 and "<svg" in await page.text()
            assert (await h.client.get("/hr?token=forged")).status == 401
        async with running(template, tmp_path / "staff") as h:
            await h.command("trends", "t2")
            [refusal] = await h.slack.wait_for("respond/t2")
            assert "for the people HR has listed" in visible(refusal)
            assert not h.slack.calls("chat.postMessage")

    run(scenario)
