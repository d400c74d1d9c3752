"""PolicyBot's tables (SQLAlchemy Core), the shape the migrations build.

    questions           one row per question answered or declined: ISO week, platform,
                        asker pseudonym, masked text, answered, feedback
    question_clauses    the clauses offered for a question, best first, with scores
    acknowledgements    append-only, hash-chained "I have read and accept" records
    ack_chain_head      one row: the sequence number and hash of the chain's last row
    policy_versions     every policy version PolicyBot has served
    policy_clauses      the clauses (ids and texts) of each stored version
    delivery_ledger     platform delivery ids already handled, until they expire

The migrations in ``bot/storage/migrations`` are written out by hand, not generated from
this module at run time; a test checks the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

questions = Table(
    "questions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("week", String(8), nullable=False),  # ISO week, "2026-W48": no finer time
    Column("created_on", Date, nullable=False),  # day granularity, for retention only
    Column("platform", String(20), nullable=False),
    Column("asker", String(64), nullable=True),  # keyed pseudonym, never the user id
    Column("question", Text, nullable=False),  # masked before it gets here
    Column("answered", Boolean, nullable=False),
    Column("helpful", Boolean, nullable=True),
    Index("ix_questions_created_on", "created_on"),
    Index("ix_questions_week", "week"),
)

question_clauses = Table(
    "question_clauses",
    metadata,
    Column(
        "question_id",
        Integer,
        ForeignKey("questions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("rank", Integer, primary_key=True),
    Column("policy_id", String(80), nullable=False),
    Column("clause_id", String(80), nullable=False),
    Column("score", Float, nullable=False),
    Index("ix_question_clauses_clause", "policy_id", "clause_id"),
)

acknowledgements = Table(
    "acknowledgements",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("platform", String(20), nullable=False),
    Column("workspace", String(200), nullable=False),
    Column("user_id", String(200), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", String(80), nullable=False),
    Column("text_sha256", String(64), nullable=False),
    Column("statement", Text, nullable=False),
    Column("campaign_id", String(200), nullable=False),  # "" when outside a campaign
    Column("source_event", String(200), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    UniqueConstraint(
        "platform",
        "workspace",
        "user_id",
        "policy_id",
        "policy_version",
        "campaign_id",
        name="uq_acknowledgements_once",
    ),
    Index("ix_acknowledgements_row_hash", "row_hash"),
)

ack_chain_head = Table(
    "ack_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("row_hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("policy_id", String(80), nullable=False),
    Column("version", String(80), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("policy_id", "version", "content_hash", name="uq_policy_versions_content"),
)

policy_clauses = Table(
    "policy_clauses",
    metadata,
    Column(
        "policy_version_id",
        Integer,
        ForeignKey("policy_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("clause_id", String(80), nullable=False),
    Column("section", JSON, nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("policy_version_id", "clause_id", name="uq_policy_clauses_id"),
)

delivery_ledger = Table(
    "delivery_ledger",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_delivery_ledger_expires_at", "expires_at"),
)
