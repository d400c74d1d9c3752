"""Campaign storage: the tables, and the campaigns themselves.

    campaigns            one row per campaign: the pinned policy text and its SHA-256, the
                         audience, the due date, the reminder schedule, running/stopped/closed
    campaign_recipients  one row per person: who, their state, and their job (next step,
                         when it is due, attempts, who claimed it and until when)
    campaign_sends       one row per (person, step) ever claimed: sending, sent, unknown or
                         failed, with the platform's message id once known

``campaign_recipients.py`` reads and enrols people; ``campaign_jobs.py`` claims, settles
and releases their sends. Whether someone accepted is always read from the acknowledgement
chain itself (joined by platform, workspace, user, policy, version and campaign), so a
status can never disagree with the audit trail; a recipient's ``state`` is only a cache
that stops reminders early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    select,
    update,
)

from bot.storage.database import Database
from bot.storage.schema import acknowledgements, metadata

CampaignState = Literal["running", "stopped", "closed"]
RecipientState = Literal["pending", "accepted", "unreachable"]
SendState = Literal["sending", "sent", "unknown", "failed"]
#: (platform, workspace, user_id, display_name)
NewRecipient = tuple[str, str, str, str]

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(120), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", String(80), nullable=False),
    Column("policy_title", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("policy_text", Text, nullable=False),  # exactly what people are shown
    Column("text_sha256", String(64), nullable=False),
    Column("statement", Text, nullable=False),
    Column("audience", String(500), nullable=False),
    Column("include_guests", Boolean, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("reminder_days", JSON, nullable=False),  # day offsets from the due date
    Column("every", String(20), nullable=True),  # "12m": the next round starts by itself
    Column("status", String(20), nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("stopped_by", String(200), nullable=True),
    Column("stopped_at", DateTime(timezone=True), nullable=True),
    Column("digest_sent_at", DateTime(timezone=True), nullable=True),
    Column("previous_round", String(120), nullable=True),
    Column("next_round", String(120), nullable=True),
    PrimaryKeyConstraint("id", name="pk_campaigns"),
    Index("ix_campaigns_status", "status"),
    Index("ix_campaigns_started_at", "started_at"),
)

campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("campaign_id", String(120), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("workspace", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("joined", Boolean, nullable=False),  # enrolled after the start (a new joiner)
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=True),  # why unreachable
    Column("channel", String(400), nullable=True),  # Slack DM id / Teams conversation id
    Column("prompt_ref", String(200), nullable=True),  # the prompt message's ts / activity id
    Column("step", Integer, nullable=False),  # the next step to send: 0 prompt, n reminder n
    Column("job", String(20), nullable=False),  # waiting, claimed, done
    Column("due_at", DateTime(timezone=True), nullable=True),  # when the step is scheduled
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),  # due_at, or later
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint(
        "campaign_id", "platform", "workspace", "user_id", name="pk_campaign_recipients"
    ),
    ForeignKeyConstraint(
        ["campaign_id"],
        ["campaigns.id"],
        name="fk_campaign_recipients_campaign_id_campaigns",
        ondelete="CASCADE",
    ),
    Index("ix_campaign_recipients_job", "job", "next_attempt_at"),
    Index("ix_campaign_recipients_user", "platform", "workspace", "user_id"),
)

campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("campaign_id", String(120), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("workspace", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("step", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("worker", String(100), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("channel", String(400), nullable=True),
    Column("message_ref", String(200), nullable=True),
    Column("detail", Text, nullable=True),
    PrimaryKeyConstraint(
        "campaign_id", "platform", "workspace", "user_id", "step", name="pk_campaign_sends"
    ),
    ForeignKeyConstraint(
        ["campaign_id"],
        ["campaigns.id"],
        name="fk_campaign_sends_campaign_id_campaigns",
        ondelete="CASCADE",
    ),
)

_CAMPAIGN_FIELDS = tuple(column.name for column in campaigns.columns)


@dataclass(frozen=True)
class CampaignRecord:
    """One stored campaign, as read back."""

    id: str
    policy_id: str
    policy_version: str
    policy_title: str
    content_hash: str
    policy_text: str
    text_sha256: str
    statement: str
    audience: str
    include_guests: bool
    due_on: date
    reminder_days: tuple[int, ...]
    every: str | None
    status: CampaignState
    started_by: str
    started_at: datetime
    stopped_by: str | None
    stopped_at: datetime | None
    digest_sent_at: datetime | None
    previous_round: str | None
    next_round: str | None


def utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands them back naive)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def maybe_utc(value: datetime | None) -> datetime | None:
    """``utc`` for a column that may be NULL."""
    return None if value is None else utc(value)


def _campaign(row: Mapping[Any, Any]) -> CampaignRecord:
    values = {name: row[name] for name in _CAMPAIGN_FIELDS}
    for name in ("started_at", "stopped_at", "digest_sent_at"):
        values[name] = maybe_utc(values[name])
    values["reminder_days"] = tuple(int(day) for day in values["reminder_days"])
    return CampaignRecord(**values)


def recipient_key(table: Table, key: tuple[str, str, str, str]) -> Any:
    """WHERE clause: this (campaign, platform, workspace, user) in ``table``."""
    campaign_id, platform, workspace, user_id = key
    return and_(
        table.c.campaign_id == campaign_id,
        table.c.platform == platform,
        table.c.workspace == workspace,
        table.c.user_id == user_id,
    )


def ack_join(campaign: Table | None = None) -> Any:
    """ON clause: a recipient's acknowledgement in their campaign (the chain is the truth)."""
    r, a, c = campaign_recipients, acknowledgements, campaign if campaign is not None else campaigns
    return and_(
        a.c.platform == r.c.platform,
        a.c.workspace == r.c.workspace,
        a.c.user_id == r.c.user_id,
        a.c.policy_id == c.c.policy_id,
        a.c.policy_version == c.c.policy_version,
        a.c.campaign_id == r.c.campaign_id,
    )


# -- campaigns ----------------------------------------------------------------------------


def recipient_values(
    campaign_id: str, member: NewRecipient, now: datetime, joined: bool
) -> dict[str, Any]:
    """A new recipient row: pending, with their prompt (step 0) due at ``now``."""
    platform, workspace, user_id, display_name = member
    return {
        "campaign_id": campaign_id,
        "platform": platform,
        "workspace": workspace,
        "user_id": user_id,
        "display_name": display_name[:200],
        "joined": joined,
        "enrolled_at": now,
        "state": "pending",
        "step": 0,
        "job": "waiting",
        "due_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


def _insert_campaign(
    conn: Connection, values: Mapping[str, Any], members: Iterable[NewRecipient], now: datetime
) -> int:
    conn.execute(campaigns.insert().values(**values))
    rows = [recipient_values(values["id"], member, now, False) for member in _unique(members)]
    for start in range(0, len(rows), 500):
        conn.execute(campaign_recipients.insert(), rows[start : start + 500])
    return len(rows)


def _unique(members: Iterable[NewRecipient]) -> list[NewRecipient]:
    seen: dict[tuple[str, str, str], NewRecipient] = {}
    for member in members:
        seen.setdefault((member[0], member[1], member[2]), member)
    return list(seen.values())


def create(
    db: Database, values: Mapping[str, Any], members: Iterable[NewRecipient], now: datetime
) -> int:
    """Insert a campaign and its recipients (duplicates dropped) in one transaction; return
    how many recipients it has. Each recipient's prompt is due at ``now``."""
    with db.write() as conn:
        return _insert_campaign(conn, values, members, now)


def start_next_round(
    db: Database,
    previous: str,
    values: Mapping[str, Any],
    members: Iterable[NewRecipient],
    now: datetime,
) -> bool:
    """Start the round after ``previous`` and close ``previous``, unless another worker did.

    Returns False (and writes nothing) when ``previous`` already has a next round.
    """
    with db.write() as conn:
        taken = conn.execute(
            update(campaigns)
            .where(campaigns.c.id == previous, campaigns.c.next_round.is_(None))
            .values(next_round=values["id"], status="closed")
            .returning(campaigns.c.id)
        ).scalar()
        if taken is None:
            return False
        _insert_campaign(conn, {**values, "previous_round": previous}, members, now)
    return True


def get(db: Database, campaign_id: str) -> CampaignRecord | None:
    """The campaign with this id, or None."""
    with db.read() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).mappings()
        found = row.first()
    return None if found is None else _campaign(found)


def latest(db: Database) -> CampaignRecord | None:
    """The most recently started campaign, or None."""
    with db.read() as conn:
        found = (
            conn.execute(
                select(campaigns).order_by(campaigns.c.started_at.desc(), campaigns.c.id.desc())
            )
            .mappings()
            .first()
        )
    return None if found is None else _campaign(found)


def listing(db: Database, status: str | None = None) -> list[CampaignRecord]:
    """Every campaign (with this status, if given), newest first."""
    query = select(campaigns).order_by(campaigns.c.started_at.desc(), campaigns.c.id.desc())
    if status is not None:
        query = query.where(campaigns.c.status == status)
    with db.read() as conn:
        return [_campaign(row) for row in conn.execute(query).mappings()]


def set_stopped(db: Database, campaign_id: str, by: str, now: datetime) -> bool:
    """Stop a running campaign: no more prompts or reminders. False if it was not running."""
    with db.write() as conn:
        stopped = conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status == "running")
            .values(status="stopped", stopped_by=by[:200], stopped_at=now)
            .returning(campaigns.c.id)
        ).scalar()
    return stopped is not None


def claim_digest(db: Database, campaign_id: str, now: datetime) -> bool:
    """True once per campaign: the caller sends the overdue digest (at most once)."""
    with db.write() as conn:
        claimed = conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.digest_sent_at.is_(None))
            .values(digest_sent_at=now)
            .returning(campaigns.c.id)
        ).scalar()
    return claimed is not None
