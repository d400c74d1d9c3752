"""Re-acknowledgement campaigns: every member of staff accepts the current policy version.

A campaign pins one policy version and the SHA-256 of the exact text people are shown
(``Policy.to_text()``), names an audience and a due date, and enrols everyone in it. The
worker (``bot/campaign_worker.py``) sends each person a prompt and, until they accept,
reminders; a click on "I have read and accept" lands in ``Campaigns.accept``, which records
the acknowledgement in the hash chain before anything confirms it. Status and exports read
acceptances from the chain itself.

Example::

    campaigns = Campaigns(store, bot.policies)
    campaign = campaigns.start(StartRequest(policy_id="staff-acceptable-use",
                                            due_on=date(2026, 9, 30), audience="teams:all",
                                            started_by="cli:head"), members)
    print(campaigns.status(campaign.id).accepted)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.audience import Audience, Member, parse_audience
from bot.campaign_prompts import Prompts
from bot.campaign_schedule import DEFAULT_REMINDER_DAYS, is_overdue, parse_every
from bot.campaign_status import (
    CampaignStatus,
    digest_notice,
    format_day,
    status_of,
    write_export,
)
from bot.errors import CampaignError, StorageError
from bot.knowledge import Policy, sha256_text
from bot.messenger import Accepted, Notice, Prompt
from bot.storage import AcknowledgementRequest, Store
from bot.storage import campaign_recipients as people
from bot.storage import campaigns as stored
from bot.storage.campaign_recipients import RecipientRow
from bot.storage.campaigns import CampaignRecord

log = logging.getLogger(__name__)

STATEMENT = "I have read and accept the {title} (version {version})."
NOT_RECORDED = (
    "Your acknowledgement was NOT recorded: I couldn't reach my database just now, so "
    "nothing was saved. Please press the button again in a few minutes."
)
AcceptResult = Literal["recorded", "already", "not_found", "not_recipient", "withdrawn"]


def now_utc() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


class StartRequest(BaseModel):
    """What an admin asked for: which policy, by when, for whom, and how often."""

    model_config = ConfigDict(frozen=True)

    policy_id: str
    due_on: date
    audience: str
    started_by: str
    every: str | None = None
    reminder_days: tuple[int, ...] = DEFAULT_REMINDER_DAYS
    include_guests: bool = False


class PendingAcknowledgement(BaseModel):
    """A policy someone still has to accept (the App Home / "my acknowledgements")."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    policy_title: str
    version: str
    due_on: date
    overdue: bool

    def describe(self) -> str:
        """``Staff AUP, version July 2018: due 30 September 2026``."""
        when = "was due" if self.overdue else "due"
        return f"{self.policy_title}, version {self.version}: {when} {format_day(self.due_on)}"


@dataclass(frozen=True)
class Click:
    """Someone pressed "I have read and accept" (the adapter fills in who and where)."""

    platform: str
    workspace: str
    user_id: str
    display_name: str
    campaign_id: str
    source_event: str


@dataclass(frozen=True)
class AcceptOutcome:
    """What came of a click, with the sentence to show the person.

    ``accepted`` is set for ``recorded`` and ``already``: render the prompt as accepted.
    ``channel`` and ``prompt_ref`` locate the person's prompt message, when it was sent.
    """

    result: AcceptResult
    message: str
    accepted: Accepted | None = None
    channel: str | None = None
    prompt_ref: str | None = None


class Campaigns:
    """The campaign front door for adapters, the CLI and the worker.

    Raises ``CampaignError`` for requests it cannot carry out, and ``StorageError`` (or
    ``StorageUnavailable``) when the database fails, with nothing half-written.
    """

    def __init__(
        self,
        store: Store,
        policies: Sequence[Policy],
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.store = store
        self.policies = {policy.id: policy for policy in policies}
        self.clock = clock
        self.prompts = Prompts(store)

    # -- starting and stopping ------------------------------------------------------------

    def start(self, request: StartRequest, members: Sequence[Member]) -> CampaignRecord:
        """Start a campaign for ``members`` (resolved from ``request.audience``).

        Pins the current text of the policy and saves its version; each member's prompt is
        due at once. Raises ``CampaignError`` for an unknown policy, a due date that is not
        in the future, a bad repeat interval or nobody to ask.
        """
        policy = self.policy(request.policy_id)
        now = self.clock()
        if request.due_on <= now.date():
            raise CampaignError(
                f"The due date {request.due_on.isoformat()} must be after today "
                f"({now.date().isoformat()})."
            )
        every = str(parse_every(request.every)) if request.every else None
        audience = parse_audience(request.audience)
        if not members:
            raise CampaignError(f"Nobody to ask in {audience}.")
        values = self._values(policy, request, audience, every, now)
        self.store.save_policy_version(policy)
        stored.create(self.store.db, values, members, now)
        return self.find(str(values["id"]))

    def _values(
        self,
        policy: Policy,
        request: StartRequest,
        audience: Audience,
        every: str | None,
        now: datetime,
    ) -> dict[str, object]:
        text = policy.to_text()
        return {
            "id": f"{policy.id}-{now:%Y%m%d}-{secrets.token_hex(2)}",
            "policy_id": policy.id,
            "policy_version": policy.version,
            "policy_title": policy.title,
            "content_hash": policy.content_hash,
            "policy_text": text,
            "text_sha256": sha256_text(text),
            "statement": STATEMENT.format(title=policy.title, version=policy.version),
            "audience": str(audience)[:500],
            "include_guests": request.include_guests,
            "due_on": request.due_on,
            "reminder_days": list(request.reminder_days),
            "every": every,
            "status": "running",
            "started_by": request.started_by[:200],
            "started_at": now,
        }

    def next_round(self, previous: CampaignRecord, members: Sequence[Member]) -> str | None:
        """Start the round after ``previous`` (same audience and lead time, the policy's
        current version) and close ``previous``; None if another worker already did."""
        now = self.clock()
        lead = previous.due_on - previous.started_at.date()
        request = StartRequest(
            policy_id=previous.policy_id,
            due_on=now.date() + max(lead, timedelta(days=1)),
            audience=previous.audience,
            started_by=f"repeat of {previous.id}",
            every=previous.every,
            reminder_days=previous.reminder_days,
            include_guests=previous.include_guests,
        )
        policy = self.policy(previous.policy_id)
        values = self._values(
            policy, request, parse_audience(previous.audience), previous.every, now
        )
        self.store.save_policy_version(policy)
        started = stored.start_next_round(self.store.db, previous.id, values, members, now)
        return str(values["id"]) if started else None

    def stop(self, campaign_id: str, by: str) -> CampaignRecord:
        """Stop a running campaign: no more prompts or reminders, no more acceptances."""
        campaign = self.find(campaign_id)
        if not stored.set_stopped(self.store.db, campaign.id, by, self.clock()):
            raise CampaignError(f"Campaign {campaign.id} is not running (it is {campaign.status}).")
        return self.find(campaign.id)

    # -- reading ----------------------------------------------------------------------------

    def policy(self, policy_id: str) -> Policy:
        """A loaded policy by id; ``CampaignError`` naming the known ones otherwise."""
        if policy_id not in self.policies:
            known = ", ".join(sorted(self.policies)) or "none"
            raise CampaignError(f"No policy with id {policy_id!r} (known: {known}).")
        return self.policies[policy_id]

    def find(self, campaign_id: str | None = None) -> CampaignRecord:
        """The campaign with this id, or the latest one; ``CampaignError`` if there is none."""
        found = (
            stored.latest(self.store.db)
            if campaign_id is None
            else stored.get(self.store.db, campaign_id.strip())
        )
        if found is None:
            raise CampaignError(
                "No campaigns yet." if campaign_id is None else f"No campaign {campaign_id!r}."
            )
        return found

    def running(self) -> list[CampaignRecord]:
        """Every running campaign, newest first."""
        return stored.listing(self.store.db, "running")

    def status(self, campaign_id: str | None = None) -> CampaignStatus:
        """The figures of one campaign (the latest when no id is given)."""
        campaign = self.find(campaign_id)
        return status_of(campaign, people.recipients(self.store.db, campaign.id), self.clock())

    def export(self, campaign_id: str, path: Path) -> int:
        """Write everyone in a campaign with their state and acceptance time as CSV
        (see ``write_export``); return the number of people."""
        campaign = self.find(campaign_id)
        rows = people.recipients(self.store.db, campaign.id)
        write_export(campaign, rows, self.clock(), path)
        return len(rows)

    def pending(
        self, platform: str, workspace: str | None, user_id: str
    ) -> list[PendingAcknowledgement]:
        """What this person still has to accept, soonest due first."""
        items = []
        for campaign_id in people.pending_for(self.store.db, platform, workspace, user_id):
            campaign = self.find(campaign_id)
            items.append(
                PendingAcknowledgement(
                    campaign_id=campaign.id,
                    policy_title=campaign.policy_title,
                    version=campaign.policy_version,
                    due_on=campaign.due_on,
                    overdue=is_overdue(campaign.due_on, self.clock()),
                )
            )
        return items

    def started(self, campaign_id: str) -> str:
        """What to tell the admin who started a campaign."""
        status = self.status(campaign_id)
        who = "1 person" if status.recipients == 1 else f"{status.recipients} people"
        return (
            f"Started campaign {status.campaign}: {who} will be asked to accept the "
            f"{status.title} (version {status.version}) by {format_day(status.due)}."
        )

    def policy_text(self, campaign_id: str) -> tuple[CampaignRecord, str]:
        """The campaign and the exact policy text it asks people to accept."""
        campaign = self.find(campaign_id)
        return campaign, campaign.policy_text

    # -- people -----------------------------------------------------------------------------

    def enrol(self, member: Member, *, guest: bool = False) -> list[str]:
        """Add someone who just joined (Slack) or installed PolicyBot (Teams) to every
        running campaign whose audience covers them; return those campaigns' ids."""
        enrolled = []
        for campaign in self.running():
            kind = parse_audience(campaign.audience).kind
            covers = (kind == "slack:workspace" and member.platform == "slack") or (
                kind == "teams:all" and member.platform == "teams"
            )
            if covers and (not guest or campaign.include_guests):
                row = (member.platform, member.workspace, member.user_id, member.display_name)
                if people.enrol(self.store.db, campaign.id, row, self.clock()):
                    enrolled.append(campaign.id)
        return enrolled

    def accept(self, click: Click) -> AcceptOutcome:
        """Record that someone accepted, before anything tells them so.

        The acknowledgement (with the campaign's pinned version and text hash) is appended
        to the hash chain and committed; only then does the outcome say ``recorded``. A
        second click says ``already``. Raises ``StorageUnavailable`` when the database is
        down: show ``NOT_RECORDED``.
        """
        campaign = stored.get(self.store.db, click.campaign_id)
        if campaign is None:
            return AcceptOutcome("not_found", "I can't find that acknowledgement request.")
        key = (campaign.id, click.platform, click.workspace, click.user_id)
        row = people.recipient(self.store.db, key)
        if row is None:
            return AcceptOutcome(
                "not_recipient", "This acknowledgement request was sent to someone else."
            )
        if row.accepted_at is not None:
            return self._already(campaign, row.accepted_at, row)
        if campaign.status != "running":
            return AcceptOutcome(
                "withdrawn",
                "This acknowledgement request has been withdrawn (or replaced by a newer "
                "one), so nothing was recorded.",
            )
        result = self.store.record_acknowledgement(
            AcknowledgementRequest(
                platform=click.platform,
                workspace=click.workspace,
                user_id=click.user_id,
                display_name=(click.display_name or row.display_name)[:200],
                policy_id=campaign.policy_id,
                policy_version=campaign.policy_version,
                text_sha256=campaign.text_sha256,
                statement=campaign.statement,
                campaign_id=campaign.id,
                source_event=click.source_event[:200],
            )
        )
        accepted_at = result.acknowledgement.accepted_at
        if not result.recorded:
            return self._already(campaign, accepted_at, row)
        try:
            people.mark_accepted(self.store.db, key)
        except StorageError as exc:  # the chain has it; reminders check the chain too
            log.warning("acceptance recorded but not cached for %s: %s", campaign.id, exc)
        return AcceptOutcome(
            "recorded",
            f"Thank you: your acceptance of the {campaign.policy_title} (version "
            f"{campaign.policy_version}) was recorded on {format_day(accepted_at.date())}.",
            _accepted(campaign, accepted_at),
            row.channel,
            row.prompt_ref,
        )

    def _already(
        self, campaign: CampaignRecord, accepted_at: datetime, row: RecipientRow
    ) -> AcceptOutcome:
        return AcceptOutcome(
            "already",
            f"Already recorded: you accepted this on {format_day(accepted_at.date())}. "
            "Nothing more to do.",
            _accepted(campaign, accepted_at),
            row.channel,
            row.prompt_ref,
        )

    # -- messages ---------------------------------------------------------------------------

    def prompt(
        self, campaign: CampaignRecord, platform: str, workspace: str, user_id: str, step: int
    ) -> Prompt:
        """The prompt (step 0) or reminder for one person, with what changed for them."""
        return self.prompts.prompt(campaign, platform, workspace, user_id, step, self.clock())

    def digest(self, campaign_id: str) -> Notice:
        """The overdue digest for admins: the figures and who has not yet accepted."""
        campaign = self.find(campaign_id)
        rows = people.recipients(self.store.db, campaign.id)
        return digest_notice(campaign, rows, self.clock())


def _accepted(campaign: CampaignRecord, accepted_at: datetime) -> Accepted:
    return Accepted(campaign.id, campaign.policy_title, campaign.policy_version, accepted_at)
