"""Schema migrations of the plan store (Alembic), callable from code and ``netnav db``.

``upgrade(url)`` brings an empty or older database to the current schema; it is what the
server runs at start-up, so a fresh SQLite file needs no set-up.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["alembic_config", "current_revision", "downgrade", "head_revision", "upgrade"]


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration for the packaged migrations, bound to ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("netnav.web") / "migrations"))
    # ConfigParser interpolation: a password holding '%' must be doubled.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database of ``engine`` up to ``revision`` (default: the newest)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate down to ``revision`` (``base`` removes every table of the store)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this netnav knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
