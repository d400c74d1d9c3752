"""Conversation references, for messages PolicyBot starts (campaigns).

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_references",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.String(400), nullable=False),
        sa.Column("conversation_type", sa.String(40), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "platform",
            "tenant",
            "user_id",
            "conversation_id",
            name="pk_conversation_references",
        ),
    )


def downgrade() -> None:
    op.drop_table("conversation_references")
