"""The campaign worker: sends prompts and reminders from the persisted jobs, at most once
per person and step, within the platforms' limits (``policybot worker [--drain]``).

Each send is claim, send, confirm (``bot/storage/campaign_jobs.py``):

1. claim: one transaction leases a due job and writes the step's ``sending`` mark;
2. send: the platform's ``Messenger`` delivers the message;
3. confirm: one transaction records the message id and schedules the next reminder.

Crash windows. Dying before 1 commits changes nothing. Dying between 1 and 3 leaves the
``sending`` mark: when the lease runs out, the next claim of that job is a *recovery*, and
the worker asks the messenger to ``find`` the step's message (Slack: the DM's history,
where the message carries the step's marker) before sending: found, it is confirmed and
not sent again; certainly absent, it is sent; impossible to tell (Teams has no history for
bots), the step is recorded as ``unknown`` and never sent again, and admins see the count.
A send whose own outcome is unclear (a timeout after the request left) takes the same path.

Several workers share the jobs safely: on PostgreSQL each claims with ``SKIP LOCKED``; on
SQLite writers take turns. Rate limits are per worker: with N workers, give each 1/N.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.admins import Admins
from bot.audience import Directory, Member, parse_audience, resolve
from bot.campaign_schedule import is_overdue, next_step, parse_every
from bot.campaigns import Campaigns, now_utc
from bot.errors import CampaignError, PolicyBotError, StorageError
from bot.messenger import Address, Messenger, Notice, SendResult
from bot.rate_limits import RateLimits
from bot.storage import campaign_jobs as jobs
from bot.storage import campaign_recipients as people
from bot.storage import campaigns as stored
from bot.storage.campaign_jobs import Claim
from bot.storage.campaigns import CampaignRecord, SendState
from bot.storage.database import Database

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 8
UNKNOWN_RECHECK = timedelta(seconds=10)
IDLE_POLL_SECONDS = 15.0
HOUSEKEEPING_SECONDS = 60.0


@dataclass
class WorkerReport:
    """What a worker did, for the log line at exit and the benchmark."""

    sent: int = 0
    reminders: int = 0
    recovered: int = 0  # found already delivered after a crash: not sent again
    unknown: int = 0
    unreachable: int = 0
    rate_limited: int = 0
    retried: int = 0
    digests: int = 0
    rounds: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the operator."""
        return (
            f"sent {self.sent} prompts and {self.reminders} reminders; {self.recovered} "
            f"found already sent after a restart; {self.unknown} unknown; "
            f"{self.unreachable} unreachable; {self.rate_limited} rate-limited and "
            f"{self.retried} other retries; {self.digests} digests; {self.rounds} new rounds"
        )


def worker_name() -> str:
    """A name unique to this process, shown in the job rows it claims."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Sends what campaigns have due, through one ``Messenger`` per platform.

    Example::

        worker = Worker(campaigns, {"slack": SlackMessenger(client)}, admins=admins)
        report = worker.drain()
    """

    def __init__(
        self,
        campaigns: Campaigns,
        messengers: Mapping[str, Messenger],
        *,
        admins: Admins | None = None,
        directory: Directory | None = None,
        limits: RateLimits | None = None,
        lease: timedelta = DEFAULT_LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        name: str | None = None,
        clock: Callable[[], datetime] = now_utc,
        sleep: Callable[[float], None] = time.sleep,
        idle_poll: float = IDLE_POLL_SECONDS,
    ) -> None:
        self.campaigns = campaigns
        self.messengers = dict(messengers)
        self.admins = admins or Admins(())
        self.directory = directory
        self.limits = limits or RateLimits()
        self.lease = lease
        self.max_attempts = max_attempts
        self.name = (name or worker_name())[:100]
        self.clock = clock
        self._sleep = sleep
        self.idle_poll = idle_poll  # how soon an idle worker notices a new campaign
        self.report = WorkerReport()
        self._campaigns: dict[str, CampaignRecord] = {}
        self._throttled: dict[str, int] = {}  # 429s in a row, per platform

    @property
    def db(self) -> Database:
        return self.campaigns.store.db

    # -- the loops ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> WorkerReport:
        """Work until ``stop`` is set: send what is due, sleep until the next job is."""
        last_housekeeping = float("-inf")
        while not stop.is_set():
            try:
                if time.monotonic() - last_housekeeping >= HOUSEKEEPING_SECONDS:
                    self.housekeeping()
                    last_housekeeping = time.monotonic()
                if self.step():
                    continue
                stop.wait(self._idle_seconds())
            except StorageError as exc:
                log.warning("worker: database unavailable (%s); trying again shortly", exc)
                stop.wait(5.0)
        return self.report

    def drain(self, *, storage_retries: int = 10) -> WorkerReport:
        """Send everything due now (prompts, reminders, retries), waiting out rate limits
        and other workers' leases, then return. Reminders due later are left for later."""
        failures = 0
        self.housekeeping()
        started = self.clock()
        while True:
            try:
                if self.step():
                    failures = 0
                    continue
                count, earliest = jobs.outstanding_jobs(self.db, list(self.messengers), started)
            except StorageError as exc:
                failures += 1
                if failures > storage_retries:
                    raise
                log.warning("worker: database unavailable (%s); trying again", exc)
                self._sleep(min(2.0**failures, 10.0))
                continue
            if count == 0:
                break
            # Poll at least twice a second: another worker's claim may settle any moment.
            waiting = (earliest - self.clock()).total_seconds() if earliest else 0.5
            self._sleep(min(max(waiting, 0.05), 0.5))
        self.housekeeping()
        return self.report

    def _idle_seconds(self) -> float:
        due = jobs.next_due(self.db, list(self.messengers))
        if due is None:
            return self.idle_poll
        return min(max((due - self.clock()).total_seconds(), 0.05), self.idle_poll)

    # -- one job ---------------------------------------------------------------------------------

    def step(self) -> bool:
        """Claim and handle one due job; False when nothing could be claimed now."""
        ready = [p for p in self.messengers if self.limits.wait_time(p) <= 0]
        if not ready:
            wait = min(self.limits.wait_time(p) for p in self.messengers) if self.messengers else 1
            self._sleep(min(wait, 1.0))
            return bool(self.messengers)
        claims = jobs.claim(self.db, self.name, self.clock(), self.lease, ready)
        if not claims:
            return False
        self.handle(claims[0])
        return True

    def handle(self, claim: Claim) -> None:
        """Send (or recover) one claimed step and record how it went."""
        campaign = self._campaign(claim.campaign_id)
        messenger = self.messengers[claim.platform]
        if claim.settled is not None:
            self._settle(claim, campaign, claim.settled)
            return
        address = self._address(claim)
        if address is None:
            self._unreachable(claim, "no conversation with PolicyBot to send to")
            return
        self.limits.acquire(claim.platform)
        if claim.recovering:
            found = self._call(lambda: messenger.find(address, claim.marker, claim.since))
            if found.outcome == "sent":
                self.report.recovered += 1
                self._settle(claim, campaign, "sent", found)
                return
            if found.outcome == "unknown":
                self.report.unknown += 1
                self._settle(claim, campaign, "unknown", found)
                return
            if found.outcome != "not_sent":
                self._retry(claim, found, keep_mark=True)
                return
        conversation = _conversation(address)
        if conversation:
            self.limits.pace(claim.platform, conversation)
        prompt = self.campaigns.prompt(
            campaign, claim.platform, claim.workspace, claim.user_id, claim.step
        )
        result = self._call(lambda: messenger.send(address, prompt))
        if result.outcome != "rate_limited":
            self._throttled.pop(claim.platform, None)
        if result.outcome == "sent":
            if claim.step == 0:
                self.report.sent += 1
            else:
                self.report.reminders += 1
            self._settle(claim, campaign, "sent", result)
        elif result.outcome == "unreachable":
            self._unreachable(claim, result.reason)
        else:
            self._retry(claim, result, keep_mark=result.outcome == "unknown")

    def _call(self, action: Callable[[], SendResult]) -> SendResult:
        try:
            return action()
        except PolicyBotError as exc:
            return SendResult.failed("retry", str(exc))
        except Exception as exc:  # a messenger bug must not lose track of a send
            log.exception("worker: messenger failed")
            return SendResult.failed("unknown", f"{type(exc).__name__}: {exc}")

    def _settle(
        self,
        claim: Claim,
        campaign: CampaignRecord,
        state: SendState,
        result: SendResult | None = None,
    ) -> None:
        now = self.clock()
        upcoming = next_step(campaign.due_on, campaign.reminder_days, claim.step, now)
        channel = result.channel if result else None
        jobs.settle(
            self.db,
            claim,
            self.name,
            state=state,
            now=now,
            next_step=upcoming,
            channel=channel,
            message_ref=result.message_id if result else None,
            detail=result.reason if result else None,
        )

    def _unreachable(self, claim: Claim, reason: str) -> None:
        self.report.unreachable += 1
        log.info("worker: %s %s unreachable (%s)", claim.platform, claim.user_id, reason)
        jobs.settle(
            self.db,
            claim,
            self.name,
            state="failed",
            now=self.clock(),
            next_step=None,
            detail=reason,
            unreachable=True,
        )

    def _retry(self, claim: Claim, result: SendResult, *, keep_mark: bool) -> None:
        now = self.clock()
        if result.outcome == "rate_limited":
            self.report.rate_limited += 1
            # No Retry-After (Teams may omit it): back off exponentially, up to a minute.
            streak = self._throttled[claim.platform] = self._throttled.get(claim.platform, 0) + 1
            wait = result.retry_after if result.retry_after is not None else min(2.0**streak, 60)
            self.limits.pause(claim.platform, wait)
            jobs.release(
                self.db,
                claim,
                self.name,
                retry_at=now + timedelta(seconds=wait),
                detail=f"rate limited: {result.reason}",
                count_attempt=False,
                keep_mark=keep_mark,
            )
            return
        self.report.retried += 1
        if claim.attempts + 1 >= self.max_attempts:
            # Never sent again: for an unclear last try, admins see "unreachable" and why.
            self._unreachable(claim, f"gave up after {claim.attempts + 1} tries: {result.reason}")
            return
        if result.outcome == "unknown":
            delay = UNKNOWN_RECHECK
        else:
            seconds = min(5.0 * 2**claim.attempts, 900.0) * random.uniform(0.8, 1.2)
            delay = timedelta(seconds=result.retry_after or seconds)
        jobs.release(
            self.db,
            claim,
            self.name,
            retry_at=now + delay,
            detail=f"{result.outcome}: {result.reason}",
            keep_mark=keep_mark,
        )

    def _address(self, claim: Claim) -> Address | None:
        if claim.platform == "teams":
            reference = people.reference_for(
                self.db, "teams", claim.workspace or None, claim.user_id
            )
            if reference is None:
                return None
            return Address("teams", claim.workspace, claim.user_id, reference=reference)
        return Address(claim.platform, claim.workspace, claim.user_id, channel=claim.channel)

    def _campaign(self, campaign_id: str) -> CampaignRecord:
        if campaign_id not in self._campaigns:
            self._campaigns[campaign_id] = self.campaigns.find(campaign_id)
        return self._campaigns[campaign_id]

    # -- digests and new rounds ---------------------------------------------------------------

    def housekeeping(self) -> None:
        """Send overdue digests to admins (once each) and start repeating campaigns' next
        rounds when their time comes."""
        self._campaigns.clear()
        now = self.clock()
        for campaign in self.campaigns.running():
            if is_overdue(campaign.due_on, now) and campaign.digest_sent_at is None:
                self._digest(campaign)
            repeats = campaign.every and campaign.next_round is None
            if repeats and now >= parse_every(str(campaign.every)).after(campaign.started_at):
                self._next_round(campaign)

    def _digest(self, campaign: CampaignRecord) -> None:
        if not stored.claim_digest(self.db, campaign.id, self.clock()):
            return
        notice = self.campaigns.digest(campaign.id)
        self.report.digests += 1
        for platform, messenger in self.messengers.items():
            for admin in self.admins.of(platform):
                self._tell(messenger, platform, admin, notice)

    def _tell(self, messenger: Messenger, platform: str, user_id: str, notice: Notice) -> None:
        address: Address | None = Address(platform, "", user_id)
        if platform == "teams":
            reference = people.reference_for(self.db, "teams", None, user_id)
            address = (
                None if reference is None else Address("teams", "", user_id, reference=reference)
            )
        if address is None:
            log.warning("worker: no way to reach admin %s:%s for the digest", platform, user_id)
            return
        self.limits.acquire(platform)
        result = self._call(lambda: messenger.send(address, notice))
        if result.outcome != "sent":
            log.warning("worker: digest to %s:%s not sent (%s)", platform, user_id, result.reason)

    def _next_round(self, campaign: CampaignRecord) -> None:
        try:
            members = self._members(campaign)
            started = self.campaigns.next_round(campaign, members)
        except (CampaignError, PolicyBotError) as exc:
            log.error("worker: next round of %s not started: %s", campaign.id, exc)
            self.report.errors.append(str(exc))
            return
        if started:
            self.report.rounds += 1
            log.info("worker: started %s, the next round of %s", started, campaign.id)

    def _members(self, campaign: CampaignRecord) -> list[Member]:
        audience = parse_audience(campaign.audience)
        if audience.kind == "csv":  # the file lived where the admin ran the command
            return [
                Member(r.platform, r.workspace, r.user_id, r.display_name)
                for r in people.recipients(self.db, campaign.id)
            ]
        return resolve(
            audience,
            store=self.campaigns.store,
            slack=self.directory,
            include_guests=campaign.include_guests,
        )


def _conversation(address: Address) -> str | None:
    """The conversation a message goes to, for the per-conversation limit."""
    if address.channel:
        return address.channel
    conversation = (address.reference or {}).get("conversation")
    found = conversation.get("id") if isinstance(conversation, dict) else None
    return found if isinstance(found, str) else None
