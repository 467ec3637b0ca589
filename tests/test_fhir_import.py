"""FHIR R4 / mCODE import (netnav.fhir.import_bundle and ``netnav import fhir``).

Each mapping family with its values, provenance strings and unmapped reasons; unit conversions
through pint/UCUM; the as_of rule; newest-wins, same-date conflicts and superseded values;
excluded statuses; every resource accounted for; the CLI's exit codes and files; and the
round trip ``import_bundle(build(case)).case == case`` over every case of tests/data
(tests/fhir_builder.py: local codes only; ``preferences`` and ``extensions`` are not
expressible in FHIR, ``id`` and ``setting.region`` are arguments).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netnav.case import case_from_mapping
from netnav.cli import app
from netnav.fhir import FhirImport, FhirImportError, import_bundle
from netnav.fhir.units import UnitError, convert, ratio
from tests.fhir_builder import NOT_EXPRESSIBLE, build

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
UCUM = "http://unitsofmeasure.org"
AJCC = "http://cancerstaging.org"
FIELD = "https://fhir.netnav.org/CodeSystem/case-field"
VALUE = "https://fhir.netnav.org/CodeSystem/case-value"
THERAPY = "https://fhir.netnav.org/CodeSystem/therapy"
MORPHOLOGY = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DATA = Path(__file__).parent / "data"


# -- builders -------------------------------------------------------------------------------


def bundle(
    *resources: dict[str, Any], timestamp: str | None = "2026-09-14T10:00:00Z"
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    if timestamp:
        doc["timestamp"] = timestamp
    return doc


def qty(value: float, code: str) -> dict[str, Any]:
    return {"value": value, "system": UCUM, "code": code}


def obs(
    rid: str, system: str, code: str, when: str | None = "2026-09-01", **value: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if when:
        res["effectiveDateTime"] = when
    res.update(value)
    return res


def coded(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def condition(
    rid: str,
    icd: str | None = None,
    *,
    morphology: str | None = None,
    body_site: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": "Patient/p"},
    }
    if icd:
        res["code"] = coded(ICD10CM, icd)
    if morphology:
        res["extension"] = [{"url": MORPHOLOGY, "valueCodeableConcept": coded(ICDO3, morphology)}]
    if body_site:
        res["bodySite"] = [coded(SNOMED, body_site)]
    res.update(more)
    return res


PRIMARY = condition("primary", "C7A.012", morphology="8240/3")


def run(*resources: dict[str, Any], **kwargs: Any) -> FhirImport:
    timestamp = kwargs.pop("timestamp", "2026-09-14T10:00:00Z")
    return import_bundle(bundle(PRIMARY, *resources, timestamp=timestamp), **kwargs)


def reasons(result: FhirImport, resource: str) -> list[str]:
    return [u.reason for u in result.unmapped if u.resource == resource]


# -- Patient ------------------------------------------------------------------------------


def test_patient_sex_and_age_at_as_of() -> None:
    result = run(
        {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1960-09-15"}
    )
    assert result.case["patient"] == {"age_years": 65, "sex": "female"}
    assert result.provenance["patient.age_years"] == ["Patient/p.birthDate"]
    assert result.provenance["patient.sex"] == ["Patient/p.gender"]


def test_partial_birth_date_gives_the_youngest_possible_age() -> None:
    result = run({"resourceType": "Patient", "id": "p", "birthDate": "1960"})
    assert result.case["patient"]["age_years"] == 65  # born by 1960-12-31 at the latest


def test_unknown_gender_stays_unknown() -> None:
    result = run({"resourceType": "Patient", "id": "p", "gender": "unknown"})
    assert "patient" not in result.case
    assert reasons(result, "Patient/p") == ["gender 'unknown' left unknown"]


# -- Conditions ---------------------------------------------------------------------------


def test_primary_site_and_morphology() -> None:
    result = run()
    assert result.case["tumor"] == {"primary_site": "small_intestine", "differentiation": "well"}
    assert result.provenance["tumor.primary_site"] == ["Condition/primary.code"]
    assert result.provenance["tumor.differentiation"] == ["Condition/primary.extension[0]"]


@pytest.mark.parametrize(
    ("icd", "morph", "expected"),
    [
        (
            "C34.1",
            "8249/3",
            {
                "primary_site": "lung",
                "differentiation": "well",
                "lung_histotype": "atypical_carcinoid",
            },
        ),
        (
            "C7A.090",
            "8240/3",
            {
                "primary_site": "lung",
                "differentiation": "well",
                "lung_histotype": "typical_carcinoid",
            },
        ),
        ("C25.4", "8246/3", {"primary_site": "pancreas", "differentiation": "poor"}),
        (
            "C18.7",
            "8013/3",
            {"primary_site": "colon", "differentiation": "poor", "nec_subtype": "large_cell"},
        ),
        (
            "C15.5",
            "8041/3",
            {"primary_site": "esophagus", "differentiation": "poor", "nec_subtype": "small_cell"},
        ),
        ("C25.0", "8154/3", {"primary_site": "pancreas", "differentiation": "mixed_minen"}),
        ("C7A.026", None, {"primary_site": "rectum"}),
    ],
)
def test_icd10_and_icdo3(icd: str, morph: str | None, expected: dict[str, Any]) -> None:
    result = import_bundle(bundle(condition("c", icd, morphology=morph)))
    assert result.case["tumor"] == expected


def test_organ_code_without_neuroendocrine_morphology_is_not_the_primary() -> None:
    result = import_bundle(bundle(condition("c", "C25.0")))
    assert result.case["tumor"] == {}
    assert any("only with a neuroendocrine morphology" in r for r in reasons(result, "Condition/c"))


def test_body_site_when_the_code_names_no_site() -> None:
    result = import_bundle(
        bundle(condition("c", "C7A.00", morphology="8240/3", body_site="15776009"))
    )
    assert result.case["tumor"]["primary_site"] == "pancreas"
    assert result.provenance["tumor.primary_site"] == ["Condition/c.bodySite[0]"]


def test_secondary_cancer_conditions_give_metastases_in_order() -> None:
    result = run(condition("m1", "C78.7"), condition("m2", "C7B.03"), condition("m3", "C7B.02"))
    assert result.case["tumor"]["metastases"] == ["liver", "bone"]
    assert result.provenance["tumor.metastases"] == [
        "Condition/m1.code",
        "Condition/m2.code",
        "Condition/m3.code",
    ]


def test_metastasis_without_site_leaves_metastases_unknown() -> None:
    result = run(condition("m", "C7B.00"))
    assert "metastases" not in result.case["tumor"]
    assert reasons(result, "Condition/m") == [
        "tumor.metastases: present but no site netnav can place; left unknown"
    ]


def test_resolved_metastasis_not_counted() -> None:
    status = {
        "clinicalStatus": coded(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved"
        )
    }
    result = run(condition("m", "C78.7", **status))
    assert "metastases" not in result.case["tumor"]
    assert reasons(result, "Condition/m") == [
        "metastasis is resolved: not counted as current disease"
    ]


def test_refuted_condition_ignored() -> None:
    status = {
        "verificationStatus": coded(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted"
        )
    }
    result = run(condition("m", "C78.7", **status))
    assert "metastases" not in result.case["tumor"]
    assert reasons(result, "Condition/m") == ["verificationStatus refuted: not a fact"]


def test_lymph_node_secondary_is_listed_not_guessed() -> None:
    result = run(condition("n", "C77.2"))
    assert "metastases" not in result.case["tumor"] and "nodes" not in result.case["tumor"]
    assert "regional" in reasons(result, "Condition/n")[0]


def test_symptom_and_syndrome_conditions() -> None:
    diarrhea = {
        "resourceType": "Condition",
        "id": "d",
        "code": coded(SNOMED, "62315008"),
        "subject": {"reference": "Patient/p"},
    }
    syndrome = {
        "resourceType": "Condition",
        "id": "s",
        "code": coded(SNOMED, "35868009"),
        "subject": {"reference": "Patient/p"},
    }
    result = run(diarrhea, syndrome)
    assert result.case["tumor"]["symptoms"] == ["diarrhea"]
    assert result.case["tumor"]["functional_syndrome"] == "carcinoid_syndrome"
    assert result.provenance["tumor.symptoms"] == ["Condition/d.code"]


# -- grade and TNM ------------------------------------------------------------------------


def test_histologic_grade() -> None:
    result = run(obs("g", LOINC, "33732-9", valueCodeableConcept=coded(SNOMED, "1286893008")))
    assert result.case["tumor"]["reported_grade"] == "g2"
    assert result.provenance["tumor.reported_grade"] == ["Observation/g.valueCodeableConcept"]


def test_tnm_nodes_m0_and_stage_group() -> None:
    result = run(
        obs("n", LOINC, "21906-3", valueCodeableConcept=coded(AJCC, "cN1")),
        obs("m", LOINC, "21907-1", valueCodeableConcept=coded(AJCC, "cM0")),
        obs("s", LOINC, "21908-9", valueCodeableConcept=coded(AJCC, "3")),
    )
    assert result.case["tumor"]["nodes"] == "n1"
    assert result.case["tumor"]["metastases"] == []
    assert result.provenance["tumor.metastases"] == ["Observation/m.valueCodeableConcept"]
    assert "stage group read but not used" in reasons(result, "Observation/s")[0]


def test_snomed_pn_category() -> None:
    result = run(obs("n", SNOMED, "371494008", valueCodeableConcept=coded(SNOMED, "1229947003")))
    assert result.case["tumor"]["nodes"] == "n0"


def test_m1_without_site_leaves_metastases_absent() -> None:
    result = run(obs("m", LOINC, "21901-4", valueCodeableConcept=coded(AJCC, "pM1")))
    assert "metastases" not in result.case["tumor"]
    assert reasons(result, "Observation/m") == [
        "tumor.metastases: present but no site netnav can place; left unknown"
    ]


def test_m0_outweighed_by_a_metastasis_condition() -> None:
    result = run(
        obs("m", LOINC, "21907-1", valueCodeableConcept=coded(AJCC, "cM0")),
        condition("liver", "C78.7"),
    )
    assert result.case["tumor"]["metastases"] == ["liver"]
    assert "outweighed" in reasons(result, "Observation/m")[0]


# -- tumour markers and labs ---------------------------------------------------------------


def test_chromogranin_a_times_uln_across_units() -> None:
    cga = obs(
        "cga",
        LOINC,
        "9811-1",
        valueQuantity=qty(300, "ng/mL"),
        referenceRange=[{"high": qty(100, "ug/L")}],
    )
    result = run(cga)
    assert result.case["patient"]["labs"]["chromogranin_a_x_uln"] == 3
    assert result.provenance["patient.labs.chromogranin_a_x_uln"] == [
        "Observation/cga.valueQuantity"
    ]


def test_chromogranin_a_without_reference_range() -> None:
    result = run(obs("cga", LOINC, "9811-1", valueQuantity=qty(300, "ng/mL")))
    assert "patient" not in result.case
    assert "needs the lab's upper reference limit" in reasons(result, "Observation/cga")[0]


def test_5hiaa_mass_per_day_to_micromoles() -> None:
    result = run(obs("h", LOINC, "1695-6", valueQuantity=qty(10, "mg/(24.h)")))
    # 10 mg / 191.18 g/mol = 52.31 µmol
    assert result.case["patient"]["labs"]["u5hiaa_umol_24h"] == pytest.approx(52.3067, abs=1e-3)


@pytest.mark.parametrize(
    ("code", "value", "unit", "field", "expected"),
    [
        ("718-7", 125, "g/L", "hemoglobin_g_dl", 12.5),
        ("718-7", 12.5, "g/dL", "hemoglobin_g_dl", 12.5),
        ("777-3", 250, "10*3/uL", "platelets_10e9_l", 250),
        ("1751-7", 3.8, "g/dL", "albumin_g_l", 38),
        ("14771-0", 5.4, "mmol/L", "fasting_glucose_mmol_l", 5.4),
        ("1558-6", 90, "mg/dL", "fasting_glucose_mmol_l", pytest.approx(4.9957, abs=1e-3)),
        ("33762-6", 0.3, "ng/mL", "nt_probnp_pg_ml", 300),
        ("62238-1", 60, "mL/min/{1.73_m2}", "egfr_ml_min", 60),
    ],
)
def test_lab_unit_conversion(code: str, value: float, unit: str, field: str, expected: Any) -> None:
    result = run(obs("lab", LOINC, code, valueQuantity=qty(value, unit)))
    assert result.case["patient"]["labs"][field] == expected


def test_incompatible_unit_is_refused_and_listed() -> None:
    result = run(obs("hb", LOINC, "718-7", valueQuantity=qty(7.8, "mmol/L")))
    assert "patient" not in result.case
    assert "cannot be converted" in reasons(result, "Observation/hb")[0]


def test_inexact_value_is_not_used() -> None:
    result = run(obs("hb", LOINC, "718-7", valueQuantity={**qty(8, "g/dL"), "comparator": "<"}))
    assert "not an exact value" in reasons(result, "Observation/hb")[0]


def test_units_module() -> None:
    assert convert(30, "ng/mL", "ug/L") == 30
    assert convert(12.5, "g/dL", "g/L") == 125
    assert ratio(2.4, "mg/dL", 1.2, "mg/dL") == 2
    with pytest.raises(UnitError, match="molar mass"):
        convert(10, "mg/(24.h)", "umol/(24.h)")
    with pytest.raises(UnitError, match="not a UCUM unit"):
        convert(1, "furlongs", "mm")


# -- performance status, Ki-67, SSTR -----------------------------------------------------------


def test_ecog_integer_or_answer_code_and_karnofsky() -> None:
    result = run(
        obs("e", LOINC, "89247-1", valueCodeableConcept=coded(LOINC, "LA9624-3")),
        obs("k", LOINC, "89243-0", valueInteger=70),
    )
    assert result.case["patient"]["ecog"] == 2
    assert result.case["patient"]["karnofsky"] == 70
    assert run(obs("e", LOINC, "89247-1", valueInteger=1)).case["patient"]["ecog"] == 1


def test_ki67_newest_current_older_history_future_ignored() -> None:
    result = run(
        obs("k0", LOINC, "29593-1", "2021-03", valueQuantity=qty(4, "%")),
        obs(
            "k1",
            FIELD,
            "tumor.ki67_percent",
            "2026-08-02",
            valueQuantity=qty(25, "%"),
            component=[
                {
                    "code": coded(FIELD, "tumor.ki67_history.specimen"),
                    "valueCodeableConcept": coded(VALUE, "metastasis"),
                }
            ],
        ),
        obs("k2", LOINC, "29593-1", "2026-10-01", valueQuantity=qty(40, "%")),
    )
    tumor = result.case["tumor"]
    assert tumor["ki67_percent"] == 25
    assert tumor["ki67_history"] == [{"date": "2021-03", "percent": 4, "specimen": "unknown"}]
    assert result.provenance["tumor.ki67_percent"] == ["Observation/k1.valueQuantity"]
    assert result.provenance["tumor.ki67_history[0]"] == ["Observation/k0.valueQuantity"]
    assert reasons(result, "Observation/k2") == [
        "dated 2026-10-01, after as_of 2026-09-14: ignored"
    ]


def test_ki67_same_date_conflict_left_unknown() -> None:
    result = run(
        obs("a", LOINC, "29593-1", valueQuantity=qty(8, "%")),
        obs("b", LOINC, "29593-1", valueQuantity=qty(30, "%")),
    )
    assert "ki67_percent" not in result.case["tumor"]
    assert (
        len(reasons(result, "Observation/a")) == 1
        and "disagree" in reasons(result, "Observation/b")[0]
    )


def test_preliminary_result_superseded_by_the_final_one() -> None:
    result = run(
        {**obs("pre", LOINC, "29593-1", valueQuantity=qty(2, "%")), "status": "preliminary"},
        obs("fin", LOINC, "29593-1", valueQuantity=qty(8, "%")),
    )
    assert result.case["tumor"]["ki67_percent"] == 8
    assert "ki67_history" not in result.case["tumor"]
    assert reasons(result, "Observation/pre") == [
        "preliminary result superseded by the final result Observation/fin"
    ]


def test_sstr_panel_newest_wins() -> None:
    def panel(rid: str, when: str, krenning: int) -> dict[str, Any]:
        return obs(
            rid,
            FIELD,
            "tumor.sstr_imaging",
            when,
            component=[
                {
                    "code": coded(FIELD, "tumor.sstr_imaging.modality"),
                    "valueCodeableConcept": coded(VALUE, "ga68_dotatate_pet"),
                },
                {"code": coded(FIELD, "tumor.sstr_imaging.krenning_max"), "valueInteger": krenning},
            ],
        )

    result = run(panel("old", "2024-01-01", 2), panel("new", "2026-06-01", 4))
    assert result.case["tumor"]["sstr_imaging"] == {
        "modality": "ga68_dotatate_pet",
        "krenning_max": 4,
    }
    assert result.provenance["tumor.sstr_imaging"] == ["Observation/new.component"]
    assert reasons(result, "Observation/old") == [
        "tumor.sstr_imaging: superseded by Observation/new.component (2026-06-01)"
    ]


# -- the local case-field code system ---------------------------------------------------------


def test_case_field_values_checked_against_the_schema() -> None:
    result = run(
        obs("a", FIELD, "tumor.size_mm", valueQuantity=qty(2.3, "cm")),
        obs("b", FIELD, "patient.frail", valueBoolean=True),
        obs("c", FIELD, "tumor.resectability", valueCodeableConcept=coded(VALUE, "unresectable")),
        obs("d", FIELD, "tumor.necrosis", valueCodeableConcept=coded(VALUE, "lots")),
        obs("e", FIELD, "tumor.no_such_field", valueBoolean=True),
        obs("f", FIELD, "patient.comorbidities.diabetes", valueBoolean=True),
    )
    tumor = result.case["tumor"]
    assert tumor["size_mm"] == 23 and tumor["resectability"] == "unresectable"
    assert result.case["patient"] == {"frail": True}
    assert "'lots' is not one of none, focal, extensive" in reasons(result, "Observation/d")[0]
    assert "not a case field" in reasons(result, "Observation/e")[0]
    assert "is coded" in reasons(result, "Observation/f")[0]


def test_newest_wins_and_older_is_superseded() -> None:
    result = run(
        obs("old", LOINC, "718-7", "2026-01-05", valueQuantity=qty(10, "g/dL")),
        obs("new", LOINC, "718-7", "2026-09-01", valueQuantity=qty(12, "g/dL")),
    )
    assert result.case["patient"]["labs"]["hemoglobin_g_dl"] == 12
    assert reasons(result, "Observation/old") == [
        "patient.labs.hemoglobin_g_dl: superseded by Observation/new.valueQuantity (2026-09-01)"
    ]


def test_same_date_disagreement_leaves_the_field_absent() -> None:
    result = run(
        obs("a", LOINC, "718-7", valueQuantity=qty(10, "g/dL")),
        obs("b", LOINC, "718-7", valueQuantity=qty(12, "g/dL")),
    )
    assert "patient" not in result.case
    assert "values disagree on the same date" in reasons(result, "Observation/a")[0]
    assert "values disagree on the same date" in reasons(result, "Observation/b")[0]


def test_entered_in_error_and_cancelled_ignored() -> None:
    result = run(
        {**obs("a", LOINC, "718-7", valueQuantity=qty(10, "g/dL")), "status": "entered-in-error"},
        {**obs("b", LOINC, "718-7", valueQuantity=qty(11, "g/dL")), "status": "cancelled"},
    )
    assert "patient" not in result.case
    assert reasons(result, "Observation/a") == ["status entered-in-error: not a fact"]
    assert reasons(result, "Observation/b") == ["status cancelled: not a fact"]


def test_every_resource_is_accounted_for() -> None:
    result = run(
        {"resourceType": "Practitioner", "id": "dr"},
        {"resourceType": "Organization", "id": "org"},
        obs("glu", LOINC, "2345-7", valueQuantity=qty(5, "mmol/L")),
    )
    assert reasons(result, "Practitioner/dr") == ["not clinical facts netnav reads"]
    assert reasons(result, "Organization/org") == ["not clinical facts netnav reads"]
    assert "not a code netnav reads" in reasons(result, "Observation/glu")[0]


# -- as_of ---------------------------------------------------------------------------------


def test_as_of_argument_then_timestamp_then_newest_date() -> None:
    ki = obs("k", LOINC, "29593-1", "2025-05-20", valueQuantity=qty(3, "%"))
    assert run(ki, as_of=date(2026, 1, 2)).case["as_of"] == "2026-01-02"
    assert run(ki).case["as_of"] == "2026-09-14"
    assert run(ki, timestamp=None).case["as_of"] == "2025-05-20"
    assert "as_of" not in import_bundle(bundle(condition("c", "C7A.012"), timestamp=None)).case


def test_as_of_before_an_observation_ignores_it() -> None:
    result = run(
        obs("k", LOINC, "29593-1", "2026-01-10", valueQuantity=qty(3, "%")),
        as_of=date(2025, 12, 31),
    )
    assert "ki67_percent" not in result.case["tumor"]


def test_case_id_and_region_arguments() -> None:
    case = run(case_id="A1", region="eu").case
    assert case["id"] == "A1" and case["setting"] == {"region": "eu"}


# -- treatments (netnav.fhir.treatments) ----------------------------------------------------


def test_medication_statement_becomes_a_treatment() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms",
        "status": "active",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {
            "coding": [{"system": THERAPY, "code": "lanreotide"}],
            "text": "lanreotide 120 mg",
        },
        "effectivePeriod": {"start": "2025-02"},
    }
    result = run(statement)
    assert result.case["treatments"][0]["therapy"] == "lanreotide"
    assert result.case["treatments"][0]["start"] == "2025-02"
    assert result.provenance["treatments[0].therapy"] == [
        "MedicationStatement/ms.medicationCodeableConcept"
    ]


def test_no_treatment_so_far() -> None:
    result = run(obs("none", FIELD, "treatments", valueCodeableConcept=coded(VALUE, "none")))
    assert result.case["treatments"] == []
    assert "treatments" not in run().case


# -- reading errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([1, 2], "(document)"),
        ({"format": "netnav-case/1"}, "resourceType"),
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "valueQuantity": {"value": "abc"},
            },
            "valueQuantity.value",
        ),
        ({"resourceType": "Transport"}, "resourceType"),
        ({"resourceType": "Bundle", "type": "shopping-list"}, "type"),
    ],
)
def test_unreadable_documents_name_the_json_path(doc: Any, path: str) -> None:
    with pytest.raises(FhirImportError) as caught:
        import_bundle(doc)
    assert caught.value.path == path


def test_a_single_resource_is_read() -> None:
    assert import_bundle(PRIMARY).case["tumor"]["primary_site"] == "small_intestine"


# -- round trip -----------------------------------------------------------------------------


def _cases() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(DATA.glob("*/*.json")):
        doc = json.loads(path.read_text("utf-8"))
        found.append((f"{path.parent.name}/{path.stem}", doc.get("case", doc)))
    return found


CASES = _cases()


def _comparable(
    case: dict[str, Any], imported: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the round trip must preserve. The treatments importer infers two things the case
    leaves open: ``ongoing: false`` once a treatment has an end or a stop reason, and
    ``details`` = the option id when no text names it; both are accepted here."""
    want = {k: v for k, v in case.items() if k not in NOT_EXPRESSIBLE}
    got = dict(imported)
    if "treatments" in want and "treatments" in got:
        fixed = []
        for wanted, item in zip(want["treatments"], got["treatments"], strict=False):
            item = dict(item)
            if item.get("details") == item["therapy"] and "details" not in wanted:
                del item["details"]
            if (
                "ongoing" not in wanted
                and item.get("ongoing") is False
                and ("end" in wanted or "stop_reason" in wanted)
            ):
                del item["ongoing"]
            fixed.append(item)
        got["treatments"] = fixed + got["treatments"][len(fixed) :]
    return want, got


def test_round_trip_covers_every_data_set() -> None:
    assert len(CASES) >= 100
    assert {name.split("/")[0] for name, _ in CASES} == {"clinical", "examples", "vignettes"}


@pytest.mark.parametrize(("name", "case"), CASES, ids=[n for n, _ in CASES])
def test_round_trip(name: str, case: dict[str, Any]) -> None:
    doc = build(case)
    result = import_bundle(
        doc, case_id=case.get("id"), region=case.get("setting", {}).get("region")
    )
    want, got = _comparable(case, result.case)
    assert got == want
    case_from_mapping(result.case)
    # every resource gave a field or is listed
    used = {ref.split(".", 1)[0] for refs in result.provenance.values() for ref in refs}
    listed = {u.resource for u in result.unmapped}
    for entry in doc["entry"]:
        label = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        assert label in used or label in listed, label


# -- CLI ---------------------------------------------------------------------------------------

runner = CliRunner()


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_cli_writes_case_and_report(tmp_path: Path) -> None:
    src = _write(tmp_path, bundle(PRIMARY, {"resourceType": "Practitioner", "id": "dr"}))
    out, report = tmp_path / "case.json", tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "import",
            "fhir",
            str(src),
            "--out",
            str(out),
            "--report",
            str(report),
            "--region",
            "us",
            "--id",
            "X",
        ],
    )
    assert result.exit_code == 0, result.stderr
    case = json.loads(out.read_text("utf-8"))
    assert (
        case["tumor"]["primary_site"] == "small_intestine"
        and case["setting"] == {"region": "us"}
        and case["id"] == "X"
    )
    assert out.read_text("utf-8") == json.dumps(case, indent=2, ensure_ascii=False) + "\n"
    rep = json.loads(report.read_text("utf-8"))
    assert rep["format"] == "netnav-fhir-import/1"
    assert rep["provenance"]["tumor.primary_site"] == ["Condition/primary.code"]
    assert rep["unmapped"] == [
        {
            "resource": "Practitioner/dr",
            "element": "Practitioner",
            "reason": "not clinical facts netnav reads",
        }
    ]
    assert "Practitioner/dr" in result.stderr


def test_cli_stdin_to_stdout() -> None:
    result = runner.invoke(
        app, ["import", "fhir", "-", "--as-of", "2026-01-01"], input=json.dumps(bundle(PRIMARY))
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["as_of"] == "2026-01-01"


def test_cli_invalid_case_writes_nothing(tmp_path: Path) -> None:
    src = _write(tmp_path, bundle(obs("k", LOINC, "29593-1", valueQuantity=qty(15, "%"))))
    out, report = tmp_path / "case.json", tmp_path / "report.json"
    result = runner.invoke(
        app, ["import", "fhir", str(src), "--out", str(out), "--report", str(report)]
    )
    assert result.exit_code == 2
    assert "tumor.primary_site" in result.stderr
    assert not out.exists() and not report.exists()
    assert list(tmp_path.iterdir()) == [src]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "netnav-case/1", "tumor": {}}', "looks like a netnav case"),
        ("<Bundle xmlns='http://hl7.org/fhir'/>", "looks like XML"),
        ('{"resourceType": "Patient", "birthDate": "12/05/1960"}', "birthDate"),
        (
            '{"resourceType": "Bundle", "type": "collection", "id": "a", "id": "b"}',
            "'id' occurs twice",
        ),
        ('{"resourceType": "Bundle", "type": "collection", "total": NaN}', "NaN"),
    ],
)
def test_cli_unreadable_input_exit_2(tmp_path: Path, content: str, message: str) -> None:
    src = tmp_path / "b.json"
    src.write_text(content, encoding="utf-8")
    out = tmp_path / "case.json"
    result = runner.invoke(app, ["import", "fhir", str(src), "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("given", ["2026-13-01", "20240601", "2024-06", "2024-W01-1"])
def test_cli_bad_as_of(given: str) -> None:
    result = runner.invoke(app, ["import", "fhir", "-", "--as-of", given], input="{}")
    assert result.exit_code == 2 and "--as-of" in result.stderr and "YYYY-MM-DD" in result.stderr


def test_cli_empty_id_is_refused() -> None:
    result = runner.invoke(app, ["import", "fhir", "-", "--id", " "], input="{}")
    assert result.exit_code == 2 and "--id: empty" in result.stderr


def test_cli_invalid_case_lists_what_was_set_aside(tmp_path: Path) -> None:
    """A Condition dated after --as-of leaves the site missing: the message says why."""
    source = tmp_path / "b.json"
    primary = condition("primary", "C7A.012", onsetDateTime="2026-03-01")
    source.write_text(json.dumps(bundle(primary)), "utf-8")
    out = tmp_path / "case.json"

    result = runner.invoke(
        app, ["import", "fhir", str(source), "--out", str(out), "--as-of", "2000-01-01"]
    )

    assert result.exit_code == 2
    assert "tumor.primary_site: required field is missing" in result.stderr
    assert "items of the record not used" in result.stderr
    assert "Condition/primary" in result.stderr and "after as_of 2000-01-01" in result.stderr
    assert not out.exists()


# -- break-test fixes: whose record, which cancer, units, statuses, reading ----------------------

BREAST = condition("breast", "C50.911")
RELATED_PRIMARY = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-primary-cancer-condition"
)
CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"


def focus(target: str) -> dict[str, Any]:
    return {"focus": [{"reference": target}]}


def ki67(rid: str, percent: float, when: str = "2026-09-01", **more: Any) -> dict[str, Any]:
    return obs(rid, LOINC, "29593-1", when, valueQuantity=qty(percent, "%"), **more)


def test_other_cancer_results_named_by_focus_are_not_used() -> None:
    result = run(
        BREAST,
        ki67("ki-net", 5, "2026-03-10", **focus("Condition/primary")),
        ki67("ki-breast", 30, "2026-08-10", **focus("Condition/breast")),
        obs(
            "grade-breast",
            LOINC,
            "33732-9",
            valueCodeableConcept=coded(SNOMED, "1155707008"),
            **focus("Condition/breast"),
        ),
        obs(
            "n-breast",
            LOINC,
            "21900-6",
            valueCodeableConcept=coded(AJCC, "pN1"),
            **focus("Condition/breast"),
        ),
        obs("ecog", LOINC, "89247-1", valueInteger=1),
    )
    tumor = result.case["tumor"]
    assert tumor["ki67_percent"] == 5 and "ki67_history" not in tumor
    assert "reported_grade" not in tumor and "nodes" not in tumor
    assert result.case["patient"]["ecog"] == 1  # patient-level facts are unaffected
    assert reasons(result, "Observation/ki-breast") == [
        "Ki-67 result (tumor.ki67_percent): about Condition/breast (C50.911), "
        "not the neuroendocrine tumour: not used"
    ]
    assert (
        "another primary cancer, not a neuroendocrine neoplasm"
        in reasons(result, "Condition/breast")[0]
    )


def test_two_cancers_and_an_unlinked_tumour_result_leave_the_field_unknown() -> None:
    cga = obs(
        "cga",
        LOINC,
        "9811-1",
        valueQuantity=qty(300, "ug/L"),
        referenceRange=[{"high": qty(100, "ug/L")}],
    )
    result = run(
        BREAST, ki67("ki-net", 5, "2026-03-10", **focus("Condition/primary")), ki67("ki", 30), cga
    )
    assert "ki67_percent" not in result.case["tumor"] and "ki67_history" not in result.case["tumor"]
    assert result.case["patient"]["labs"]["chromogranin_a_x_uln"] == 3  # a NET marker: kept
    [why] = reasons(result, "Observation/ki")
    assert why.startswith("Ki-67 result (tumor.ki67_percent): another active cancer is recorded")
    assert "not linked to the neuroendocrine tumour" in why and "Observation.focus" in why
    assert "left unknown" in reasons(result, "Observation/ki-net")[0]
    # one plain-words summary on the competing cancer's Condition
    assert reasons(result, "Condition/breast")[0] == (
        "Another active cancer is recorded (Condition/breast, C50.911): 1 tumour result not "
        "linked to the neuroendocrine tumour was not used (Ki-67). Link each result to the "
        "NET's Condition (Observation.focus) to use it."
    )
    # the mCODE related-condition extension links a result like focus does
    linked = ki67(
        "ki",
        30,
        extension=[
            {
                "url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-condition",
                "valueReference": {"reference": "Condition/primary"},
            }
        ],
    )
    assert run(BREAST, linked).case["tumor"]["ki67_percent"] == 30
    # without another cancer an unlinked result is the NET's, as before
    assert run(ki67("ki", 30)).case["tumor"]["ki67_percent"] == 30


@pytest.mark.parametrize("url", [RELATED_PRIMARY, CONDITION_RELATED])
def test_metastasis_of_another_cancer_is_not_the_nets(url: str) -> None:
    bone = condition(
        "bone",
        "C79.51",
        extension=[{"url": url, "valueReference": {"reference": "Condition/breast"}}],
    )
    result = run(BREAST, bone, condition("liver", "C7B.02"))
    assert result.case["tumor"]["metastases"] == ["liver"]
    assert "about Condition/breast" in reasons(result, "Condition/bone")[0]


def test_unlinked_metastasis_with_two_cancers_is_unknown_but_c7b_is_the_nets() -> None:
    result = run(BREAST, condition("bone", "C79.51"))
    assert "metastases" not in result.case["tumor"]
    assert "not linked to the neuroendocrine tumour" in reasons(result, "Condition/bone")[0]
    assert run(BREAST, condition("liver", "C7B.02")).case["tumor"]["metastases"] == ["liver"]


def test_organ_code_without_neuroendocrine_morphology_counts_as_another_cancer() -> None:
    adeno = condition("lung", "C34.90", morphology="8140/3", body_site="39607008")
    result = run(adeno, ki67("ki", 40))
    assert result.case["tumor"]["primary_site"] == "small_intestine"
    assert "ki67_percent" not in result.case["tumor"]


GRADE = obs("grade", LOINC, "33732-9", valueCodeableConcept=coded(SNOMED, "1155707008"))


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (condition("bcc", "C44.91"), "non-melanoma skin cancer"),
        (
            condition("prostate", "C61", clinicalStatus=coded(CLINICAL, "resolved")),
            "recorded as resolved",
        ),
        (
            condition("prostate", "C61", clinicalStatus=coded(CLINICAL, "remission")),
            "recorded as remission",
        ),
        (condition("prostate", "C61", abatementDateTime="2015-04-01"), "abated 2015-04-01"),
        (condition("dcis", "D05.11"), "in-situ neoplasm"),
        (condition("cis", "C53.9", morphology="8070/2"), "in-situ neoplasm"),
        (condition("workup", "C80.1"), "unspecified site"),
        (condition("ileum", "C17.9"), "organ of the neuroendocrine primary (small_intestine)"),
    ],
)
def test_a_cancer_that_does_not_compete_leaves_the_nets_results(
    other: dict[str, Any], why: str
) -> None:
    result = run(other, ki67("ki", 12), GRADE)
    tumor = result.case["tumor"]
    assert tumor["ki67_percent"] == 12 and tumor["primary_site"] == "small_intestine"
    assert "reported_grade" in tumor
    [reason] = reasons(result, f"Condition/{other['id']}")
    assert why in reason
    # a result naming that other cancer is still not the NET's
    named = run(other, ki67("ki", 40, **focus(f"Condition/{other['id']}")))
    assert "ki67_percent" not in named.case["tumor"]


def test_an_abatement_after_as_of_leaves_the_cancer_active() -> None:
    later = condition("prostate", "C61", abatementDateTime="2027-01-01")
    assert "ki67_percent" not in run(later, ki67("ki", 12)).case["tumor"]


def test_the_same_organ_rule_needs_the_nets_site() -> None:
    pancreas = condition("pnet", "C25.4")
    result = import_bundle(bundle(pancreas, condition("enc", "C25.9"), ki67("ki", 7)))
    assert result.case["tumor"]["ki67_percent"] == 7
    # a lung cancer beside a pancreatic NET competes
    result = import_bundle(bundle(pancreas, condition("lung", "C34.90"), ki67("ki", 7), GRADE))
    assert "ki67_percent" not in result.case["tumor"]
    assert reasons(result, "Condition/lung")[0].startswith(
        "Another active cancer is recorded (Condition/lung, C34.90): 2 tumour results not "
        "linked to the neuroendocrine tumour were not used (Ki-67, grade)."
    )


PATIENT = {"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1960-01-01"}


def test_resources_about_another_patient_are_not_used() -> None:
    other = ki67("ki-x", 40, subject={"reference": "Patient/someone-else"})
    mine = ki67("ki", 5, "2026-03-01", subject={"reference": "Patient/p"})
    result = run(PATIENT, mine, other)
    assert result.case["tumor"]["ki67_percent"] == 5
    assert reasons(result, "Observation/ki-x") == [
        "about Patient/someone-else, not the record's patient Patient/p: not used"
    ]


def test_patient_references_by_full_url_and_urn_uuid() -> None:
    doc = bundle(PRIMARY, ki67("ki", 7, subject={"reference": "urn:uuid:abc"}))
    doc["entry"].append({"fullUrl": "urn:uuid:abc", "resource": PATIENT})
    assert import_bundle(doc).case["tumor"]["ki67_percent"] == 7
    doc["entry"][1]["resource"]["subject"] = {"reference": "urn:uuid:zzz"}
    result = import_bundle(doc)
    assert "ki67_percent" not in result.case["tumor"]
    assert "not shown to be the record's patient" in reasons(result, "Observation/ki")[0]


def test_patient_id_argument_chooses_the_record() -> None:
    p2 = {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1940-01-01"}
    ecog2 = obs(
        "ecog2", LOINC, "89247-1", "2026-09-10", valueInteger=3, subject={"reference": "Patient/p2"}
    )
    ecog = obs("ecog", LOINC, "89247-1", valueInteger=0, subject={"reference": "Patient/p"})
    result = run(PATIENT, p2, ecog, ecog2, patient_id="p")
    assert result.case["patient"] == {"sex": "female", "age_years": 66, "ecog": 0}
    assert reasons(result, "Patient/p2") == [
        "another patient than the record's (Patient/p): not read"
    ]
    assert "Patient/p2" in reasons(result, "Observation/ecog2")[0]
    # without patient_id, resources naming two patients are refused as a whole
    with pytest.raises(FhirImportError, match="several patients"):
        run(PATIENT, p2, ecog, ecog2)
    # a second Patient that nothing names is listed; the record is the named one's
    quiet = run(PATIENT, p2, ecog)
    assert quiet.case["patient"]["sex"] == "female"
    assert reasons(quiet, "Patient/p2") == [
        "another patient than the record's (Patient/p): not read"
    ]


def test_cli_patient_option(tmp_path: Path) -> None:
    p2 = {"resourceType": "Patient", "id": "p2", "gender": "male"}
    stomach = condition("p2c", "C7A.092", subject={"reference": "Patient/p2"})
    src = _write(tmp_path, bundle(PRIMARY, PATIENT, p2, stomach))
    refused = runner.invoke(app, ["import", "fhir", str(src)])
    assert refused.exit_code == 2 and "several patients" in refused.stderr
    result = runner.invoke(app, ["import", "fhir", str(src), "--patient", "p2"])
    assert result.exit_code == 0
    case = json.loads(result.stdout)
    assert case["patient"]["sex"] == "male" and case["tumor"]["primary_site"] == "stomach"
    assert "Condition/primary" in result.stderr


@pytest.mark.parametrize("unit", ["{percent}", "{%}", "{score}"])
def test_annotation_unit_is_not_a_percentage(unit: str) -> None:
    result = run(
        obs("k", LOINC, "29593-1", valueQuantity={"value": 12, "system": UCUM, "code": unit})
    )
    assert "ki67_percent" not in result.case["tumor"]
    assert "send the UCUM unit '%'" in reasons(result, "Observation/k")[0]
    # the unit 1 is a true fraction
    fraction = run(obs("k", LOINC, "29593-1", valueQuantity=qty(0.12, "1")))
    assert fraction.case["tumor"]["ki67_percent"] == 12


def test_equivalents_use_the_valence() -> None:
    calcium = run(obs("ca", LOINC, "17861-6", valueQuantity=qty(5, "meq/L")))
    assert calcium.case["patient"]["labs"]["calcium_mmol_l"] == 2.5
    potassium = run(obs("k", LOINC, "2823-3", valueQuantity=qty(4.2, "meq/L")))
    assert potassium.case["patient"]["labs"]["potassium_mmol_l"] == 4.2
    local = run(obs("ca", FIELD, "patient.labs.calcium_mmol_l", valueQuantity=qty(5, "meq/L")))
    assert "labs" not in local.case.get("patient", {})
    assert "no valence" in reasons(local, "Observation/ca")[0]


def test_hba1c_ifcc_is_refused() -> None:
    result = run(obs("a", LOINC, "4548-4", valueQuantity=qty(48, "mmol/mol")))
    assert "patient" not in result.case
    assert "IFCC mmol/mol is a different scale" in reasons(result, "Observation/a")[0]
    assert run(obs("a", LOINC, "4548-4", valueQuantity=qty(6.5, "%"))).case["patient"] == {
        "comorbidities": {"hba1c_percent": 6.5}
    }


@pytest.mark.parametrize("status", ["differential", "provisional", "unconfirmed"])
def test_unconfirmed_diagnoses_are_not_facts(status: str) -> None:
    ver = {
        "verificationStatus": coded(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", status
        )
    }
    doc = bundle(condition("net", "C7A.092", **ver), condition("liv", "C7B.02", **ver))
    result = import_bundle(doc)
    assert result.case["tumor"] == {}
    assert reasons(result, "Condition/net") == [
        f"verificationStatus {status}: not a confirmed diagnosis, not used"
    ]


def test_abated_metastasis_is_not_current() -> None:
    abated = run(condition("liv", "C7B.02", abatementDateTime="2026-06-01"))
    assert "metastases" not in abated.case["tumor"]
    assert reasons(abated, "Condition/liv") == [
        "metastasis is abated 2026-06-01: not counted as current disease"
    ]
    later = run(condition("liv", "C7B.02", abatementDateTime="2027-01-01"))
    assert later.case["tumor"]["metastases"] == ["liver"]


def _cga(*ranges: dict[str, Any]) -> dict[str, Any]:
    return obs("c", LOINC, "9811-1", valueQuantity=qty(500, "ng/mL"), referenceRange=list(ranges))


def test_cga_reference_ranges_are_chosen_only_when_unambiguous() -> None:
    on_ppi = {"high": qty(1000, "ng/mL"), "appliesTo": [{"text": "on PPI"}]}
    plain = {"high": qty(100, "ng/mL")}
    chosen = run(_cga(on_ppi, plain))
    assert chosen.case["patient"]["labs"]["chromogranin_a_x_uln"] == 5
    differing = run(_cga(plain, {"high": qty(0.2, "ug/mL")}))
    assert "patient" not in differing.case
    assert "different upper limits" in reasons(differing, "Observation/c")[0]
    restricted = run(_cga(on_ppi))
    assert "patient" not in restricted.case
    assert "applies to on PPI" in reasons(restricted, "Observation/c")[0]
    same = run(_cga(plain, {"high": qty(0.1, "ug/mL")}))
    assert same.case["patient"]["labs"]["chromogranin_a_x_uln"] == 5


def test_parse_fhir_json() -> None:
    from netnav.fhir.read import parse_fhir_json

    assert parse_fhir_json(b'\xef\xbb\xbf{"resourceType": "Patient"}') == {
        "resourceType": "Patient"
    }
    with pytest.raises(FhirImportError) as caught:
        parse_fhir_json('{"entry": [{"resource": {"valueQuantity": {"value": 1, "value": 100}}}]}')
    assert caught.value.path == "entry[0].resource.valueQuantity"
    assert "'value' occurs twice" in caught.value.reason
    for text, words in (
        ('{"value": NaN}', "NaN"),
        ('{"value": -Infinity}', "-Infinity"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (b"\xff\xfe", "not UTF-8"),
        ("", "empty"),
    ):
        with pytest.raises(FhirImportError, match=words):
            parse_fhir_json(text)


def test_deep_nesting_is_an_import_error() -> None:
    ext: dict[str, Any] = {"url": "x", "valueString": "y"}
    for _ in range(300):
        ext = {"url": "x", "extension": [ext]}
    with pytest.raises(FhirImportError, match="nested too deeply"):
        run(obs("k", LOINC, "29593-1", valueQuantity=qty(5, "%"), extension=[ext]))


def test_an_invalid_entry_is_listed_and_the_rest_read() -> None:
    bad = obs("k", LOINC, "29593-1", valueQuantity={"value": "five", "unit": "%"})
    bad_patient = {
        "resourceType": "Patient",
        "id": "p",
        "birthDate": "12/05/1960",
        "gender": "male",
    }
    result = run(bad, bad_patient, obs("ecog", LOINC, "89247-1", valueInteger=1))
    assert result.case["tumor"]["primary_site"] == "small_intestine"
    assert result.case["patient"] == {"ecog": 1}
    [item] = [u for u in result.unmapped if u.resource == "Observation/k"]
    assert item.element == "entry[1].resource.valueQuantity.value"
    assert item.reason.startswith("not valid FHIR R4, not read (")
    assert "nothing in it is used" in item.reason
    [patient] = reasons(result, "Patient/p")
    assert "the patient's sex and age are not read from it" in patient
    bad_primary = condition("primary", "C7A.012", onsetDateTime="yesterday")
    listed = import_bundle(bundle(bad_primary))
    assert "the diagnosis it records is not used" in reasons(listed, "Condition/primary")[0]


# -- lenient reading: small R4 violations in elements netnav does not need ----------------


def test_a_time_without_zone_keeps_the_date() -> None:
    late = obs("k", LOINC, "29593-1", "2026-09-01T10:00:00", valueQuantity=qty(5, "%"))
    result = run(late)
    assert result.case["tumor"]["ki67_percent"] == 5
    [repair] = [u for u in result.unmapped if u.resource == "Observation/k"]
    assert repair.element == "Observation.effectiveDateTime"
    assert repair.reason.startswith(
        "time without zone: date kept (2026-09-01T10:00:00 → 2026-09-01"
    )


def test_an_instant_without_zone_is_not_cut_to_a_date() -> None:
    issued = obs("k", LOINC, "29593-1", valueQuantity=qty(5, "%"), issued="2026-09-01T10:00:00")
    result = run(issued)
    assert "ki67_percent" not in result.case["tumor"]
    [item] = [u for u in result.unmapped if u.resource == "Observation/k"]
    assert item.element == "entry[1].resource.issued"


def test_empty_values_are_removed_anywhere() -> None:
    interpretation = [{"coding": [{"system": "x", "code": "N", "display": ""}]}]
    empty = obs(
        "k",
        LOINC,
        "29593-1",
        valueQuantity={**qty(5, "%"), "unit": ""},
        interpretation=interpretation,
        note=[{}],
        category=[],
    )
    result = run(empty)
    assert result.case["tumor"]["ki67_percent"] == 5
    listed = {u.element: u.reason for u in result.unmapped if u.resource == "Observation/k"}
    assert set(listed) == {
        "Observation.valueQuantity.unit",
        "Observation.interpretation[0].coding[0].display",
        "Observation.note",
        "Observation.category",
    }
    assert all(r.startswith("empty value removed (FHIR R4 forbids") for r in listed.values())


def test_an_invalid_id_is_dropped_and_the_entry_named_by_its_place() -> None:
    result = run(obs("ki_67", LOINC, "29593-1", valueQuantity=qty(7, "%")))
    assert result.case["tumor"]["ki67_percent"] == 7
    assert result.provenance["tumor.ki67_percent"] == ["Observation#entry[1].valueQuantity"]
    [repair] = [u for u in result.unmapped if u.resource == "Observation#entry[1]"]
    assert repair.element == "Observation.id"
    assert "invalid id 'ki_67'" in repair.reason
    assert "named by its place" in repair.reason


def test_an_invalid_element_netnav_does_not_read_is_removed() -> None:
    method = {"coding": {"system": LOINC, "code": "x"}}  # coding must be a list
    result = run(obs("k", LOINC, "29593-1", valueQuantity=qty(5, "%"), method=method))
    assert result.case["tumor"]["ki67_percent"] == 5
    [repair] = [u for u in result.unmapped if u.resource == "Observation/k"]
    assert repair.element == "Observation.method"
    assert repair.reason.startswith("not valid FHIR R4 at Observation.method.coding (")
    assert "netnav does not read this element: removed" in repair.reason
    cond = condition("primary", "C7A.012", morphology="8240/3", note={"text": "x"})
    assert import_bundle(bundle(cond)).case["tumor"]["primary_site"] == "small_intestine"


@pytest.mark.parametrize(
    ("element", "value", "where"),
    [
        ("valueQuantity", {"value": "5 %", "unit": "%"}, "valueQuantity.value"),
        ("code", {"coding": {"system": LOINC, "code": "29593-1"}}, "code.coding"),
        ("effectiveDateTime", "yesterday", "effectiveDateTime"),
        ("subject", {"reference": 5}, "subject.reference"),
        ("modifierExtension", [{"url": 7}], "modifierExtension[0].url"),
        ("valueStringX", "x", "valueStringX"),  # not an R4 element: not repaired
    ],
)
def test_an_invalid_element_netnav_reads_is_never_repaired(
    element: str, value: Any, where: str
) -> None:
    bad = obs("k", LOINC, "29593-1", valueQuantity=qty(5, "%"))
    bad[element] = value
    result = run(bad)
    assert "ki67_percent" not in result.case["tumor"]
    [item] = [u for u in result.unmapped if u.resource == "Observation/k"]
    assert item.element == f"entry[1].resource.{where}"
    assert item.reason.startswith("not valid FHIR R4, not read (")


def test_repairs_combine_and_the_input_is_not_changed() -> None:
    messy = obs(
        "a_b",
        LOINC,
        "29593-1",
        "2026-09-01T10:00",
        valueQuantity=qty(5, "%"),
        method={"coding": "x"},
        note=[{"text": ""}],
    )
    doc = bundle(PRIMARY, messy)
    before = json.dumps(doc, sort_keys=True)
    result = import_bundle(doc)
    assert json.dumps(doc, sort_keys=True) == before
    assert result.case["tumor"]["ki67_percent"] == 5
    elements = [u.element for u in result.unmapped if u.resource == "Observation#entry[1]"]
    assert elements == [
        "Observation.note",
        "Observation.id",
        "Observation.effectiveDateTime",
        "Observation.method",
    ]


def test_a_lone_resource_is_read_leniently_too() -> None:
    lone = condition("pri_mary", "C7A.012", onsetDateTime="2026-01-02T08:00:00")
    result = import_bundle(lone)
    assert result.case["tumor"]["primary_site"] == "small_intestine"
    assert {u.element for u in result.unmapped if u.resource.startswith("Condition#")} == {
        "Condition.id",
        "Condition.onsetDateTime",
    }


def test_as_of_is_inferred_only_from_facts() -> None:
    planned = {
        "resourceType": "Procedure",
        "id": "pr",
        "status": "preparation",
        "code": {"text": "Liver resection"},
        "performedDateTime": "2027-03-01",
    }
    proposal = {
        "resourceType": "MedicationRequest",
        "id": "m",
        "status": "active",
        "intent": "proposal",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": "everolimus"},
        "authoredOn": "2027-05-01",
    }
    result = run(ki67("ki", 5, "2026-08-10"), planned, proposal, timestamp=None)
    assert result.case["as_of"] == "2026-08-10"
    assert result.provenance["as_of"] == ["Observation/ki.effective[x]"]


def test_a_result_timed_before_the_bundle_timestamp_is_not_after_as_of() -> None:
    utc = ki67("k", 12, "2026-09-15T03:00:00Z")  # 2026-09-14T22:00-05:00
    assert run(utc, timestamp="2026-09-14T23:00:00-05:00").case["tumor"]["ki67_percent"] == 12
    late = ki67("k", 12, "2026-09-15T05:00:00Z")  # after the timestamp's instant
    result = run(late, timestamp="2026-09-14T23:00:00-05:00")
    assert "ki67_percent" not in result.case["tumor"]
    assert "after as_of 2026-09-14" in reasons(result, "Observation/k")[0]


def morph_condition(system: str, code: str, icd: str = "C25.9") -> dict[str, Any]:
    ext = [{"url": MORPHOLOGY, "valueCodeableConcept": coded(system, code)}]
    return condition("net", icd, extension=ext)


def test_icdo3_under_its_oid_is_read() -> None:
    oid = "urn:oid:2.16.840.1.113883.6.43.1"
    tumor = import_bundle(bundle(morph_condition(oid, "8240/3"))).case["tumor"]
    assert tumor == {"primary_site": "pancreas", "differentiation": "well"}


@pytest.mark.parametrize(
    ("code", "icd", "expected"),
    [
        ("1286768001", "C25.9", {"primary_site": "pancreas", "differentiation": "well"}),
        (
            "74364000",
            "C34.90",
            {
                "primary_site": "lung",
                "differentiation": "poor",
                "nec_subtype": "small_cell",
                "lung_histotype": "small_cell_nec",
            },
        ),
        ("785766008", "C25.9", {"primary_site": "pancreas", "differentiation": "mixed_minen"}),
    ],
)
def test_verified_snomed_morphology_codes(code: str, icd: str, expected: dict[str, Any]) -> None:
    assert import_bundle(bundle(morph_condition(SNOMED, code, icd))).case["tumor"] == expected


def test_an_unverified_snomed_morphology_is_not_read() -> None:
    result = import_bundle(bundle(morph_condition(SNOMED, "1651000119109")))
    assert result.case.get("tumor", {}) == {}
    [reason] = reasons(result, "Condition/net")
    assert "neuroendocrine morphology (ICD-O-3 or SNOMED CT)" in reason


def test_codes_as_ehrs_write_them() -> None:
    tumor = import_bundle(bundle(condition("net", "C7A012"), condition("liv", "c787"))).case[
        "tumor"
    ]
    assert tumor == {"primary_site": "small_intestine", "metastases": ["liver"]}
    pancreas = import_bundle(bundle(condition("pan", "C259", morphology="82403"))).case["tumor"]
    assert pancreas == {"primary_site": "pancreas", "differentiation": "well"}


@pytest.mark.parametrize(
    ("text", "percent"),
    [("12%", 12), (" 3.5 % ", 3.5), ("<2%", None), ("about 5 percent", None), ("5", None)],
)
def test_ki67_as_text_only_when_a_plain_percentage(text: str, percent: float | None) -> None:
    result = run(obs("k", LOINC, "29593-1", valueString=text))
    assert result.case["tumor"].get("ki67_percent") == percent
    if percent is None:
        assert "not a plain percentage" in reasons(result, "Observation/k")[0]
    else:
        assert result.provenance["tumor.ki67_percent"] == ["Observation/k.valueString"]


def test_focus_with_a_history_version_names_the_condition() -> None:
    result = run(BREAST, ki67("ki", 9, **focus("Condition/primary/_history/3")))
    assert result.case["tumor"]["ki67_percent"] == 9


def test_a_value_outside_its_fields_range_is_listed_not_used() -> None:
    fraction = ki67("ki", 12) | {"valueQuantity": qty(12, "1")}
    history = obs("hist", FIELD, "tumor.ki67_history", "2025-01-01", valueQuantity=qty(250, "%"))
    ecog = obs("ecog", LOINC, "89247-1", valueInteger=7)
    result = run(fraction, history, ecog)
    assert "ki67_percent" not in result.case["tumor"]
    assert "ki67_history" not in result.case["tumor"]
    assert "ecog" not in result.case.get("patient", {})
    assert reasons(result, "Observation/ki") == [
        "Ki-67 (tumor.ki67_percent) 1200 % (sent as 12 '1') is outside 0–100 %: not used; "
        "check the unit ('1' means a fraction: 0.12 is 12 %)"
    ]
    assert "250" in reasons(result, "Observation/hist")[0]
    assert "patient.ecog 7 is outside 0–4" in reasons(result, "Observation/ecog")[0]
    case_from_mapping(result.case)  # the record is not blocked


def test_an_older_value_never_stands_in_for_a_newest_one_out_of_range() -> None:
    """The newest result is the one a clinician reads: when it cannot be used, the field is
    unknown (an older Ki-67 stays an earlier value), never silently the older result."""
    older = ki67("old", 3, "2025-01-01")
    newest = ki67("new", 12, "2026-09-01") | {"valueQuantity": qty(12, "1")}
    ecog_old = obs("e1", LOINC, "89247-1", "2025-01-01", valueInteger=1)
    ecog_new = obs("e2", LOINC, "89247-1", "2026-09-01", valueInteger=7)

    result = run(older, newest, ecog_old, ecog_new)

    assert "ki67_percent" not in result.case["tumor"]
    assert result.case["tumor"]["ki67_history"] == [
        {"date": "2025-01-01", "percent": 3, "specimen": "unknown"}
    ]
    assert "ecog" not in result.case.get("patient", {})
    assert any(
        "newest Ki-67 result is out of range" in r for r in reasons(result, "Observation/old")
    )
    assert any("older value is not taken" in r for r in reasons(result, "Observation/e1"))
    case_from_mapping(result.case)


def test_patient_references_by_prefix_conditional_and_identifier_value() -> None:
    mrn = {"system": "urn:mrn", "value": "M1"}
    patient = PATIENT | {"identifier": [mrn]}
    # --patient Patient/p is the id p
    assert run(PATIENT, ki67("ki", 4), patient_id="Patient/p").case["tumor"]["ki67_percent"] == 4
    # a transaction's conditional reference names the Patient carrying that identifier
    cond = ki67("ki", 6, subject={"reference": "Patient?identifier=urn:mrn|M1"})
    other = ki67("x", 9, "2026-09-02", subject={"reference": "Patient/p"})
    assert run(patient, cond, other).case["tumor"]["ki67_percent"] == 9
    assert run(patient, cond).case["tumor"]["ki67_percent"] == 6
    # an identifier without a system matches the one Patient with that value
    bare = ki67("ki", 8, subject={"identifier": {"value": "M1"}})
    assert run(patient, bare).case["tumor"]["ki67_percent"] == 8
    twin = {
        "resourceType": "Patient",
        "id": "q",
        "identifier": [{"system": "urn:x", "value": "M1"}],
    }
    result = run(patient, twin, bare, patient_id="p")
    assert "ki67_percent" not in result.case["tumor"]
    assert "not shown to be the record's patient" in reasons(result, "Observation/ki")[0]


def test_no_resource_about_the_chosen_patient_is_refused() -> None:
    doc = bundle(condition("c", "C7A.012", subject={"identifier": {"value": "123"}}))
    # an identifier is never taken for the Patient's id (no Patient resource)
    with pytest.raises(FhirImportError, match="no resource of this record is about patient"):
        import_bundle(doc, patient_id="123")
    with pytest.raises(FhirImportError, match="check --patient"):
        run(PATIENT, patient_id="someone-else")
    refused = runner.invoke(app, ["import", "fhir", "-", "--patient", "x"], input=json.dumps(doc))
    assert (
        refused.exit_code == 2 and "no resource of this record is about patient" in refused.stderr
    )


def test_an_inferred_as_of_is_named_where_the_age_is_computed() -> None:
    typo = obs("e", LOINC, "89247-1", "2204-01-10", valueInteger=1)
    doc = bundle(PRIMARY, PATIENT, typo, timestamp=None)
    result = import_bundle(doc)
    assert result.case["as_of"] == "2204-01-10"
    assert result.provenance["patient.age_years"] == [
        "Patient/p.birthDate",
        "Observation/e.effective[x]",
    ]
    refused = runner.invoke(app, ["import", "fhir", "-"], input=json.dumps(doc))
    assert refused.exit_code == 2
    assert "Observation/e.effective[x]" in refused.stderr.split("patient.age_years")[1]
    assert (
        "as_of 2204-01-10 was taken from Observation/e.effective[x] (no Bundle.timestamp; "
        "give --as-of)" in refused.stderr
    )
