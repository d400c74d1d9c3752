"""Shared pieces for the campaign tests: a small policy (and its next version), a clock the
test moves, people, and an in-process messenger that records what it was asked to send.

The storage fixtures (``backend``: SQLite, and PostgreSQL when
``POLICYBOT_TEST_DATABASE_URL`` is set) come from ``tests/bot/storage/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.audience import Member
from bot.campaigns import Campaigns, StartRequest
from bot.knowledge import Clause, Obligation, Policy, sha256_text
from bot.messenger import Accepted, Address, Message, Outcome, SendResult
from bot.storage import Store
from bot.storage.campaigns import CampaignRecord
from tests.bot.storage import conftest as storage_fixtures
from tests.bot.storage.conftest import Backend

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
DUE = date(2026, 9, 30)


def policy(version: str = "2025", *, changed: bool = False) -> Policy:
    """A four-clause policy; ``changed`` rewords one clause, drops one and adds one."""
    clauses = [
        Clause(
            id="social-1",
            section=("Social Media",),
            obligation=Obligation.PROHIBITED,
            text="Staff must not accept pupils as friends on social media.",
        ),
        Clause(
            id="photos-1",
            section=("Photographs",),
            obligation=Obligation.PERMITTED,
            text="Staff may photograph pupils only on school devices."
            if not changed
            else "Staff may photograph pupils only on school-owned devices, never their own.",
        ),
        Clause(
            id="passwords-1",
            section=("Passwords",),
            obligation=Obligation.REQUIRED,
            text="Passwords must be kept private.",
        ),
    ]
    if not changed:
        clauses.append(
            Clause(
                id="fax-1",
                section=("Fax",),
                text="Faxes must be collected promptly.",
            )
        )
    else:
        clauses.append(
            Clause(
                id="ai-1",
                section=("AI tools",),
                obligation=Obligation.PROHIBITED,
                text="Staff must not paste pupils' personal data into AI chatbots.",
            )
        )
    return Policy(
        id="staff-aup",
        title="Staff Acceptable Use Policy",
        version=version,
        contact="the Head",
        source="source.txt",
        content_hash=sha256_text(version + str(changed)),
        clauses=tuple(clauses),
    )


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def people(count: int, platform: str = "slack", workspace: str = "T1") -> list[Member]:
    """``count`` members named U0000, U0001, ..."""
    return [Member(platform, workspace, f"U{i:04d}", f"Staff {i}") for i in range(count)]


def start(
    campaigns: Campaigns,
    members: list[Member],
    *,
    audience: str = "slack:workspace",
    due_on: date | None = None,
    **extra: Any,
) -> CampaignRecord:
    """Start a campaign on the test policy, due on ``DUE`` (or a month after the campaign's
    clock says it is today, when that clock is the real one)."""
    if due_on is None:
        today = campaigns.clock().date()
        due_on = DUE if today < DUE else today + timedelta(days=30)
    request = StartRequest(
        policy_id="staff-aup", due_on=due_on, audience=audience, started_by="test:admin", **extra
    )
    return campaigns.start(request, members)


@dataclass
class Sent:
    """One message the recording messenger delivered."""

    to: Address
    message: Message
    message_id: str


@dataclass
class RecordingMessenger:
    """An in-process ``Messenger``: delivers into a list, or answers as told.

    ``script`` maps a user id to the outcomes to give, in order, before delivering.
    ``history`` plays what ``find`` can see (Slack has it; ``has_history=False`` plays
    Teams).
    """

    platform: str = "slack"
    has_history: bool = True
    sent: list[Sent] = field(default_factory=list)
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    finds: list[str] = field(default_factory=list)
    updates: list[tuple[str, Accepted]] = field(default_factory=list)

    def send(self, to: Address, message: Message) -> SendResult:
        queued = self.script.get(to.user_id)
        if queued:
            return queued.pop(0)
        message_id = f"m{len(self.sent) + 1}"
        self.sent.append(Sent(to, message, message_id))
        return SendResult.sent(to.channel or f"D{to.user_id}", message_id)

    def find(self, to: Address, marker: str, since: datetime) -> SendResult:
        self.finds.append(marker)
        if not self.has_history:
            return SendResult.failed("unknown", "no history")
        for item in self.sent:
            if item.to.user_id == to.user_id and item.message.marker == marker:
                return SendResult.sent(f"D{to.user_id}", item.message_id)
        return SendResult("not_sent")

    def update(self, to: Address, message_id: str, accepted: Accepted) -> SendResult:
        self.updates.append((message_id, accepted))
        return SendResult.sent(to.channel or "", message_id)

    def to(self, user_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to.user_id == user_id]


def outcome(kind: Outcome, reason: str = "test", retry_after: float | None = None) -> SendResult:
    """A failed ``SendResult`` for a script."""
    return SendResult.failed(kind, reason, retry_after)


def campaigns_for(store: Store, clock: Clock, *policies: Policy) -> Campaigns:
    """``Campaigns`` on ``store`` with the test policy (or the given ones) and the clock."""
    return Campaigns(store, policies or (policy(),), clock=clock)


# Fixtures shared by the campaign tests, on the storage tests' backends (SQLite always,
# PostgreSQL when configured). Test modules bind them by name: ``store = fixtures.store``.
backend = storage_fixtures.backend
postgres_admin = storage_fixtures.postgres_admin
sqlite_backend = storage_fixtures.sqlite_backend


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open_store()
    opened.upgrade()
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def campaigns(store: Store, clock: Clock) -> Campaigns:
    return campaigns_for(store, clock)
