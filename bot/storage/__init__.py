"""PolicyBot's storage: SQLite by default, PostgreSQL through ``DATABASE_URL``.

database.py          URL, engine, pragmas, transactions, error translation
schema.py            the tables
migrations/          Alembic revisions (``policybot db upgrade``)
questions.py         the masked, pseudonymous question log, feedback, retention
acknowledgements.py  the append-only hash chain: record, verify, export
versions.py          policy versions and clause-level diffs
ledger.py            delivery ids already handled (idempotency), with expiry
group_commit.py      concurrent writes share one commit (on the event loop, or a writer thread)
store.py             ``Store``, the one front door the rest of PolicyBot uses
"""

from __future__ import annotations

from bot.storage.acknowledgements import (
    Acknowledgement,
    AcknowledgementRequest,
    AckResult,
    ExportResult,
    VerifyResult,
)
from bot.storage.conversations import StoredReference
from bot.storage.questions import LoggedClause, LoggedQuestion
from bot.storage.store import Store
from bot.storage.versions import (
    ClauseChange,
    PolicyDiff,
    StoredClause,
    StoredPolicyVersion,
    diff_policies,
)

__all__ = [
    "AckResult",
    "Acknowledgement",
    "AcknowledgementRequest",
    "ClauseChange",
    "ExportResult",
    "LoggedClause",
    "LoggedQuestion",
    "PolicyDiff",
    "Store",
    "StoredClause",
    "StoredPolicyVersion",
    "StoredReference",
    "VerifyResult",
    "diff_policies",
]
