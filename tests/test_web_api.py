"""The /v1 JSON API in-process: plans saved and read back, explain, rules, the case schema,
health, re-runs under another knowledge version, and every error as RFC 9457 problem details
(with the same messages as ``netnav validate``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from netnav import __version__
from netnav.api import explain, recommend
from netnav.plan import plan_json
from netnav.web.problems import PROBLEM_TYPES
from tests.web_support import (
    CLINICAL_DIR,
    EXAMPLE_PATH,
    FIXED_START,
    JSON,
    PROBLEM_JSON,
    WebApp,
    example_bytes,
    example_case,
    make_web,
    other_knowledge,
    parse_case,
    post_json,
    web_fixture,  # noqa: F401
    wrapper_documents,
)

ROOT = Path(__file__).resolve().parents[1]
PLAN_ID = re.compile(r"^[0-9a-f]{32}$")
# A pancreatic NET after a worsening SSA test dose: everolimus offered, lanreotide avoided.
EXPLAIN_CASE = CLINICAL_DIR / "pa04_insulinoma_test_worsened.json"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """An RFC 9457 answer of the problem type ``slug``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    kind = PROBLEM_TYPES[slug]
    assert body["type"] == f"/problems/{slug}"
    assert body["title"] == kind.title
    assert body["status"] == status == kind.status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def saved(web: WebApp, doc: Any) -> dict[str, Any]:
    response = post_json(web.client, "/v1/plans", doc)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- POST /v1/plans and GET /v1/plans/{id} -------------------------------------------------


def test_post_plan_saves_the_plan_recommend_gives(web: WebApp) -> None:
    response = web.client.post("/v1/plans", content=example_bytes(), headers=JSON)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert PLAN_ID.match(body["id"])
    assert response.headers["location"] == f"/v1/plans/{body['id']}"
    case_doc = json.loads(example_bytes())
    expected = recommend(parse_case(case_doc), web.knowledge)
    assert body["plan"] == expected
    assert body == {
        "id": body["id"],
        "url": f"/v1/plans/{body['id']}",
        "page": f"/plans/{body['id']}",
        "case_id": "EX27",
        "knowledge_version": web.knowledge.version,
        "netnav_version": __version__,
        "created_at": FIXED_START.isoformat(),
        "previous_plan_id": None,
        "plan": expected,
    }
    # Stored byte for byte as the command line writes it.
    stored = web.store.get(body["id"])
    assert stored is not None
    assert stored.plan_json == plan_json(expected)


def test_saved_plan_reads_back_identical_with_its_case(web: WebApp) -> None:
    created = saved(web, json.loads(example_bytes()))

    response = web.client.get(created["url"])

    assert response.status_code == 200
    body = response.json()
    assert body["plan"] == created["plan"]
    assert body["case"] == json.loads(EXAMPLE_PATH.read_bytes())
    assert {k: v for k, v in body.items() if k != "case"} == created


@pytest.mark.parametrize("path", wrapper_documents(), ids=lambda p: p.stem)
def test_wrapper_documents_are_accepted_and_the_inner_case_saved(web: WebApp, path: Path) -> None:
    doc = json.loads(path.read_bytes())
    assert "format" not in doc and "case" in doc  # a wrapper, not a bare case

    response = web.client.post("/v1/plans", content=path.read_bytes(), headers=JSON)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["plan"] == recommend(parse_case(doc), web.knowledge)
    assert body["case_id"] == doc["case"]["id"]
    again = web.client.get(body["url"]).json()
    assert again["case"] == doc["case"]
    assert again["plan"] == body["plan"]


def test_json_media_type_with_charset_and_plus_json_are_accepted(web: WebApp) -> None:
    for media in ("application/json; charset=utf-8", "application/vnd.netnav+json"):
        response = web.client.post(
            "/v1/plans", content=example_bytes(), headers={"Content-Type": media}
        )
        assert response.status_code == 201, media


def test_unknown_plan_id_is_a_404_problem(web: WebApp) -> None:
    for plan_id in ("0" * 32, "no-such-plan", "x" * 300):
        body = assert_problem(web.client.get(f"/v1/plans/{plan_id}"), 404, "not-found")
        assert body["detail"] == "no saved plan has this id"
    body = assert_problem(web.client.post(f"/v1/plans/{'0' * 32}/rerun"), 404, "not-found")
    assert body["detail"] == "no saved plan has this id"


def test_unknown_api_path_is_a_404_problem(web: WebApp) -> None:
    body = assert_problem(web.client.get("/v1/nothing-here"), 404, "not-found")
    assert body["detail"] == "no such resource in this API"


# --- GET /v1/plans ----------------------------------------------------------------------


def test_list_is_newest_first_without_plan_documents(web: WebApp) -> None:
    ids = [saved(web, example_case(case_id))["id"] for case_id in ("ALPHA-1", "beta-2", "Alpha-3")]

    response = web.client.get("/v1/plans")

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [p["id"] for p in body["plans"]] == ids[::-1]
    assert [p["case_id"] for p in body["plans"]] == ["Alpha-3", "beta-2", "ALPHA-1"]
    assert [p["created_at"] for p in body["plans"]] == [
        web.clock.time_of_call(n).isoformat() for n in (2, 1, 0)
    ]
    assert all("plan" not in p and "case" not in p for p in body["plans"])


def test_list_searches_case_ids_case_insensitively_and_pages(web: WebApp) -> None:
    ids = [saved(web, example_case(case_id))["id"] for case_id in ("ALPHA-1", "beta-2", "Alpha-3")]

    found = web.client.get("/v1/plans", params={"case_id": "alpha"}).json()
    assert found["total"] == 2
    assert [p["id"] for p in found["plans"]] == [ids[2], ids[0]]

    page = web.client.get("/v1/plans", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3
    assert [p["id"] for p in page["plans"]] == [ids[1]]

    nothing = web.client.get("/v1/plans", params={"case_id": "gamma"}).json()
    assert nothing == {"total": 0, "plans": []}


def test_list_parameters_out_of_range_are_422_problems(web: WebApp) -> None:
    body = assert_problem(web.client.get("/v1/plans", params={"limit": 0}), 422, "invalid-request")
    assert body["errors"][0]["path"] == "limit"
    assert body["detail"].startswith("limit: ")
    assert_problem(web.client.get("/v1/plans", params={"offset": -1}), 422, "invalid-request")


# --- POST /v1/explain -------------------------------------------------------------------


@pytest.fixture
def explain_case() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXPLAIN_CASE.read_bytes())
    plan = recommend(parse_case(doc))
    assert plan["options"][0]["id"] == "everolimus"
    assert "lanreotide" in [a["id"] for a in plan["avoid"]]
    return doc


@pytest.mark.parametrize(
    ("option", "status"), [("everolimus", "recommended"), ("lanreotide", "avoid")]
)
def test_explain_gives_the_status_and_tree_of_netnav_explain(
    web: WebApp, explain_case: dict[str, Any], option: str, status: str
) -> None:
    response = post_json(web.client, "/v1/explain", {"case": explain_case, "option": option})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == status
    assert body["option"] == option
    assert body["knowledge_version"] == web.knowledge.version
    expected = explain(parse_case(explain_case), option, web.knowledge)
    assert body == json.loads(json.dumps(expected))


def test_explain_unknown_option_is_422_unknown_option(
    web: WebApp, explain_case: dict[str, Any]
) -> None:
    response = post_json(
        web.client, "/v1/explain", {"case": explain_case, "option": "no_such_drug"}
    )

    body = assert_problem(response, 422, "unknown-option")
    assert "no_such_drug" in body["detail"]
    assert [(e["path"], e["value"]) for e in body["errors"]] == [("option", "no_such_drug")]


def test_explain_request_problems_are_all_listed(web: WebApp) -> None:
    response = post_json(web.client, "/v1/explain", {"options": "everolimus"})

    body = assert_problem(response, 422, "invalid-request")
    assert [e["path"] for e in body["errors"]] == ["option", "case", "options"]


def test_explain_invalid_case_paths_are_under_case(web: WebApp) -> None:
    bad = example_case(patient={"age_years": 400, "sex": "male"})

    response = post_json(web.client, "/v1/explain", {"case": bad, "option": "everolimus"})

    body = assert_problem(response, 422, "invalid-case")
    assert [e["path"] for e in body["errors"]] == ["case.patient.age_years"]


# --- GET /v1/knowledge/rules/{id}, /v1/schema/case, /healthz --------------------------------


def test_rule_lookup_is_case_insensitive(web: WebApp) -> None:
    rule = web.knowledge.rules[0]
    rule_id = rule.spec.id

    answers = [web.client.get(f"/v1/knowledge/rules/{v}") for v in (rule_id, rule_id.lower())]

    for response in answers:
        assert response.status_code == 200
        assert response.json() == {
            "id": rule_id,
            "knowledge_version": web.knowledge.version,
            "file": rule.file,
            "rule": json.loads(
                json.dumps(rule.spec.model_dump(mode="json", exclude_defaults=True))
            ),
        }


def test_unknown_rule_is_a_404_problem(web: WebApp) -> None:
    body = assert_problem(web.client.get("/v1/knowledge/rules/NO-SUCH-RULE"), 404, "not-found")
    assert body["detail"] == "no rule of the knowledge base has this id"


def test_case_schema_is_the_packaged_schema(web: WebApp) -> None:
    response = web.client.get("/v1/schema/case")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    packaged = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    assert response.json() == json.loads(packaged)


def test_healthz_names_the_versions(web: WebApp) -> None:
    response = web.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "netnav_version": __version__,
        "knowledge_version": web.knowledge.version,
        "database": "ok",
    }


def test_healthz_is_503_when_the_database_does_not_answer(web: WebApp) -> None:
    web.store.ping = lambda: False  # type: ignore[method-assign]

    response = web.client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


# --- errors -----------------------------------------------------------------------------


def test_malformed_json_is_a_400_problem(web: WebApp) -> None:
    response = web.client.post("/v1/plans", content=b'{"format": "netnav-case/1",', headers=JSON)

    body = assert_problem(response, 400, "malformed-request")
    assert "not valid JSON" in body["detail"]
    assert web.store.search()[1] == 0


def test_explain_malformed_json_is_a_400_problem(web: WebApp) -> None:
    response = web.client.post("/v1/explain", content=b"[1, 2", headers=JSON)

    body = assert_problem(response, 400, "malformed-request")
    assert body["detail"].startswith("the body is not valid JSON")


def _bad_case() -> dict[str, Any]:
    """A case with several problems of different kinds."""
    doc = example_case("BAD-1")
    doc["patient"] = {"age_years": 400, "sex": "robot"}
    doc["tumor"]["ki67_percent"] = 150
    doc["tumor"]["colour"] = "blue"
    doc["as_of"] = "2026-13-40"
    return doc


def _cli_problems(path: Path) -> list[str]:
    """The problem lines ``netnav validate`` prints for ``path``."""
    proc = subprocess.run(
        [sys.executable, "-m", "netnav", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    head, *lines = proc.stderr.splitlines()
    assert head.startswith("netnav: invalid case (")
    return [line.removeprefix("  ") for line in lines]


def test_invalid_case_lists_every_problem_as_netnav_validate_does(
    web: WebApp, tmp_path: Path
) -> None:
    doc = _bad_case()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cli = _cli_problems(path)
    assert len(cli) >= 5

    response = post_json(web.client, "/v1/plans", doc)

    body = assert_problem(response, 422, "invalid-case")
    assert [e["detail"] for e in body["errors"]] == cli
    assert body["detail"].startswith(f"{len(cli)} problems with the case: {cli[0]}; ")
    paths = [e["path"] for e in body["errors"]]
    assert {"patient.age_years", "patient.sex", "tumor.ki67_percent", "as_of"} <= set(paths)
    ages = [e for e in body["errors"] if e["path"] == "patient.age_years"]
    assert ages[0]["value"] == 400
    assert web.store.search()[1] == 0


def test_invalid_wrapper_case_paths_match_netnav_validate(web: WebApp, tmp_path: Path) -> None:
    doc = {"id": "W", "title": "wrapper", "case": _bad_case()}
    path = tmp_path / "bad-wrapper.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    body = assert_problem(post_json(web.client, "/v1/plans", doc), 422, "invalid-case")

    assert [e["detail"] for e in body["errors"]] == _cli_problems(path)
    assert all(e["path"].startswith("case.") for e in body["errors"])


@pytest.mark.parametrize("url", ["/v1/plans", "/v1/explain"])
@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_a_415_problem(web: WebApp, url: str, media: str | None) -> None:
    headers = {"Content-Type": media} if media else {}

    response = web.client.post(url, content=example_bytes(), headers=headers)

    body = assert_problem(response, 415, "unsupported-media-type")
    assert body["detail"] == (
        f"content type {(media or 'none')!r} is not accepted; send application/json"
        + (" (or a FHIR Bundle as application/fhir+json)" if url == "/v1/plans" else "")
    )
    assert web.store.search()[1] == 0


def _oversized() -> bytes:
    """A valid-looking case document just over 1 MB (1,048,576 bytes)."""
    doc = example_case("BIG")
    doc["extensions"] = {"padding": "x" * 1_048_576}
    data = json.dumps(doc).encode()
    assert len(data) > 1_048_576
    return data


def test_body_over_1_mb_with_content_length_is_a_413_problem(web: WebApp) -> None:
    response = web.client.post("/v1/plans", content=_oversized(), headers=JSON)

    body = assert_problem(response, 413, "body-too-large")
    assert body["detail"] == "the request body is over 1,048,576 bytes; nothing was read or saved"
    assert web.store.search()[1] == 0


def test_body_over_1_mb_chunked_without_length_is_a_413_problem(web: WebApp) -> None:
    data = _oversized()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    response = web.client.post("/v1/plans", content=chunks(), headers=JSON)

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "body-too-large")
    assert web.store.search()[1] == 0


def test_body_of_exactly_1_mb_is_read(web: WebApp) -> None:
    doc = example_case("EXACT")
    doc["extensions"] = {"padding": ""}
    base = len(json.dumps(doc).encode())
    doc["extensions"] = {"padding": "x" * (1_048_576 - base)}
    data = json.dumps(doc).encode()
    assert len(data) == 1_048_576

    response = web.client.post("/v1/plans", content=data, headers=JSON)

    assert response.status_code == 201, response.text


def test_method_not_allowed_names_every_allowed_method(web: WebApp) -> None:
    response = web.client.delete("/v1/plans")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["status"] == 405


# --- re-runs ----------------------------------------------------------------------------


def test_rerun_under_the_same_knowledge_returns_the_saved_plan(web: WebApp) -> None:
    created = saved(web, example_case("RERUN-SAME"))

    response = web.client.post(f"/v1/plans/{created['id']}/rerun")

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["location"] == created["url"]
    assert web.store.search()[1] == 1


def test_rerun_under_another_knowledge_version_saves_a_linked_plan(web: WebApp) -> None:
    doc = example_case("RERUN-NEW")
    created = saved(web, doc)
    newer = other_knowledge("2099.1.0-test")

    with make_web("unused://", knowledge=newer, store=web.store, clock=web.clock) as later:
        response = later.client.post(f"/v1/plans/{created['id']}/rerun")

        assert response.status_code == 201
        body = response.json()
        assert body["id"] != created["id"]
        assert response.headers["location"] == f"/v1/plans/{body['id']}"
        assert body["previous_plan_id"] == created["id"]
        assert body["knowledge_version"] == "2099.1.0-test"
        assert body["plan"] == recommend(parse_case(doc), newer)
        assert body["plan"]["knowledge_version"] == "2099.1.0-test"
        assert [p.id for p in web.store.reruns_of(created["id"])] == [body["id"]]

        page = later.client.get(f"/plans/{body['id']}")
        assert page.status_code == 200
        assert "What changed" in page.text
        assert f"/plans/{created['id']}" in page.text

        # The old plan itself is unchanged.
        old = later.client.get(created["url"]).json()
        assert {k: v for k, v in old.items() if k != "case"} == created
