"""The CDS Hooks service: discovery, a sandbox-shaped ``patient-view`` call answered with cards,
prefetch present / missing (fetched from the FHIR server, paged) / missing without a server
(412 OperationOutcome) / ``null`` (no data), the cards' contract (summary ≤ 140 characters,
indicator, source with the knowledge version, links to the saved plan and the SMART app), a
record netnav cannot plan from (one info card), CORS, and the feedback endpoint stored and read
back on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netnav.web.cds_cards import OVERRIDE_REASONS, SUMMARY_MAX, card_uuid
from netnav.web.cds_feedback import FeedbackStore
from netnav.web.cds_prefetch import PAGE_SIZE, PREFETCH
from netnav.web.store import utc_now
from tests.cds_support import (
    ACCESS_TOKEN,
    CASE_FIELD,
    CASE_VALUE,
    FEEDBACK_URL,
    FHIR_BASE,
    PATIENT_ID,
    SERVICE_URL,
    THERAPY,
    FakeEhr,
    Signer,
    bearer,
    cds_web,
    make_token,
    patient_resources,
    prefetch_of,
    rsa_signer,
    sandbox_request,
    settings_for,
)
from tests.web_support import WebApp, database_url_fixture, sqlite_url  # noqa: F401

INDICATORS = {"info", "warning", "critical"}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return rsa_signer()


@pytest.fixture
def ehr() -> FakeEhr:
    return FakeEhr(patient_resources())


@pytest.fixture
def web(tmp_path: Path, signer: Signer, ehr: FakeEhr) -> Iterator[WebApp]:
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer)) as app:
        yield app


def call(web: WebApp, signer: Signer, body: Any, **kwargs: Any) -> httpx.Response:
    headers = {"Content-Type": "application/json", **bearer(make_token(signer)), **kwargs}
    return web.client.post(SERVICE_URL, content=json.dumps(body).encode(), headers=headers)


def check_card(card: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 card contract."""
    assert uuid.UUID(card["uuid"])
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) <= SUMMARY_MAX
    assert card["indicator"] in INDICATORS
    assert card["source"]["label"].startswith("netnav (knowledge ")
    assert card["source"]["topic"]["display"].endswith(card["source"]["label"][19:-1])
    assert isinstance(card["detail"], str) and card["detail"].strip()
    assert card["overrideReasons"] == list(OVERRIDE_REASONS)
    for link in card.get("links", []):
        assert link["type"] in ("absolute", "smart")
        assert link["url"].startswith("http")
        assert link["label"]
    assert "suggestions" not in card and "selectionBehavior" not in card


# --- discovery ------------------------------------------------------------------------------


def test_discovery_describes_the_patient_view_service(web: WebApp) -> None:
    response = web.client.get("/cds-services")  # open: no JWT

    assert response.status_code == 200
    [service] = response.json()["services"]
    assert service["id"] == "netnav-plan"
    assert service["hook"] == "patient-view"
    assert service["title"] and service["description"] and service["usageRequirements"]
    assert service["prefetch"] == {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}",
        "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
        "&_include=MedicationRequest:medication",
        "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}"
        "&_include=MedicationAdministration:medication",
        "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
        "&_include=MedicationStatement:medication",
        "procedures": "Procedure?patient={{context.patientId}}",
    }
    assert "/cds-services" not in json.dumps(web.client.get("/openapi.json").json()["paths"])


# --- the sandbox's request ------------------------------------------------------------------


def test_sandbox_shaped_request_with_prefetch_gets_plan_cards(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    body = sandbox_request(prefetch_of(patient_resources()))

    response = call(web, signer, body)

    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards, "at least the plan card"
    for card in cards:
        check_card(card)
    # The plan was saved; the card's id names it; the links open it.
    [saved], total = web.store.search()
    assert total == 1
    plan_card = next(
        c for c in cards if c["uuid"] == card_uuid(body["hookInstance"], "plan", saved.id)
    )
    assert plan_card["summary"].startswith("NET plan: ")
    assert ehr.requests == []  # everything was prefetched
    links = {link["type"]: link for link in plan_card["links"]}
    assert links["absolute"]["url"] == f"http://testserver/plans/{saved.id}"
    assert links["smart"]["url"] == f"http://testserver/plans/{saved.id}"
    assert links["smart"]["appContext"] == f"plan={saved.id}"
    assert web.client.get(links["absolute"]["url"]).status_code == 200
    # The detail lists the options with reasons and evidence, and the missing information.
    detail = plan_card["detail"]
    assert "### Options, best first" in detail
    for option in saved.plan["options"]:
        assert option["name"] in detail
        assert option["evidence"][0]["id"] in detail
    for missing in saved.plan["missing_information"]:
        assert missing["field"] in detail
    assert f"Knowledge base {web.knowledge.version}" in detail
    # as_of is today, set by the service (the engine never reads the clock).
    assert saved.case["as_of"] == utc_now().date().isoformat()


def test_card_ids_follow_the_hook_instance_and_the_saved_plan(web: WebApp, signer: Signer) -> None:
    """Two calls reusing a hookInstance save two plans: their cards get different ids, each
    the deterministic UUID 5 of hookInstance, kind and plan id. Cards without a plan keep
    their id for a repeated call."""
    body = sandbox_request(prefetch_of(patient_resources()))
    [first] = call(web, signer, body).json()["cards"]
    [second] = call(web, signer, body).json()["cards"]
    saved, _ = web.store.search()
    ids = {p.id for p in saved}
    assert len(ids) == 2 and first["uuid"] != second["uuid"]
    assert {first["uuid"], second["uuid"]} == {
        card_uuid(body["hookInstance"], "plan", plan_id) for plan_id in ids
    }
    assert card_uuid("h", "plan", "p1") == card_uuid("h", "plan", "p1")
    assert card_uuid("h", "plan", "p1") != card_uuid("h", "safety", "p1")
    dead = prefetch_of(patient_resources())
    dead["patient"]["deceasedBoolean"] = True
    dead_body = sandbox_request(dead)
    [once] = call(web, signer, dead_body).json()["cards"]
    [again] = call(web, signer, dead_body).json()["cards"]
    assert once["uuid"] == again["uuid"] == card_uuid(dead_body["hookInstance"], "deceased")


def test_configured_smart_launch_url_and_base_url(
    tmp_path: Path, signer: Signer, ehr: FakeEhr
) -> None:
    settings = settings_for(
        ehr,
        signer,
        base_url="https://netnav.example.org",
        smart_launch_url="https://netnav.example.org/smart/launch",
    )
    with cds_web(sqlite_url(tmp_path), settings) as web:
        token = make_token(signer, aud="https://netnav.example.org/cds-services/netnav-plan")
        response = web.client.post(
            SERVICE_URL,
            content=json.dumps(sandbox_request(prefetch_of(patient_resources()))).encode(),
            headers={"Content-Type": "application/json", **bearer(token)},
        )
        assert response.status_code == 200, response.text
        card = response.json()["cards"][-1]
        links = {link["type"]: link["url"] for link in card["links"]}
        assert links["smart"] == "https://netnav.example.org/smart/launch"
        assert links["absolute"].startswith("https://netnav.example.org/plans/")
        assert card["source"]["url"] == "https://netnav.example.org/"


# --- prefetch -------------------------------------------------------------------------------


def test_missing_prefetch_is_fetched_from_the_fhir_server_with_the_access_token(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    prefetch = prefetch_of(patient_resources())
    del prefetch["observations"]
    del prefetch["patient"]

    response = call(web, signer, sandbox_request(prefetch))

    assert response.status_code == 200, response.text
    urls = sorted(str(r.url) for r in ehr.requests)
    assert urls == [
        f"{FHIR_BASE}/Observation?patient={PATIENT_ID}&_count={PAGE_SIZE}",
        f"{FHIR_BASE}/Patient/{PATIENT_ID}",
    ]
    for request in ehr.requests:
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request.headers["Accept"] == "application/fhir+json"
    [saved], _ = web.store.search()
    assert saved.case["tumor"]["ki67_percent"] == 4  # from the fetched Observation


def test_no_prefetch_at_all_fetches_every_key_following_next_links(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    ehr.page_size = 2  # 5 Observations: 3 pages

    response = call(web, signer, sandbox_request(None))

    assert response.status_code == 200, response.text
    observation_pages = [r for r in ehr.requests if r.url.path.endswith("/Observation")]
    assert len(observation_pages) == 3
    assert len(ehr.requests) == len(PREFETCH) + 2
    searches = {r.url.path.rsplit("/", 1)[-1]: r.url.params for r in ehr.requests}
    for kind in ("MedicationRequest", "MedicationAdministration", "MedicationStatement"):
        assert searches[kind]["_include"] == f"{kind}:medication"
        assert searches[kind]["_count"] == str(PAGE_SIZE)
    [saved], _ = web.store.search()
    assert saved.case["tumor"]["ki67_percent"] == 4


def test_page_cap_stops_following_next_links(tmp_path: Path, signer: Signer, ehr: FakeEhr) -> None:
    ehr.page_size = 1
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer, max_pages=2)) as web:
        prefetch = prefetch_of(patient_resources())
        del prefetch["observations"]
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 200
        [card] = response.json()["cards"]
        assert web.store.search()[1] == 0  # no plan from part of the record
    assert len([r for r in ehr.requests if r.url.path.endswith("/Observation")]) == 2
    check_card(card)
    assert card["indicator"] == "warning"
    assert "Observation" in card["summary"] and "no plan" in card["summary"]
    assert "(2 pages, 2 resources read)" in card["detail"]


def test_missing_prefetch_without_fhir_server_is_412_operation_outcome(
    web: WebApp, signer: Signer
) -> None:
    prefetch = prefetch_of(patient_resources())
    del prefetch["conditions"]

    response = call(web, signer, sandbox_request(prefetch, fhir_server=None))

    assert response.status_code == 412
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert issue["severity"] == "error"
    assert issue["expression"] == ["prefetch.conditions"]
    assert "Condition?patient=" in issue["details"]["text"]
    assert web.store.search()[1] == 0  # nothing planned or saved


@pytest.mark.parametrize("failure", ["500", "connect"])
def test_fhir_server_failing_is_412(
    web: WebApp, signer: Signer, ehr: FakeEhr, failure: str
) -> None:
    ehr.fail = failure
    prefetch = prefetch_of(patient_resources())
    del prefetch["procedures"]

    response = call(web, signer, sandbox_request(prefetch))

    assert response.status_code == 412
    assert [i["expression"] for i in response.json()["issue"]] == [["prefetch.procedures"]]


def test_plain_http_fhir_server_off_loopback_is_not_called(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    response = call(web, signer, sandbox_request(None, fhir_server="http://ehr.example/fhir"))
    assert response.status_code == 412
    assert ehr.requests == []  # the access token never goes over plain HTTP


def test_null_prefetch_means_no_data_and_nothing_is_fetched(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    prefetch = prefetch_of(patient_resources())
    prefetch["medicationRequests"] = None
    prefetch["observations"] = None

    response = call(web, signer, sandbox_request(prefetch))

    assert response.status_code == 200, response.text
    assert ehr.requests == []
    [saved], _ = web.store.search()
    assert "ki67_percent" not in saved.case["tumor"]
    assert all(t["therapy"] != "lanreotide" for t in saved.case.get("treatments", []))


def test_operation_outcome_prefetch_is_fetched_again(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    prefetch = prefetch_of(patient_resources())
    prefetch["observations"] = {"resourceType": "OperationOutcome", "issue": []}
    assert call(web, signer, sandbox_request(prefetch)).status_code == 200
    assert [r.url.path for r in ehr.requests] == ["/fhir/Observation"]


def test_next_link_to_another_server_is_not_followed(tmp_path: Path, signer: Signer) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [],
            "link": [{"relation": "next", "url": "https://evil.example/steal?page=2"}],
        }
        return httpx.Response(200, json=bundle)

    settings = settings_for(None, signer, transport=httpx.MockTransport(handler))
    with cds_web(sqlite_url(tmp_path), settings) as web:
        prefetch = prefetch_of(patient_resources())
        del prefetch["procedures"]
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 200
        assert web.store.search()[1] == 0
    assert seen == [f"{FHIR_BASE}/Procedure?patient={PATIENT_ID}&_count={PAGE_SIZE}"]
    [card] = response.json()["cards"]
    assert card["indicator"] == "warning"
    assert "another server" in card["detail"]


# --- an incomplete record: never a plan from part of it (safety case H-22) --------------------


def _incomplete(response: httpx.Response, web: WebApp) -> dict[str, Any]:
    """The one warning card of an incomplete record; no plan saved."""
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    check_card(card)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("netnav could not read the whole record")
    assert "### Options" not in card["detail"] and "**no plan**" in card["detail"]
    assert "FHIR Bundle" in card["detail"]  # what to do
    assert card["links"] == [
        {
            "label": "Plan from a FHIR Bundle in netnav",
            "url": "http://testserver/plans/new/fhir",
            "type": "absolute",
        }
    ]
    assert web.store.search()[1] == 0
    return card


def _vital_signs(count: int) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Observation",
            "id": f"hr-{i}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "effectiveDateTime": "2025-01-01",
            "valueQuantity": {"value": 70, "unit": "/min"},
        }
        for i in range(count)
    ]


def _record_with_vital_signs_first(count: int) -> list[dict[str, Any]]:
    """Many heart rates served before the tumour's results, and a newer Ki-67 (25 %) last."""
    resources = patient_resources()
    newer = copy.deepcopy(next(r for r in resources if r["id"] == "obs-ki67"))
    newer.update(id="obs-ki67-new", effectiveDateTime="2025-09-01")
    newer["valueQuantity"]["value"] = 25
    return resources[:3] + _vital_signs(count) + resources[3:] + [newer]


def test_long_observation_search_is_read_to_the_end_by_default(
    tmp_path: Path, signer: Signer
) -> None:
    ehr = FakeEhr(_record_with_vital_signs_first(600), page_size=50)
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer)) as web:
        prefetch = prefetch_of(ehr.resources)
        del prefetch["observations"]
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 200, response.text
        [saved], _ = web.store.search()
    assert len([r for r in ehr.requests if r.url.path.endswith("/Observation")]) == 13
    assert saved.case["tumor"]["ki67_percent"] == 25  # the newest, on the last page
    assert saved.case["patient"]["ecog"] == 0


def test_page_cap_reached_gives_an_incomplete_warning_card_not_a_plan(
    tmp_path: Path, signer: Signer
) -> None:
    ehr = FakeEhr(_record_with_vital_signs_first(600), page_size=50)
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer, max_pages=10)) as web:
        prefetch = prefetch_of(ehr.resources)
        del prefetch["observations"]
        card = _incomplete(call(web, signer, sandbox_request(prefetch)), web)
    assert "Observation" in card["summary"]
    assert "**Observation** (`observations`) (10 pages, 500 resources read)" in card["detail"]
    assert "page limit of 10 pages" in card["detail"]
    assert "NETNAV_CDS_MAX_PAGES" in card["detail"].split("### What to do", 1)[1]


def test_paged_prefetch_is_read_on_from_the_fhir_server(tmp_path: Path, signer: Signer) -> None:
    resources = _record_with_vital_signs_first(600)
    ehr = FakeEhr(resources, page_size=50)
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    query = f"{FHIR_BASE}/Observation?patient={PATIENT_ID}"
    prefetch = prefetch_of(resources)
    prefetch["observations"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(observations),
        "link": [
            {"relation": "self", "url": query},
            {"relation": "next", "url": f"{query}&_page=1"},
        ],
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in observations[:50]],
    }
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer)) as web:
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 200, response.text
        [saved], _ = web.store.search()
    assert str(ehr.requests[0].url) == f"{query}&_page=1"
    assert len(ehr.requests) == 12  # pages 1..12 of 50
    assert saved.case["tumor"]["ki67_percent"] == 25


def test_paged_prefetch_without_fhir_server_is_412(web: WebApp, signer: Signer) -> None:
    prefetch = prefetch_of(patient_resources())
    prefetch["observations"]["link"] = [
        {"relation": "next", "url": f"{FHIR_BASE}/Observation?patient={PATIENT_ID}&_page=1"}
    ]
    response = call(web, signer, sandbox_request(prefetch, fhir_server=None))
    assert response.status_code == 412
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["prefetch.observations"]
    assert "more pages" in issue["details"]["text"]
    assert web.store.search()[1] == 0


def test_fetch_failing_part_way_is_412(tmp_path: Path, signer: Signer) -> None:
    ehr = FakeEhr(_record_with_vital_signs_first(120), page_size=50)
    base = ehr.handler

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("_page") == "2":
            return httpx.Response(503)
        return base(request)

    settings = settings_for(None, signer, transport=httpx.MockTransport(handler))
    with cds_web(sqlite_url(tmp_path), settings) as web:
        prefetch = prefetch_of(ehr.resources)
        del prefetch["observations"]
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 412
        assert web.store.search()[1] == 0
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["prefetch.observations"]
    assert "after 2 pages" in issue["details"]["text"]


def _with_outcome(issue: dict[str, Any]) -> dict[str, Any]:
    prefetch = prefetch_of(patient_resources())
    prefetch["observations"]["entry"].append(
        {
            "resource": {"resourceType": "OperationOutcome", "issue": [issue]},
            "search": {"mode": "outcome"},
        }
    )
    return prefetch


@pytest.mark.parametrize(
    "issue",
    [
        {"severity": "error", "code": "exception", "diagnostics": "index unavailable"},
        {"severity": "fatal", "code": "exception"},
        {"severity": "warning", "code": "too-costly", "diagnostics": "Results truncated to 100"},
        {
            "severity": "information",
            "code": "informational",
            "details": {"text": "Partial results"},
        },
    ],
    ids=["error", "fatal", "too-costly truncated", "partial results"],
)
def test_operation_outcome_in_a_searchset_saying_error_or_truncated_is_incomplete(
    web: WebApp, signer: Signer, issue: dict[str, Any]
) -> None:
    card = _incomplete(call(web, signer, sandbox_request(_with_outcome(issue))), web)
    assert "the FHIR server reported" in card["detail"]
    assert "**Observation** (`observations`)" in card["detail"]
    todo = card["detail"].split("### What to do", 1)[1]
    assert "The EHR said its Observation search was cut short or failed" in todo
    assert "NETNAV_CDS_MAX_PAGES" not in todo


def test_operation_outcome_information_in_a_searchset_is_listed_as_not_used(
    web: WebApp, signer: Signer
) -> None:
    issue = {"severity": "warning", "code": "not-supported", "diagnostics": "_sort ignored"}
    response = call(web, signer, sandbox_request(_with_outcome(issue)))
    assert response.status_code == 200, response.text
    plan = response.json()["cards"][-1]
    assert plan["summary"].startswith("NET plan: ")
    assert "OperationOutcome \\(Observation search\\) `OperationOutcome.issue`" in plan["detail"]
    assert "warning not-supported: \\_sort ignored" in plan["detail"]


def test_fewer_entries_than_the_searchset_total_is_incomplete(web: WebApp, signer: Signer) -> None:
    prefetch = prefetch_of(patient_resources())
    prefetch["observations"]["total"] = 40  # 6 sent, no next link
    card = _incomplete(call(web, signer, sandbox_request(prefetch)), web)
    assert "counted 40 results but sent 5" in card["detail"]


# --- whose record: context.patientId; deceased -------------------------------------------------


def test_prefetch_patient_of_another_patient_is_422(web: WebApp, signer: Signer) -> None:
    prefetch = prefetch_of(patient_resources("someone-else"))
    response = call(web, signer, sandbox_request(prefetch))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "prefetch.patient"
    assert web.store.search()[1] == 0


def test_context_patient_id_goes_to_the_import(
    web: WebApp, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netnav.fhir

    seen: dict[str, Any] = {}
    real = netnav.fhir.import_bundle

    def spy(bundle: Any, *, as_of: Any = None, patient_id: str | None = None) -> Any:
        seen["patient_id"] = patient_id
        return real(bundle, as_of=as_of)

    monkeypatch.setattr(netnav.fhir, "import_bundle", spy)
    assert call(web, signer, sandbox_request(prefetch_of(patient_resources()))).status_code == 200
    assert seen == {"patient_id": PATIENT_ID}


def test_resources_of_another_patient_are_listed_not_used(web: WebApp, signer: Signer) -> None:
    resources = patient_resources()
    stranger = copy.deepcopy(next(r for r in resources if r["id"] == "obs-ki67"))
    stranger.update(id="obs-ki67-other", effectiveDateTime="2025-09-01")
    stranger["subject"] = {"reference": "Patient/someone-else"}
    stranger["valueQuantity"]["value"] = 40
    response = call(web, signer, sandbox_request(prefetch_of([*resources, stranger])))
    assert response.status_code == 200, response.text
    [saved], _ = web.store.search()
    assert saved.case["tumor"]["ki67_percent"] == 4
    assert "Observation/obs-ki67-other" in response.json()["cards"][-1]["detail"]


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("deceasedBoolean", True, "Patient.deceasedBoolean"),
        ("deceasedDateTime", "2025-10-02", "`2025-10-02`"),
    ],
)
def test_deceased_patient_gets_one_info_card_and_no_plan(
    web: WebApp, signer: Signer, field: str, value: object, shown: str
) -> None:
    resources = patient_resources()
    resources[0][field] = value
    body = sandbox_request(prefetch_of(resources))
    response = call(web, signer, body)
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    check_card(card)
    assert card["indicator"] == "info"
    assert card["uuid"] == card_uuid(body["hookInstance"], "deceased")
    assert "deceased" in card["summary"]
    assert shown in card["detail"]
    assert web.store.search()[1] == 0


def test_deceased_boolean_false_is_planned(web: WebApp, signer: Signer) -> None:
    resources = patient_resources()
    resources[0]["deceasedBoolean"] = False
    response = call(web, signer, sandbox_request(prefetch_of(resources)))
    assert response.json()["cards"][-1]["summary"].startswith("NET plan: ")


# --- medications by reference ---------------------------------------------------------------


def _lanreotide_by_reference(display: str | None = None) -> list[dict[str, Any]]:
    """The lanreotide order names its drug by ``medicationReference`` (as Epic does), with
    ``display`` when given."""
    resources = patient_resources()
    order = next(r for r in resources if r["resourceType"] == "MedicationRequest")
    order["medicationReference"] = {"reference": "Medication/eLANRE"}
    if display is not None:
        order["medicationReference"]["display"] = display
    del order["medicationCodeableConcept"]
    medication = {
        "resourceType": "Medication",
        "id": "eLANRE",
        "code": {"coding": [{"system": THERAPY, "code": "lanreotide"}], "text": "lanreotide"},
    }
    return [*resources, medication]


def _lanreotide_ongoing(web: WebApp) -> bool:
    [saved], _ = web.store.search()
    return any(
        t["therapy"] == "lanreotide" and t.get("ongoing") for t in saved.case.get("treatments", [])
    )


def test_included_medication_is_read(web: WebApp, signer: Signer, ehr: FakeEhr) -> None:
    prefetch = prefetch_of(_lanreotide_by_reference())
    kinds = [e["search"]["mode"] for e in prefetch["medicationRequests"]["entry"]]
    assert kinds == ["match", "include"]
    assert call(web, signer, sandbox_request(prefetch)).status_code == 200
    assert ehr.requests == []
    assert _lanreotide_ongoing(web)


def test_medication_not_prefetched_is_read_from_the_fhir_server(
    tmp_path: Path, signer: Signer
) -> None:
    resources = _lanreotide_by_reference()
    ehr = FakeEhr(resources)
    prefetch = prefetch_of(resources)
    prefetch["medicationRequests"]["entry"].pop()  # the client ignored _include
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer)) as web:
        response = call(web, signer, sandbox_request(prefetch))
        assert response.status_code == 200, response.text
        assert _lanreotide_ongoing(web)
    assert [str(r.url) for r in ehr.requests] == [f"{FHIR_BASE}/Medication/eLANRE"]
    assert ehr.requests[0].headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_medication_missing_everywhere_is_incomplete(web: WebApp, signer: Signer) -> None:
    resources = [r for r in _lanreotide_by_reference() if r["resourceType"] != "Medication"]
    card = _incomplete(call(web, signer, sandbox_request(prefetch_of(resources))), web)
    assert "**MedicationRequest** (`medicationRequests`)" in card["detail"]
    assert "Medication/eLANRE is not on the FHIR server" in card["detail"]
    # What to do names the missing Medication, not the page cap.
    todo = card["detail"].split("### What to do", 1)[1]
    assert "The EHR did not return `Medication/eLANRE`" in todo
    assert "NETNAV_CDS_MAX_PAGES" not in todo


def test_missing_medication_with_a_display_is_read_from_the_display(
    web: WebApp, signer: Signer, ehr: FakeEhr
) -> None:
    """Epic: the Medication is not on the server, the reference's display names the drug."""
    display = "lanreotide (SOMATULINE DEPOT) 120 mg/0.5 mL injection"
    resources = [r for r in _lanreotide_by_reference(display) if r["resourceType"] != "Medication"]
    response = call(web, signer, sandbox_request(prefetch_of(resources)))
    assert response.status_code == 200, response.text
    assert response.json()["cards"][-1]["summary"].startswith("NET plan: ")
    assert _lanreotide_ongoing(web)
    assert [str(r.url) for r in ehr.requests] == [f"{FHIR_BASE}/Medication/eLANRE"]  # tried


def test_medication_with_a_display_and_no_fhir_server_is_read_from_the_display(
    web: WebApp, signer: Signer
) -> None:
    prefetch = prefetch_of(_lanreotide_by_reference("lanreotide"))
    prefetch["medicationRequests"]["entry"].pop()
    response = call(web, signer, sandbox_request(prefetch, fhir_server=None))
    assert response.status_code == 200, response.text
    assert _lanreotide_ongoing(web)


def test_medication_not_prefetched_without_fhir_server_is_412(web: WebApp, signer: Signer) -> None:
    prefetch = prefetch_of(_lanreotide_by_reference())
    prefetch["medicationRequests"]["entry"].pop()
    response = call(web, signer, sandbox_request(prefetch, fhir_server=None))
    assert response.status_code == 412
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["prefetch.medicationRequests"]


# --- errors are JSON, never HTML --------------------------------------------------------------


def _deep_extension(depth: int) -> dict[str, Any]:
    ext: dict[str, Any] = {"url": "https://example.org/leaf", "valueString": "x"}
    for i in range(depth):
        ext = {"url": f"https://example.org/level-{i}", "extension": [ext]}
    return ext


def test_deeply_nested_record_is_answered_in_json(web: WebApp, signer: Signer) -> None:
    prefetch = prefetch_of(patient_resources())
    prefetch["patient"]["extension"] = [_deep_extension(200)]
    response = call(web, signer, sandbox_request(prefetch))
    assert response.headers["content-type"] in ("application/json", "application/problem+json")
    assert "<html" not in response.text
    if response.status_code == 200:
        [card] = response.json()["cards"]
        check_card(card)


def test_unexpected_error_is_a_json_problem_not_an_html_page(
    web: WebApp, signer: Signer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import netnav.fhir

    def broken(bundle: Any, **_: Any) -> Any:
        raise RuntimeError(f"secret {PATIENT_ID}")

    monkeypatch.setattr(netnav.fhir, "import_bundle", broken)
    response = call(web, signer, sandbox_request(prefetch_of(patient_resources())))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/internal-error"
    assert PATIENT_ID not in caplog.text


def test_unexpected_feedback_error_is_a_json_problem(
    web: WebApp, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(FeedbackStore, "save", broken)
    response = web.client.post(
        FEEDBACK_URL,
        content=json.dumps(_feedback_body(card_uuid("hook-1", "plan"))).encode(),
        headers={
            "Content-Type": "application/json",
            **bearer(make_token(signer, aud=FEEDBACK_URL)),
        },
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"


# --- cards ----------------------------------------------------------------------------------


def test_record_without_a_primary_cancer_gets_one_info_card(web: WebApp, signer: Signer) -> None:
    resources = [r for r in patient_resources() if r["id"] != "cond-primary"]
    body = sandbox_request(prefetch_of(resources))

    response = call(web, signer, body)

    assert response.status_code == 200
    [card] = response.json()["cards"]
    check_card(card)
    assert card["indicator"] == "info"
    assert card["uuid"] == card_uuid(body["hookInstance"], "unplannable")
    assert "cannot plan" in card["summary"]
    assert "`tumor.primary_site`" in card["detail"]
    assert web.store.search()[1] == 0


def test_ongoing_therapy_the_plan_avoids_gets_a_critical_safety_card(
    web: WebApp, signer: Signer
) -> None:
    subject = {"reference": f"Patient/{PATIENT_ID}"}
    resources = patient_resources()
    # Progressive on lanreotide, and sunitinib (a pancreatic-NET drug) ongoing: the plan of
    # this ileal NET lists sunitinib under avoid.
    resources += [
        {
            "resourceType": "Observation",
            "id": "obs-course",
            "status": "final",
            "code": {"coding": [{"system": CASE_FIELD, "code": "tumor.disease_course"}]},
            "subject": subject,
            "effectiveDateTime": "2025-10-01",
            "valueCodeableConcept": {"coding": [{"system": CASE_VALUE, "code": "progressive"}]},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "medreq-sunitinib",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": THERAPY, "code": "sunitinib"}]},
            "subject": subject,
            "authoredOn": "2025-10-15",
        },
    ]
    body = sandbox_request(prefetch_of(resources))

    response = call(web, signer, body)

    assert response.status_code == 200, response.text
    safety, plan = response.json()["cards"]
    [saved], _ = web.store.search()
    assert "sunitinib" in {a["id"] for a in saved.plan["avoid"]}
    check_card(safety)
    assert safety["uuid"] == card_uuid(body["hookInstance"], "safety", saved.id)
    assert plan["uuid"] == card_uuid(body["hookInstance"], "plan", saved.id)
    assert safety["indicator"] == "critical"
    assert "Sunitinib" in safety["summary"]
    assert plan["indicator"] == "critical"
    assert "### Avoid" in plan["detail"]


def test_plan_card_lists_what_the_import_did_not_use(web: WebApp, signer: Signer) -> None:
    response = call(web, signer, sandbox_request(prefetch_of(patient_resources())))
    plan = response.json()["cards"][-1]
    assert "### Not used from the record" in plan["detail"]
    assert "Observation/obs-glucose `Observation.code`" in plan["detail"]
    assert plan["indicator"] == "info"  # SSA-responsive, nothing to avoid, no caution


def test_not_used_groups_like_items_with_a_count(web: WebApp, signer: Signer) -> None:
    """600 heart rates are one line, not 600 (break test c3)."""
    resources = _record_with_vital_signs_first(600)
    response = call(web, signer, sandbox_request(prefetch_of(resources)))
    assert response.status_code == 200, response.text
    detail = response.json()["cards"][-1]["detail"]
    not_used = detail.split("### Not used from the record", 1)[1].split("\n---", 1)[0]
    items = [line for line in not_used.splitlines() if line.startswith("- ")]
    assert any(
        line.startswith("- 600 × Observation `Observation.code`: ") and "8867-4" in line
        for line in items
    ), items
    assert "hr-1 " not in not_used and len(items) <= 16
    assert len(detail) < 20_000


def test_not_used_shows_at_most_fifteen_groups_then_how_many_more() -> None:
    from netnav.fhir import Unmapped
    from netnav.web.cds_cards import UNMAPPED_GROUPS_SHOWN, unmapped_md

    items = [
        Unmapped(f"Observation/o{i}-{j}", "Observation.code", f"code {i}: not a code netnav reads")
        for i in range(20)
        for j in range(3)
    ]
    lines = unmapped_md(items, "https://netnav.example")
    listed = [line for line in lines if line.startswith("- ")]
    assert UNMAPPED_GROUPS_SHOWN == 15 and len(listed) == 16
    assert listed[0] == "- 3 × Observation `Observation.code`: code 0: not a code netnav reads"
    assert listed[-1].startswith("- … and 15 more (the full list: load the record as a FHIR")
    assert "(https://netnav.example/plans/new/fhir)" in listed[-1]
    assert "60 elements of the record" in "\n".join(lines)
    [single] = [line for line in unmapped_md(items[:1]) if line.startswith("- ")]
    assert single == "- Observation/o0-0 `Observation.code`: code 0: not a code netnav reads"


_WITHHELD = (
    "Another active cancer is recorded (Condition/cond-breast, breast cancer): 1 tumour result "
    "not linked to the neuroendocrine tumour was not used (Ki-67 index). Link each result to "
    "the NET's Condition (Observation.focus) to use it."
)


def _import_withholding_ki67(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import as it reads a record where another active cancer withholds the Ki-67: the
    summary item first, the Observation listed (its reason does not name the field)."""
    import netnav.fhir
    from netnav.fhir import FhirImport, Unmapped

    real = netnav.fhir.import_bundle

    def withholding(bundle: Any, **kwargs: Any) -> Any:
        imported = real(bundle, **kwargs)
        case = copy.deepcopy(imported.case)
        case["tumor"].pop("ki67_percent", None)
        case["tumor"].pop("ki67_history", None)
        unmapped = (
            Unmapped("Condition/cond-breast", "Condition", _WITHHELD),
            Unmapped(
                "Observation/obs-ki67", "Observation.valueQuantity", "not linked; left unknown"
            ),
            *imported.unmapped,
        )
        return FhirImport(case, imported.provenance, unmapped)

    monkeypatch.setattr(netnav.fhir, "import_bundle", withholding)


def test_another_cancer_withholding_results_is_checked_first(
    web: WebApp, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import_withholding_ki67(monkeypatch)
    response = call(web, signer, sandbox_request(prefetch_of(patient_resources())))
    assert response.status_code == 200, response.text
    plan = response.json()["cards"][-1]
    assert plan["summary"].startswith("NET plan: ")
    assert plan["indicator"] in ("warning", "critical")
    detail = plan["detail"]
    assert detail.startswith("### Check first\n\n- Another active cancer is recorded \\(")
    assert detail.count("Another active cancer is recorded") == 1  # not again under Not used
    # The Ki-67 is missing, and the card says it is in the record (matched by its LOINC code).
    [ki67] = [line for line in detail.splitlines() if "(`tumor.ki67_percent`)" in line]
    assert "*In the record but not used:* Observation/obs-ki67: not linked; left unknown." in ki67
    assert "*Test that settles it:*" in ki67


def test_missing_field_named_by_a_not_used_reason_is_in_the_record() -> None:
    from netnav.fhir import Unmapped
    from netnav.web.cds_cards import _missing_md, not_used_for, observation_fields

    bundle = {"resourceType": "Bundle", "entry": [{"resource": r} for r in patient_resources()]}
    fields_of = observation_fields(bundle)
    assert fields_of["Observation/obs-ki67"] == {"tumor.ki67_percent"}
    assert "tumor.sstr_imaging.krenning_max" in fields_of["Observation/obs-sstr-pet"]
    by_text = Unmapped("Condition/c1", "Condition", "tumor.functional_syndrome: out of range")
    other = Unmapped("Condition/c2", "Condition", "tumor.functional_syndrome_x: unrelated")
    assert not_used_for("tumor.functional_syndrome", [by_text, other], fields_of) == [by_text]
    sstr = Unmapped("Observation/obs-sstr-pet", "Observation.component", "left unknown")
    assert not_used_for("tumor.sstr_imaging", [sstr], fields_of) == [sstr]
    plan = {
        "missing_information": [
            {"field": "tumor.functional_syndrome", "label": "Syndrome", "why": "Would decide."},
            {"field": "patient.frail", "label": "Frailty", "why": "Would decide."},
        ]
    }
    lines = _missing_md(plan, [by_text, other], fields_of)
    assert lines[-2] == (
        "- **Syndrome** (`tumor.functional_syndrome`): Would decide. "
        "*In the record but not used:* Condition/c1: out of range."
    )
    assert lines[-1] == "- **Frailty** (`patient.frail`): Would decide."


def test_unplannable_card_with_another_cancer_is_a_warning_checked_first() -> None:
    from netnav.errors import CaseProblem
    from netnav.fhir import Unmapped
    from netnav.knowledge.load import default_knowledge
    from netnav.web.cds_cards import CardContext, unplannable_card

    card = unplannable_card(
        [CaseProblem("tumor.primary_site", "missing")],
        default_knowledge(),
        CardContext("hook-1", "https://netnav.example"),
        [Unmapped("Condition/cond-breast", "Condition", _WITHHELD)],
    )
    assert card["indicator"] == "warning"
    assert card["detail"].startswith("### Check first")


def test_indicator_follows_the_plan() -> None:
    from netnav.knowledge.load import default_knowledge
    from netnav.web.cds_cards import indicator, urgent_options

    kb = default_knowledge()
    urgent_rule = next(
        (r.spec.id, rec.option) for r in kb.rules for rec in r.spec.recommend if rec.priority <= 4
    )
    plain = {"options": [{"id": "x", "cautions": [], "basis": {"rules": ["G-01"]}}], "avoid": []}
    assert indicator(plain, kb, {}) == "info"
    cautious = copy.deepcopy(plain)
    cautious["options"][0]["cautions"] = ["check renal function"]
    assert indicator(cautious, kb, {}) == "warning"
    avoiding = copy.deepcopy(plain)
    avoiding["avoid"] = [{"id": "sunitinib", "reasons": ["r"]}]
    assert indicator(avoiding, kb, {}) == "warning"
    assert (
        indicator(avoiding, kb, {"treatments": [{"therapy": "sunitinib", "ongoing": True}]})
        == "critical"
    )
    urgent = {
        "options": [{"id": urgent_rule[1], "cautions": [], "basis": {"rules": [urgent_rule[0]]}}],
        "avoid": [],
    }
    assert urgent_options(urgent, kb) == [urgent_rule[1]]
    assert indicator(urgent, kb, {}) == "critical"


def test_summary_is_cut_to_140_characters() -> None:
    from netnav.web.cds_cards import _plan_summary, summary

    long_name = "A" * 300
    plan = {
        "options": [{"id": "x", "name": long_name, "tier": "preferred"}] * 3,
        "missing_information": [{}] * 4,
    }
    text = _plan_summary(plan)
    assert len(text) <= SUMMARY_MAX
    assert text.endswith("(preferred) + 2 more; 4 facts missing")
    assert len(summary("word " * 100)) == SUMMARY_MAX


def test_record_text_is_escaped_in_markdown() -> None:
    from netnav.fhir import Unmapped
    from netnav.web.cds_cards import unmapped_md

    lines = unmapped_md(
        [Unmapped("Observation/<script>", "Observation.code", "[click](javascript:x)")]
    )
    text = "\n".join(lines)
    assert "<script>" not in text and "](javascript" not in text
    assert "Observation/\\<script\\>" in text


# --- request shape, CORS, logs --------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"hook": "order-sign"},
        {"hookInstance": None},
        {"context": {"userId": "Practitioner/1"}},
        {"context": {"userId": "Practitioner/1", "patientId": "../../etc"}},
        {"prefetch": {"conditions": [1, 2]}},
        {"fhirAuthorization": {"token_type": "Bearer"}},
    ],
    ids=[
        "other hook",
        "no hookInstance",
        "no patientId",
        "bad patientId",
        "prefetch not an object",
        "no access_token",
    ],
)
def test_malformed_hook_request_is_422(web: WebApp, signer: Signer, change: dict[str, Any]) -> None:
    body = sandbox_request(prefetch_of(patient_resources()))
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = call(web, signer, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_body_not_json_is_400(web: WebApp, signer: Signer) -> None:
    response = web.client.post(
        SERVICE_URL,
        content=b"{nope",
        headers={"Content-Type": "application/json", **bearer(make_token(signer))},
    )
    assert response.status_code == 400


def test_unknown_service_is_404(web: WebApp, signer: Signer) -> None:
    response = web.client.post("/cds-services/other", json={}, headers=bearer(make_token(signer)))
    assert response.status_code == 404


def test_cors_for_allowlisted_origins_only(tmp_path: Path, signer: Signer, ehr: FakeEhr) -> None:
    sandbox = "https://sandbox.cds-hooks.org"
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer, cors_origins=(sandbox,))) as web:
        preflight = web.client.options(
            SERVICE_URL,
            headers={"Origin": sandbox, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == sandbox
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        found = web.client.get("/cds-services", headers={"Origin": sandbox})
        assert found.headers["access-control-allow-origin"] == sandbox
        refused = web.client.post(SERVICE_URL, json={}, headers={"Origin": sandbox})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == sandbox
        other = web.client.get("/cds-services", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_tokens_never_reach_the_log(
    web: WebApp, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = make_token(signer)
    prefetch = prefetch_of(patient_resources())
    del prefetch["observations"]
    response = web.client.post(
        SERVICE_URL,
        content=json.dumps(sandbox_request(prefetch)).encode(),
        headers={"Content-Type": "application/json", **bearer(token)},
    )
    assert response.status_code == 200
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/cds-services/netnav-plan 200" in text
    assert token not in text and token[-16:] not in text
    assert ACCESS_TOKEN not in text
    assert PATIENT_ID not in text


# --- feedback -------------------------------------------------------------------------------


def _feedback_body(card: str) -> dict[str, Any]:
    return {
        "feedback": [
            {
                "card": card,
                "outcome": "overridden",
                "outcomeTimestamp": "2026-12-01T10:15:00+01:00",
                "overrideReason": {
                    "reason": dict(OVERRIDE_REASONS[1]),
                    "userComment": "Tumour board chose PRRT – see note 🧪",
                },
            },
            {
                "card": card,
                "outcome": "accepted",
                "outcomeTimestamp": "2026-12-01T10:16:00Z",
                "acceptedSuggestions": [{"id": "s-1"}],
            },
        ]
    }


def test_feedback_is_stored_and_read_back(database_url: str, signer: Signer, ehr: FakeEhr) -> None:
    with cds_web(database_url, settings_for(ehr, signer)) as web:
        card = card_uuid("hook-1", "plan")
        response = web.client.post(
            FEEDBACK_URL,
            content=json.dumps(_feedback_body(card)).encode(),
            headers={
                "Content-Type": "application/json",
                **bearer(make_token(signer, aud=FEEDBACK_URL)),
            },
        )
        assert response.status_code == 200, response.text

        rows = FeedbackStore(web.store.engine, clock=utc_now).for_card(card)

    overridden, accepted = rows
    assert overridden.outcome == "overridden"
    assert overridden.override_code == "tumour-board"
    assert overridden.override_system == OVERRIDE_REASONS[1]["system"]
    assert overridden.user_comment == "Tumour board chose PRRT – see note 🧪"
    assert overridden.outcome_timestamp.isoformat() == "2026-12-01T09:15:00+00:00"
    assert overridden.client_iss == "https://ehr.example"
    assert overridden.client_sub == "netnav-test-client"
    assert overridden.service_id == "netnav-plan"
    assert accepted.outcome == "accepted"
    assert accepted.accepted_suggestions == ["s-1"]
    assert accepted.override_code is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"feedback": []},
        {
            "feedback": [
                {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-12-01T10:00:00Z"}
            ]
        },
        {"feedback": [{"card": "c", "outcome": "accepted"}]},
        {
            "feedback": [
                {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:00:00"}
            ]
        },
        {"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:00:00Z"}]},
        [1, 2],
    ],
    ids=[
        "empty",
        "no items",
        "bad outcome",
        "no timestamp",
        "naive timestamp",
        "no card",
        "a list",
    ],
)
def test_malformed_feedback_is_422(web: WebApp, signer: Signer, body: Any) -> None:
    response = web.client.post(
        FEEDBACK_URL,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **bearer(make_token(signer))},
    )
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-request"


def test_feedback_not_json_is_400(web: WebApp, signer: Signer) -> None:
    response = web.client.post(
        FEEDBACK_URL,
        content=b"nope",
        headers={"Content-Type": "application/json", **bearer(make_token(signer))},
    )
    assert response.status_code == 400
