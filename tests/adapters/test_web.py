"""The web process: signature checks that never crash, /healthz, start-up refusals, `serve`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from adapters.web import MAX_CLOCK_SKEW_SECONDS, create_app, serve, verify_signature
from bot.config import Settings
from bot.errors import ConfigError
from bot.knowledge import Clause, Obligation, Policy, save_policy, sha256_text
from bot.service import PolicyBot
from bot.storage import Store
from tests.fakes.slack_api import (
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlackAPI,
    app_mention,
    event_callback,
    sign,
)

POLICY = Policy(
    id="web-test",
    title="Web Test Policy",
    version="1",
    contact="the office",
    source="source.txt",
    content_hash=sha256_text("web"),
    clauses=(
        Clause(
            id="photos-1",
            section=("Photographs",),
            obligation=Obligation.REQUIRED,
            text="Staff must only use school cameras to take photographs of pupils.",
        ),
    ),
)
SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET}
TEAMS = {
    "MICROSOFT_APP_ID": "00000000-0000-4000-8000-000000000001",
    "MICROSOFT_APP_PASSWORD": "teams-secret",
}
CHALLENGE = json.dumps({"token": "t", "challenge": "c-1", "type": "url_verification"}).encode()


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    knowledge = tmp_path / "knowledge"
    if not knowledge.exists():
        save_policy(POLICY, knowledge / POLICY.id)
        (knowledge / "lexicon.yaml").write_text("groups: []\n")  # not the bundled one
    base: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/t.db",
        "POLICYBOT_DATA_DIR": tmp_path,
        "POLICYBOT_KNOWLEDGE_DIR": knowledge,
        "POLICYBOT_SECRET_KEY": "test-key",
    }
    return Settings(**{**base, **values})


@asynccontextmanager
async def client_for(settings: Settings, **options: Any) -> AsyncIterator[TestClient[Any, Any]]:
    store = Store.from_settings(settings)
    if store.db.dialect == "sqlite":
        store.upgrade()
    app = create_app(
        settings, PolicyBot.from_settings(settings, store=store), store=store, **options
    )
    try:
        async with TestClient(TestServer(app)) as client:
            yield client
    finally:
        store.close()


# -- signatures ----------------------------------------------------------------------------


def headers_for(case: str) -> tuple[bytes, dict[str, str]]:
    """A request body and headers for one way of getting the signature wrong (or right)."""
    # Read the clock per request: a module-level "now" goes stale on a slow run, and
    # "inside-window" (30 s inside) then falls outside.
    now = int(time.time())
    body = CHALLENGE
    good = sign(body, timestamp=now)
    signature = good["X-Slack-Signature"]
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "valid": (body, good),
        "inside-window": (body, sign(body, timestamp=now - MAX_CLOCK_SKEW_SECONDS + 30)),
        "forged": (body, sign(body, secret="not-the-secret")),
        "stale": (body, sign(body, timestamp=now - MAX_CLOCK_SKEW_SECONDS - 30)),
        "future": (body, sign(body, timestamp=now + MAX_CLOCK_SKEW_SECONDS + 30)),
        "tampered": (body.replace(b"c-1", b"c-2"), good),
        "no-headers": (body, {}),
        "no-signature": (body, {"X-Slack-Request-Timestamp": str(now)}),
        "no-timestamp": (body, {"X-Slack-Signature": signature}),
        "junk-timestamp": (body, {**good, "X-Slack-Request-Timestamp": "yesterday"}),
        "float-timestamp": (body, {**good, "X-Slack-Request-Timestamp": f"{now}.5"}),
        "negative-timestamp": (body, {**good, "X-Slack-Request-Timestamp": "-1"}),
        "huge-timestamp": (body, {**good, "X-Slack-Request-Timestamp": "9" * 400}),
        "arabic-digits": (body, {**good, "X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠"}),
        "junk-signature": (body, {**good, "X-Slack-Signature": "v0=not-hex"}),
        "bare-hex-signature": (body, {**good, "X-Slack-Signature": signature[3:]}),
        "latin1-signature": (body, {**good, "X-Slack-Signature": "v0=\xe9\xe9"}),
        "junk-body-junk-headers": (
            b"\xff\xfe{{",
            {"X-Slack-Signature": "v0=", "X-Slack-Request-Timestamp": "x"},
        ),
        "signed-junk-json": (b"{not json", sign(b"{not json")),
        "signed-bad-utf8": (b"\xff\xfe{}", sign(b"\xff\xfe{}")),
    }
    return cases[case]


EXPECTED = {"valid": 200, "inside-window": 200, "signed-junk-json": 400, "signed-bad-utf8": 400}
CASES = [
    "valid",
    "inside-window",
    "forged",
    "stale",
    "future",
    "tampered",
    "no-headers",
    "no-signature",
    "no-timestamp",
    "junk-timestamp",
    "float-timestamp",
    "negative-timestamp",
    "huge-timestamp",
    "arabic-digits",
    "junk-signature",
    "bare-hex-signature",
    "latin1-signature",
    "junk-body-junk-headers",
    "signed-junk-json",
    "signed-bad-utf8",
]


@pytest.mark.parametrize("case", CASES)
def test_slack_requests_are_verified_and_bad_ones_get_401_never_500(
    case: str, tmp_path: Path
) -> None:
    body, headers = headers_for(case)

    async def scenario() -> None:
        async with client_for(settings_for(tmp_path, **SLACK)) as client:
            response = await client.post(
                "/slack/events",
                data=body,
                headers={"Content-Type": "application/json", **headers},
            )
            assert response.status == EXPECTED.get(case, 401)
            if response.status == 200:
                assert await response.json() == {"challenge": "c-1"}

    asyncio.run(scenario())


def test_verify_signature_matches_slacks_documented_example() -> None:
    # The worked example in Slack's "Verifying requests from Slack" guide.
    secret = b"8f742231b10e8888abcd99yyyzzz85a5"
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert verify_signature(secret, body, "1531420618", signature, now=1531420618 + 60)
    assert not verify_signature(secret, body, "1531420618", signature, now=1531420618 + 400)
    assert not verify_signature(secret, body + b"x", "1531420618", signature, now=1531420618)


# -- health ----------------------------------------------------------------------------------


def test_healthz_is_200_when_the_database_answers(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with client_for(settings_for(tmp_path, **SLACK)) as client:
            response = await client.get("/healthz")
            assert response.status == 200
            assert (await response.json())["database"] == "ok"

    asyncio.run(scenario())


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test?connect_timeout=2"

    async def scenario() -> None:
        async with client_for(settings_for(tmp_path, DATABASE_URL=url, **SLACK)) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"

    asyncio.run(scenario())


# -- starting up -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-test"}, "SLACK_SIGNING_SECRET"),
        ({"MICROSOFT_APP_ID": TEAMS["MICROSOFT_APP_ID"]}, "MICROSOFT_APP_PASSWORD"),
    ],
)
def test_half_a_platform_configuration_refuses_to_start_naming_the_missing_variable(
    values: dict[str, str], missing: str, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, **values)
    with pytest.raises(ConfigError, match=missing):
        serve(settings, dev=True)


def test_no_chat_platform_outside_development_refuses_to_start_and_says_what_to_set(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as raised:
        serve(settings_for(tmp_path))
    message = str(raised.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MICROSOFT_APP_ID", "development"):
        assert name in message


def test_socket_mode_needs_the_app_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        serve(settings_for(tmp_path, SLACK_BOT_TOKEN="xoxb-test"), socket_mode=True)


@pytest.mark.parametrize(
    ("values", "options"),
    [({}, {"dev": True}), ({"POLICYBOT_ENV": "development"}, {}), (TEAMS, {})],
    ids=["--dev", "POLICYBOT_ENV", "teams-only"],
)
def test_without_slack_variables_slack_is_not_mounted(
    values: dict[str, str], options: dict[str, Any], tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with client_for(settings_for(tmp_path, **values), **options) as client:
            assert (await client.get("/healthz")).status == 200
            response = await client.post("/slack/events", data=CHALLENGE, headers=sign(CHALLENGE))
            assert response.status == 404
            # Teams shares the process: mounted when configured, or (unsigned) in development.
            teams = await client.post("/api/messages", json={})
            assert teams.status != 404

    asyncio.run(scenario())


def test_with_slack_variables_slack_is_mounted(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with client_for(settings_for(tmp_path, **SLACK)) as client:
            response = await client.post("/slack/events", data=CHALLENGE, headers=sign(CHALLENGE))
            assert response.status == 200

    asyncio.run(scenario())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_runs_the_real_process_end_to_end(tmp_path: Path) -> None:
    """`serve` in its own process: migrates a fresh database, listens on the port it was
    given, answers a signed mention into the fake Web API, and stops cleanly on SIGTERM."""
    port = free_port()
    settings_for(tmp_path)  # writes the knowledge folder

    async def scenario() -> None:
        async with FakeSlackAPI() as slack:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
                "POLICYBOT_DATA_DIR": str(tmp_path),
                "POLICYBOT_KNOWLEDGE_DIR": str(tmp_path / "knowledge"),
                "POLICYBOT_SECRET_KEY": "test-key",
                "SLACK_API_URL": slack.base_url,
                **SLACK,
            }
            code = (
                "from adapters.web import serve; from bot.config import Settings; "
                f"serve(Settings(), port={port})"
            )
            process = subprocess.Popen(
                [sys.executable, "-c", code],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                async with ClientSession() as http:
                    deadline = time.monotonic() + 30
                    while True:
                        try:
                            async with http.get(f"{base}/healthz") as health:
                                if health.status == 200:
                                    break
                        except OSError:
                            pass
                        assert process.poll() is None, (
                            process.stdout.read().decode() if process.stdout else ""
                        )
                        assert time.monotonic() < deadline, "serve did not become healthy"
                        await asyncio.sleep(0.1)
                    body = event_callback(
                        app_mention(f"<@{BOT_USER_ID}> can I take photographs of pupils?")
                    )
                    headers = {"Content-Type": "application/json", **sign(body)}
                    async with http.post(
                        f"{base}/slack/events", data=body, headers=headers
                    ) as response:
                        assert response.status == 200
                    [post] = await slack.wait_for("chat.postMessage", timeout=10)
                    assert "school cameras" in json.dumps(post.body["blocks"])
            finally:
                process.send_signal(signal.SIGTERM)
                output = process.communicate(timeout=20)[0].decode()
            assert process.returncode == 0, output

    asyncio.run(scenario())
