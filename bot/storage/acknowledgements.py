"""Acknowledgements: the append-only, hash-chained record of who accepted which policy text.

Each row carries ``prev_hash`` (the previous row's ``row_hash``; 64 zeros for the first)
and ``row_hash`` = SHA-256 of a canonical JSON of its own fields plus ``prev_hash``. The
``ack_chain_head`` row holds the last sequence number and hash, so removing rows from the
end shows too. Appends are serialised (PostgreSQL: ``SELECT ... FOR UPDATE`` on the head
row; SQLite: ``BEGIN IMMEDIATE``), committed before ``record`` returns, and UPDATE and
DELETE are refused by triggers. ``verify`` walks the chain and names the first row that was
altered, deleted or reordered, even by someone who dropped the triggers first.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, select

from bot.storage.database import Database
from bot.storage.schema import ack_chain_head, acknowledgements

GENESIS_HASH = "0" * 64
_HASHED_FIELDS = (
    "platform",
    "workspace",
    "user_id",
    "display_name",
    "policy_id",
    "policy_version",
    "text_sha256",
    "statement",
    "campaign_id",
    "source_event",
    "accepted_at",
)
EXPORT_COLUMNS = ("seq", *_HASHED_FIELDS, "prev_hash", "row_hash")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AcknowledgementRequest(BaseModel):
    """Someone pressed "I have read and accept" on this exact policy text.

    ``text_sha256`` is the hash of the text shown to them; ``source_event`` the platform's
    id for the click (Slack action/event id, Teams activity id), kept for the audit trail.
    """

    model_config = ConfigDict(frozen=True)

    platform: str = Field(min_length=1, max_length=20)
    workspace: str = Field(max_length=200)
    user_id: str = Field(min_length=1, max_length=200)
    display_name: str = Field(max_length=200)
    policy_id: str = Field(min_length=1, max_length=80)
    policy_version: str = Field(min_length=1, max_length=80)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    statement: str = Field(min_length=1, max_length=2000)
    campaign_id: str | None = Field(default=None, max_length=200)
    source_event: str = Field(max_length=200)

    @field_validator("campaign_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class Acknowledgement(BaseModel):
    """One stored acknowledgement, as read back (fields unchecked: it may be tampered)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    platform: str
    workspace: str
    user_id: str
    display_name: str
    policy_id: str
    policy_version: str
    text_sha256: str
    statement: str
    campaign_id: str | None
    source_event: str
    accepted_at: datetime
    prev_hash: str
    row_hash: str


class AckResult(BaseModel):
    """``recorded`` is False when the same acknowledgement was already there (a retry)."""

    model_config = ConfigDict(frozen=True)

    recorded: bool
    acknowledgement: Acknowledgement


class VerifyResult(BaseModel):
    """The outcome of walking the chain: ``ok``, or the first bad row and why."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    rows: int
    head_hash: str
    bad_seq: int | None = None
    reason: Literal["altered", "deleted", "reordered"] | None = None
    detail: str | None = None

    def describe(self) -> str:
        """One sentence for a person: rows and head, or the first bad row."""
        if self.ok:
            return f"Chain verifies: {self.rows} rows, head {self.head_hash}."
        return f"Chain broken at row {self.bad_seq}: {self.reason} ({self.detail})."


class ExportResult(BaseModel):
    """What ``export`` wrote, and whether the chain verified at the moment of export."""

    model_config = ConfigDict(frozen=True)

    path: Path
    rows: int
    head_hash: str
    verify: VerifyResult


def chain_hash(fields: Mapping[Any, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of an acknowledgement's fields plus ``prev_hash``.

    The sequence number is left out on purpose: order is fixed by the links, so a row
    moved to another place breaks the link ("reordered") without looking "altered".
    """
    canonical = {name: _canonical(name, fields[name]) for name in _HASHED_FIELDS}
    canonical["prev_hash"] = prev_hash
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical(name: str, value: Any) -> Any:
    if name == "accepted_at":
        return _utc(value).isoformat(timespec="microseconds")
    if name == "campaign_id":
        return value or ""
    return value


def _utc(value: datetime) -> datetime:
    # SQLite hands DateTime back naive; PolicyBot only ever stores UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def record(db: Database, request: AcknowledgementRequest) -> AckResult:
    """Append ``request`` to the chain once; a repeat returns the stored row unchanged."""
    with db.write() as conn:
        head = conn.execute(
            select(ack_chain_head.c.seq, ack_chain_head.c.row_hash)
            .where(ack_chain_head.c.id == 1)
            .with_for_update()
        ).one()
        existing = conn.execute(
            select(acknowledgements).where(
                acknowledgements.c.platform == request.platform,
                acknowledgements.c.workspace == request.workspace,
                acknowledgements.c.user_id == request.user_id,
                acknowledgements.c.policy_id == request.policy_id,
                acknowledgements.c.policy_version == request.policy_version,
                acknowledgements.c.campaign_id == (request.campaign_id or ""),
            )
        ).first()
        if existing is not None:
            return AckResult(recorded=False, acknowledgement=_from_row(existing._mapping))
        fields: dict[str, Any] = request.model_dump()
        fields["campaign_id"] = request.campaign_id or ""
        fields["accepted_at"] = datetime.now(UTC)
        seq = head.seq + 1
        row_hash = chain_hash(fields, head.row_hash)
        row = {**fields, "seq": seq, "prev_hash": head.row_hash, "row_hash": row_hash}
        conn.execute(acknowledgements.insert().values(**row))
        conn.execute(
            ack_chain_head.update()
            .where(ack_chain_head.c.id == 1)
            .values(seq=seq, row_hash=row_hash)
        )
    return AckResult(recorded=True, acknowledgement=_from_row(row))


def for_user(db: Database, platform: str, workspace: str, user_id: str) -> list[Acknowledgement]:
    """Every acknowledgement one person made, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            select(acknowledgements)
            .where(
                acknowledgements.c.platform == platform,
                acknowledgements.c.workspace == workspace,
                acknowledgements.c.user_id == user_id,
            )
            .order_by(acknowledgements.c.seq)
        ).all()
    return [_from_row(row._mapping) for row in rows]


def latest_version(
    db: Database, platform: str, workspace: str, user_id: str, policy_id: str
) -> str | None:
    """The policy version this person acknowledged most recently, or None."""
    with db.read() as conn:
        return conn.execute(
            select(acknowledgements.c.policy_version)
            .where(
                acknowledgements.c.platform == platform,
                acknowledgements.c.workspace == workspace,
                acknowledgements.c.user_id == user_id,
                acknowledgements.c.policy_id == policy_id,
            )
            .order_by(acknowledgements.c.seq.desc())
            .limit(1)
        ).scalar_one_or_none()


def verify(db: Database) -> VerifyResult:
    """Walk the whole chain on one snapshot and report the first bad row, if any."""
    with db.read() as conn:
        return _verify(conn)


def _verify(conn: Connection) -> VerifyResult:
    head = conn.execute(select(ack_chain_head).where(ack_chain_head.c.id == 1)).one()
    prev, expected = GENESIS_HASH, 1

    def broken(
        seq: int, reason: Literal["altered", "deleted", "reordered"], detail: str
    ) -> VerifyResult:
        return VerifyResult(
            ok=False, rows=expected - 1, head_hash=prev, bad_seq=seq, reason=reason, detail=detail
        )

    ordered = select(acknowledgements).order_by(acknowledgements.c.seq)
    rows = iter(conn.execute(ordered.execution_options(yield_per=1000)))
    while True:
        try:
            row = next(rows, None)
            if row is None:
                break
            computed = chain_hash(row._mapping, row.prev_hash)
        except (ValueError, TypeError, AttributeError):
            # Someone wrote a value of the wrong type (a date that is not a date).
            return broken(expected, "altered", "it no longer reads as an acknowledgement")
        if row.seq != expected:
            return broken(expected, "deleted", f"row {expected} is missing")
        if computed != row.row_hash:
            return broken(row.seq, "altered", "its contents no longer match its hash")
        if row.prev_hash != prev:
            follows = conn.execute(
                select(acknowledgements.c.seq).where(acknowledgements.c.row_hash == row.prev_hash)
            ).scalar()
            if follows is not None:
                return broken(row.seq, "reordered", f"it belongs after row {follows}")
            return broken(
                row.seq, "deleted", f"the row before it was deleted, or row {row.seq - 1} rewritten"
            )
        prev, expected = row.row_hash, expected + 1
    last = expected - 1
    if head.seq > last:
        missing = f"row {expected}" if head.seq == expected else f"rows {expected}-{head.seq}"
        return broken(expected, "deleted", f"{missing} missing from the end")
    if head.seq < last:
        return broken(head.seq + 1, "altered", "it lies beyond the recorded chain head")
    if head.row_hash != prev:
        return broken(last, "altered", "it does not match the recorded chain head")
    return VerifyResult(ok=True, rows=last, head_hash=prev)


def export(db: Database, path: Path) -> ExportResult:
    """Write every acknowledgement to ``path`` as CSV for an auditor.

    A header row, one row per acknowledgement in chain order, then a final row
    ``# chain head, <hash>, rows, <n>, verified, yes|no``, all from one snapshot. Cells a
    spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``) are prefixed
    with ``'``. The file is written beside ``path`` and renamed into place.
    """
    partial = path.with_name(path.name + ".partial")
    with db.read() as conn:
        result = _verify(conn)
        rows, head_hash = 0, GENESIS_HASH
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            ordered = select(acknowledgements).order_by(acknowledgements.c.seq)
            for row in conn.execute(ordered.execution_options(yield_per=1000)):
                writer.writerow([_cell(row._mapping, name) for name in EXPORT_COLUMNS])
                rows, head_hash = rows + 1, row.row_hash
            writer.writerow(
                ["# chain head", head_hash, "rows", rows, "verified", "yes" if result.ok else "no"]
            )
    os.replace(partial, path)
    return ExportResult(path=path, rows=rows, head_hash=head_hash, verify=result)


def _cell(row: Mapping[Any, Any], name: str) -> object:
    value = row[name]
    if name == "accepted_at":
        return _utc(value).isoformat(timespec="microseconds")
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _from_row(row: Mapping[Any, Any]) -> Acknowledgement:
    values = dict(row)
    values["accepted_at"] = _utc(values["accepted_at"])
    values["campaign_id"] = values["campaign_id"] or None
    return Acknowledgement.model_validate(values)
