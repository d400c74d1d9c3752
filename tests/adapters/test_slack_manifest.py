"""slack/manifest.yaml asks for exactly what PolicyBot uses, and points Slack at the app.

Least privilege is pinned here: every bot scope must be in ``NEEDED_SCOPES`` with the API
method or event that needs it, and every event and Web API method PolicyBot uses must be
covered. ``test_slack.py`` runs the bot and checks that the Web API methods it really calls
are all in ``METHOD_SCOPES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapters.slack import SHORTCUT_CALLBACK_ID
from adapters.web import SLACK_EVENTS_PATH

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yaml"

#: Each scope PolicyBot may ask for, and why (Slack's scope reference, docs.slack.dev).
NEEDED_SCOPES = {
    "app_mentions:read": "the app_mention event (@PolicyBot in a channel)",
    "im:history": "the message.im event (direct messages to the bot), and "
    "conversations.history in PolicyBot's own DMs: after a crash mid-send, the campaign "
    "worker looks for the prompt it may have sent, so nobody is prompted twice",
    "chat:write": "chat.postMessage (answers, campaign prompts) and chat.update (a prompt "
    "becomes 'Accepted on ...')",
    "commands": "the /policy slash command and the message shortcut",
    "users:read": "users.list (a campaign for everyone in the workspace, without bots, "
    "deactivated accounts or guests), users.info (is this person a workspace admin, when "
    "POLICYBOT_SLACK_ADMINS_ARE_ADMINS=true) and the team_join event (new joiners are "
    "enrolled in running campaigns)",
    "im:write": "conversations.open (the DM in which a campaign prompt is sent)",
    "channels:read": "conversations.members for a public channel's campaign "
    "(--audience slack:channel:C123)",
    "groups:read": "conversations.members for a private channel's campaign",
}
#: Events subscribed to, and the scope each needs (None: no scope, only a bot user).
EVENT_SCOPES: dict[str, str | None] = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "app_home_opened": None,
    "team_join": "users:read",
}
#: Web API methods PolicyBot calls, and the scopes each needs.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),  # Bolt learns the bot's own ids (to ignore itself); no scope
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "views.publish": set(),  # the App Home tab; no scope
    "views.open": set(),  # the campaign start form and the whole policy; no scope
    "users.list": {"users:read"},
    "users.info": {"users:read"},
    "conversations.open": {"im:write"},
    "conversations.history": {"im:history"},
    "conversations.members": {"channels:read", "groups:read"},
}
#: Scopes that would be easy to add "just in case" and must stay out.
NOT_NEEDED = (
    "users:read.email",
    "im:read",
    "channels:history",
    "groups:history",
    "chat:write.public",
    "chat:write.customize",
)


def load() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def manifest_scopes() -> set[str]:
    """The bot scopes the manifest requests."""
    return set(load()["oauth_config"]["scopes"]["bot"])


def test_every_scope_is_justified_and_none_is_missing() -> None:
    scopes = load()["oauth_config"]["scopes"]
    unjustified = set(scopes["bot"]) - set(NEEDED_SCOPES)
    assert not unjustified, f"scopes with no API method or event needing them: {unjustified}"
    assert set(scopes["bot"]) == set(NEEDED_SCOPES)
    assert len(scopes["bot"]) == len(set(scopes["bot"]))
    assert "user" not in scopes  # PolicyBot never acts as a person
    assert not set(NOT_NEEDED) & set(scopes["bot"])


def test_events_are_exactly_the_handled_ones_and_their_scopes_are_granted() -> None:
    events = load()["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == set(EVENT_SCOPES)
    granted = manifest_scopes()
    for event in events:
        scope = EVENT_SCOPES[event]
        assert scope is None or scope in granted, f"{event} needs {scope}"


def test_every_request_url_is_the_slack_events_route() -> None:
    data = load()
    urls = [
        data["settings"]["event_subscriptions"]["request_url"],
        data["settings"]["interactivity"]["request_url"],
        *(command["url"] for command in data["features"]["slash_commands"]),
    ]
    assert all(url.startswith("https://") and url.endswith(SLACK_EVENTS_PATH) for url in urls)
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["socket_mode_enabled"] is False


def test_the_command_and_shortcut_match_the_code_and_slack_limits() -> None:
    features = load()["features"]
    [command] = features["slash_commands"]
    assert command["command"] == "/policy"
    assert command["should_escape"] is False  # text arrives as typed; PolicyBot escapes it
    [shortcut] = features["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == SHORTCUT_CALLBACK_ID
    assert len(shortcut["name"]) <= 24  # Slack refuses longer shortcut names
    assert len(shortcut["description"]) <= 150


def test_the_app_home_has_a_home_tab_and_accepts_direct_messages() -> None:
    home = load()["features"]["app_home"]
    assert home == {
        "home_tab_enabled": True,
        "messages_tab_enabled": True,
        "messages_tab_read_only_enabled": False,
    }
    display = load()["display_information"]
    assert len(display["name"]) <= 35 and len(display["description"]) <= 140
