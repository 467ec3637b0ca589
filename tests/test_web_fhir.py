"""FHIR input on the web: a Bundle posted to ``POST /v1/plans`` (``application/fhir+json``, or
plain JSON) is imported, planned and saved with its import report; the form's *Load Bundle*
fills the case form for the clinician to check. Refusals name the Bundle path or the case
field with the FHIR element that gave it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from netnav.api import recommend
from netnav.web.config import MAX_BODY_BYTES, MAX_FHIR_BODY_BYTES
from tests.test_web_api import assert_problem
from tests.web_support import JSON, WebApp, parse_case, web_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
FHIR_DIR = ROOT / "examples" / "fhir"
BUNDLES = sorted(FHIR_DIR.glob("*.bundle.json"))
FHIR_JSON = {"Content-Type": "application/fhir+json"}
ILEAL = FHIR_DIR / "ileal-net-g2-carcinoid-syndrome-progressing.bundle.json"


def twin(bundle: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        bundle.with_name(bundle.name.replace(".bundle", ".case")).read_text()
    )
    return doc


def test_there_are_example_bundles() -> None:
    assert len(BUNDLES) >= 7


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name.split(".")[0])
def test_bundle_as_fhir_json_is_planned_like_its_twin(web: WebApp, bundle: Path) -> None:
    response = web.client.post("/v1/plans", content=bundle.read_bytes(), headers=FHIR_JSON)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["plan"] == recommend(parse_case(twin(bundle)), web.knowledge)
    assert response.headers["location"] == body["url"]
    report = body["fhir_import"]
    assert report["provenance"] and all(
        isinstance(v, list) and v for v in report["provenance"].values()
    )
    assert all(set(u) == {"resource", "element", "reason"} for u in report["unmapped"])
    saved = web.client.get(body["url"]).json()
    assert saved["case"] == twin(bundle)


def test_bundle_sent_as_plain_json_is_read_as_fhir(web: WebApp) -> None:
    response = web.client.post("/v1/plans", content=ILEAL.read_bytes(), headers=JSON)

    assert response.status_code == 201, response.text
    assert "fhir_import" in response.json()
    assert response.json()["plan"] == recommend(parse_case(twin(ILEAL)), web.knowledge)


def test_case_posted_as_fhir_json_is_refused_as_fhir(web: WebApp) -> None:
    response = web.client.post(
        "/v1/plans", content=json.dumps(twin(ILEAL)).encode(), headers=FHIR_JSON
    )

    body = assert_problem(response, 422, "invalid-fhir")
    assert body["errors"]
    assert web.store.search()[1] == 0


def test_not_json_as_fhir_is_a_400(web: WebApp) -> None:
    response = web.client.post(
        "/v1/plans", content=b'{"resourceType": "Bundle",', headers=FHIR_JSON
    )

    body = assert_problem(response, 400, "malformed-request")
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "collection", "entry": "not a list"},
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "NoSuchThing"}}],
        },
    ],
    ids=["array", "patient-alone", "entry-not-list", "unknown-resource-type"],
)
def test_unreadable_bundles_are_422_invalid_fhir_with_a_path(web: WebApp, document: object) -> None:
    response = web.client.post(
        "/v1/plans", content=json.dumps(document).encode(), headers=FHIR_JSON
    )

    body = assert_problem(response, 422, "invalid-fhir")
    assert body["errors"] and all("path" in e and e["detail"] for e in body["errors"])
    assert web.store.search()[1] == 0


def _resource(bundle: dict[str, Any], resource_id: str) -> dict[str, Any]:
    (found,) = [e["resource"] for e in bundle["entry"] if e["resource"].get("id") == resource_id]
    return found


def test_case_problem_names_the_fhir_element_that_gave_it(web: WebApp) -> None:
    bundle = json.loads(ILEAL.read_text())
    sstr = _resource(bundle, "obs-ileum-sstr")
    (weakest,) = [
        c for c in sstr["component"] if c["code"]["coding"][0]["code"].endswith("krenning_min")
    ]
    (strongest,) = [
        c for c in sstr["component"] if c["code"]["coding"][0]["code"].endswith("krenning_max")
    ]
    weakest["valueInteger"], strongest["valueInteger"] = 4, 2  # weakest above strongest

    response = web.client.post("/v1/plans", content=json.dumps(bundle).encode(), headers=FHIR_JSON)

    body = assert_problem(response, 422, "invalid-fhir")
    assert "the case imported from the Bundle" in body["detail"]
    assert any(
        e["path"].startswith("tumor.sstr_imaging") and "Observation/obs-ileum-sstr" in e["message"]
        for e in body["errors"]
    ), body["errors"]
    assert web.store.search()[1] == 0


def test_out_of_range_value_is_listed_not_used(web: WebApp) -> None:
    bundle = json.loads(ILEAL.read_text())
    _resource(bundle, "obs-ileum-ki67")["valueQuantity"]["value"] = 140

    response = web.client.post("/v1/plans", content=json.dumps(bundle).encode(), headers=FHIR_JSON)

    assert response.status_code == 201, response.text
    body = response.json()
    report = body["fhir_import"]
    assert "tumor.ki67_percent" not in report["provenance"]
    (listed,) = [
        u
        for u in report["unmapped"]
        if u["resource"] == "Observation/obs-ileum-ki67" and "outside" in u["reason"]
    ]
    assert "140" in listed["reason"] and "0–100" in listed["reason"]
    assert "tumor.ki67_percent" in json.dumps(body["plan"]["missing_information"])


def _padded(bundle: dict[str, Any], size: int) -> bytes:
    """The bundle with Practitioner entries added until it is about ``size`` bytes."""
    padded = copy.deepcopy(bundle)
    i = 0
    while len(json.dumps(padded)) < size:
        padded["entry"].append(
            {
                "fullUrl": f"urn:uuid:pad-{i}",
                "resource": {
                    "resourceType": "Practitioner",
                    "id": f"pad-{i}",
                    "name": [{"text": "Dr " + "x" * 2000}],
                },
            }
        )
        i += 1
    return json.dumps(padded).encode()


def test_fhir_bodies_may_be_larger_than_a_case(web: WebApp) -> None:
    body = _padded(json.loads(ILEAL.read_text()), MAX_BODY_BYTES + 200_000)
    assert MAX_BODY_BYTES < len(body) < MAX_FHIR_BODY_BYTES

    response = web.client.post("/v1/plans", content=body, headers=FHIR_JSON)

    assert response.status_code == 201, response.text[:500]
    unmapped = {u["resource"] for u in response.json()["fhir_import"]["unmapped"]}
    assert "Practitioner/pad-0" in unmapped  # listed, not dropped


def test_fhir_body_over_8_mb_is_a_413(web: WebApp) -> None:
    response = web.client.post(
        "/v1/plans", content=b" " * (MAX_FHIR_BODY_BYTES + 1), headers=FHIR_JSON
    )

    assert_problem(response, 413, "body-too-large")


def test_openapi_documents_the_fhir_body(web: WebApp) -> None:
    doc = web.client.get("/openapi.json").json()
    content = doc["paths"]["/v1/plans"]["post"]["requestBody"]["content"]

    assert content["application/fhir+json"]["schema"] == {"$ref": "#/components/schemas/FhirBundle"}
    assert "FhirImportReport" in doc["components"]["schemas"]


# --- the form's Load Bundle --------------------------------------------------------------


def _upload_form(web: WebApp) -> tuple[str, str]:
    page = web.client.get("/plans/new")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    form = soup.find("form", attrs={"enctype": "multipart/form-data"})
    assert form is not None, "the form page offers a Bundle upload"
    token = form.find("input", attrs={"name": "csrftoken"})
    assert token is not None and form.find("input", attrs={"type": "file", "name": "bundle"})
    return str(form["action"]), str(token["value"])


def test_form_loads_a_bundle_for_the_clinician_to_check(web: WebApp) -> None:
    action, token = _upload_form(web)

    response = web.client.post(
        action,
        data={"csrftoken": token},
        files={"bundle": (ILEAL.name, ILEAL.read_bytes(), "application/fhir+json")},
    )

    assert response.status_code == 200, response.text[:800]
    soup = BeautifulSoup(response.text, "html.parser")
    status = soup.find(attrs={"role": "status"})
    assert status is not None and f"Loaded {ILEAL.name}" in status.text
    assert "not used" in status.text  # the unmapped items are listed
    ki67 = soup.find("input", attrs={"name": "tumor.ki67_percent"})
    assert ki67 is not None and float(str(ki67["value"])) == twin(ILEAL)["tumor"]["ki67_percent"]
    assert web.store.search()[1] == 0  # nothing saved until the clinician asks for the plan


def test_form_bundle_upload_without_the_token_is_403(web: WebApp) -> None:
    action, token = _upload_form(web)

    response = web.client.post(
        action,
        data={"csrftoken": token[::-1]},
        files={"bundle": (ILEAL.name, ILEAL.read_bytes(), "application/json")},
    )

    assert response.status_code == 403
    assert "The form has expired" in response.text


def test_form_bundle_that_cannot_be_read_says_why(web: WebApp) -> None:
    action, token = _upload_form(web)

    response = web.client.post(
        action,
        data={"csrftoken": token},
        files={"bundle": ("notes.json", b"{not json", "application/json")},
    )

    assert response.status_code == 422
    alert = BeautifulSoup(response.text, "html.parser").find(attrs={"role": "alert"})
    assert alert is not None and "notes.json could not be used" in alert.text
    assert "not valid JSON" in alert.text


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "the body is empty"),
        (b'<Bundle xmlns="http://hl7.org/fhir"/>', "looks like XML"),
    ],
    ids=["empty", "xml"],
)
def test_empty_or_xml_fhir_body_is_a_400_in_plain_words(
    web: WebApp, body: bytes, said: str
) -> None:
    response = web.client.post("/v1/plans", content=body, headers=FHIR_JSON)

    problem = assert_problem(response, 400, "malformed-request")
    assert said in problem["detail"]


def test_a_case_sent_as_fhir_says_so_once(web: WebApp) -> None:
    response = web.client.post(
        "/v1/plans", content=json.dumps(twin(ILEAL)).encode(), headers=FHIR_JSON
    )

    problem = assert_problem(response, 422, "invalid-fhir")
    (error,) = problem["errors"]
    assert error["path"] == "resourceType"
    assert "looks like a netnav case" in error["detail"]
    assert error["detail"].count("resourceType") == 1


def test_a_repeated_key_in_a_bundle_is_refused_not_last_wins(web: WebApp) -> None:
    text = ILEAL.read_text()
    # The same key twice in one object: JSON parsers would keep the last silently.
    doubled = text.replace(
        '"resourceType": "Bundle",', '"resourceType": "Bundle", "type": "batch",', 1
    )
    assert doubled != text

    response = web.client.post("/v1/plans", content=doubled.encode(), headers=FHIR_JSON)

    problem = assert_problem(response, 400, "malformed-request")
    assert "the key 'type' occurs twice" in problem["detail"]
    assert problem["detail"].count("(document)") <= 1
    assert web.store.search()[1] == 0
