"""Campaigns in the core: starting, accepting, status, export, joiners and what changed.

Every storage-backed test runs on SQLite and, when ``POLICYBOT_TEST_DATABASE_URL`` is set,
PostgreSQL (the ``backend`` fixture of ``tests/bot/storage/conftest.py``).
"""

from __future__ import annotations

import csv
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from bot.admins import REFUSAL
from bot.audience import Member
from bot.campaign_commands import HELP, Command, check_form, parse_command, run_command
from bot.campaigns import Campaigns, Click, StartRequest
from bot.errors import CampaignError, PolicyBotError, StorageUnavailable
from bot.knowledge import sha256_text
from bot.storage import Store
from tests.bot import campaign_fixtures as fixtures
from tests.bot.campaign_fixtures import DUE, Clock, campaigns_for, people, policy, start
from tests.bot.storage.conftest import Backend

# Shared fixtures (tests/bot/campaign_fixtures.py), bound by name for pytest.
backend = fixtures.backend
postgres_admin = fixtures.postgres_admin
sqlite_backend = fixtures.sqlite_backend
store = fixtures.store
clock = fixtures.clock
campaigns = fixtures.campaigns


def click(campaign_id: str, user: str = "U0000", event: str = "trigger-1") -> Click:
    return Click("slack", "T1", user, f"Name of {user}", campaign_id, f"slack:{event}")


# -- starting ---------------------------------------------------------------------------------


def test_a_campaign_pins_the_version_and_the_hash_of_the_exact_text_shown(
    campaigns: Campaigns, store: Store
) -> None:
    campaign = start(campaigns, people(3))
    shown = policy().to_text()
    assert campaign.policy_version == "2025"
    assert campaign.policy_text == shown
    assert campaign.text_sha256 == sha256_text(shown)
    assert campaign.statement == (
        "I have read and accept the Staff Acceptable Use Policy (version 2025)."
    )
    assert [v.version for v in store.policy_versions("staff-aup")] == ["2025"]
    status = campaigns.status()  # the latest, without an id
    assert (status.campaign, status.recipients, status.outstanding) == (campaign.id, 3, 3)
    assert status.not_yet_prompted == 3 and status.accepted == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy_id": "no-such-policy"}, "No policy with id 'no-such-policy' (known: staff-aup)"),
        ({"due_on": date(2026, 9, 1)}, "must be after today"),
        ({"every": "12 fortnights"}, "write a number and a unit"),
        ({"audience": "everyone"}, "Unknown audience"),
    ],
)
def test_a_bad_request_is_refused_with_a_reason_and_nothing_is_stored(
    campaigns: Campaigns, change: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "policy_id": "staff-aup",
        "due_on": DUE,
        "audience": "slack:workspace",
        "started_by": "test",
        **change,
    }
    with pytest.raises(PolicyBotError, match=re.escape(message)):
        campaigns.start(StartRequest.model_validate(values), people(2))
    with pytest.raises(CampaignError, match="No campaigns yet"):
        campaigns.find()


def test_nobody_to_ask_is_refused(campaigns: Campaigns) -> None:
    with pytest.raises(CampaignError, match="Nobody to ask"):
        start(campaigns, [])


# -- accepting --------------------------------------------------------------------------------


def test_accepting_appends_to_the_chain_with_everything_an_auditor_needs(
    campaigns: Campaigns, store: Store
) -> None:
    campaign = start(campaigns, people(2))
    outcome = campaigns.accept(click(campaign.id, event="trig-42"))
    assert outcome.result == "recorded"
    assert outcome.accepted is not None and outcome.accepted.version == "2025"
    assert "was recorded on" in outcome.message
    [ack] = store.acknowledgements_for("slack", "T1", "U0000")
    assert ack.campaign_id == campaign.id
    assert ack.text_sha256 == campaign.text_sha256
    assert ack.policy_version == "2025"
    assert ack.statement == campaign.statement
    assert ack.display_name == "Name of U0000"
    assert ack.source_event == "slack:trig-42"
    assert store.verify_chain().ok
    status = campaigns.status(campaign.id)
    assert (status.accepted, status.outstanding) == (1, 1)


def test_a_second_click_says_already_recorded_and_writes_nothing(
    campaigns: Campaigns, store: Store
) -> None:
    campaign = start(campaigns, people(1))
    first = campaigns.accept(click(campaign.id))
    again = campaigns.accept(click(campaign.id, event="trigger-2"))
    assert again.result == "already"
    assert "Already recorded" in again.message
    assert again.accepted == first.accepted
    assert store.verify_chain().rows == 1


def test_only_the_people_asked_can_accept_and_only_while_it_runs(
    campaigns: Campaigns, store: Store
) -> None:
    campaign = start(campaigns, people(2))
    assert campaigns.accept(click(campaign.id, user="U9999")).result == "not_recipient"
    assert campaigns.accept(click("no-such-campaign")).result == "not_found"
    campaigns.stop(campaign.id, "test:admin")
    withdrawn = campaigns.accept(click(campaign.id))
    assert withdrawn.result == "withdrawn" and "nothing was recorded" in withdrawn.message
    assert store.verify_chain().rows == 0
    with pytest.raises(CampaignError, match="not running"):
        campaigns.stop(campaign.id, "test:admin")


def test_when_the_database_is_locked_the_click_is_not_recorded_and_nothing_is_half_written(
    sqlite_backend: Backend, clock: Clock
) -> None:
    store = sqlite_backend.open_store(busy_timeout=0.2)
    store.upgrade()
    campaigns = campaigns_for(store, clock)
    campaign = start(campaigns, people(1))
    assert sqlite_backend.sqlite_path is not None
    blocker = sqlite3.connect(sqlite_backend.sqlite_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(StorageUnavailable):
            campaigns.accept(click(campaign.id))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.verify_chain().rows == 0
    assert campaigns.status(campaign.id).accepted == 0
    assert campaigns.accept(click(campaign.id)).result == "recorded"  # and it works again
    store.close()


# -- status, export, pending ------------------------------------------------------------------


def test_status_counts_overdue_from_the_day_after_the_due_date(
    campaigns: Campaigns, clock: Clock
) -> None:
    campaign = start(campaigns, people(4))
    campaigns.accept(click(campaign.id, user="U0001"))
    clock.now = clock.now.replace(month=9, day=30, hour=23)
    assert campaigns.status(campaign.id).overdue == 0
    clock.advance(hours=2)  # 1 October
    status = campaigns.status(campaign.id)
    assert (status.accepted, status.outstanding, status.overdue) == (1, 3, 3)
    assert "1 of 4 accepted; 3 outstanding, 3 overdue" in status.summary()


def test_export_lists_everyone_with_state_and_time_safe_for_spreadsheets(
    campaigns: Campaigns, tmp_path: Path
) -> None:
    members = [*people(2), Member("slack", "T1", "U0002", '=HYPERLINK("http://x")')]
    campaign = start(campaigns, members)
    campaigns.accept(click(campaign.id, user="U0001"))
    path = tmp_path / "out.csv"
    assert campaigns.export(campaign.id, path) == 3
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    by_user = {row["user_id"]: row for row in rows}
    assert by_user["U0001"]["state"] == "accepted"
    assert by_user["U0001"]["accepted_at"].startswith("2026-")
    assert by_user["U0001"]["acknowledgement_seq"] == "1"
    assert by_user["U0000"]["state"] == "outstanding"
    assert by_user["U0000"]["accepted_at"] == ""
    assert by_user["U0002"]["display_name"].startswith("'=")
    assert not (tmp_path / "out.csv.partial").exists()


def test_pending_lists_what_someone_still_has_to_accept(campaigns: Campaigns) -> None:
    campaign = start(campaigns, people(2))
    [item] = campaigns.pending("slack", "T1", "U0000")
    assert item.campaign_id == campaign.id
    assert item.describe() == "Staff Acceptable Use Policy, version 2025: due 30 September 2026"
    assert campaigns.pending("slack", "T1", "U7777") == []
    campaigns.accept(click(campaign.id))
    assert campaigns.pending("slack", "T1", "U0000") == []


# -- new joiners --------------------------------------------------------------------------------


def test_new_joiners_are_enrolled_where_the_audience_covers_them(campaigns: Campaigns) -> None:
    workspace = start(campaigns, people(1))
    channel = start(campaigns, people(1), audience="slack:channel:C0STAFF")
    teams = start(campaigns, people(1, "teams", "tenant-1"), audience="teams:all")
    newcomer = Member("slack", "T1", "U0NEW", "New Teacher")
    assert campaigns.enrol(newcomer) == [workspace.id]
    assert campaigns.enrol(newcomer) == []  # once
    assert campaigns.enrol(Member("slack", "T1", "U0GUEST", "Guest"), guest=True) == []
    assert campaigns.enrol(Member("teams", "tenant-1", "aad-9", "T")) == [teams.id]
    assert campaigns.status(workspace.id).recipients == 2
    assert campaigns.status(channel.id).recipients == 1
    assert campaigns.accept(click(workspace.id, user="U0NEW")).result == "recorded"


# -- what changed -------------------------------------------------------------------------------


def test_the_prompt_says_first_time_same_version_or_what_changed(
    store: Store, clock: Clock
) -> None:
    old = campaigns_for(store, clock, policy("2025"))
    first = start(old, people(2))
    assert old.prompt(first, "slack", "T1", "U0000", 0).changes.first_time
    old.accept(click(first.id))
    again = start(old, people(1))
    same = old.prompt(again, "slack", "T1", "U0000", 0).changes
    assert same.describe("2025").startswith("You accepted version 2025 before")

    new = campaigns_for(store, clock, policy("2026", changed=True))
    current = start(new, people(2))
    prompt = new.prompt(current, "slack", "T1", "U0000", 0)
    changes = prompt.changes
    assert (changes.added, changes.changed, changes.removed) == (1, 1, 1)
    assert changes.describe("2026") == (
        "Changed since version 2025, which you accepted: 1 clause added, "
        "1 clause reworded, 1 removed."
    )
    assert changes.lines == (
        "Added (AI tools): Staff must not paste pupils' personal data into AI chatbots.",
        "Reworded (Photographs): Staff may photograph pupils only on school-owned devices, "
        "never their own.",
        "Removed (Fax): Faxes must be collected promptly.",
    )
    assert new.prompt(current, "slack", "T1", "U0001", 0).changes.first_time


# -- chat commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("campaign", Command("help")),
        ("campaign start", Command("start")),
        ("Campaign STATUS c-1", Command("status", "c-1")),
        ("campaign stop c-1", Command("stop", "c-1")),
        ("my acknowledgements", Command("mine")),
        ("campaign help", Command("help")),
        ("can I friend a parent?", None),
        ("campaigns are great", None),
        ("campaign posters in the staffroom ok?", None),
        ("campaign status of the union, can I join?", None),
    ],
)
def test_commands_are_recognised_and_questions_are_left_alone(
    text: str, expected: Command | None
) -> None:
    assert parse_command(text) == expected


def test_only_admins_may_run_campaign_commands(campaigns: Campaigns) -> None:
    campaign = start(campaigns, people(2))

    def run(text: str, allowed: bool, user: str = "U0000") -> str:
        command = parse_command(text)
        assert command is not None
        reply = run_command(
            command,
            campaigns,
            allowed=allowed,
            by="slack:U1",
            platform="slack",
            workspace="T1",
            user_id=user,
        )
        if reply.status is not None:
            return reply.status.summary()
        if reply.pending:
            return reply.pending[0].describe()
        return "start form" if reply.start_form else reply.text

    for text in ("campaign start", "campaign status", f"campaign stop {campaign.id}", "campaign"):
        assert run(text, allowed=False) == REFUSAL
    assert run("my acknowledgements", allowed=False).startswith("Staff Acceptable Use Policy")
    assert run("campaign", allowed=True) == HELP
    assert run("campaign start", allowed=True) == "start form"
    assert "0 of 2 accepted" in run("campaign status", allowed=True)
    assert run("campaign status nope", allowed=True) == "No campaign 'nope'."
    assert run(f"campaign stop {campaign.id}", allowed=True).startswith("Stopped campaign")
    assert campaigns.status(campaign.id).status == "stopped"


def test_the_start_form_is_checked_field_by_field() -> None:
    today = date(2026, 9, 1)
    assert check_form({}, today) == {
        "policy": "Please choose a policy.",
        "due": "Please choose a due date.",
        "audience": "Please choose who.",
    }
    problems = check_form({"policy": "p", "due": "2026-09-01", "audience": "slack:channel"}, today)
    assert set(problems) == {"due", "channel"}
    assert check_form({"policy": "p", "due": "2026-10-01", "audience": "teams:all"}, today) == {}
