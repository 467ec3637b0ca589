"""The plan store on SQLite and PostgreSQL: texts kept byte for byte, newest first, case-id
search with literal wildcards, re-run links, no update or delete, concurrent saves, and
clear configuration errors that never show a password."""

from __future__ import annotations

import hashlib
import inspect
import json
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest

from netnav import __version__
from netnav.api import recommend
from netnav.plan import plan_json
from netnav.web.config import ServerConfigError
from netnav.web.store import PlanStore, case_json
from tests.web_support import (
    FIXED_START,
    FixedClock,
    database_url_fixture,  # noqa: F401
    example_case,
    parse_case,
)

KV = "2026.11.0-test"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(database_url: str, clock: FixedClock) -> Iterator[PlanStore]:
    plan_store = PlanStore(database_url, clock=clock)
    try:
        yield plan_store
    finally:
        plan_store.close()


def _plan(doc: dict[str, Any]) -> dict[str, Any]:
    return recommend(parse_case(doc))


@pytest.fixture(scope="module")
def a_plan() -> dict[str, Any]:
    return _plan(example_case())


def _save(store: PlanStore, case_id: str | None, plan: dict[str, Any], **kw: Any) -> str:
    doc = example_case()
    if case_id is None:
        del doc["id"]
    else:
        doc["id"] = case_id
    return store.save(doc, plan, KV, **kw).id


# --- round trip -------------------------------------------------------------------------


def test_save_and_get_keep_the_texts_byte_for_byte(store: PlanStore, clock: FixedClock) -> None:
    doc = example_case("RT-1 µ–é 🧪")
    doc["treatments"][0]["details"] = 'Whipple – 2 cm, Ki-67 ≤ 2 %\n"quoted" \\ back\tslash'
    plan = _plan(doc)

    saved = store.save(doc, plan, KV)
    read = store.get(saved.id)

    assert read is not None
    assert read == saved
    assert read.case_json == case_json(doc)
    assert read.case_json.encode("utf-8") == case_json(doc).encode("utf-8")
    assert read.plan_json == plan_json(plan)
    assert read.case == doc
    assert list(read.case) == list(doc)  # keys in the order given
    assert read.plan == json.loads(plan_json(plan))
    assert read.case_id == "RT-1 µ–é 🧪"
    assert read.knowledge_version == KV
    assert read.netnav_version == __version__
    assert read.created_at == FIXED_START
    assert read.created_at.utcoffset() == timedelta(0)
    assert read.previous_plan_id is None
    assert store.get("f" * 32) is None


def test_plan_id_starts_with_the_saving_time(store: PlanStore, a_plan: dict[str, Any]) -> None:
    plan_id = _save(store, "ID-1", a_plan)
    assert len(plan_id) == 32
    assert int(plan_id[:12], 16) == int(FIXED_START.timestamp() * 1000)


def test_case_without_id_is_saved_without_one(store: PlanStore, a_plan: dict[str, Any]) -> None:
    plan_id = _save(store, None, a_plan)
    saved = store.get(plan_id)
    assert saved is not None
    assert saved.case_id is None
    assert "id" not in saved.case


# --- listing and search ------------------------------------------------------------------


def test_search_lists_newest_first(
    store: PlanStore, clock: FixedClock, a_plan: dict[str, Any]
) -> None:
    ids = [_save(store, f"LIST-{n}", a_plan) for n in range(5)]

    plans, total = store.search()

    assert total == 5
    assert [p.id for p in plans] == ids[::-1]
    assert [p.created_at for p in plans] == [clock.time_of_call(n) for n in (4, 3, 2, 1, 0)]
    page, total = store.search(limit=2, offset=1)
    assert total == 5
    assert [p.id for p in page] == [ids[3], ids[2]]
    assert store.search(limit=2, offset=10) == ([], 5)


def test_same_time_saves_are_ordered_by_id(database_url: str, a_plan: dict[str, Any]) -> None:
    fixed = FixedClock(step=timedelta(0))
    plan_store = PlanStore(database_url, clock=fixed)
    try:
        ids = [_save(plan_store, f"SAME-{n}", a_plan) for n in range(4)]
        plans, _ = plan_store.search()
        assert [p.id for p in plans] == sorted(ids, reverse=True)
        assert {p.created_at for p in plans} == {FIXED_START}
    finally:
        plan_store.close()


def test_search_by_case_id_substring_is_case_insensitive(
    store: PlanStore, a_plan: dict[str, Any]
) -> None:
    ids = {cid: _save(store, cid, a_plan) for cid in ("NET-Alpha-1", "net-alphabet", "Beta", None)}

    def found(query: str | None) -> list[str | None]:
        plans, total = store.search(query)
        assert total == len(plans)
        return [p.case_id for p in plans]

    assert found("ALPHA") == ["net-alphabet", "NET-Alpha-1"]
    assert found("alpha-1") == ["NET-Alpha-1"]
    assert found("bet") == ["Beta", "net-alphabet"]
    assert found("gamma") == []
    assert found(None) == [None, "Beta", "net-alphabet", "NET-Alpha-1"]
    assert found("") == found(None)
    assert len(ids) == 4


def test_search_wildcards_are_literal(store: PlanStore, a_plan: dict[str, Any]) -> None:
    for cid in ("50%_off", "50x-off", "a_b", "axb", "back\\slash", "backslash"):
        _save(store, cid, a_plan)

    def found(query: str) -> set[str | None]:
        return {p.case_id for p in store.search(query)[0]}

    assert found("%") == {"50%_off"}
    assert found("_") == {"50%_off", "a_b"}
    assert found("a_b") == {"a_b"}
    assert found("50%") == {"50%_off"}
    assert found("%_") == {"50%_off"}
    assert found("\\") == {"back\\slash"}
    assert found("k\\s") == {"back\\slash"}


# --- re-runs and immutability ------------------------------------------------------------


def test_reruns_of_lists_the_linked_plans_newest_first(
    store: PlanStore, a_plan: dict[str, Any]
) -> None:
    first = _save(store, "RR", a_plan)
    second = _save(store, "RR", a_plan, previous_plan_id=first)
    third = _save(store, "RR", a_plan, previous_plan_id=first)
    fourth = _save(store, "RR", a_plan, previous_plan_id=second)

    assert [p.id for p in store.reruns_of(first)] == [third, second]
    assert [p.id for p in store.reruns_of(second)] == [fourth]
    assert store.reruns_of(fourth) == []
    saved = store.get(third)
    assert saved is not None and saved.previous_plan_id == first


def test_store_has_no_update_or_delete() -> None:
    public = {
        name
        for name, member in inspect.getmembers(PlanStore)
        if not name.startswith("_") and callable(member)
    }
    assert public == {"close", "get", "ping", "reruns_of", "save", "search"}
    for word in ("update", "delete", "remove", "replace", "edit", "modify", "put", "patch"):
        assert not [name for name in dir(PlanStore) if word in name.lower()], word


def test_saving_the_same_case_twice_gives_two_plans(
    store: PlanStore, a_plan: dict[str, Any]
) -> None:
    doc = example_case("TWICE")
    one = store.save(doc, a_plan, KV)
    two = store.save(doc, a_plan, KV)

    assert one.id != two.id
    assert store.search("TWICE")[1] == 2
    first, second = store.get(one.id), store.get(two.id)
    assert first is not None and second is not None
    assert first.case_json == second.case_json
    assert first.created_at < second.created_at
    digest = hashlib.sha256(case_json(doc).encode()).hexdigest()
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT case_sha256 FROM saved_plans WHERE case_id = 'TWICE'"
        ).all()
    assert [r[0] for r in rows] == [digest, digest]


def test_concurrent_saves_from_8_threads(store: PlanStore, a_plan: dict[str, Any]) -> None:
    per_thread = 5
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for k in range(per_thread):
                plan_id = _save(store, f"T{n}-{k}", a_plan)
                with lock:
                    ids.append(plan_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert len(ids) == len(set(ids)) == 8 * per_thread
    assert store.search(limit=200)[1] == 8 * per_thread
    for plan_id in ids:
        saved = store.get(plan_id)
        assert saved is not None
        assert saved.plan == json.loads(plan_json(a_plan))
    assert {p.case_id for p in store.search(limit=200)[0]} == {
        f"T{n}-{k}" for n in range(8) for k in range(per_thread)
    }


def test_ping(store: PlanStore) -> None:
    assert store.ping() is True


# --- configuration errors ----------------------------------------------------------------

SECRET = "S3cretPw-91x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a database url", "NETNAV_DATABASE_URL is not a database URL"),
        (f"nosuchdb://netnav:{SECRET}@db.example/netnav", "cannot use database URL of kind"),
        (f"mysql+nodriver://netnav:{SECRET}@db.example/netnav", "cannot use database URL of kind"),
        ("sqlite:////dev/null/netnav.db", "cannot create the folder '/dev/null'"),
    ],
)
def test_bad_url_is_a_clear_config_error(url: str, expected: str) -> None:
    with pytest.raises(ServerConfigError) as caught:
        PlanStore(url)
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)


def test_unreachable_postgresql_is_a_config_error_without_the_password() -> None:
    url = f"postgresql+psycopg://netnav:{SECRET}@127.0.0.1:1/netnav"

    with pytest.raises(ServerConfigError) as caught:
        PlanStore(url)

    message = str(caught.value)
    assert message.startswith("cannot open the plan database (OperationalError)")
    assert "NETNAV_DATABASE_URL" in message
    assert SECRET not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_plain_postgresql_url_uses_psycopg() -> None:
    url = f"postgresql://netnav:{SECRET}@127.0.0.1:1/netnav"
    with pytest.raises(ServerConfigError) as caught:
        PlanStore(url)
    assert "OperationalError" in str(caught.value)  # reached the server: the driver loaded
    assert SECRET not in str(caught.value)


def test_created_at_is_utc(store: PlanStore, a_plan: dict[str, Any]) -> None:
    saved = store.get(_save(store, "UTC", a_plan))
    assert saved is not None
    assert saved.created_at.tzinfo is not None
    assert saved.created_at.astimezone(UTC) == FIXED_START
