"""The campaign worker: prompts once, reminders on schedule, the crash windows, failures,
digests and repeating rounds; first on a test clock with an in-process messenger, then
against the fake Slack Web API with the real ``SlackMessenger``.

Storage-backed tests run on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.slack_messenger import SlackDirectory, SlackMessenger, web_client
from bot.admins import Admins
from bot.audience import Member
from bot.campaign_worker import Worker
from bot.campaigns import Campaigns, Click
from bot.messenger import Notice, Prompt
from bot.rate_limits import RateLimits
from bot.storage import Store
from bot.storage import campaign_jobs as jobs
from bot.storage import campaign_recipients as enrolled
from tests.adapters.test_slack_manifest import METHOD_SCOPES, manifest_scopes
from tests.bot import campaign_fixtures as fixtures
from tests.bot.campaign_fixtures import (
    Clock,
    RecordingMessenger,
    outcome,
    people,
    start,
)
from tests.bot.storage.conftest import Backend, make_settings
from tests.fakes.slack_api import FakeSlackAPI, dm_channel, running_in_thread, user

LEASE = timedelta(seconds=60)

# Shared fixtures (tests/bot/campaign_fixtures.py), bound by name for pytest.
backend = fixtures.backend
postgres_admin = fixtures.postgres_admin
store = fixtures.store
clock = fixtures.clock
campaigns = fixtures.campaigns


def worker_for(
    campaigns: Campaigns, clock: Clock, *messengers: RecordingMessenger, **options: Any
) -> Worker:
    """A worker on the test clock: its sleeps move the clock instead of waiting."""

    def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    limits = RateLimits(
        {"slack": 1000.0, "teams": 1000.0}, clock=lambda: clock.now.timestamp(), sleep=sleep
    )
    return Worker(
        campaigns,
        {m.platform: m for m in messengers},
        limits=limits,
        lease=LEASE,
        clock=clock,
        sleep=sleep,
        **options,
    )


def accept(campaigns: Campaigns, campaign_id: str, user_id: str) -> None:
    result = campaigns.accept(Click("slack", "T1", user_id, user_id, campaign_id, "slack:t"))
    assert result.result == "recorded"


# -- on a test clock --------------------------------------------------------------------------


def test_everyone_is_prompted_once_then_reminded_on_schedule_until_they_accept(
    campaigns: Campaigns, clock: Clock
) -> None:
    campaign = start(campaigns, people(3))
    slack = RecordingMessenger()
    worker = worker_for(campaigns, clock, slack, admins=Admins(["slack:UADMIN"]))
    worker.drain()
    assert sorted(s.to.user_id for s in slack.sent) == ["U0000", "U0001", "U0002"]
    assert all(isinstance(s.message, Prompt) and s.message.step == 0 for s in slack.sent)
    worker.drain()
    assert len(slack.sent) == 3  # nothing is due again until the first reminder
    accept(campaigns, campaign.id, "U0001")

    # Four times a day until well after the last reminder.
    for _ in range(4 * 70):
        clock.advance(hours=6)
        worker.drain()
    reminders = [s for s in slack.sent if isinstance(s.message, Prompt) and s.message.reminder]
    assert {s.to.user_id for s in reminders} == {"U0000", "U0002"}
    mine = [s.message for s in reminders if s.to.user_id == "U0000"]
    assert [m.step for m in mine if isinstance(m, Prompt)] == [1, 2, 3, 4, 5, 6]
    assert [m.overdue for m in mine if isinstance(m, Prompt)] == [False] * 2 + [True] * 4
    # The reminders were addressed to the DM the prompt went to.
    assert all(s.to.channel == f"D{s.to.user_id}" for s in reminders)
    [digest] = [s for s in slack.sent if isinstance(s.message, Notice)]
    assert digest.to.user_id == "UADMIN"
    assert isinstance(digest.message, Notice)
    assert "1 of 3 accepted" in digest.message.text
    assert "Not yet accepted: Staff 0, Staff 2." in digest.message.text
    assert worker.report.digests == 1


def test_someone_who_accepts_before_the_prompt_goes_out_gets_no_prompt(
    campaigns: Campaigns, clock: Clock
) -> None:
    campaign = start(campaigns, people(2))
    accept(campaigns, campaign.id, "U0000")
    slack = RecordingMessenger()
    worker_for(campaigns, clock, slack).drain()
    assert [s.to.user_id for s in slack.sent] == ["U0001"]


def test_a_worker_that_died_after_claiming_gets_the_step_sent_once_after_its_lease(
    campaigns: Campaigns, clock: Clock, store: Store
) -> None:
    start(campaigns, people(1))
    [claim] = jobs.claim(store.db, "dead-worker", clock(), LEASE, ["slack"])
    slack = RecordingMessenger()
    worker = worker_for(campaigns, clock, slack)
    assert jobs.claim(store.db, "other", clock(), LEASE, ["slack"]) == []  # leased
    worker.drain()  # waits out the lease, looks, finds nothing, sends
    assert slack.finds == [claim.marker]
    assert [s.to.user_id for s in slack.sent] == ["U0000"]
    assert worker.report.sent == 1 and worker.report.recovered == 0


def test_a_worker_that_died_after_sending_is_not_followed_by_a_second_message(
    campaigns: Campaigns, clock: Clock, store: Store
) -> None:
    campaign = start(campaigns, people(1))
    [claim] = jobs.claim(store.db, "dead-worker", clock(), LEASE, ["slack"])
    slack = RecordingMessenger()
    # The dead worker's message went out; it died before recording it.
    slack.send(stored_address(claim), campaigns.prompt(campaign, "slack", "T1", "U0000", 0))
    worker = worker_for(campaigns, clock, slack)
    worker.drain()
    assert len(slack.sent) == 1
    assert worker.report.recovered == 1
    [row] = enrolled.recipients(store.db, campaign.id)
    assert (row.sent_steps, row.step, row.prompt_ref) == (1, 1, "m1")


def test_where_the_platform_cannot_tell_the_step_is_never_resent_and_reported_unknown(
    campaigns: Campaigns, clock: Clock, store: Store
) -> None:
    campaign = start(campaigns, people(2, "teams", "tenant-1"), audience="teams:all")
    teams = RecordingMessenger(platform="teams", has_history=False)
    store.save_conversation_reference(
        "teams",
        "tenant-1",
        "U0000",
        {"conversation": {"id": "a:1", "conversationType": "personal"}},
    )
    store.save_conversation_reference(
        "teams",
        "tenant-1",
        "U0001",
        {"conversation": {"id": "a:2", "conversationType": "personal"}},
    )
    [unclear] = jobs.claim(store.db, "dead-worker", clock(), LEASE, ["teams"], limit=1)
    worker = worker_for(campaigns, clock, teams)
    worker.drain()
    # Only the other person: the unclear step is not sent again.
    assert [s.to.user_id != unclear.user_id for s in teams.sent] == [True]
    status = campaigns.status(campaign.id)
    assert (status.unknown, status.not_yet_prompted) == (1, 0)
    assert "delivery unknown for 1" in status.summary()
    clock.now = datetime(2026, 9, 23, 10, tzinfo=UTC)
    worker.drain()  # the next step (a reminder) still reaches them
    steps = [
        (s.to.user_id == unclear.user_id, s.message.step)
        for s in teams.sent
        if isinstance(s.message, Prompt)
    ]
    assert sorted(steps) == [(False, 0), (False, 1), (True, 1)]


def stored_address(claim: jobs.Claim) -> Any:
    from bot.messenger import Address

    return Address(claim.platform, claim.workspace, claim.user_id, claim.channel)


def test_rate_limits_wait_permanent_failures_stop_and_passing_failures_give_up_in_time(
    campaigns: Campaigns, clock: Clock
) -> None:
    campaign = start(campaigns, people(4))
    slack = RecordingMessenger(
        script={
            "U0000": [outcome("rate_limited", "ratelimited", 30), outcome("rate_limited", "x", 30)],
            "U0001": [outcome("unreachable", "account_inactive")],
            "U0002": [outcome("retry", "internal_error")] * 20,
        }
    )
    worker = worker_for(campaigns, clock, slack, max_attempts=3)
    began = clock()
    worker.drain()
    assert [s.to.user_id for s in slack.sent] == ["U0003", "U0000"]
    assert clock() - began >= timedelta(seconds=60)  # two Retry-After waits
    status = campaigns.status(campaign.id)
    assert (status.unreachable, status.outstanding) == (2, 2)
    rows = {r.user_id: r for r in enrolled.recipients(campaigns.store.db, campaign.id)}
    assert rows["U0001"].reason == "account_inactive"
    assert rows["U0002"].reason is not None and "gave up after 3 tries" in rows["U0002"].reason
    assert worker.report.rate_limited == 2 and worker.report.unreachable == 2


def test_a_stopped_campaign_sends_nothing_more(campaigns: Campaigns, clock: Clock) -> None:
    campaign = start(campaigns, people(2))
    campaigns.stop(campaign.id, "test")
    slack = RecordingMessenger()
    worker_for(campaigns, clock, slack).drain()
    assert slack.sent == []


class StaffDirectory:
    """A directory that lists whoever the test says works there now."""

    def __init__(self, members: list[Member]) -> None:
        self.members = members

    def workspace_members(self, *, include_guests: bool) -> list[Member]:
        return list(self.members)

    def channel_members(self, channel: str, *, include_guests: bool) -> list[Member]:
        return []


def test_a_repeating_campaign_starts_its_next_round_on_the_anniversary_once(
    campaigns: Campaigns, clock: Clock
) -> None:
    first = start(campaigns, people(2), every="12m")
    slack = RecordingMessenger()
    directory = StaffDirectory([*people(2), Member("slack", "T1", "U0NEW", "New")])
    worker = worker_for(campaigns, clock, slack, directory=directory)
    worker.drain()
    clock.now = first.started_at + timedelta(days=364)
    worker.housekeeping()
    assert campaigns.find().id == first.id
    clock.now = first.started_at + timedelta(days=365, hours=1)
    worker.drain()
    worker.housekeeping()
    second = campaigns.find()
    assert second.id != first.id and second.previous_round == first.id
    assert second.due_on == clock().date() + (first.due_on - first.started_at.date())
    assert campaigns.find(first.id).status == "closed"
    assert campaigns.status(second.id).recipients == 3
    prompts = [s.message for s in slack.sent if isinstance(s.message, Prompt)]
    assert [p.campaign_id for p in prompts if p.step == 0].count(second.id) == 3
    assert worker.report.rounds == 1


def test_two_workers_draining_together_prompt_each_person_once(
    campaigns: Campaigns, store: Store
) -> None:
    start(campaigns, people(60))
    slack = RecordingMessenger()
    lock = threading.Lock()
    original = slack.send

    def send(to: Any, message: Any) -> Any:
        with lock:
            return original(to, message)

    slack.send = send  # type: ignore[method-assign]
    workers = [
        Worker(campaigns, {"slack": slack}, limits=RateLimits({"slack": 1000.0}), lease=LEASE)
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(s.to.user_id for s in slack.sent) == [f"U{i:04d}" for i in range(60)]
    assert all(w.report.sent > 0 for w in workers)  # both took a share


# -- against the fake Slack Web API ---------------------------------------------------------------


def slack_settings(backend: Backend, fake: FakeSlackAPI) -> Any:
    return make_settings(
        backend.settings.data_dir,
        backend.database_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=fake.base_url,
    )


def test_the_slack_worker_keeps_to_the_limits_and_prompts_each_person_once(
    backend: Backend, store: Store
) -> None:
    with running_in_thread() as fake:
        fake.add_users(
            *(user(f"U{i:03d}") for i in range(24)),
            user("UBOT1", is_bot=True),
            user("UGONE", deleted=True),
            user("UGUEST", is_restricted=True),
            user("UINACTIVE"),
        )
        fake.fail_user("UINACTIVE", "account_inactive")
        fake.limit_per_conversation(1.0)
        fake.rate_limit_share(0.08, retry_after=1, seed=8)
        settings = slack_settings(backend, fake)
        campaigns = Campaigns(store, [policy_for_tests()])
        directory = SlackDirectory(web_client(settings, retries=True))
        members = directory.workspace_members(include_guests=False)
        assert {m.user_id for m in members} == {f"U{i:03d}" for i in range(24)} | {"UINACTIVE"}
        campaign = start(campaigns, members)
        worker = Worker(
            campaigns,
            {"slack": SlackMessenger(web_client(settings, retries=False))},
            limits=RateLimits({"slack": 50.0}),
        )
        worker.drain()
        for i in range(24):
            [message] = fake.posted_to(f"U{i:03d}")
            assert message.marker == f"{campaign.id}:0"
        status = campaigns.status(campaign.id)
        assert (status.unreachable, status.not_yet_prompted) == (1, 0)
        assert fake.rate_limited, "the fake should have said 429 at least once"
        posts = fake.calls("chat.postMessage")
        for _, _, when in fake.rate_limited:
            later = [p.received_at for p in posts if p.received_at > when]
            assert not later or later[0] - when >= 0.95, "a 429's Retry-After was not honoured"
        called = {r.method for r in fake.requests}
        assert called <= set(METHOD_SCOPES)
        assert set().union(*(METHOD_SCOPES[m] for m in called)) <= manifest_scopes()


def test_after_a_crash_between_send_and_record_slack_history_prevents_a_second_prompt(
    backend: Backend, store: Store
) -> None:
    with running_in_thread() as fake:
        fake.add_users(user("U001"), user("U002"))
        settings = slack_settings(backend, fake)
        campaigns = Campaigns(store, [policy_for_tests()])
        campaign = start(campaigns, [Member("slack", "T1", u, u) for u in ("U001", "U002")])
        messenger = SlackMessenger(web_client(settings, retries=False))
        now = datetime.now(UTC)
        # A worker claims both, sends to U001, and dies before recording anything.
        claims = jobs.claim(store.db, "dead", now, timedelta(seconds=1), ["slack"], limit=2)
        first = next(c for c in claims if c.user_id == "U001")
        prompt = campaigns.prompt(campaign, "slack", "T1", "U001", 0)
        assert messenger.send(stored_address(first), prompt).outcome == "sent"
        time.sleep(1.1)
        worker = Worker(campaigns, {"slack": messenger}, limits=RateLimits({"slack": 50.0}))
        worker.drain()
        assert len(fake.posted_to("U001")) == 1 and len(fake.posted_to("U002")) == 1
        assert worker.report.recovered == 1 and worker.report.sent == 1
        assert fake.calls("conversations.history")[0].body["channel"] == dm_channel("U001")
        [row] = [r for r in enrolled.recipients(store.db, campaign.id) if r.user_id == "U001"]
        assert row.prompt_ref == fake.posted_to("U001")[0].ts


def policy_for_tests() -> Any:
    from tests.bot.campaign_fixtures import policy

    return policy()


def test_the_long_running_worker_picks_up_new_campaigns_and_stops_when_told(
    store: Store,
) -> None:
    campaigns = Campaigns(store, [policy_for_tests()])
    slack = RecordingMessenger()
    worker = Worker(
        campaigns, {"slack": slack}, limits=RateLimits({"slack": 1000.0}), idle_poll=0.1
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.2)  # idle: nothing to send yet
        assert slack.sent == []
        start(campaigns, people(5))
        deadline = time.monotonic() + 20
        while len(slack.sent) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()
    assert sorted(s.to.user_id for s in slack.sent) == [f"U{i:04d}" for i in range(5)]
