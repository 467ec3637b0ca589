"""The plan store's tables (SQLAlchemy 2 declarative models).

A saved plan is immutable: the store inserts rows and never updates or deletes them. The
schema is created and changed only by the Alembic migrations in ``netnav/web/migrations``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "CdsFeedbackRow", "SavedPlanRow"]


class Base(DeclarativeBase):
    pass


class SavedPlanRow(Base):
    """One plan as it was given: the case, the plan document, and what decided it.

    ``case_json`` and ``plan_json`` are the exact texts (the plan as ``plan_json`` writes it,
    so what was advised can be shown byte for byte); ``case_sha256`` finds earlier plans of
    the same case; ``previous_plan_id`` links a re-run to the plan it re-ran.
    """

    __tablename__ = "saved_plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str | None] = mapped_column(String(200))
    case_sha256: Mapped[str] = mapped_column(String(64))
    case_json: Mapped[str] = mapped_column(Text)
    plan_json: Mapped[str] = mapped_column(Text)
    knowledge_version: Mapped[str] = mapped_column(String(64))
    netnav_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    previous_plan_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("saved_plans.id", name="fk_saved_plans_previous")
    )

    __table_args__ = (
        Index("ix_saved_plans_case_id", "case_id"),
        Index("ix_saved_plans_created_at", "created_at"),
        Index("ix_saved_plans_case_sha256", "case_sha256"),
    )


class CdsFeedbackRow(Base):
    """One CDS Hooks feedback item: what a clinician did with a card (accepted, overridden).

    ``card_uuid`` is the card's id as the service gave it; ``accepted_suggestions`` the JSON
    list of suggestion ids; ``override_*`` the coded reason and the comment of an override;
    ``client_iss``/``client_sub`` the CDS client (JWT) that sent it. Rows are never changed.
    """

    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(String(64))
    card_uuid: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_suggestions: Mapped[str] = mapped_column(Text)
    override_system: Mapped[str | None] = mapped_column(String(500))
    override_code: Mapped[str | None] = mapped_column(String(200))
    override_display: Mapped[str | None] = mapped_column(Text)
    user_comment: Mapped[str | None] = mapped_column(Text)
    client_iss: Mapped[str | None] = mapped_column(String(500))
    client_sub: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_cds_feedback_card_uuid", "card_uuid"),
        Index("ix_cds_feedback_received_at", "received_at"),
    )
