"""Alembic environment of the plan store: runs the migrations on the URL or connection given
by :mod:`netnav.web.migrate` (never reads an ``alembic.ini``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from netnav.web.db import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
