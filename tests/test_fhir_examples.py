"""The FHIR example bundles of examples/fhir/ import into their JSON twins and the same plans.

Each ``examples/fhir/<slug>.bundle.json`` is an mCODE-shaped FHIR R4 Bundle written as an EHR
would emit it (profiles, ICD-10-CM / ICD-O-3 / LOINC / UCUM / SNOMED CT codes, the local netnav
code systems of docs/fhir.md where no standard code exists, and the noise a real record holds:
practitioners, organisations, encounters, vital signs, entered-in-error and superseded results).
Its twin ``<slug>.case.json`` is the netnav-case/1 document the import must produce, exactly.
Three twins are the real cases of ../shared/examples/ (copied in tests/data/examples/) without
their ``extensions``, which FHIR cannot carry.

Checked for every bundle: valid FHIR (fhir.resources R4B models); ``import_bundle(bundle).case``
equals the twin; both plan alike; every resource of the bundle is used (in a provenance value) or
listed in ``unmapped`` with a reason, and the noise is never used; ``netnav import fhir`` writes
the same case and a report.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

import netnav.fhir
from netnav.api import recommend
from netnav.case import case_from_mapping
from netnav.cli import app

ROOT = Path(__file__).resolve().parents[1]
FHIR_EXAMPLES = ROOT / "examples" / "fhir"
SHARED_COPIES = ROOT / "tests" / "data" / "examples"
SLUGS = sorted(p.name.removesuffix(".bundle.json") for p in FHIR_EXAMPLES.glob("*.bundle.json"))
# The twins that are the real example cases of ../shared/examples/ (copies in tests/data/examples/).
SHARED_SLUGS = sorted(p.stem for p in SHARED_COPIES.glob("*.json"))

# Resource kinds that never carry a case fact: an EHR sends them along with every record.
ADMINISTRATIVE = {"Practitioner", "PractitionerRole", "Organization", "Encounter", "Location"}
# Observation statuses whose value must not be used (FHIR R4 observation-status).
NOT_USABLE = {"entered-in-error", "cancelled", "preliminary", "registered"}
VITAL_SIGNS = "vital-signs"
KI67_LOINC = "29593-1"

ImportFn = Callable[..., Any]


# --- reading the examples ------------------------------------------------------------------------


def bundle_of(slug: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FHIR_EXAMPLES / f"{slug}.bundle.json").read_text("utf-8"))
    return doc


def twin_of(slug: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FHIR_EXAMPLES / f"{slug}.case.json").read_text("utf-8"))
    return doc


def resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle["entry"]:
        resource: dict[str, Any] = entry["resource"]
        yield resource


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def codes(concept: dict[str, Any] | None) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in (concept or {}).get("coding", [])}


def is_vital_sign(resource: dict[str, Any]) -> bool:
    return any(
        code == VITAL_SIGNS for cat in resource.get("category", []) for _, code in codes(cat)
    )


def is_ki67(resource: dict[str, Any]) -> bool:
    return ("http://loinc.org", KI67_LOINC) in codes(resource.get("code"))


def noise(bundle: dict[str, Any]) -> dict[str, str]:
    """The resources of ``bundle`` that must not become case facts, with what makes them noise."""
    out: dict[str, str] = {}
    for resource in resources(bundle):
        if resource["resourceType"] in ADMINISTRATIVE:
            out[ref(resource)] = resource["resourceType"]
        elif resource["resourceType"] == "Observation" and is_vital_sign(resource):
            out[ref(resource)] = "vital sign"
        elif resource.get("status") in NOT_USABLE:
            out[ref(resource)] = f"status {resource['status']}"
    return out


def used(resource_ref: str, provenance: dict[str, list[str]]) -> bool:
    """Whether a provenance value names ``resource_ref`` (``Observation/x`` or ``Observation/x.value``)."""
    for elements in provenance.values():
        for element in elements:
            if element == resource_ref or (
                element.startswith(resource_ref) and element[len(resource_ref)] in ".#[/ "
            ):
                return True
    return False


def readable_diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    def lines(doc: dict[str, Any]) -> list[str]:
        return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False).splitlines()

    return "\n".join(
        difflib.unified_diff(lines(expected), lines(actual), "twin", "imported", lineterm="")
    )


def age_on(birth: str, on: str) -> int:
    b, d = date.fromisoformat(birth), date.fromisoformat(on)
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


@pytest.fixture(scope="module")
def import_bundle() -> ImportFn:
    fn: ImportFn = netnav.fhir.import_bundle
    return fn


# --- the examples themselves -------------------------------------------------------------------


def test_there_are_examples_for_every_kind_of_case() -> None:
    assert len(SLUGS) >= 7, SLUGS
    assert set(SHARED_SLUGS) <= set(SLUGS), "every real example case has a FHIR twin"
    for slug in SLUGS:
        assert (FHIR_EXAMPLES / f"{slug}.case.json").is_file(), f"{slug} has no JSON twin"
    readme = (FHIR_EXAMPLES / "README.md").read_text("utf-8")
    for slug in SLUGS:
        assert f"{slug}.bundle.json" in readme, f"examples/fhir/README.md does not describe {slug}"


@pytest.mark.parametrize("slug", SLUGS)
def test_bundle_is_valid_fhir(slug: str) -> None:
    doc = bundle_of(slug)
    bundle = Bundle.model_validate(doc)
    assert bundle.type in {"collection", "searchset"}
    refs = [ref(r) for r in resources(doc)]
    assert len(refs) == len(set(refs)), "resource ids repeat within the bundle"
    patients = [r for r in resources(doc) if r["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert "name" not in patients[0], "example patients are de-identified: no name"
    for resource in resources(doc):
        subject = resource.get("subject") or resource.get("patient")
        if subject is not None:
            assert subject["reference"] == ref(patients[0])


@pytest.mark.parametrize("slug", SLUGS)
def test_bundle_holds_the_noise_an_ehr_sends(slug: str) -> None:
    kinds = set(noise(bundle_of(slug)).values())
    assert {"Practitioner", "Organization", "Encounter", "vital sign"} <= kinds, kinds
    assert "status entered-in-error" in kinds, kinds


def test_some_bundle_holds_a_superseded_ki67() -> None:
    superseded = [
        ref(r)
        for slug in SLUGS
        for r in resources(bundle_of(slug))
        if is_ki67(r) and r.get("status") in {"preliminary", "cancelled"}
    ]
    assert superseded


@pytest.mark.parametrize("slug", SLUGS)
def test_twin_is_a_valid_case_dated_like_the_bundle(slug: str) -> None:
    twin, doc = twin_of(slug), bundle_of(slug)
    case_from_mapping(twin)
    assert "extensions" not in twin, "a FHIR bundle cannot carry extensions.source_notes"
    assert twin["as_of"] == doc["timestamp"][:10], "as_of is the Bundle's timestamp date"
    (patient,) = (r for r in resources(doc) if r["resourceType"] == "Patient")
    if "age_years" in twin.get("patient", {}):
        assert twin["patient"]["age_years"] == age_on(patient["birthDate"], twin["as_of"])
    recommend(case_from_mapping(twin))


@pytest.mark.parametrize("slug", SHARED_SLUGS)
def test_shared_example_twins_are_the_real_cases(slug: str) -> None:
    """The twin is the published case without its notes, plus what the record adds about
    treatments: the procedure or drug text (``details``) and that a finished one is not
    ongoing."""
    real = json.loads((SHARED_COPIES / f"{slug}.json").read_text("utf-8"))["case"]
    real.pop("extensions", None)
    twin = twin_of(slug)
    for item in twin.get("treatments", []):
        item.pop("details", None)
        if item.get("ongoing") is False and (item.get("end") or item.get("stop_reason")):
            del item["ongoing"]
    assert twin == real


# --- the import ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_import_gives_the_twin(slug: str, import_bundle: ImportFn) -> None:
    imported = import_bundle(bundle_of(slug)).case
    twin = twin_of(slug)
    assert imported == twin, "\n" + readable_diff(twin, imported)


@pytest.mark.parametrize("slug", SLUGS)
def test_import_plans_like_the_twin(slug: str, import_bundle: ImportFn) -> None:
    imported = import_bundle(bundle_of(slug)).case
    assert recommend(case_from_mapping(imported)) == recommend(case_from_mapping(twin_of(slug)))


@pytest.mark.parametrize("slug", SLUGS)
def test_nothing_is_dropped_silently(slug: str, import_bundle: ImportFn) -> None:
    doc = bundle_of(slug)
    result = import_bundle(doc)
    unmapped = {item.resource for item in result.unmapped}
    silent = [
        ref(r)
        for r in resources(doc)
        if not used(ref(r), result.provenance) and ref(r) not in unmapped
    ]
    assert not silent, f"neither used nor listed as unmapped: {silent}"
    for item in result.unmapped:
        assert item.reason.strip(), f"{item.resource} is unmapped without a reason"


@pytest.mark.parametrize("slug", SLUGS)
def test_noise_is_unmapped_with_a_reason(slug: str, import_bundle: ImportFn) -> None:
    doc = bundle_of(slug)
    result = import_bundle(doc)
    reasons: dict[str, list[str]] = {}
    for item in result.unmapped:
        reasons.setdefault(item.resource, []).append(item.reason)
    for resource_ref, kind in noise(doc).items():
        assert resource_ref in reasons, f"{resource_ref} ({kind}) is not in unmapped"
        assert all(r.strip() for r in reasons[resource_ref])
        assert not used(resource_ref, result.provenance), f"{resource_ref} ({kind}) gave a fact"


@pytest.mark.parametrize("slug", SLUGS)
def test_provenance_names_resources_of_the_bundle(slug: str, import_bundle: ImportFn) -> None:
    doc = bundle_of(slug)
    result = import_bundle(doc)
    refs = {ref(r) for r in resources(doc)} | {f"Bundle/{doc['id']}"}
    assert result.provenance, "an import with facts has a provenance map"
    for path, elements in result.provenance.items():
        assert elements, path
        for element in elements:
            assert any(used(r, {path: [element]}) for r in refs), f"{path}: {element}"


@pytest.mark.parametrize("slug", SLUGS)
def test_cli_import_writes_the_twin(slug: str, tmp_path: Path, import_bundle: ImportFn) -> None:
    out, report = tmp_path / "case.json", tmp_path / "report.json"
    bundle_path = FHIR_EXAMPLES / f"{slug}.bundle.json"
    result = CliRunner().invoke(
        app, ["import", "fhir", str(bundle_path), "--out", str(out), "--report", str(report)]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    written = json.loads(out.read_text("utf-8"))
    twin = twin_of(slug)
    assert written == twin, "\n" + readable_diff(twin, written)
    expected_report = json.loads(json.dumps(import_bundle(bundle_of(slug)).report()))
    assert json.loads(report.read_text("utf-8")) == expected_report
