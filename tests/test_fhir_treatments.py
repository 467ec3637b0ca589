"""FHIR medications and procedures -> treatments[] (netnav.fhir.treatments).

Resources are built as fhir.resources R4B models from JSON dicts (``model_validate``), as the
importer passes them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.procedure import Procedure

from netnav.fhir.treatments import (
    OUTCOME_URL,
    THERAPY_SYSTEM,
    TreatmentImport,
    treatments_from_resources,
)
from netnav.vocabulary import ALL_THERAPY_IDS

AS_OF = date(2025, 6, 1)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
SUBJECT = {"reference": "Patient/p1"}


def concept(text: str | None = None, *codings: tuple[str, str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if text is not None:
        out["text"] = text
    if codings:
        out["coding"] = [
            {"system": s, "code": c, **({"display": d} if d else {})} for s, c, d in codings
        ]
    return out


def statement(rid: str, med: dict[str, Any], status: str = "active", **extra: Any) -> Any:
    return MedicationStatement.model_validate(
        {
            "resourceType": "MedicationStatement",
            "id": rid,
            "status": status,
            "subject": SUBJECT,
            "medicationCodeableConcept": med,
            **extra,
        }
    )


def request(rid: str, med: dict[str, Any], status: str = "active", **extra: Any) -> Any:
    return MedicationRequest.model_validate(
        {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": status,
            "intent": "order",
            "subject": SUBJECT,
            "medicationCodeableConcept": med,
            **extra,
        }
    )


def administration(
    rid: str, med: dict[str, Any], day: str, status: str = "completed", **extra: Any
) -> Any:
    return MedicationAdministration.model_validate(
        {
            "resourceType": "MedicationAdministration",
            "id": rid,
            "status": status,
            "subject": SUBJECT,
            "medicationCodeableConcept": med,
            "effectiveDateTime": day,
            **extra,
        }
    )


def procedure(rid: str, code: dict[str, Any], status: str = "completed", **extra: Any) -> Any:
    return Procedure.model_validate(
        {
            "resourceType": "Procedure",
            "id": rid,
            "status": status,
            "subject": SUBJECT,
            "code": code,
            **extra,
        }
    )


def outcome(**values: Any) -> list[dict[str, Any]]:
    subs = []
    for name, value in values.items():
        key = {
            "best_response": "valueCode",
            "stop_reason": "valueCode",
            "cycles": "valueInteger",
        }.get(name, "valueDecimal")
        subs.append({"url": name, key: value})
    return [{"url": OUTCOME_URL, "extension": subs}]


def run(
    resources: list[Any],
    primary_site: str | None = "small_intestine",
    bundle: dict[str, Any] | None = None,
) -> TreatmentImport:
    found = bundle or {}
    return treatments_from_resources(
        resources, as_of=AS_OF, primary_site=primary_site, resolve=found.get
    )


def reasons(result: TreatmentImport) -> dict[str, str]:
    return {u.resource: u.reason for u in result.unmapped}


# --------------------------------------------------------------------------- single drugs


def test_statement_becomes_an_ongoing_treatment_with_provenance() -> None:
    res = statement("ms1", concept("Afinitor 10 mg tablet"), effectivePeriod={"start": "2023-04"})
    result = run([res])
    assert result.treatments == [
        {
            "therapy": "everolimus",
            "start": "2023-04",
            "ongoing": True,
            "details": "Afinitor 10 mg tablet",
        }
    ]
    assert result.provenance["treatments[0].therapy"] == [
        "MedicationStatement/ms1.medicationCodeableConcept"
    ]
    assert result.provenance["treatments[0].start"] == [
        "MedicationStatement/ms1.effectivePeriod.start"
    ]
    assert result.provenance["treatments[0].ongoing"] == ["MedicationStatement/ms1.status"]
    assert result.unmapped == []
    assert result.tumor == {}


def test_verified_rxnorm_code_without_text_is_recognised() -> None:
    res = statement(
        "ms1",
        concept(None, (RXNORM, "357977", None)),
        status="completed",
        effectivePeriod={"start": "2022-01-10", "end": "2022-09-30"},
    )
    result = run([res])
    assert result.treatments[0]["therapy"] == "sunitinib"
    assert result.treatments[0]["start"] == "2022-01-10"
    assert result.treatments[0]["end"] == "2022-09-30"
    assert result.treatments[0]["ongoing"] is False


@pytest.mark.parametrize(
    ("med", "extra", "expected"),
    [
        (concept("Sandostatin LAR Depot 30 mg"), {}, "octreotide_lar"),
        (
            concept("octreotide"),
            {"dosage": [{"route": concept("Intramuscular route")}]},
            "octreotide_lar",
        ),
        (
            concept(None, (RXNORM, "1", "octreotide 20 MG Injection [Sandostatin LAR]")),
            {},
            "octreotide_lar",
        ),
        (
            concept("octreotide 100 mcg"),
            {"dosage": [{"route": concept(None, (SNOMED, "34206005", "Subcutaneous route"))}]},
            "octreotide_short_acting",
        ),
        (
            concept("octreotide acetate injection, solution (immediate release)"),
            {},
            "octreotide_short_acting",
        ),
        (concept("octreotide"), {}, "ssa_unspecified"),
        (concept("Sandostatin"), {}, "ssa_unspecified"),
        # contradictory evidence is not guessed either
        (
            concept("octreotide LAR"),
            {"dosage": [{"route": concept("subcutaneous")}]},
            "ssa_unspecified",
        ),
        (concept("Somatuline Depot 120 mg"), {}, "lanreotide"),
    ],
)
def test_somatostatin_analogue_formulation(
    med: dict[str, Any], extra: dict[str, Any], expected: str
) -> None:
    result = run([statement("ms1", med, effectivePeriod={"start": "2024-01"}, **extra)])
    assert [t["therapy"] for t in result.treatments] == [expected]


def test_medication_reference_is_resolved() -> None:
    med = Medication.model_validate(
        {"resourceType": "Medication", "id": "m1", "code": concept("Lutathera 7.4 GBq")}
    )
    res = MedicationAdministration.model_validate(
        {
            "resourceType": "MedicationAdministration",
            "id": "ma1",
            "status": "completed",
            "subject": SUBJECT,
            "medicationReference": {"reference": "Medication/m1"},
            "effectiveDateTime": "2024-02-05T09:30:00+01:00",
        }
    )
    result = run([res], bundle={"Medication/m1": med})
    assert result.treatments[0]["therapy"] == "prrt_lu177_dotatate"
    assert result.treatments[0]["start"] == "2024-02-05"
    assert result.provenance["treatments[0].therapy"] == ["Medication/m1.code"]
    missing = run([res])
    assert missing.treatments == []
    assert reasons(missing)["MedicationAdministration/ma1"] == (
        "Medication/m1 is not in the bundle (and the reference has no display)"
    )


def test_local_therapy_code_wins_and_must_be_an_option() -> None:
    good = statement(
        "ms1",
        concept("IV fluids", (THERAPY_SYSTEM, "fluid_electrolyte_replacement", None)),
        effectivePeriod={"start": "2024-05"},
    )
    bad = statement("ms2", concept("x", (THERAPY_SYSTEM, "magic_cure", None)))
    result = run([good, bad])
    assert [t["therapy"] for t in result.treatments] == ["fluid_electrolyte_replacement"]
    assert "'magic_cure' is not an option id" in reasons(result)["MedicationStatement/ms2"]


def test_unknown_drug_is_listed_not_imported() -> None:
    result = run(
        [statement("ms1", concept("Pembrolizumab 200 mg", (RXNORM, "1547545", "pembrolizumab")))]
    )
    assert result.treatments == []
    reason = reasons(result)["MedicationStatement/ms1"]
    assert reason.startswith("Pembrolizumab 200 mg; pembrolizumab: not a drug netnav recognises")
    assert result.unmapped[0].element == "MedicationStatement.medication[x]"


def test_supportive_drug_is_listed_with_the_option_to_send() -> None:
    result = run([statement("ms1", concept(None, (RXNORM, "7646", None)))])
    assert result.treatments == []
    assert "code proton_pump_inhibitor" in reasons(result)["MedicationStatement/ms1"]


def test_every_option_in_the_tables_is_a_vocabulary_id() -> None:
    from netnav.fhir.treatments import _tables

    tables = _tables()
    options = {d.alone for d in tables.drugs.values() if d.alone} | {
        r.option for r in tables.regimens
    }
    options |= {o for o, _, _ in tables.procedure_codes.values()} | {
        r.option for r in tables.procedure_rules
    }
    options |= set(tables.octreotide_options.values())
    assert set(tables.octreotide_options) == {"long_acting", "short_acting", "unknown"}
    assert options <= ALL_THERAPY_IDS
    assert tables.rxnorm["194000"] == "capecitabine"  # CPIC drug table


# --------------------------------------------------------------------------- regimens and cycles


def test_regimen_by_group_identifier() -> None:
    group = {"groupIdentifier": {"system": "urn:x", "value": "captem-1"}}
    cap = request(
        "mr1", concept("Xeloda 500 mg"), status="completed", authoredOn="2023-03-01", **group
    )
    tem = request(
        "mr2", concept("Temodar 100 mg"), status="completed", authoredOn="2023-03-02", **group
    )
    result = run([cap, tem])
    assert len(result.treatments) == 1
    item = result.treatments[0]
    assert item["therapy"] == "capecitabine_temozolomide"
    assert item["start"] == "2023-03-01"
    assert item["ongoing"] is False
    assert item["details"] == "Xeloda 500 mg; Temodar 100 mg"
    assert result.provenance["treatments[0].therapy"] == [
        "MedicationRequest/mr1.medicationCodeableConcept",
        "MedicationRequest/mr2.medicationCodeableConcept",
    ]


def test_regimen_by_overlap_and_cycles_from_administrations() -> None:
    days = ["2024-01-08", "2024-01-29", "2024-02-19", "2024-03-11"]
    resources = [administration(f"c{i}", concept("carboplatin"), d) for i, d in enumerate(days)]
    resources += [administration(f"e{i}", concept("etoposide"), d) for i, d in enumerate(days)]
    result = run(resources)
    assert result.treatments == [
        {
            "therapy": "platinum_etoposide",
            "start": "2024-01-08",
            "cycles": 4,
            "details": "carboplatin; etoposide",
        }
    ]
    # completed administrations record doses: they say nothing of the course's end or state
    assert "ongoing" not in result.treatments[0] and "end" not in result.treatments[0]
    # blocks of administrations per drug; every administration is the provenance
    assert len(result.provenance["treatments[0].cycles"]) == 8


@pytest.mark.parametrize(
    ("drugs", "expected"),
    [
        (["oxaliplatin", "fluorouracil", "leucovorin"], "folfox"),
        (["oxaliplatin", "capecitabine"], "folfox"),
        (["irinotecan", "5-FU", "folinic acid"], "folfiri"),
        (["Onivyde", "fluorouracil", "leucovorin"], "nal_irinotecan_fluorouracil"),
        (["streptozocin", "fluorouracil"], "streptozocin_fluorouracil"),
        (["Zanosar", "Adriamycin"], "streptozocin_doxorubicin"),
        (["cisplatin", "irinotecan"], "irinotecan_cisplatin"),
        (["Yervoy", "Opdivo"], "ipilimumab_nivolumab"),
        (["oxaliplatin", "irinotecan", "fluorouracil", "leucovorin"], "chemotherapy_unspecified"),
    ],
)
def test_regimen_table(drugs: list[str], expected: str) -> None:
    resources = [
        statement(
            f"s{i}",
            concept(name),
            status="completed",
            effectivePeriod={"start": "2024-01-10", "end": "2024-04-30"},
        )
        for i, name in enumerate(drugs)
    ]
    result = run(resources)
    assert [t["therapy"] for t in result.treatments] == [expected]


def test_drugs_not_given_together_stay_apart() -> None:
    cap = statement(
        "s1",
        concept("capecitabine"),
        status="completed",
        effectivePeriod={"start": "2021-01", "end": "2021-06"},
    )
    tem = statement(
        "s2",
        concept("temozolomide"),
        status="completed",
        effectivePeriod={"start": "2022-03", "end": "2022-08"},
    )
    lv = statement(
        "s3", concept("leucovorin"), status="completed", effectivePeriod={"start": "2020-01"}
    )
    result = run([tem, cap, lv])
    assert [t["therapy"] for t in result.treatments] == ["chemotherapy_unspecified", "temozolomide"]
    assert [t["start"] for t in result.treatments] == ["2021-01", "2022-03"]
    assert "alone is not an anticancer treatment" in reasons(result)["MedicationStatement/s3"]


def test_administrations_merge_into_one_course_until_a_long_gap() -> None:
    days = ["2023-01-10", "2023-03-07", "2023-05-02", "2023-06-27", "2024-09-03"]
    resources = [administration(f"a{i}", concept("Lutathera"), d) for i, d in enumerate(days)]
    result = run(resources)
    assert [
        (t["therapy"], t["start"], t.get("end"), t.get("cycles")) for t in result.treatments
    ] == [
        ("prrt_lu177_dotatate", "2023-01-10", None, 4),  # administrations: no end
        ("prrt_lu177_dotatate", "2024-09-03", None, 1),
    ]


def test_outcome_extension_and_status_reason() -> None:
    by_text = statement(
        "s1",
        concept("everolimus"),
        status="stopped",
        effectivePeriod={"start": "2022-02", "end": "2022-11"},
        statusReason=[concept("Disease progression on CT")],
    )
    by_extension = statement(
        "s2",
        concept("sunitinib"),
        status="stopped",
        effectivePeriod={"start": "2023-01", "end": "2023-03"},
        statusReason=[concept("Disease progression")],
        extension=outcome(
            best_response="sd", stop_reason="toxicity", months_to_progression=7.5, cycles=3
        ),
    )
    result = run([by_extension, by_text])
    first, second = result.treatments
    assert first["therapy"] == "everolimus" and first["stop_reason"] == "progression"
    assert result.provenance["treatments[0].stop_reason"] == [
        "MedicationStatement/s1.statusReason[0]"
    ]
    assert second["stop_reason"] == "toxicity"  # the extension wins over statusReason
    assert second["best_response"] == "sd"
    assert second["months_to_progression"] == 7.5
    assert second["cycles"] == 3
    assert result.provenance["treatments[1].best_response"] == [
        "MedicationStatement/s2.extension[treatment-outcome].best_response"
    ]


def test_bad_outcome_values_are_listed() -> None:
    res = statement(
        "s1", concept("everolimus"), extension=outcome(best_response="great", cycles=-1)
    )
    result = run([res])
    assert "best_response" not in result.treatments[0] and "cycles" not in result.treatments[0]
    elements = sorted(u.element for u in result.unmapped)
    assert elements == [
        "MedicationStatement.extension[treatment-outcome].best_response",
        "MedicationStatement.extension[treatment-outcome].cycles",
    ]


# --------------------------------------------------------------------------- status and dates


def test_status_filtering_lists_what_was_ignored() -> None:
    resources = [
        statement("s1", concept("everolimus"), status="entered-in-error"),
        request("r1", concept("sunitinib"), status="cancelled"),
        request("r2", concept("sunitinib"), status="draft"),
        procedure("p1", concept("Right hemicolectomy"), status="not-done"),
        request("r3", concept("cabozantinib"), intent="proposal"),
    ]
    result = run(resources)
    assert result.treatments == []
    assert reasons(result) == {
        "MedicationStatement/s1": "status entered-in-error: not a treatment given",
        "MedicationRequest/r1": "status cancelled: not a treatment given",
        "MedicationRequest/r2": "status draft: not a treatment given",
        "Procedure/p1": "status not-done: not a treatment given",
        "MedicationRequest/r3": "intent proposal: planned, not ordered or given",
    }


def test_after_as_of_is_ignored_and_a_future_end_dropped() -> None:
    later = statement("s1", concept("everolimus"), effectivePeriod={"start": "2025-07-01"})
    running = request(
        "r1",
        concept("cabozantinib"),
        dispenseRequest={"validityPeriod": {"start": "2025-01-15", "end": "2025-12-31"}},
    )
    result = run([later, running])
    assert result.treatments == [
        {
            "therapy": "cabozantinib",
            "start": "2025-01-15",
            "ongoing": True,
            "details": "cabozantinib",
        }
    ]
    assert (
        reasons(result)["MedicationStatement/s1"]
        == "starts 2025-07-01, after as_of 2025-06-01: ignored"
    )
    assert reasons(result)["MedicationRequest/r1"].startswith("end 2025-12-31 is after as_of")


def test_request_date_precedence_and_year_only_dates() -> None:
    both = request(
        "r1",
        concept("everolimus"),
        status="completed",
        authoredOn="2021-01-05",
        dispenseRequest={"validityPeriod": {"start": "2021-02", "end": "2021-08"}},
    )
    year_only = statement("s1", concept("sunitinib"), status="completed", effectiveDateTime="2019")
    result = run([both, year_only])
    everolimus = next(t for t in result.treatments if t["therapy"] == "everolimus")
    assert (everolimus["start"], everolimus["end"]) == ("2021-02", "2021-08")
    sunitinib = next(t for t in result.treatments if t["therapy"] == "sunitinib")
    assert "start" not in sunitinib
    assert reasons(result)["MedicationStatement/s1"] == "2019: only a year; the case needs YYYY-MM"
    assert result.treatments[-1]["therapy"] == "sunitinib"  # undated last


# --------------------------------------------------------------------------- procedures


@pytest.mark.parametrize(
    ("code", "site", "therapy", "removed"),
    [
        (concept(None, (SNOMED, "80146002", "Appendectomy")), "appendix", "appendectomy", True),
        (
            concept(None, (SNOMED, "80146002", "Appendectomy")),
            "small_intestine",
            "appendectomy",
            False,
        ),
        (concept("Pylorus-preserving Whipple procedure"), "pancreas", "surgical_resection", True),
        (concept("Laparoscopic distal pancreatectomy"), "pancreas", "surgical_resection", True),
        (
            concept("Segmental small bowel resection with mesenteric lymphadenectomy"),
            "small_intestine",
            "surgical_resection",
            True,
        ),
        (concept("Completion right hemicolectomy"), "appendix", "surgical_resection", True),
        (concept("Endoscopic submucosal dissection"), "rectum", "endoscopic_resection", True),
        (
            concept(None, (SNOMED, "173171007", "Lobectomy of lung")),
            "lung",
            "surgical_resection",
            True,
        ),
        (concept("Right hepatectomy"), "small_intestine", "surgical_resection", False),
        (
            concept("Debulking of liver metastases"),
            "small_intestine",
            "cytoreductive_surgery",
            False,
        ),
        (concept("Microwave ablation of liver metastasis"), "pancreas", "thermal_ablation", False),
        (
            concept("EUS-guided radiofrequency ablation of insulinoma"),
            "pancreas",
            "eus_radiofrequency_ablation",
            False,
        ),
        (concept("DEB-TACE"), "small_intestine", "deb_tace", False),
        (
            concept("Transarterial chemoembolization (TACE)"),
            "small_intestine",
            "chemoembolization",
            False,
        ),
        (concept("SIRT with Y-90 microspheres"), "small_intestine", "radioembolization", False),
        (
            concept("Bland embolization of hepatic artery"),
            "small_intestine",
            "bland_embolization",
            False,
        ),
        (concept("Hepatic embolisation"), "small_intestine", "embolization_unspecified", False),
        (
            concept(None, (SNOMED, "33195004", "External beam radiation therapy procedure")),
            "lung",
            "external_beam_radiotherapy",
            False,
        ),
        (
            concept(None, (SNOMED, "18027006", "Transplantation of liver")),
            "small_intestine",
            "liver_transplantation",
            False,
        ),
    ],
)
def test_procedure_table(code: dict[str, Any], site: str, therapy: str, removed: bool) -> None:
    result = run([procedure("p1", code, performedDateTime="2022-05-17")], primary_site=site)
    assert result.treatments[0]["therapy"] == therapy
    assert result.treatments[0]["start"] == "2022-05-17"
    assert result.treatments[0]["ongoing"] is False
    assert result.tumor == ({"primary_removed": True} if removed else {})
    if removed:
        assert result.provenance["tumor.primary_removed"] == ["Procedure/p1.code"]


def test_primary_removed_needs_a_known_site_and_a_completed_procedure() -> None:
    appendectomy = concept(None, (SNOMED, "80146002", "Appendectomy"))
    assert run([procedure("p1", appendectomy)], primary_site=None).tumor == {}
    assert (
        run([procedure("p1", appendectomy, status="in-progress")], primary_site="appendix").tumor
        == {}
    )


def test_imaging_and_biopsy_are_not_treatments() -> None:
    pet = procedure("p1", concept("Ga-68 DOTATATE PET/CT"), performedDateTime="2022-01-01")
    biopsy = procedure("p2", concept("Liver biopsy", (SNOMED, "86259008", "Liver biopsy")))
    result = run([pet, biopsy])
    assert result.treatments == []
    assert (
        reasons(result)["Procedure/p1"] == "Ga-68 DOTATATE PET/CT: not a treatment netnav imports"
    )
    assert reasons(result)["Procedure/p2"] == (
        "Liver biopsy (http://snomed.info/sct|86259008): not a treatment netnav imports"
    )


def test_radiotherapy_fractions_merge_and_items_are_oldest_first() -> None:
    fractions = [
        procedure(
            f"rt{i}",
            concept("Stereotactic body radiotherapy"),
            performedDateTime=f"2024-03-0{i + 1}",
        )
        for i in range(5)
    ]
    surgery = procedure("s1", concept("Small bowel resection"), performedDateTime="2020-06")
    result = run([*fractions, surgery])
    assert [(t["therapy"], t["start"]) for t in result.treatments] == [
        ("surgical_resection", "2020-06"),
        ("external_beam_radiotherapy", "2024-03-01"),
    ]
    assert len(result.provenance["treatments[1].therapy"]) == 5


def test_details_are_truncated_to_500_characters() -> None:
    long_text = "everolimus " + "x" * 600
    result = run([statement("s1", concept(long_text))])
    assert len(result.treatments[0]["details"]) == 500
    assert result.treatments[0]["details"].endswith("…")


# --------------------------------------------------------------------------- not given (break tests)
# Synthetic versions of the break-test bundles: a treatment that was not given must never be
# imported as given (it changes the line of therapy and the plan).


@pytest.mark.parametrize(
    ("resource", "element", "reason"),
    [
        # 50 / 207: an order NOT to give octreotide LAR
        (
            request(
                "r1",
                concept("Sandostatin LAR 30 mg IM"),
                doNotPerform=True,
                authoredOn="2023-04-01",
                reasonCode=[{"text": "do not give: severe gallstone disease"}],
            ),
            "MedicationRequest.doNotPerform",
            "doNotPerform true: an order not to give it, not a treatment given",
        ),
        # 55: one option among others
        (
            request("r1", concept("everolimus 10 mg"), intent="option", authoredOn="2023-06-01"),
            "MedicationRequest.intent",
            "intent option: one option offered, not ordered or given",
        ),
        # 53 / 54
        (
            request("r1", concept("lanreotide 120 mg"), status="on-hold", authoredOn="2023-06-01"),
            "MedicationRequest.status",
            "status on-hold: on hold, not known to have been given",
        ),
        (
            request("r1", concept("lanreotide 120 mg"), status="unknown", authoredOn="2023-06-01"),
            "MedicationRequest.status",
            "status unknown: status unknown, not known to have been given",
        ),
        (
            statement("r1", concept("lanreotide 120 mg"), status="on-hold"),
            "MedicationStatement.status",
            "status on-hold: on hold, not known to have been given",
        ),
        (
            administration("r1", concept("Lutathera"), "2023-06-01", status="unknown"),
            "MedicationAdministration.status",
            "status unknown: status unknown, not known to have been given",
        ),
        (
            procedure("r1", concept("Right hemicolectomy"), status="unknown"),
            "Procedure.status",
            "status unknown: status unknown, not known to have been given",
        ),
        # 63: a completed statement whose statusReason says it was never started
        (
            statement(
                "r1",
                concept("everolimus"),
                status="completed",
                effectiveDateTime="2023-06-01",
                statusReason=[{"text": "patient never started"}],
            ),
            "MedicationStatement.statusReason[0]",
            "patient never started: 'never started', not a treatment given",
        ),
    ],
)
def test_orders_not_to_give_options_and_unknown_status_are_not_given(
    resource: Any, element: str, reason: str
) -> None:
    result = run([resource])
    assert result.treatments == []
    assert [(u.element, u.reason) for u in result.unmapped] == [(element, reason)]


def test_statement_with_status_unknown_still_asserts_use() -> None:
    # R4 MedicationStatement says "not-taken" when not used; "unknown" leaves active/completed open
    res = statement(
        "s1", concept("lanreotide"), status="unknown", effectivePeriod={"start": "2022-01"}
    )
    result = run([res])
    assert result.treatments == [
        {"therapy": "lanreotide", "start": "2022-01", "details": "lanreotide"}
    ]


# --------------------------------------------------------------------------- procedures not done


@pytest.mark.parametrize(
    ("text", "word", "option"),
    [
        ("Dosimetry SPECT/CT for PRRT planning", "planning", "prrt_other"),  # 130 / 205
        ("Hepatic angiography, pre-SIRT mapping (Tc-99m MAA)", "mapping", "radioembolization"),
        ("Radiotherapy planning CT simulation", "planning", "external_beam_radiotherapy"),  # 132
        ("Liver biopsy before TACE consult", "biopsy", "chemoembolization"),  # 133
        ("CT abdomen (TEM protocol)", "ct", "local_excision"),  # 129
        ("Pre-TACE assessment", "assessment", "chemoembolization"),
        ("pre-PRRT", "pre prrt", "prrt_other"),
        ("Post-SIRT bremsstrahlung SPECT", "spect", "radioembolization"),
    ],
)
def test_non_therapeutic_procedures_are_listed_with_the_vetoing_word(
    text: str, word: str, option: str
) -> None:
    result = run([procedure("p1", concept(text), performedDateTime="2024-01-15")])
    assert result.treatments == []
    assert reasons(result)["Procedure/p1"] == (
        f"{text}: {word!r} says this is not the treatment itself ({option} not imported)"
    )


def test_ga68_dotatate_imaging_is_not_prrt() -> None:  # 131
    result = run(
        [procedure("p1", concept("Ga-68 DOTATATE PET/CT"), performedDateTime="2023-05-01")]
    )
    assert result.treatments == []
    assert "not a treatment netnav imports" in reasons(result)["Procedure/p1"]


@pytest.mark.parametrize(
    ("text", "therapy"),
    [
        ("CT-guided radiofrequency ablation of liver metastasis", "thermal_ablation"),
        ("Microwave ablation under CT guidance", "thermal_ablation"),
        ("Colonoscopy with biopsy and polypectomy", "endoscopic_resection"),
        ("Lutathera cycle 2, post-therapy SPECT/CT dosimetry", "prrt_lu177_dotatate"),
        ("Non-anatomical liver resection", "surgical_resection"),
        ("Right hemicolectomy; no complications", "surgical_resection"),
        ("Planned laparoscopic right hemicolectomy", "surgical_resection"),
    ],
)
def test_treatments_beside_imaging_or_biopsy_words_still_count(text: str, therapy: str) -> None:
    result = run([procedure("p1", concept(text), performedDateTime="2023-05-01")])
    assert [t["therapy"] for t in result.treatments] == [therapy]
    assert all("'cycle 2'" in u.reason for u in result.unmapped)  # earlier cycles missing


def test_aborted_resection_never_removes_the_primary() -> None:  # 123
    text = (
        "Exploratory laparotomy; planned ileocecal resection aborted (unresectable mesenteric mass)"
    )
    result = run([procedure("p1", concept(text), performedDateTime="2023-05-01")])
    assert result.treatments == []
    assert result.tumor == {}
    assert reasons(result)["Procedure/p1"] == (
        "'aborted': the procedure was not performed (surgical_resection not imported)"
    )


@pytest.mark.parametrize(
    ("code", "extra", "element", "word"),
    [
        # 124
        (concept("Colonoscopy with biopsy, polypectomy not performed"), {}, "Procedure.code",
         "not performed"),
        (concept("Colonoscopy, no polypectomy"), {}, "Procedure.code", "no polypectomy"),
        (concept("Laparotomy without ileocecal resection"), {}, "Procedure.code",
         "without ileocecal resection"),
        (
            concept("Polypectomy"),
            {"outcome": concept(None, (SNOMED, "385671000", "Unsuccessful"))},
            "Procedure.outcome",
            "Unsuccessful",
        ),
        (concept("Polypectomy"), {"outcome": concept("procedure abandoned")}, "Procedure.outcome",
         "abandoned"),
        (concept("Polypectomy"), {"statusReason": concept("patient declined")},
         "Procedure.statusReason", "declined"),
        (concept("Polypectomy"), {"note": [{"text": "Procedure abandoned: poor bowel prep."}]},
         "Procedure.note[0].text", "abandoned"),
        # a verified SNOMED code still yields to an outcome saying it was not done
        (
            concept(None, (SNOMED, "82035006", "Resection of polyp")),
            {"outcome": concept(None, (SNOMED, "385671000", "Unsuccessful"))},
            "Procedure.outcome",
            "Unsuccessful",
        ),
        (
            concept("Polypectomy cancelled", (SNOMED, "82035006", "Resection of polyp")),
            {},
            "Procedure.code",
            "cancelled",
        ),
    ],
)  # fmt: skip
def test_procedure_not_performed_is_listed_and_removes_nothing(
    code: dict[str, Any], extra: dict[str, Any], element: str, word: str
) -> None:
    result = run(
        [procedure("p1", code, performedDateTime="2023-05-01", **extra)], primary_site="rectum"
    )
    assert result.treatments == []
    assert result.tumor == {}
    [listed] = [u for u in result.unmapped if u.resource == "Procedure/p1"]
    assert (listed.element, listed.reason.split(":")[0]) == (element, repr(word))


def test_coded_procedure_counts_despite_non_therapeutic_words_and_unrelated_notes() -> None:
    coded = procedure(
        "p1",
        concept("Polypectomy with biopsy", (SNOMED, "82035006", "Resection of polyp")),
        performedDateTime="2023-05-01",
        note=[{"text": "No complications. Drain removal deferred to day 3."}],
        outcome=concept(None, (SNOMED, "385669000", "Successful")),
    )
    result = run([coded], primary_site="rectum")
    assert [t["therapy"] for t in result.treatments] == ["endoscopic_resection"]
    assert result.tumor == {"primary_removed": True}
    assert result.unmapped == []


# --------------------------------------------------------------------------- stop reasons


@pytest.mark.parametrize(
    ("text", "expected", "listed"),
    [
        # 120: the progression phrase is negated; stomatitis is a toxicity (break test 3)
        ("Stopped for stomatitis; no disease progression", "toxicity", None),
        ("stomatitis grade 3", "toxicity", None),
        # 121: "PD" only as a standalone token
        ("switched after PD-L1 result", None, "not a stop reason netnav knows"),
        # 122
        ("course not completed because of thrombocytopenia", "toxicity", None),
        ("course not completed", None, "'completed' negated: not a stop reason"),
        ("Toxicity; no progression", "toxicity", None),
        ("progression-free, stopped after toxicity", "toxicity", None),
        ("PD on CT", "progression", None),
        ("progression ruled out, intolerance", "toxicity", None),
        ("Stopped without evidence of progression", None,
         "'progression' negated: not a stop reason"),
        ("toxicity and progression", None,
         "several stop reasons named: progression ('progression'), toxicity ('toxicity'); "
         "not chosen"),
    ],
)  # fmt: skip
def test_stop_reason_needs_one_unnegated_standalone_reason(
    text: str, expected: str | None, listed: str | None
) -> None:
    res = request(
        "r1", concept("everolimus 10 mg"), status="stopped", authoredOn="2023-06-01",
        statusReason={"text": text},
    )  # fmt: skip
    result = run([res])
    [item] = result.treatments
    assert item.get("stop_reason") == expected
    assert item["ongoing"] is False
    if listed is None:
        assert result.unmapped == []
    else:
        assert reasons(result)["MedicationRequest/r1"] == f"{text}: {listed}"


# --------------------------------------------------------------------------- references


def test_contained_medication_is_resolved() -> None:  # 61
    res = MedicationRequest.model_validate(
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "intent": "order",
            "subject": SUBJECT,
            "authoredOn": "2023-06-01",
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "med1",
                    "code": {"text": "lanreotide 120 mg/0.5 mL injection"},
                }
            ],
            "medicationReference": {"reference": "#med1"},
        }
    )
    result = run([res])
    assert result.treatments == [
        {
            "therapy": "lanreotide",
            "start": "2023-06-01",
            "ongoing": True,
            "details": "lanreotide 120 mg/0.5 mL injection",
        }
    ]
    assert result.provenance["treatments[0].therapy"] == ["MedicationRequest/m1.contained[0].code"]
    assert result.unmapped == []


def test_unresolved_reference_is_read_from_its_display() -> None:  # 71 (Epic)
    res = MedicationRequest.model_validate(
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "intent": "order",
            "subject": SUBJECT,
            "authoredOn": "2023-06-01",
            "medicationReference": {
                "reference": "Medication/eABC123",
                "display": "octreotide (SANDOSTATIN LAR DEPOT) 30 mg IM injection",
            },
        }
    )
    result = run([res])
    assert [t["therapy"] for t in result.treatments] == ["octreotide_lar"]
    assert result.provenance["treatments[0].therapy"] == [
        "MedicationRequest/m1.medicationReference.display"
    ]
    assert reasons(result)["MedicationRequest/m1"] == (
        "Medication/eABC123 is not in the bundle: the drug is read from the reference's display"
    )


# --------------------------------------------------------------------------- regimen and cycles


def test_regimen_orders_signed_days_apart_are_one_regimen() -> None:  # 70b
    cap = request(
        "c", concept("capecitabine 500 mg tablet"), status="completed", authoredOn="2023-07-01"
    )
    tem = request(
        "t", concept("temozolomide 100 mg capsule"), status="completed", authoredOn="2023-07-09"
    )
    result = run([cap, tem])
    assert [t["therapy"] for t in result.treatments] == ["capecitabine_temozolomide"]
    # partners weeks apart are still separate treatments
    late = request(
        "t", concept("temozolomide 100 mg capsule"), status="completed", authoredOn="2023-08-20"
    )
    assert [t["therapy"] for t in run([cap, late]).treatments] == [
        "chemotherapy_unspecified",
        "temozolomide",
    ]


def test_cycles_are_blocks_of_administrations_not_days() -> None:  # 69
    start = date(2023, 7, 1)
    resources = []
    for cycle in range(3):  # capecitabine d1-14, temozolomide d10-14, every 28 days
        for day in range(14):
            when = (start + timedelta(days=28 * cycle + day)).isoformat()
            resources.append(administration(f"cap{cycle}-{day}", concept("capecitabine"), when))
        for day in range(9, 14):
            when = (start + timedelta(days=28 * cycle + day)).isoformat()
            resources.append(administration(f"tem{cycle}-{day}", concept("temozolomide"), when))
    result = run(resources)
    [item] = result.treatments
    assert (item["therapy"], item["cycles"]) == ("capecitabine_temozolomide", 3)
    # one capecitabine and one temozolomide dose nine days apart: one cycle
    two = [
        administration("c1", concept("capecitabine"), "2023-07-01"),
        administration("t1", concept("temozolomide"), "2023-07-10"),
    ]
    assert [(t["therapy"], t["cycles"]) for t in run(two).treatments] == [
        ("capecitabine_temozolomide", 1)
    ]


def test_cycles_are_absent_for_continuous_dosing_or_inexact_days() -> None:
    daily = [
        administration(f"e{i}", concept("everolimus"), (date(2023, 1, 1) + timedelta(days=i)).isoformat())
        for i in range(40)
    ]  # fmt: skip
    result = run(daily)
    assert "cycles" not in result.treatments[0]
    assert "continuous dosing" in reasons(result)["MedicationAdministration/e0"]
    monthly = [administration("l1", concept("Lutathera"), "2023-03")]
    result = run(monthly)
    assert "cycles" not in result.treatments[0]
    assert "no exact day" in reasons(result)["MedicationAdministration/l1"]


# --------------------------------------------------------------------------- octreotide forms


@pytest.mark.parametrize(
    ("text", "extra", "expected"),
    [
        ("Mycapssa 20 mg delayed-release capsule", {}, "ssa_unspecified"),  # 125
        ("octreotide 20 mg", {"dosageInstruction": [{"route": concept("Oral route")}]},
         "ssa_unspecified"),
        ("octreotide 100 mcg s.c. TID", {}, "octreotide_short_acting"),  # 126
        ("octreotide 100 mcg injection PRN flushing", {}, "octreotide_short_acting"),
    ],
)  # fmt: skip
def test_octreotide_oral_and_abbreviated_forms(
    text: str, extra: dict[str, Any], expected: str
) -> None:
    result = run([request("r1", concept(text), authoredOn="2023-06-01", **extra)])
    assert [t["therapy"] for t in result.treatments] == [expected]
    if expected == "ssa_unspecified":
        assert "oral octreotide" in reasons(result)["MedicationRequest/r1"]


def test_lar_with_short_acting_rescue_and_brand_names() -> None:  # 127, 128
    lar = request("r1", concept("Sandostatin LAR 30 mg"), authoredOn="2023-06-01")
    rescue = request(
        "r2", concept("octreotide 100 mcg injection PRN flushing"), authoredOn="2023-06-01"
    )
    sutent = request("r3", concept("Sutent 37.5 mg"), status="completed", authoredOn="2022-01-01")
    result = run([lar, rescue, sutent])
    assert [t["therapy"] for t in result.treatments] == [
        "sunitinib",
        "octreotide_lar",
        "octreotide_short_acting",
    ]


# --------------------------------------------------------------------------- break test 2
# A wrong "not given" or a vetoed real treatment lowers the line of therapy and re-offers a drug
# the patient already had: when unsure the treatment is kept and the remark listed.


@pytest.mark.parametrize(
    ("status", "text", "ongoing", "stop_reason"),
    [
        # s05: an active LAR order; one dose was missed
        ("active", "Previous dose not given (patient on holiday)", True, None),
        # s14: stopped at progression
        ("stopped", "Not given since PD in March", False, "progression"),
        # s10: the course ran; the dose increase never happened
        ("stopped", "Insurance denied; patient never started the higher dose", False, None),
        ("completed", "Dose held for 2 weeks, not given", False, None),
    ],
)
def test_dose_level_not_given_remarks_keep_the_course(
    status: str, text: str, ongoing: bool, stop_reason: str | None
) -> None:
    res = request(
        "r1",
        concept("Sandostatin LAR 30 mg IM"),
        status=status,
        authoredOn="2023-06-01",
        statusReason={"text": text},
    )
    result = run([res])
    [item] = result.treatments
    assert item["therapy"] == "octreotide_lar"
    assert item["ongoing"] is ongoing
    assert item.get("stop_reason") == stop_reason
    listed = [u.reason for u in result.unmapped if u.element == "MedicationRequest.statusReason"]
    assert any("is about a dose or a change, not the whole course" in r for r in listed)


@pytest.mark.parametrize(
    "text",
    ["patient never started", "Not started: insurance", "Never taken by the patient",
     "drug never given"],
)  # fmt: skip
def test_never_began_without_a_dose_word_vetoes_the_course(text: str) -> None:
    res = request(
        "r1", concept("everolimus"), status="stopped", authoredOn="2023-06-01",
        statusReason={"text": text},
    )  # fmt: skip
    result = run([res])
    assert result.treatments == []
    assert "not a treatment given" in reasons(result)["MedicationRequest/r1"]


def test_negation_does_not_reach_over_since_or_due_to() -> None:
    res = request(
        "r1", concept("everolimus"), status="stopped", authoredOn="2023-06-01",
        statusReason={"text": "course not completed due to toxicity"},
    )  # fmt: skip
    assert run([res]).treatments[0]["stop_reason"] == "toxicity"


@pytest.mark.parametrize(
    ("make", "text", "therapy"),
    [
        ("request", "CAPTEM cycle 3 day 1", "capecitabine_temozolomide"),  # m03
        ("administration", "CAPTEM cycle 3 day 1", "capecitabine_temozolomide"),  # m03b
        ("request", "CAP/TEM", "capecitabine_temozolomide"),
        ("request", "capecitabine-temozolomide", "capecitabine_temozolomide"),
        ("request", "mFOLFOX6", "folfox"),
        ("request", "FOLFIRI q2w", "folfiri"),
        ("request", "CAPOX", "folfox"),
        ("request", "carboplatin/etoposide", "platinum_etoposide"),
        ("request", "EP regimen", "platinum_etoposide"),
        ("request", "EP (etoposide + platinum)", "platinum_etoposide"),
        ("request", "streptozocin/5-FU", "streptozocin_fluorouracil"),
        ("request", "STZ/5-FU", "streptozocin_fluorouracil"),
        ("request", "FOLFIRINOX", "chemotherapy_unspecified"),
    ],
)
def test_regimen_names_as_drug_text(make: str, text: str, therapy: str) -> None:
    if make == "request":
        res = request("r1", concept(text), authoredOn="2024-03-01")
    else:
        res = administration("r1", concept(text), "2024-03-01")
    assert [t["therapy"] for t in run([res]).treatments] == [therapy]


def test_regimen_name_merges_with_its_drugs_written_separately() -> None:
    result = run(
        [
            request("r1", concept("CAPTEM"), authoredOn="2024-03-01"),
            request("r2", concept("temozolomide 200 mg"), authoredOn="2024-03-10"),
        ]
    )
    assert [t["therapy"] for t in result.treatments] == ["capecitabine_temozolomide"]


@pytest.mark.parametrize("text", ["Keppra (levetiracetam)", "step-down", "Epoetin alfa"])
def test_regimen_names_need_whole_words(text: str) -> None:
    assert run([request("r1", concept(text), authoredOn="2024-03-01")]).treatments == []


@pytest.mark.parametrize(
    "text",
    [
        "Lutathera cycle 2 of 4 — dosimetry performed",  # m11
        "Lutathera cycle 3 of 4 – dosimetry SPECT/CT",  # en dash
        "Lutathera 7.4 GBq dosimetry",  # the administration marker keeps the clause
        "Lutathera 3/4, dosimetry performed",
    ],
)
def test_prrt_cycles_with_dosimetry_remarks_count(text: str) -> None:
    result = run([procedure("p1", concept(text), performedDateTime="2024-01-15")])
    assert [t["therapy"] for t in result.treatments] == ["prrt_lu177_dotatate"]


def test_four_prrt_cycles_with_dosimetry_are_one_course() -> None:  # m11
    procs = [
        procedure(
            f"p{n}",
            concept(f"Lutathera cycle {n} of 4 — dosimetry performed"),
            performedDateTime=day,
        )
        for n, day in enumerate(["2024-01-15", "2024-03-12", "2024-05-07", "2024-07-02"], 1)
    ]
    [item] = run(procs).treatments
    assert (item["therapy"], item["start"]) == ("prrt_lu177_dotatate", "2024-01-15")


@pytest.mark.parametrize(
    "text",
    [
        "Distal pancreatectomy for PET-avid lesion",  # p04d
        "Distal pancreatectomy (CT-detected tail lesion)",  # p04e
        "Distal pancreatectomy of lesion seen on PET",
        "Distal pancreatectomy for biopsy-proven NET",
    ],
)
def test_imaging_words_as_modifiers_do_not_veto(text: str) -> None:
    result = run(
        [procedure("p1", concept(text), performedDateTime="2023-05-01")], primary_site="pancreas"
    )
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert result.tumor == {"primary_removed": True}


@pytest.mark.parametrize(
    ("extra", "listed"),
    [
        ({"note": [{"text": "Laparoscopic approach abandoned, converted to open."}]}, False),  # p05
        ({"note": [{"text": "Lap procedure abandoned (converted)."}]}, True),  # p15
        ({"note": [{"text": "Patient initially declined surgery."}]}, True),  # p06
        ({"note": [{"text": "Patient declined blood transfusion."}]}, False),  # p06b
        ({"outcome": concept("Surgery successful; fistula closure unsuccessful")}, True),  # p11
        ({"note": [{"text": "Surgery postponed once."}]}, True),  # p33
        ({"statusReason": concept("patient refused splenectomy")}, True),  # p35
    ],
)
def test_remarks_about_other_things_or_qualified_keep_the_resection(
    extra: dict[str, Any], listed: bool
) -> None:
    res = procedure("p1", concept("Distal pancreatectomy"), performedDateTime="2023-05-01", **extra)
    result = run([res], primary_site="pancreas")
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert result.tumor == {"primary_removed": True}
    assert any("kept (check)" in u.reason for u in result.unmapped) is listed


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        ({"note": [{"text": "Pancreatectomy abandoned: liver metastases found."}]}, "abandoned"),
        ({"note": [{"text": "Patient declined surgery."}]}, "declined"),
        ({"statusReason": concept("Declined")}, "declined"),
        ({"outcome": concept(None, (SNOMED, "385671000", "Unsuccessful"))}, "Unsuccessful"),
        ({"outcome": concept("Surgery successful", (SNOMED, "385671000", "Unsuccessful"))},
         "Unsuccessful"),
    ],
)  # fmt: skip
def test_not_done_about_the_resection_itself_still_vetoes(extra: dict[str, Any], word: str) -> None:
    res = procedure("p1", concept("Distal pancreatectomy"), performedDateTime="2023-05-01", **extra)
    result = run([res], primary_site="pancreas")
    assert result.treatments == []
    assert result.tumor == {}
    assert reasons(result)["Procedure/p1"].startswith(repr(word))


def test_each_clause_is_read_on_its_own() -> None:  # p25
    res = procedure(
        "p1",
        concept("Robotic distal pancreatectomy; liver RFA deferred"),
        performedDateTime="2023-05-01",
    )
    result = run([res], primary_site="pancreas")
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert result.tumor == {"primary_removed": True}
    assert reasons(result)["Procedure/p1"] == (
        "'deferred': the procedure was not performed (thermal_ablation not imported)"
    )


def test_two_treatments_in_one_procedure_are_two_items() -> None:
    res = procedure(
        "p1",
        concept("Distal pancreatectomy and intraoperative microwave ablation of liver metastasis"),
        performedDateTime="2023-05-01",
    )
    result = run([res], primary_site="pancreas")
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection", "thermal_ablation"]
    assert result.tumor == {"primary_removed": True}
    assert result.provenance["tumor.primary_removed"] == ["Procedure/p1.code"]


def test_a_vetoed_clause_does_not_veto_the_treatment_in_another() -> None:
    res = procedure(
        "p1",
        concept("Right hemicolectomy — staging CT scan next month; PRRT planning"),
        performedDateTime="2023-05-01",
    )
    result = run([res], primary_site="small_intestine")
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert "prrt_other not imported" in reasons(result)["Procedure/p1"]


def test_refusal_in_brackets_is_about_its_own_object() -> None:  # p35
    res = procedure(
        "p1",
        concept("Distal pancreatectomy (patient refused splenectomy)"),
        performedDateTime="2023-05-01",
    )
    result = run([res], primary_site="pancreas")
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert result.tumor == {"primary_removed": True}
    assert "'refused' about something else" in reasons(result)["Procedure/p1"]


# --------------------------------------------------------------------------- break test 3


@pytest.mark.parametrize(
    "text",
    [
        "Ileal resection post-PRRT",  # p36, n06
        "Ileal resection post-Lutathera",
        "Post-PRRT ileal resection",
    ],
)
def test_a_vetoed_match_does_not_hide_another_treatment_in_the_clause(text: str) -> None:
    result = run([procedure("p1", concept(text), performedDateTime="2023-05-16")])
    assert [t["therapy"] for t in result.treatments] == ["surgical_resection"]
    assert result.tumor == {"primary_removed": True}
    assert "says this is not the treatment itself" in reasons(result)["Procedure/p1"]


@pytest.mark.parametrize(
    ("text", "therapies"),
    [
        ("DEB-TACE", ["deb_tace"]),  # not also TACE: the same words
        ("Post-DEB-TACE ileal resection", ["surgical_resection"]),  # nor TACE after a veto
        ("EUS-guided RFA of pancreatic NET", ["eus_radiofrequency_ablation"]),
    ],
)
def test_rules_on_the_same_words_give_one_treatment(text: str, therapies: list[str]) -> None:
    result = run([procedure("p1", concept(text), performedDateTime="2023-05-16")])
    assert [t["therapy"] for t in result.treatments] == therapies


def test_administrations_alone_give_no_end_and_no_stop() -> None:  # m03b
    result = run([administration("cx", concept("CAPTEM cycle 3 day 1"), "2025-04-01")])
    [item] = result.treatments
    assert item["therapy"] == "capecitabine_temozolomide"
    assert item["start"] == "2025-04-01"
    assert "end" not in item and "ongoing" not in item and "stop_reason" not in item
    assert "cycles" not in item  # cycle 3 said, one administration seen: not 1
    said = [u.reason for u in result.unmapped if u.resource == "MedicationAdministration/cx"]
    assert any("'cycle 3' in the text but 1 counted" in r for r in said)
    assert any("the course began earlier" in r for r in said)


def test_administrations_of_a_whole_course_count_cycles_but_give_no_end() -> None:
    days = ["2024-01-10", "2024-03-06", "2024-05-01", "2024-06-26"]
    ma = [
        administration(f"a{n}", concept(f"Lutathera 7.4 GBq cycle {n}"), day)
        for n, day in enumerate(days, 1)
    ]
    [item] = run(ma).treatments
    assert (item["start"], item["cycles"]) == ("2024-01-10", 4)
    assert "end" not in item and "ongoing" not in item


@pytest.mark.parametrize(
    ("extra", "stop"),
    [
        ({"status": "stopped"}, None),
        ({"statusReason": [concept("disease progression")]}, "progression"),
        ({"extension": outcome(stop_reason="toxicity")}, "toxicity"),
    ],
)
def test_an_administration_saying_the_course_stopped_ends_it(
    extra: dict[str, Any], stop: str | None
) -> None:
    status = extra.pop("status", "completed")
    ma = [
        administration("a1", concept("capecitabine"), "2024-01-10"),
        administration("a2", concept("capecitabine"), "2024-02-07", status=status, **extra),
    ]
    [item] = run(ma).treatments
    assert (item["end"], item["ongoing"], item.get("stop_reason")) == ("2024-02-07", False, stop)


@pytest.mark.parametrize(
    "text",
    ["CAPTEM cycle 3 day 1", "capecitabine C3D1 + temozolomide", "CAPTEM cycle #3"],
)
def test_an_order_for_a_later_cycle_keeps_its_date_as_the_earliest_known(text: str) -> None:
    result = run([request("mr1", concept(text), authoredOn="2025-03-01")])
    [item] = result.treatments
    assert item["start"] == "2025-03-01" and "cycles" not in item
    assert "the course began earlier" in reasons(result)["MedicationRequest/mr1"]


def test_prrt_procedures_merge_with_cycles_and_end() -> None:  # m10, m11
    days = ["2024-01-10", "2024-03-06", "2024-06-20", "2024-08-15"]  # a 15-week delay between 2-3
    procs = [
        procedure(f"p{n}", concept(f"Lutathera cycle {n} of 4"), performedDateTime=day)
        for n, day in enumerate(days, 1)
    ]
    result = run(procs)
    [item] = result.treatments
    assert (item["therapy"], item["start"], item["end"], item["cycles"], item["ongoing"]) == (
        "prrt_lu177_dotatate",
        "2024-01-10",
        "2024-08-15",
        4,
        False,
    )
    assert result.provenance["treatments[0].end"] == ["Procedure/p4.performedDateTime"]
    assert len(result.provenance["treatments[0].cycles"]) == 4


def test_prrt_procedures_far_apart_are_two_courses() -> None:
    procs = [
        procedure("p1", concept("Lutathera"), performedDateTime="2023-01-10"),
        procedure("p2", concept("Lutathera"), performedDateTime="2023-03-07"),
        procedure("p3", concept("Lutathera"), performedDateTime="2024-01-10"),  # > 16 weeks
    ]
    assert [(t["start"], t["end"], t["cycles"]) for t in run(procs).treatments] == [
        ("2023-01-10", "2023-03-07", 2),
        ("2024-01-10", "2024-01-10", 1),
    ]


def test_prrt_in_progress_has_no_end_and_a_missing_cycle_leaves_cycles_absent() -> None:
    procs = [
        procedure("p1", concept("Lutathera cycle 1"), performedDateTime="2025-01-10"),
        procedure(
            "p2", concept("Lutathera cycle 2"), "in-progress", performedDateTime="2025-03-07"
        ),
    ]
    [item] = run(procs).treatments
    assert (item["ongoing"], item["cycles"]) == (True, 2) and "end" not in item
    result = run(
        [procedure("p2", concept("Lutathera cycle 2 of 4"), performedDateTime="2025-03-07")]
    )
    [item] = result.treatments
    assert "cycles" not in item  # m01b: only cycle 2 seen
    assert "'cycle 2' in the text but 1 procedure(s) seen" in " ".join(
        u.reason for u in result.unmapped
    )


def test_a_single_resection_gets_no_cycles() -> None:
    [item] = run(
        [procedure("p1", concept("Ileal resection"), performedDateTime="2023-05-16")]
    ).treatments
    assert "cycles" not in item and "end" not in item


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Grade 3 non-infectious pneumonitis", "toxicity"),  # examples/fhir pancreas bundle
        ("Non-infectious pneumonitis", "toxicity"),  # "non-" negates its own word only
        ("mucositis", "toxicity"),
        ("Febrile neutropenia", "toxicity"),
        ("grade 4 thrombocytopenia", "toxicity"),
        ("anaemia", "toxicity"),
        ("Anemia requiring transfusion", "toxicity"),
        ("hepatotoxicity", "toxicity"),
        ("nephrotoxicity", "toxicity"),
        ("CTCAE grade 3-4 adverse events", "toxicity"),
        ("intolerance", "toxicity"),
        ("side effects", "toxicity"),
        ("no pneumonitis", None),  # negation rules kept
        ("neutropenia ruled out", None),
        ("without grade 3 events", None),
        ("diarrhoea", None),  # an ambiguous symptom: not a toxicity word
        ("Grade 3 diarrhoea", "toxicity"),  # the grade says it
        ("stomatitis and progression", None),  # two reasons: not chosen
    ],
)
def test_toxicity_words(text: str, expected: str | None) -> None:
    res = request(
        "r1",
        concept("everolimus 10 mg"),
        status="stopped",
        authoredOn="2023-06-01",
        statusReason={"text": text},
    )
    [item] = run([res]).treatments
    assert item.get("stop_reason") == expected
