"""CDS Hooks feedback: what clinicians did with netnav's cards (accepted or overridden, why).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("card_uuid", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("override_system", sa.String(500), nullable=True),
        sa.Column("override_code", sa.String(200), nullable=True),
        sa.Column("override_display", sa.Text(), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("client_iss", sa.String(500), nullable=True),
        sa.Column("client_sub", sa.String(500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_feedback_card_uuid", "cds_feedback", ["card_uuid"])
    op.create_index("ix_cds_feedback_received_at", "cds_feedback", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_cds_feedback_received_at", table_name="cds_feedback")
    op.drop_index("ix_cds_feedback_card_uuid", table_name="cds_feedback")
    op.drop_table("cds_feedback")
