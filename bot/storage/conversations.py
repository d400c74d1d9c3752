"""Conversation references: where PolicyBot can message a person later, unprompted.

Teams (like any Bot Framework channel) lets a bot start a message only in a conversation it
has seen, through that conversation's reference (service URL, conversation, bot and user
accounts). The Teams adapter saves one for everyone who talks to or installs the bot and
refreshes it on every activity, because the service URL can change; campaigns read them
back to send re-acknowledgement requests.

One row per (platform, tenant, user, conversation): a person's personal chat with the bot
and each channel or group chat they used it in. The reference is the platform's own JSON,
stored as given; it holds platform user ids (needed to reach people), never questions.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Connection, DateTime, Insert, String, Table, select

from bot.errors import StorageError
from bot.storage.database import Database, dialect_insert
from bot.storage.schema import metadata

if TYPE_CHECKING:
    from bot.storage.store import Store

MAX_ID = 400
KEY_COLUMNS = ("platform", "tenant", "user_id", "conversation_id")

conversation_references = Table(
    "conversation_references",
    metadata,
    Column("platform", String(20), primary_key=True),
    Column("tenant", String(200), primary_key=True),  # "" when the platform has none
    Column("user_id", String(200), primary_key=True),
    Column("conversation_id", String(MAX_ID), primary_key=True),
    Column("conversation_type", String(40), nullable=False),  # personal, channel, groupChat
    Column("reference", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class StoredReference(BaseModel):
    """One saved conversation reference."""

    model_config = ConfigDict(frozen=True)

    platform: str
    tenant: str
    user_id: str
    conversation_id: str
    conversation_type: str
    reference: dict[str, Any]
    updated_at: datetime


class References:
    """Saves references for one process, skipping any it already saved unchanged.

    Adapters see the same reference on every message; writing it each time would add a
    durable transaction to every answer for nothing. Writes go through the store's
    reference log, so many new conversations at once share transactions.
    """

    def __init__(self, store: Store, *, limit: int = 10_000) -> None:
        self.store = store
        self._limit = limit
        self._saved: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def changed(
        self, platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
    ) -> bool:
        """True unless this process last saved exactly this reference for this person here."""
        return self._saved.get(_key(platform, tenant, user_id, reference)) != reference

    def submit(
        self, platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
    ) -> Future[None]:
        """Queue the reference for writing; the future is done once it is committed.

        Raises ``StorageError`` at once for a reference that cannot be stored (see ``row``).
        """
        written = self.store.submit_conversation_reference(platform, tenant, user_id, reference)
        key = _key(platform, tenant, user_id, reference)

        def remember(done: Future[None]) -> None:
            if done.exception() is None:
                if len(self._saved) >= self._limit:
                    self._saved.clear()
                self._saved[key] = reference

        written.add_done_callback(remember)
        return written


def _key(
    platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
) -> tuple[str, str, str, str]:
    conversation = reference.get("conversation")
    found = conversation.get("id") if isinstance(conversation, dict) else None
    return platform, tenant or "", user_id, str(found)


def row(
    platform: str, tenant: str | None, user_id: str, reference: dict[str, Any]
) -> dict[str, Any]:
    """The table row for a reference.

    ``reference`` must carry ``conversation.id`` (and may carry ``conversation.conversationType``,
    as Bot Framework references do). Raises ``StorageError`` for a reference without a
    conversation id or with ids too long to store.
    """
    conversation = reference.get("conversation")
    conversation_id = conversation.get("id") if isinstance(conversation, dict) else None
    if not isinstance(conversation_id, str) or not conversation_id:
        raise StorageError("A conversation reference needs conversation.id.")
    kind = conversation.get("conversationType") if isinstance(conversation, dict) else None
    keys = {
        "platform": platform,
        "tenant": tenant or "",
        "user_id": user_id,
        "conversation_id": conversation_id,
    }
    if any(len(value) > MAX_ID for value in keys.values()):
        raise StorageError("A conversation reference id is too long to store.")
    return {
        **keys,
        "conversation_type": kind if isinstance(kind, str) else "",
        "reference": reference,
        "updated_at": datetime.now(UTC),
    }


def write_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[None]:
    """Insert or refresh rows (from ``row``) on an open write transaction, in order: the
    last row for a person and conversation wins."""
    if rows:
        conn.execute(_upsert(conn.dialect.name), list(rows))
    return [None] * len(rows)


@cache
def _upsert(dialect: str) -> Insert:
    insert = dialect_insert(dialect, conversation_references)
    changed = ("conversation_type", "reference", "updated_at")
    return insert.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={name: insert.excluded[name] for name in changed},
    )


def references(db: Database, platform: str, tenant: str | None = None) -> list[StoredReference]:
    """Every saved reference on ``platform`` (in one ``tenant`` if given), oldest first."""
    table = conversation_references
    query = select(table).where(table.c.platform == platform)
    if tenant is not None:
        query = query.where(table.c.tenant == tenant)
    query = query.order_by(table.c.updated_at, table.c.user_id, table.c.conversation_id)
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    return [StoredReference.model_validate(dict(row)) for row in rows]
