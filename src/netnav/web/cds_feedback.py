"""CDS Hooks feedback (``POST /cds-services/{id}/feedback``): the request's shape and its store.

The CDS client reports what the clinician did with each card: ``accepted`` (with the
suggestions taken) or ``overridden`` (with a coded reason, often one of the card's
``overrideReasons``, and a comment). :class:`FeedbackStore` keeps each item as one row of
``cds_feedback`` (migration 0002) in the plan store's database; rows are never changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from netnav.web.db import CdsFeedbackRow

__all__ = ["FeedbackItem", "FeedbackRequest", "FeedbackStore", "StoredFeedback"]


class _Model(BaseModel):
    # Clients add their own fields (extensions); unknown ones are ignored, not an error.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Coding(_Model):
    """A FHIR Coding (the override reason)."""

    system: str | None = Field(default=None, max_length=500)
    code: str | None = Field(default=None, max_length=200)
    display: str | None = Field(default=None, max_length=2000)


class OverrideReason(_Model):
    """Why a card was overridden: a coded reason and/or the clinician's comment."""

    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=10_000)


class AcceptedSuggestion(_Model):
    id: str = Field(min_length=1, max_length=200)


class FeedbackItem(_Model):
    """One card's outcome."""

    card: str = Field(min_length=1, max_length=64)
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: AwareDatetime
    acceptedSuggestions: list[AcceptedSuggestion] = Field(default_factory=list, max_length=100)
    overrideReason: OverrideReason | None = None


class FeedbackRequest(_Model):
    """The feedback request body: ``{"feedback": [item, ...]}``."""

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


@dataclass(frozen=True)
class StoredFeedback:
    """A feedback row as read back."""

    id: int
    service_id: str
    card_uuid: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: list[str]
    override_system: str | None
    override_code: str | None
    override_display: str | None
    user_comment: str | None
    client_iss: str | None
    client_sub: str | None
    received_at: datetime

    @classmethod
    def from_row(cls, row: CdsFeedbackRow) -> StoredFeedback:
        return cls(
            id=row.id,
            service_id=row.service_id,
            card_uuid=row.card_uuid,
            outcome=row.outcome,
            outcome_timestamp=_aware(row.outcome_timestamp),
            accepted_suggestions=list(json.loads(row.accepted_suggestions)),
            override_system=row.override_system,
            override_code=row.override_code,
            override_display=row.override_display,
            user_comment=row.user_comment,
            client_iss=row.client_iss,
            client_sub=row.client_sub,
            received_at=_aware(row.received_at),
        )


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes; they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _clean(text: str | None) -> str | None:
    # NUL cannot be stored in a PostgreSQL text column.
    return text.replace("\x00", "") if text is not None else None


class FeedbackStore:
    """CDS feedback rows in the plan store's database (the engine of a migrated store)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock

    def save(
        self,
        service_id: str,
        request: FeedbackRequest,
        *,
        client_iss: str | None = None,
        client_sub: str | None = None,
    ) -> list[StoredFeedback]:
        """Store every item of ``request`` (one transaction); returns them as stored."""
        now = self._clock()
        rows = []
        for item in request.feedback:
            reason = item.overrideReason.reason if item.overrideReason else None
            rows.append(
                CdsFeedbackRow(
                    service_id=service_id,
                    card_uuid=_clean(item.card) or "",
                    outcome=item.outcome,
                    outcome_timestamp=item.outcomeTimestamp.astimezone(UTC),
                    accepted_suggestions=json.dumps(
                        [_clean(s.id) for s in item.acceptedSuggestions], ensure_ascii=False
                    ),
                    override_system=_clean(reason.system) if reason else None,
                    override_code=_clean(reason.code) if reason else None,
                    override_display=_clean(reason.display) if reason else None,
                    user_comment=_clean(item.overrideReason.userComment)
                    if item.overrideReason
                    else None,
                    client_iss=_clean(client_iss[:500]) if client_iss else None,
                    client_sub=_clean(client_sub[:500]) if client_sub else None,
                    received_at=now,
                )
            )
        with self._sessions.begin() as session:
            session.add_all(rows)
        return [StoredFeedback.from_row(r) for r in rows]

    def for_card(self, card_uuid: str) -> Sequence[StoredFeedback]:
        """The feedback on one card, oldest first."""
        query = (
            select(CdsFeedbackRow)
            .where(CdsFeedbackRow.card_uuid == card_uuid)
            .order_by(CdsFeedbackRow.id)
        )
        with self._sessions() as session:
            return [StoredFeedback.from_row(r) for r in session.scalars(query).all()]
