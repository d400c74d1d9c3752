"""The delivery ledger: platform deliveries already handled, so a retry is answered once.

Slack retries an event it thinks went unanswered and Teams may resubmit an activity; the
adapters claim each delivery id ("slack:Ev123", "teams:<activity id>") before acting on it.
The claim is one ``INSERT ... ON CONFLICT DO NOTHING``, atomic across threads and processes.
Keys expire (two days by default, beyond any platform's retry window); expired keys are
purged now and then by whoever claims next.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import Delete, delete

from bot.storage.database import Database, insert_or_skip
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
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    with db.write(durable=False) as conn:
        # An expired claim of this very key is forgotten first, so it can be claimed again.
        conn.execute(
            delete(delivery_ledger).where(
                delivery_ledger.c.key == key, delivery_ledger.c.expires_at <= moment
            )
        )
        if random.randrange(PURGE_EVERY) == 0:
            conn.execute(_expired(moment))
        # RETURNING, not rowcount: drivers report -1 for some INSERTs.
        claimed = conn.execute(
            insert_or_skip(db, delivery_ledger)
            .values(key=key, claimed_at=moment, expires_at=moment + ttl)
            .returning(delivery_ledger.c.key)
        ).scalar()
    return claimed is not None


def purge(db: Database, now: datetime | None = None) -> int:
    """Delete every expired key; return how many went."""
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    with db.write(durable=False) as conn:
        return int(conn.execute(_expired(moment)).rowcount)


def _expired(moment: datetime) -> Delete:
    return delete(delivery_ledger).where(delivery_ledger.c.expires_at <= moment)
