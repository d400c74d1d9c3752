"""Campaign jobs: each recipient's next message, claimed, sent and settled at most once.

Sending is claim, send, confirm. The claim is one transaction that locks a due job
(PostgreSQL ``FOR UPDATE SKIP LOCKED``, so workers never wait for each other; SQLite's
``BEGIN IMMEDIATE`` makes writers take turns), writes the ``sending`` mark for that step and
leases the job to the worker. The confirm (``settle``) is a second transaction that records
the message id and moves the job to its next step. A worker that dies between the two
leaves a ``sending`` mark behind; whoever claims the job after the lease runs out sees it
and must find out whether the message went out before sending again (``Claim.recovering``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, or_, select, update

from bot.storage.campaigns import (
    SendState,
    campaign_recipients,
    campaign_sends,
    campaigns,
    maybe_utc,
    recipient_key,
    utc,
)
from bot.storage.database import Database
from bot.storage.schema import acknowledgements


@dataclass(frozen=True)
class Claim:
    """A job leased to one worker: send ``step`` to this person, then confirm or release.

    ``recovering`` means an earlier claim of the same step never confirmed (its worker
    died, or the send's outcome was unknown): the message may already be out, so look
    before sending. ``since`` is when that earlier claim was made.
    """

    campaign_id: str
    platform: str
    workspace: str
    user_id: str
    display_name: str
    step: int
    attempts: int
    channel: str | None
    prompt_ref: str | None
    recovering: bool
    since: datetime
    settled: SendState | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The recipient's primary key."""
        return (self.campaign_id, self.platform, self.workspace, self.user_id)

    @property
    def marker(self) -> str:
        """What identifies this step's message on the platform, to find it again."""
        return f"{self.campaign_id}:{self.step}"


def claim(
    db: Database,
    worker: str,
    now: datetime,
    lease: timedelta,
    platforms: Sequence[str],
    limit: int = 1,
) -> list[Claim]:
    """Lease up to ``limit`` due jobs on ``platforms`` to ``worker``, writing each step's
    ``sending`` mark in the same transaction.

    Due: waiting with ``next_attempt_at <= now``, or claimed by a worker whose lease ran out.
    Jobs of people who have accepted meanwhile are closed instead of returned.
    """
    if not platforms:
        return []
    r, c, s = campaign_recipients, campaigns, campaign_sends
    due = or_(
        and_(r.c.job == "waiting", r.c.next_attempt_at <= now),
        and_(r.c.job == "claimed", r.c.lease_until <= now),
    )
    query = (
        select(r, c.c.policy_id, c.c.policy_version)
        .select_from(r.join(c, c.c.id == r.c.campaign_id))
        .where(c.c.status == "running", r.c.platform.in_(list(platforms)), due)
        .order_by(r.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=r)
    )
    claims: list[Claim] = []
    with db.write() as conn:
        for row in conn.execute(query).mappings().all():
            key = (row["campaign_id"], row["platform"], row["workspace"], row["user_id"])
            if _accepted(conn, row):
                conn.execute(
                    update(r)
                    .where(recipient_key(r, key))
                    .values(state="accepted", job="done", next_attempt_at=None, due_at=None)
                )
                continue
            mark = conn.execute(
                select(s.c.state, s.c.claimed_at).where(
                    recipient_key(s, key), s.c.step == row["step"]
                )
            ).first()
            if mark is None:
                conn.execute(
                    s.insert().values(
                        campaign_id=key[0],
                        platform=key[1],
                        workspace=key[2],
                        user_id=key[3],
                        step=row["step"],
                        state="sending",
                        worker=worker,
                        claimed_at=now,
                    )
                )
            conn.execute(
                update(r)
                .where(recipient_key(r, key))
                .values(job="claimed", claimed_by=worker, lease_until=now + lease)
            )
            claims.append(
                Claim(
                    campaign_id=key[0],
                    platform=key[1],
                    workspace=key[2],
                    user_id=key[3],
                    display_name=row["display_name"],
                    step=row["step"],
                    attempts=row["attempts"],
                    channel=row["channel"],
                    prompt_ref=row["prompt_ref"],
                    recovering=mark is not None,
                    since=utc(mark.claimed_at) if mark is not None else now,
                    # Settled (sent, unknown, failed) but the job did not move on: the
                    # worker only moves it on, never sends it again.
                    settled=None if mark is None or mark.state == "sending" else mark.state,
                )
            )
    return claims


def _accepted(conn: Connection, row: Mapping[Any, Any]) -> bool:
    a = acknowledgements
    found = conn.execute(
        select(a.c.seq).where(
            a.c.platform == row["platform"],
            a.c.workspace == row["workspace"],
            a.c.user_id == row["user_id"],
            a.c.policy_id == row["policy_id"],
            a.c.policy_version == row["policy_version"],
            a.c.campaign_id == row["campaign_id"],
        )
    ).first()
    return found is not None


def _still_mine(claim: Claim, worker: str) -> Any:
    r = campaign_recipients
    return and_(
        recipient_key(r, claim.key),
        r.c.step == claim.step,
        r.c.job == "claimed",
        r.c.claimed_by == worker,
    )


def settle(
    db: Database,
    claim: Claim,
    worker: str,
    *,
    state: SendState,
    now: datetime,
    next_step: tuple[int, datetime] | None,
    channel: str | None = None,
    message_ref: str | None = None,
    detail: str | None = None,
    unreachable: bool = False,
) -> bool:
    """Finish a claimed step: record its mark as ``state`` and move the job on.

    ``next_step`` is ``(step, due_at)`` for the next reminder, or None when none is left.
    ``unreachable`` also marks the person unreachable (a permanent failure). Returns False
    if the claim was no longer this worker's (its lease ran out and someone else took it);
    the mark is updated all the same, because the message did go out or fail.
    """
    r, s = campaign_recipients, campaign_sends
    values: dict[str, Any] = {"job": "waiting", "attempts": 0, "claimed_by": None}
    values["lease_until"] = None
    if next_step is None or unreachable:
        values.update(job="done", due_at=None, next_attempt_at=None, step=claim.step + 1)
    else:
        values.update(step=next_step[0], due_at=next_step[1], next_attempt_at=next_step[1])
    if channel is not None:
        values["channel"] = channel
    if claim.step == 0 and message_ref is not None:
        values["prompt_ref"] = message_ref
    if unreachable:
        values.update(state="unreachable", reason=(detail or "")[:1000])
    mark: dict[str, Any] = {"state": state, "finished_at": now}
    for name, value in (("channel", channel), ("message_ref", message_ref), ("detail", detail)):
        if value:
            mark[name] = value[:1000] if name == "detail" else value
    with db.write() as conn:
        conn.execute(
            update(s).where(recipient_key(s, claim.key), s.c.step == claim.step).values(**mark)
        )
        moved = conn.execute(
            update(r).where(_still_mine(claim, worker)).values(**values).returning(r.c.user_id)
        ).scalar()
    return moved is not None


def release(
    db: Database,
    claim: Claim,
    worker: str,
    *,
    retry_at: datetime,
    detail: str,
    count_attempt: bool = True,
    keep_mark: bool = False,
) -> None:
    """Give a claimed step back to be tried again at ``retry_at``.

    The ``sending`` mark is deleted (the message certainly did not go out), unless
    ``keep_mark``: the outcome is unknown, so whoever claims it next must look first.
    """
    r, s = campaign_recipients, campaign_sends
    with db.write() as conn:
        if keep_mark:
            conn.execute(
                update(s)
                .where(recipient_key(s, claim.key), s.c.step == claim.step)
                .values(detail=detail[:1000])
            )
        else:
            conn.execute(delete(s).where(recipient_key(s, claim.key), s.c.step == claim.step))
        conn.execute(
            update(r)
            .where(_still_mine(claim, worker))
            .values(
                job="waiting",
                claimed_by=None,
                lease_until=None,
                next_attempt_at=retry_at,
                attempts=r.c.attempts + (1 if count_attempt else 0),
                reason=detail[:1000],
            )
        )


def remember_channel(db: Database, key: tuple[str, str, str, str], channel: str) -> None:
    """Keep the conversation a person is messaged in (found before the send)."""
    with db.write(durable=False) as conn:
        conn.execute(
            update(campaign_recipients)
            .where(recipient_key(campaign_recipients, key))
            .values(channel=channel)
        )


def outstanding_jobs(
    db: Database, platforms: Sequence[str], scheduled_by: datetime
) -> tuple[int, datetime | None]:
    """Jobs of running campaigns on ``platforms`` scheduled by ``scheduled_by`` and not done:
    how many, and the earliest moment one of them can be claimed (for ``--drain``)."""
    r, c = campaign_recipients, campaigns
    ready = func.min(case((r.c.job == "claimed", r.c.lease_until), else_=r.c.next_attempt_at))
    query = (
        select(func.count(), ready)
        .select_from(r.join(c, c.c.id == r.c.campaign_id))
        .where(
            c.c.status == "running",
            r.c.platform.in_(list(platforms)),
            r.c.job != "done",
            r.c.due_at <= scheduled_by,
        )
    )
    with db.read() as conn:
        count, earliest = conn.execute(query).one()
    return int(count or 0), maybe_utc(_as_datetime(earliest))


def next_due(db: Database, platforms: Sequence[str]) -> datetime | None:
    """When the next waiting job on ``platforms`` becomes due (for an idle worker's sleep)."""
    r, c = campaign_recipients, campaigns
    query = (
        select(func.min(r.c.next_attempt_at))
        .select_from(r.join(c, c.c.id == r.c.campaign_id))
        .where(c.c.status == "running", r.c.platform.in_(list(platforms)), r.c.job == "waiting")
    )
    with db.read() as conn:
        return maybe_utc(_as_datetime(conn.execute(query).scalar()))


def _as_datetime(value: object) -> datetime | None:
    # Aggregates over DateTime come back as strings from SQLite.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
