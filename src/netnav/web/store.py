"""The plan store: every plan given is saved with its case, knowledge version and time.

Plans are immutable: :class:`PlanStore` inserts and reads, it never updates or deletes. A
re-run of a saved case under a newer knowledge version is a new plan that points back to the
plan it re-ran (``previous_plan_id``).

Storage is SQLite by default and PostgreSQL by URL (``postgresql+psycopg://…``); the schema
comes from the Alembic migrations, applied when the store opens.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import sessionmaker

from netnav import __version__
from netnav.plan import plan_json
from netnav.web.config import ServerConfigError
from netnav.web.db import SavedPlanRow
from netnav.web.migrate import upgrade

__all__ = ["PlanStore", "SavedPlan", "case_json", "new_plan_id"]

# Newest first; the list page shows this many per page.
PAGE_SIZE: Final = 50
# What new_plan_id makes: 32 lower-case hex digits.
PLAN_ID: Final = re.compile(r"[0-9a-f]{32}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_plan_id(now: datetime) -> str:
    """32 hex digits: milliseconds since 1970 (12) then 80 random bits (20).

    Ids sort by time of creation and cannot be guessed from one another.
    """
    ms = int(now.timestamp() * 1000)
    return f"{ms:012x}{secrets.randbits(80):020x}"


def case_json(case_doc: Mapping[str, Any]) -> str:
    """The stored text of a case document: its keys in the order given, so the saved case
    reads (and re-fills the form) as it was entered."""
    return json.dumps(case_doc, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan as read back from the store (texts exactly as stored)."""

    id: str
    case_id: str | None
    case_json: str
    plan_json: str
    knowledge_version: str
    netnav_version: str
    created_at: datetime
    previous_plan_id: str | None

    @cached_property
    def plan(self) -> dict[str, Any]:
        """The ``netnav-plan/1`` document."""
        value: dict[str, Any] = json.loads(self.plan_json)
        return value

    @cached_property
    def case(self) -> dict[str, Any]:
        """The ``netnav-case/1`` document."""
        value: dict[str, Any] = json.loads(self.case_json)
        return value

    @classmethod
    def from_row(cls, row: SavedPlanRow) -> SavedPlan:
        created = row.created_at
        if created.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
            created = created.replace(tzinfo=UTC)
        return cls(
            id=row.id,
            case_id=row.case_id,
            case_json=row.case_json,
            plan_json=row.plan_json,
            knowledge_version=row.knowledge_version,
            netnav_version=row.netnav_version,
            created_at=created,
            previous_plan_id=row.previous_plan_id,
        )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while a plan is written; busy_timeout waits for a writer
    # instead of failing at once under concurrent requests.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; the folder of a SQLite file is created if needed.

    Raises :class:`ServerConfigError` for a URL SQLAlchemy cannot use (the URL is not
    repeated: it may hold a password).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ServerConfigError(
            "NETNAV_DATABASE_URL is not a database URL; examples: sqlite:///path/netnav.db, "
            "postgresql+psycopg://user:password@host/dbname"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ServerConfigError(
                    f"cannot create the folder {str(folder)!r} of the SQLite plan database "
                    f"({exc.strerror or type(exc).__name__}); check NETNAV_DATABASE_URL"
                ) from None
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver netnav installs
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:  # unknown dialect or driver
        raise ServerConfigError(
            f"cannot use database URL of kind {parsed.drivername!r}: {type(exc).__name__}"
        ) from None


class PlanStore:
    """Saved plans in a SQL database (see module docstring).

    ``clock`` gives the saving time (UTC); tests pass a fixed one.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        migrate: bool = True,
    ) -> None:
        self.engine = open_engine(url)
        if migrate:
            try:
                upgrade(self.engine)
            except OperationalError as exc:
                self.engine.dispose()
                raise ServerConfigError(
                    f"cannot open the plan database ({type(exc.orig).__name__}); check "
                    "NETNAV_DATABASE_URL and that the database server is running"
                ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def save(
        self,
        case_doc: Mapping[str, Any],
        plan_doc: dict[str, Any],
        knowledge_version: str,
        *,
        previous_plan_id: str | None = None,
    ) -> SavedPlan:
        """Save one plan; returns it as stored (with its new id and time)."""
        now = self._clock()
        text = case_json(case_doc)
        case_id = case_doc.get("id")
        row = SavedPlanRow(
            id=new_plan_id(now),
            # NUL cannot be stored in a PostgreSQL text column (the loader refuses it anyway).
            case_id=case_id.replace("\x00", "")[:200] if isinstance(case_id, str) else None,
            case_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            case_json=text,
            plan_json=plan_json(plan_doc),
            knowledge_version=knowledge_version,
            netnav_version=__version__,
            created_at=now,
            previous_plan_id=previous_plan_id,
        )
        with self._sessions.begin() as session:
            session.add(row)
        return SavedPlan.from_row(row)

    def get(self, plan_id: str) -> SavedPlan | None:
        """The saved plan of that id, or None."""
        with self._sessions() as session:
            row = session.get(SavedPlanRow, plan_id)
            return SavedPlan.from_row(row) if row is not None else None

    def search(
        self, case_id: str | None = None, *, limit: int = PAGE_SIZE, offset: int = 0
    ) -> tuple[list[SavedPlan], int]:
        """Saved plans newest first, and how many match in all.

        ``case_id`` keeps plans whose case id contains it (case-insensitive).
        """
        query = select(SavedPlanRow)
        count = select(func.count()).select_from(SavedPlanRow)
        if case_id:
            escaped = case_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where = SavedPlanRow.case_id.ilike(f"%{escaped}%", escape="\\")
            query = query.where(where)
            count = count.where(where)
        query = query.order_by(SavedPlanRow.created_at.desc(), SavedPlanRow.id.desc())
        with self._sessions() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            total = session.scalar(count) or 0
            return [SavedPlan.from_row(r) for r in rows], total

    def reruns_of(self, plan_id: str) -> list[SavedPlan]:
        """Plans made by re-running ``plan_id``, newest first."""
        query = (
            select(SavedPlanRow)
            .where(SavedPlanRow.previous_plan_id == plan_id)
            .order_by(SavedPlanRow.created_at.desc(), SavedPlanRow.id.desc())
        )
        with self._sessions() as session:
            return [SavedPlan.from_row(r) for r in session.scalars(query).all()]

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except OperationalError:
            return False
