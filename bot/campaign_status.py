"""Where a campaign stands: each person's state, the figures admins ask for, the CSV
export and the overdue digest. Plain functions over stored records, no database access.

A person is ``accepted`` once their acknowledgement is in the chain, ``unreachable`` once
the platform refused them for good, otherwise ``outstanding`` (``overdue`` from the day
after the due date).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.campaign_schedule import is_overdue
from bot.messenger import Notice
from bot.storage.campaign_recipients import RecipientRow
from bot.storage.campaigns import CampaignRecord

PersonState = Literal["accepted", "outstanding", "overdue", "unreachable"]
WAITING = ("outstanding", "overdue")
DIGEST_NAMES = 20
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "platform",
    "workspace",
    "user_id",
    "display_name",
    "state",
    "accepted_at",
    "acknowledgement_seq",
    "joined_later",
    "messages_sent",
    "delivery_unknown",
    "reason",
)


def format_day(day: date) -> str:
    """``3 March 2026``: how a date reads in a message."""
    return f"{day.day} {day:%B %Y}"


class CampaignStatus(BaseModel):
    """Where a campaign stands: the figures admins ask for."""

    model_config = ConfigDict(frozen=True)

    campaign: str
    policy: str
    title: str
    version: str
    text_sha256: str
    due: date
    status: str
    audience: str
    every: str | None
    started_at: datetime
    started_by: str
    recipients: int
    accepted: int
    outstanding: int
    overdue: int
    unreachable: int
    unknown: int  # outstanding people a message may not have reached (a crash mid-send)
    not_yet_prompted: int
    previous_round: str | None
    next_round: str | None

    def summary(self) -> str:
        """One paragraph for a chat message or the terminal."""
        late = f", {self.overdue} overdue" if self.overdue else ""
        extra = f"; delivery unknown for {self.unknown}" if self.unknown else ""
        waiting = f"; {self.not_yet_prompted} not yet messaged" if self.not_yet_prompted else ""
        return (
            f"Campaign {self.campaign} ({self.status}): {self.title}, version {self.version}, "
            f"due {format_day(self.due)}. {self.accepted} of {self.recipients} accepted; "
            f"{self.outstanding} outstanding{late}; {self.unreachable} unreachable"
            f"{extra}{waiting}."
        )


def person_state(campaign: CampaignRecord, row: RecipientRow, now: datetime) -> PersonState:
    """Accepted, unreachable, overdue (past the due date) or outstanding."""
    if row.accepted_at is not None:
        return "accepted"
    if row.state == "unreachable":
        return "unreachable"
    return "overdue" if is_overdue(campaign.due_on, now) else "outstanding"


def status_of(
    campaign: CampaignRecord, rows: Sequence[RecipientRow], now: datetime
) -> CampaignStatus:
    """The figures of ``campaign`` from its recipients at ``now``."""
    states = [person_state(campaign, row, now) for row in rows]
    waiting = [(row, state in WAITING) for row, state in zip(rows, states, strict=True)]
    return CampaignStatus(
        campaign=campaign.id,
        policy=campaign.policy_id,
        title=campaign.policy_title,
        version=campaign.policy_version,
        text_sha256=campaign.text_sha256,
        due=campaign.due_on,
        status=campaign.status,
        audience=campaign.audience,
        every=campaign.every,
        started_at=campaign.started_at,
        started_by=campaign.started_by,
        recipients=len(rows),
        accepted=states.count("accepted"),
        outstanding=sum(open_ for _, open_ in waiting),
        overdue=states.count("overdue"),
        unreachable=states.count("unreachable"),
        unknown=sum(bool(row.unknown_steps) and open_ for row, open_ in waiting),
        not_yet_prompted=sum(row.step == 0 and open_ for row, open_ in waiting),
        previous_round=campaign.previous_round,
        next_round=campaign.next_round,
    )


def write_export(
    campaign: CampaignRecord, rows: Sequence[RecipientRow], now: datetime, path: Path
) -> None:
    """Write everyone with their state and acceptance time as CSV.

    Cells a spreadsheet would run as a formula are prefixed with ``'``; the file is
    written beside ``path`` and renamed into place.
    """
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            accepted = row.accepted_at.isoformat(timespec="seconds") if row.accepted_at else ""
            values = (
                row.platform,
                row.workspace,
                row.user_id,
                row.display_name,
                person_state(campaign, row, now),
                accepted,
                row.ack_seq or "",
                "yes" if row.joined else "no",
                row.sent_steps,
                "yes" if row.unknown_steps else "no",
                "" if row.accepted_at is not None else row.reason or "",
            )
            writer.writerow([_cell(value) for value in values])
    os.replace(partial, path)


def digest_notice(campaign: CampaignRecord, rows: Sequence[RecipientRow], now: datetime) -> Notice:
    """The overdue digest for admins: the figures and who has not yet accepted."""
    status = status_of(campaign, rows, now)
    waiting = [
        row.display_name or row.user_id
        for row in rows
        if person_state(campaign, row, now) in WAITING
    ]
    lines = [
        f"PolicyBot: the acknowledgement campaign for the {status.title} (version "
        f"{status.version}) was due on {format_day(status.due)}.",
        status.summary(),
    ]
    if waiting:
        shown = ", ".join(waiting[:DIGEST_NAMES])
        extra = len(waiting) - DIGEST_NAMES
        lines.append(f"Not yet accepted: {shown}{f' and {extra} more' if extra > 0 else ''}.")
    lines.append(f"The full list: policybot campaign export {campaign.id} FILE.csv")
    return Notice("\n".join(lines), marker=f"{campaign.id}:digest")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
