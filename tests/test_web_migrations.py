"""The plan store's Alembic migrations on SQLite and PostgreSQL: up from empty, down to
base, up again, 0001 → 0002 (CDS Hooks feedback) with plans kept, and the migrated schema
equal to the SQLAlchemy model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from netnav.web.db import Base
from netnav.web.migrate import current_revision, downgrade, head_revision, upgrade
from netnav.web.store import PlanStore, open_engine
from tests.web_support import database_url_fixture, example_case  # noqa: F401

INDEXES = {"ix_saved_plans_case_id", "ix_saved_plans_created_at", "ix_saved_plans_case_sha256"}
FEEDBACK_INDEXES = {"ix_cds_feedback_card_uuid", "ix_cds_feedback_received_at"}
HEAD = "0002"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = open_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_head_is_the_cds_feedback_migration(engine: Engine) -> None:
    assert head_revision(engine) == HEAD


def test_upgrade_from_empty_creates_the_store(engine: Engine) -> None:
    assert _tables(engine) == set()
    assert current_revision(engine) is None

    upgrade(engine)

    assert _tables(engine) == {"saved_plans", "cds_feedback", "alembic_version"}
    assert current_revision(engine) == head_revision(engine) == HEAD
    columns = {c["name"]: c for c in inspect(engine).get_columns("saved_plans")}
    assert set(columns) == {
        "id",
        "case_id",
        "case_sha256",
        "case_json",
        "plan_json",
        "knowledge_version",
        "netnav_version",
        "created_at",
        "previous_plan_id",
    }
    assert [n for n, c in columns.items() if c["nullable"]] == ["case_id", "previous_plan_id"]
    assert {i["name"] for i in inspect(engine).get_indexes("saved_plans")} == INDEXES
    [fk] = inspect(engine).get_foreign_keys("saved_plans")
    assert fk["name"] == "fk_saved_plans_previous"
    assert fk["referred_table"] == "saved_plans"
    assert fk["constrained_columns"] == ["previous_plan_id"]


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert _differences(engine) == []


def test_downgrade_to_base_removes_the_table_and_upgrade_works_again(
    engine: Engine, database_url: str
) -> None:
    upgrade(engine)

    downgrade(engine, "base")

    assert _tables(engine) <= {"alembic_version"}
    assert current_revision(engine) is None

    upgrade(engine)

    assert {"saved_plans", "cds_feedback"} <= _tables(engine)
    assert current_revision(engine) == HEAD
    assert _differences(engine) == []
    store = PlanStore(database_url)  # migrates on open: already at head
    try:
        saved = store.save(example_case("AFTER-REUPGRADE"), {"format": "netnav-plan/1"}, "kv")
        assert store.get(saved.id) == saved
    finally:
        store.close()


def test_migrated_database_matches_the_model(engine: Engine) -> None:
    upgrade(engine)

    assert _differences(engine) == []


def test_model_differences_are_detected(engine: Engine) -> None:
    # The comparison itself works: an empty database differs from the model.
    differences = _differences(engine)
    kinds = sorted(d[0] for d in differences if isinstance(d, tuple))
    assert kinds == ["add_index"] * 5 + ["add_table"] * 2


def test_plan_store_opening_migrates_an_empty_database(database_url: str) -> None:
    store = PlanStore(database_url)
    try:
        assert current_revision(store.engine) == HEAD
        assert _differences(store.engine) == []
    finally:
        store.close()


def test_cds_feedback_table(engine: Engine) -> None:
    upgrade(engine)

    columns = {c["name"]: c for c in inspect(engine).get_columns("cds_feedback")}
    assert set(columns) == {
        "id",
        "service_id",
        "card_uuid",
        "outcome",
        "outcome_timestamp",
        "accepted_suggestions",
        "override_system",
        "override_code",
        "override_display",
        "user_comment",
        "client_iss",
        "client_sub",
        "received_at",
    }
    assert sorted(n for n, c in columns.items() if c["nullable"]) == [
        "client_iss",
        "client_sub",
        "override_code",
        "override_display",
        "override_system",
        "user_comment",
    ]
    assert {i["name"] for i in inspect(engine).get_indexes("cds_feedback")} == FEEDBACK_INDEXES


def test_upgrade_from_0001_keeps_the_plans_and_downgrade_to_0001_drops_only_feedback(
    engine: Engine, database_url: str
) -> None:
    upgrade(engine, "0001")
    assert _tables(engine) == {"saved_plans", "alembic_version"}
    store = PlanStore(database_url, migrate=False)
    try:
        saved = store.save(example_case("BEFORE-0002"), {"format": "netnav-plan/1"}, "kv")
    finally:
        store.close()

    upgrade(engine)

    assert current_revision(engine) == HEAD
    assert _differences(engine) == []
    store = PlanStore(database_url)
    try:
        assert store.get(saved.id) == saved
    finally:
        store.close()

    downgrade(engine, "0001")

    assert _tables(engine) == {"saved_plans", "alembic_version"}
    assert current_revision(engine) == "0001"
