"""Initial schema: question log, acknowledgements (append-only), policy versions, ledger.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{action} BEFORE {action.upper()} ON {table}
    BEGIN SELECT RAISE(ABORT, 'PolicyBot: {table} is append-only'); END"""
    for table, action in (
        ("acknowledgements", "update"),
        ("acknowledgements", "delete"),
        ("ack_chain_head", "delete"),
    )
]

_POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION policybot_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'PolicyBot: % is append-only', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER acknowledgements_no_change BEFORE UPDATE OR DELETE ON acknowledgements
    FOR EACH ROW EXECUTE FUNCTION policybot_append_only()""",
    """CREATE TRIGGER acknowledgements_no_truncate BEFORE TRUNCATE ON acknowledgements
    FOR EACH STATEMENT EXECUTE FUNCTION policybot_append_only()""",
    """CREATE TRIGGER ack_chain_head_no_delete BEFORE DELETE ON ack_chain_head
    FOR EACH ROW EXECUTE FUNCTION policybot_append_only()""",
    """CREATE TRIGGER ack_chain_head_no_truncate BEFORE TRUNCATE ON ack_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION policybot_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("asker", sa.String(64), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
    )
    op.create_index("ix_questions_created_on", "questions", ["created_on"])
    op.create_index("ix_questions_week", "questions", ["week"])

    op.create_table(
        "question_clauses",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(80), nullable=False),
        sa.Column("clause_id", sa.String(80), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["questions.id"],
            name="fk_question_clauses_question_id_questions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("question_id", "rank", name="pk_question_clauses"),
    )
    op.create_index("ix_question_clauses_clause", "question_clauses", ["policy_id", "clause_id"])

    op.create_table(
        "acknowledgements",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("policy_id", sa.String(80), nullable=False),
        sa.Column("policy_version", sa.String(80), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.String(200), nullable=False),
        sa.Column("source_event", sa.String(200), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_acknowledgements"),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "user_id",
            "policy_id",
            "policy_version",
            "campaign_id",
            name="uq_acknowledgements_once",
        ),
    )
    op.create_index("ix_acknowledgements_row_hash", "acknowledgements", ["row_hash"])

    op.create_table(
        "ack_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ack_chain_head_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_ack_chain_head"),
    )
    op.execute(f"INSERT INTO ack_chain_head (id, seq, row_hash) VALUES (1, 0, '{GENESIS_HASH}')")

    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_id", sa.String(80), nullable=False),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_versions"),
        sa.UniqueConstraint(
            "policy_id", "version", "content_hash", name="uq_policy_versions_content"
        ),
    )

    op.create_table(
        "policy_clauses",
        sa.Column("policy_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("clause_id", sa.String(80), nullable=False),
        sa.Column("section", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["policy_versions.id"],
            name="fk_policy_clauses_policy_version_id_policy_versions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_version_id", "position", name="pk_policy_clauses"),
        sa.UniqueConstraint("policy_version_id", "clause_id", name="uq_policy_clauses_id"),
    )

    op.create_table(
        "delivery_ledger",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_delivery_ledger"),
    )
    op.create_index("ix_delivery_ledger_expires_at", "delivery_ledger", ["expires_at"])

    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION policybot_append_only() CASCADE")
    for table in (
        "delivery_ledger",
        "policy_clauses",
        "policy_versions",
        "ack_chain_head",
        "acknowledgements",
        "question_clauses",
        "questions",
    ):
        op.drop_table(table)
