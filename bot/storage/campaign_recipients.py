"""Campaign recipients: who is in a campaign, what they have accepted (read from the
acknowledgement chain), enrolling new joiners, and where to reach Teams people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update

from bot.storage.campaigns import (
    NewRecipient,
    RecipientState,
    ack_join,
    campaign_recipients,
    campaign_sends,
    campaigns,
    maybe_utc,
    recipient_key,
    recipient_values,
)
from bot.storage.conversations import conversation_references
from bot.storage.database import Database, insert_or_skip
from bot.storage.schema import acknowledgements


@dataclass(frozen=True)
class RecipientRow:
    """One recipient with their acknowledgement (if any) and delivery facts, for status."""

    platform: str
    workspace: str
    user_id: str
    display_name: str
    state: RecipientState
    joined: bool
    reason: str | None
    channel: str | None
    prompt_ref: str | None
    step: int
    accepted_at: datetime | None
    ack_seq: int | None
    sent_steps: int
    unknown_steps: int


def enrol(db: Database, campaign_id: str, member: NewRecipient, now: datetime) -> bool:
    """Add a new joiner to a campaign; False if they were already in it."""
    with db.write() as conn:
        added = conn.execute(
            insert_or_skip(db, campaign_recipients)
            .values(**recipient_values(campaign_id, member, now, True))
            .returning(campaign_recipients.c.user_id)
        ).scalar()
    return added is not None


def mark_accepted(db: Database, key: tuple[str, str, str, str]) -> None:
    """Cache that this recipient accepted: their job is done, no more reminders."""
    with db.write(durable=False) as conn:
        conn.execute(
            update(campaign_recipients)
            .where(recipient_key(campaign_recipients, key))
            .values(state="accepted", job="done", next_attempt_at=None, due_at=None)
        )


def recipient(db: Database, key: tuple[str, str, str, str]) -> RecipientRow | None:
    """One recipient with their acknowledgement, or None if not in the campaign."""
    rows = _recipient_rows(db, recipient_key(campaign_recipients, key))
    return rows[0] if rows else None


def recipients(db: Database, campaign_id: str) -> list[RecipientRow]:
    """Every recipient of a campaign with their acknowledgement, ordered by platform and id."""
    return _recipient_rows(db, campaign_recipients.c.campaign_id == campaign_id)


def _recipient_rows(db: Database, where: Any) -> list[RecipientRow]:
    r, a, s = campaign_recipients, acknowledgements, campaign_sends
    sends = (
        select(
            s.c.campaign_id,
            s.c.platform,
            s.c.workspace,
            s.c.user_id,
            func.sum(_case(s.c.state == "sent")).label("sent"),
            func.sum(_case(s.c.state == "unknown")).label("unknown"),
        )
        .group_by(s.c.campaign_id, s.c.platform, s.c.workspace, s.c.user_id)
        .subquery()
    )
    query = (
        select(
            r,
            a.c.accepted_at.label("ack_at"),
            a.c.seq.label("ack_seq"),
            sends.c.sent,
            sends.c.unknown,
        )
        .select_from(
            r.join(campaigns, campaigns.c.id == r.c.campaign_id)
            .outerjoin(a, ack_join())
            .outerjoin(
                sends,
                and_(
                    sends.c.campaign_id == r.c.campaign_id,
                    sends.c.platform == r.c.platform,
                    sends.c.workspace == r.c.workspace,
                    sends.c.user_id == r.c.user_id,
                ),
            )
        )
        .where(where)
        .order_by(r.c.platform, r.c.workspace, r.c.user_id)
    )
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        RecipientRow(
            platform=row["platform"],
            workspace=row["workspace"],
            user_id=row["user_id"],
            display_name=row["display_name"],
            state="accepted" if row["ack_at"] is not None else row["state"],
            joined=row["joined"],
            reason=row["reason"],
            channel=row["channel"],
            prompt_ref=row["prompt_ref"],
            step=row["step"],
            accepted_at=maybe_utc(row["ack_at"]),
            ack_seq=row["ack_seq"],
            sent_steps=int(row["sent"] or 0),
            unknown_steps=int(row["unknown"] or 0),
        )
        for row in rows
    ]


def _case(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def pending_for(db: Database, platform: str, workspace: str | None, user_id: str) -> list[str]:
    """Ids of running campaigns this person has still to accept (workspace None: any)."""
    r, c, a = campaign_recipients, campaigns, acknowledgements
    query = (
        select(c.c.id)
        .select_from(r.join(c, c.c.id == r.c.campaign_id).outerjoin(a, ack_join()))
        .where(
            r.c.platform == platform,
            r.c.user_id == user_id,
            c.c.status == "running",
            r.c.state != "accepted",
            a.c.seq.is_(None),
        )
        .order_by(c.c.due_on, c.c.id)
    )
    if workspace is not None:
        query = query.where(r.c.workspace == workspace)
    with db.read() as conn:
        return [str(value) for value in conn.execute(query).scalars()]


def reference_for(
    db: Database, platform: str, tenant: str | None, user_id: str
) -> dict[str, Any] | None:
    """The newest conversation reference to message this person in private, or None.

    A personal chat is preferred; otherwise the newest reference of any kind (the platform
    adapter then opens a one-to-one conversation from it). ``tenant`` None matches any.
    """
    t = conversation_references
    query = select(t.c.reference, t.c.conversation_type).where(
        t.c.platform == platform, t.c.user_id == user_id
    )
    if tenant is not None:
        query = query.where(t.c.tenant == tenant)
    query = query.order_by((t.c.conversation_type == "personal").desc(), t.c.updated_at.desc())
    with db.read() as conn:
        row = conn.execute(query.limit(1)).first()
    return None if row is None else dict(row.reference)


def teams_people(db: Database) -> list[tuple[str, str, str]]:
    """``(tenant, user_id, display_name)`` of everyone with a stored Teams reference."""
    t = conversation_references
    query = select(t.c.tenant, t.c.user_id, t.c.reference).where(t.c.platform == "teams")
    people: dict[tuple[str, str], str] = {}
    with db.read() as conn:
        for row in conn.execute(query.order_by(t.c.updated_at)):
            user = row.reference.get("user") if isinstance(row.reference, dict) else None
            name = user.get("name") if isinstance(user, dict) else None
            people[(row.tenant, row.user_id)] = name if isinstance(name, str) else ""
    return [(tenant, user, name) for (tenant, user), name in sorted(people.items())]
