"""Saved plans: the case, the plan, the knowledge version and the time of each plan given.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=True),
        sa.Column("case_sha256", sa.String(64), nullable=False),
        sa.Column("case_json", sa.Text(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("knowledge_version", sa.String(64), nullable=False),
        sa.Column("netnav_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "previous_plan_id",
            sa.String(32),
            sa.ForeignKey("saved_plans.id", name="fk_saved_plans_previous"),
            nullable=True,
        ),
    )
    op.create_index("ix_saved_plans_case_id", "saved_plans", ["case_id"])
    op.create_index("ix_saved_plans_created_at", "saved_plans", ["created_at"])
    op.create_index("ix_saved_plans_case_sha256", "saved_plans", ["case_sha256"])


def downgrade() -> None:
    op.drop_index("ix_saved_plans_case_sha256", table_name="saved_plans")
    op.drop_index("ix_saved_plans_created_at", table_name="saved_plans")
    op.drop_index("ix_saved_plans_case_id", table_name="saved_plans")
    op.drop_table("saved_plans")
