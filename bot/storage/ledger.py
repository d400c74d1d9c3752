"""The delivery ledger: platform deliveries already handled, so a retry is answered once.

Slack retries an event it thinks went unanswered and Teams may resubmit an activity; the
adapters claim each delivery id ("slack:Ev123", "teams:<activity id>") before acting on it.
A claim is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the earlier claim expired,
atomic across threads and processes. Keys expire (two days by default, beyond any
platform's retry window); expired keys are purged now and then by whoever claims next.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Connection, Delete, Insert, delete

from bot.storage.database import Database, dialect_insert
from bot.storage.schema import delivery_ledger

DEFAULT_TTL = timedelta(days=2)
# About one claim in this many also sweeps every expired key; the rest only touch their own.
PURGE_EVERY = 200


def claim(
    db: Database,
    key: str,
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> bool:
    """True the first time ``key`` is claimed (or once its earlier claim expired)."""
    with db.write(durable=False) as conn:
        return key in claim_keys(conn, [key], ttl, now=now)


def claim_keys(
    conn: Connection,
    keys: Sequence[str],
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> set[str]:
    """Claim ``keys`` on an open write transaction; the ones claimed now, by this call.

    A key given twice is claimed once. One statement whatever the number of keys (and,
    now and then, a sweep of every expired key).
    """
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    unique = list(dict.fromkeys(keys))
    if not unique:
        return set()
    if random.randrange(PURGE_EVERY) == 0:
        conn.execute(_expired(moment))
    # RETURNING, not rowcount: drivers report -1 for some INSERTs.
    claimed = conn.execute(
        _claim_statement(conn.dialect.name),
        [{"key": key, "claimed_at": moment, "expires_at": moment + ttl} for key in unique],
    ).scalars()
    return set(claimed)


@cache
def _claim_statement(dialect: str) -> Insert:
    """Insert new keys and take over expired claims; a live claim stays as it is and is
    not returned. Built once: claims are on every question's path."""
    statement = dialect_insert(dialect, delivery_ledger)
    return statement.on_conflict_do_update(
        index_elements=[delivery_ledger.c.key],
        set_={
            "claimed_at": statement.excluded.claimed_at,
            "expires_at": statement.excluded.expires_at,
        },
        where=delivery_ledger.c.expires_at <= statement.excluded.claimed_at,
    ).returning(delivery_ledger.c.key)


def purge(db: Database, now: datetime | None = None) -> int:
    """Delete every expired key; return how many went."""
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    with db.write(durable=False) as conn:
        return int(conn.execute(_expired(moment)).rowcount)


def _expired(moment: datetime) -> Delete:
    return delete(delivery_ledger).where(delivery_ledger.c.expires_at <= moment)
