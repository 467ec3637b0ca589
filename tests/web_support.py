"""Shared builders and fixtures of the web tests (tests/test_web_*.py).

Fixtures (import the ``*_fixture`` function into a test module to use the fixture by its
name, e.g. ``from tests.web_support import web_fixture  # noqa: F401`` gives ``web``):

* ``clock``: a :class:`FixedClock` (starts at :data:`FIXED_START`, one second later per
  call, thread-safe), so "newest first" and saved times are known in advance;
* ``web``: a :class:`WebApp` (app on a fresh SQLite file in ``tmp_path``, its store, the
  clock, an entered ``TestClient``);
* ``database_url``: parametrized over ``sqlite`` (a file in ``tmp_path``) and
  ``postgresql`` (a fresh database on the session's private server, ``postgres_url`` of
  tests/services.py; skipped locally without PostgreSQL, failed with
  NETNAV_REQUIRE_SERVICES=1).

Builders: :func:`make_web`, :func:`example_case`, :func:`wrapper_documents`,
:func:`clinical_documents`, :func:`other_knowledge`, :func:`post_json`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from netnav.case import Case, case_from_mapping
from netnav.knowledge.load import Knowledge, default_knowledge
from netnav.web.app import create_app
from netnav.web.config import ServerConfig
from netnav.web.store import PlanStore

__all__ = [
    "CLINICAL_DIR",
    "EXAMPLE_PATH",
    "FIXED_START",
    "JSON",
    "PROBLEM_JSON",
    "FixedClock",
    "WebApp",
    "clinical_documents",
    "example_bytes",
    "example_case",
    "fresh_postgres_database",
    "make_web",
    "other_knowledge",
    "parse_case",
    "post_json",
    "saved_plan_id",
    "sqlite_url",
    "wrapper_documents",
]

ROOT: Final = Path(__file__).resolve().parents[1]
EXAMPLE_PATH: Final = ROOT / "examples" / "EX27-small-intestine-multifocal-g1.json"
WRAPPER_DIR: Final = ROOT / "tests" / "data" / "examples"
CLINICAL_DIR: Final = ROOT / "tests" / "data" / "clinical"
VIGNETTE_DIR: Final = ROOT / "tests" / "data" / "vignettes"

FIXED_START: Final = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
JSON: Final = {"Content-Type": "application/json"}
PROBLEM_JSON: Final = "application/problem+json"


class FixedClock:
    """A deterministic clock: :data:`FIXED_START`, then one ``step`` later at every call."""

    def __init__(self, start: datetime = FIXED_START, step: timedelta = timedelta(seconds=1)):
        self.start = start
        self.step = step
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self.start + self.calls * self.step
            self.calls += 1
            return now

    def time_of_call(self, n: int) -> datetime:
        """The time the ``n``-th call (0-based) returned."""
        return self.start + n * self.step


@dataclasses.dataclass
class WebApp:
    """An app under test with what built it."""

    app: FastAPI
    store: PlanStore
    clock: FixedClock
    knowledge: Knowledge
    client: TestClient


def sqlite_url(folder: Path, name: str = "netnav.db") -> str:
    return f"sqlite:///{folder / name}"


@contextlib.contextmanager
def make_web(
    database_url: str,
    *,
    config: ServerConfig | None = None,
    knowledge: Knowledge | None = None,
    store: PlanStore | None = None,
    clock: FixedClock | None = None,
    raise_server_exceptions: bool = True,
) -> Iterator[WebApp]:
    """An app on ``database_url`` (or on ``store``) with a running ``TestClient``.

    The store is closed on exit unless it was passed in.
    """
    clock = clock or FixedClock()
    kb = knowledge or default_knowledge()
    own_store = store is None
    plan_store = store or PlanStore(database_url, clock=clock)
    app = create_app(
        config or ServerConfig(database_url=database_url), knowledge=kb, store=plan_store
    )
    try:
        with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
            yield WebApp(app, plan_store, clock, kb, client)
    finally:
        if own_store:
            plan_store.close()


# --- cases -------------------------------------------------------------------------------


def example_bytes() -> bytes:
    """The bundled example case file (EX27), as bytes."""
    return EXAMPLE_PATH.read_bytes()


def example_case(case_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A fresh copy of the EX27 case document, with ``id`` and top-level keys replaced."""
    doc: dict[str, Any] = json.loads(example_bytes())
    if case_id is not None:
        doc["id"] = case_id
    doc.update(copy.deepcopy(changes))
    return doc


def wrapper_documents() -> list[Path]:
    """Wrapper documents (``{"id", "title", "source", "case": {...}}``) of tests/data."""
    return sorted(WRAPPER_DIR.glob("*.json"))


def clinical_documents() -> list[Path]:
    return sorted(CLINICAL_DIR.glob("*.json"))


def parse_case(doc: Mapping[str, Any]) -> Case:
    """The case of a document or wrapper, parsed by netnav's own loader."""
    inner = doc["case"] if "format" not in doc and isinstance(doc.get("case"), dict) else doc
    return case_from_mapping(inner)


def post_json(client: TestClient, url: str, doc: object, **kwargs: Any) -> httpx.Response:
    """POST ``doc`` as ``application/json``."""
    headers = {**JSON, **kwargs.pop("headers", {})}
    return client.post(url, content=json.dumps(doc).encode(), headers=headers, **kwargs)


def saved_plan_id(client: TestClient, doc: object) -> str:
    """POST ``doc`` to ``/v1/plans``; the id of the plan saved (asserts 201)."""
    response = post_json(client, "/v1/plans", doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- knowledge ---------------------------------------------------------------------------


def other_knowledge(version: str = "2099.1.0-test") -> Knowledge:
    """The packaged knowledge base under another version (rules and texts unchanged).

    ``Knowledge.version`` is its manifest's; a frozen pydantic model copy with the new
    version, put in a ``dataclasses.replace`` of the knowledge, changes nothing else.
    """
    kb = default_knowledge()
    assert kb.version != version
    return dataclasses.replace(kb, manifest=kb.manifest.model_copy(update={"version": version}))


# --- databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped afterwards.

    Each test gets its own database, so saved plans and migrations of one test never show
    in another.
    """
    base = make_url(server_url)
    name = f"netnav_t_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(name="clock")
def clock_fixture() -> FixedClock:
    return FixedClock()


@pytest.fixture(name="web")
def web_fixture(tmp_path: Path) -> Iterator[WebApp]:
    """The app on a fresh SQLite file, with a fixed clock (``web.clock``) and a client."""
    with make_web(sqlite_url(tmp_path)) as app:
        yield app


@pytest.fixture(name="database_url", params=["sqlite", "postgresql"])
def database_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("postgres_url")
    with fresh_postgres_database(server) as url:
        yield url
