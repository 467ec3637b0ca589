"""The knowledge-base data files load, validate against the schema and agree with each other."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from netnav import vocabulary
from netnav.knowledge.schema import (
    EvidenceEntry,
    EvidenceStatus,
    FactEntry,
    Manifest,
    Therapy,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "netnav" / "knowledge" / "data"

REQUIRED_EVIDENCE = """
PROMID CLARINET CLARINET-FORTE NETTER-1 NETTER-2 COMPETE COMPOSE RADIANT-2 RADIANT-3 RADIANT-4
SUNITINIB-A6181111 CABINET E2211 TELESTAR TELECAST SPINET LUNA SWOG-S0518 NET-02 TOPIC-NEC
NORDIC-NEC-2 ERASMUS-LU177 LUTATHERA-LABEL-SAFETY RECTAL-LVI-KOREA ESCC-CRT-CMAR-2021
TMZ-LYMPHOPENIA TACE-ABSCESS LIVER-TX-MILAN OCTREOTIDE-TEST-INSULINOMA EUS-RFA-INSULINOMA NETTER-R
ESMO-GEP-2020 ESMO-LUNG-2021 ENETS-NFpNET-2023 ENETS-FUNC-2023 ENETS-SI-2024 ENETS-APP-2023
ENETS-CR-2023 ENETS-GD-2023 ENETS-NEC-2023 ENETS-CS-2022 NCCN-NAT NANETS PDQ-GI PDQ-pNET ESGE-2022
WHO-2019 eviQ-MEN1 LUTATHERA-EU-SMPC LUTATHERA-US-LABEL EMA-LUTATHERA-VARIATION-2025
FDA-CABOZANTINIB-2025 EDOTREOTIDE-STATUS-2026 TELOTRISTAT-LABEL LANREOTIDE-US-LABEL
PRRT-INSTITUTIONAL-PROTOCOL RETNET NETPRAXIS-DELPHI ASPEN PAIK-2022 EXARCHOU-2022 NESTI-2023
HORMONES-2016-INSULINOMA NICE-SIRT-2024 NETNAV-CONVENTION
"""
"""Evidence ids the brief's sections 0, 7 and 8 require (one entry each)."""


def _load(name: str) -> Any:
    with (DATA / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _entries(name: str, key: str) -> list[dict[str, Any]]:
    document = _load(name)
    assert isinstance(document, dict), f"{name}: top level must be a mapping"
    assert set(document) == {key}, f"{name}: expected only the top-level key {key!r}"
    entries = document[key]
    assert isinstance(entries, list) and entries, f"{name}: {key} must be a non-empty list"
    return entries


@pytest.fixture(scope="module")
def therapies() -> list[Therapy]:
    return [Therapy.model_validate(raw) for raw in _entries("therapies.yaml", "therapies")]


@pytest.fixture(scope="module")
def evidence() -> list[EvidenceEntry]:
    return [EvidenceEntry.model_validate(raw) for raw in _entries("evidence.yaml", "evidence")]


@pytest.fixture(scope="module")
def facts() -> list[FactEntry]:
    return [FactEntry.model_validate(raw) for raw in _entries("facts.yaml", "facts")]


def _duplicates(values: list[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def test_manifest_validates() -> None:
    manifest = Manifest.model_validate(_load("manifest.yaml"))
    assert manifest.version == "2026.11.0"
    assert manifest.released == "2026-11-29"
    assert manifest.last_reviewed == "2026-11-29"
    assert manifest.brief_revision.startswith("3")


def test_every_vocabulary_id_has_exactly_one_therapy(therapies: list[Therapy]) -> None:
    ids = [therapy.id for therapy in therapies]
    assert _duplicates(ids) == []
    assert set(ids) == set(vocabulary.ALL_THERAPY_IDS)
    assert len(ids) == len(vocabulary.OPTION_IDS) + len(vocabulary.HISTORY_ONLY_IDS)


def test_history_only_ids_are_not_recommendable(therapies: list[Therapy]) -> None:
    by_id = {therapy.id: therapy for therapy in therapies}
    for therapy_id in vocabulary.HISTORY_ONLY_IDS:
        assert by_id[therapy_id].recommendable is False, therapy_id
    for therapy_id in vocabulary.OPTION_IDS:
        assert by_id[therapy_id].recommendable is True, therapy_id


def test_therapy_groups_match_the_vocabulary(therapies: list[Therapy]) -> None:
    by_id = {therapy.id: therapy for therapy in therapies}
    for group, members in vocabulary.GROUPS.items():
        listed = {therapy.id for therapy in therapies if group in therapy.groups}
        assert listed == set(members), group
    for therapy in by_id.values():
        assert set(therapy.groups) <= set(vocabulary.GROUPS), therapy.id


def test_therapies_have_clinic_and_patient_text(therapies: list[Therapy]) -> None:
    for therapy in therapies:
        assert therapy.name.strip(), therapy.id
        assert therapy.route.strip(), therapy.id
        assert therapy.schedule.strip(), therapy.id
        assert therapy.plain_language.strip(), therapy.id
        assert _duplicates(list(therapy.classes)) == [], therapy.id
        assert _duplicates(therapy.evidence) == [], therapy.id


def test_evidence_ids_are_unique(evidence: list[EvidenceEntry]) -> None:
    assert _duplicates([entry.id for entry in evidence]) == []


def test_every_therapy_evidence_id_exists(
    therapies: list[Therapy], evidence: list[EvidenceEntry]
) -> None:
    known = {entry.id for entry in evidence}
    missing = sorted(
        f"{therapy.id}: {ref}"
        for therapy in therapies
        for ref in therapy.evidence
        if ref not in known
    )
    assert missing == []


def test_evidence_status_is_a_brief_tag(evidence: list[EvidenceEntry]) -> None:
    raw_statuses = [raw["status"] for raw in _entries("evidence.yaml", "evidence")]
    allowed = {status.value for status in EvidenceStatus}
    assert allowed == {"V", "V2", "UNVERIFIED"}
    assert set(raw_statuses) <= allowed
    for entry in evidence:
        assert entry.status in EvidenceStatus, entry.id
        assert entry.title.strip() and entry.citation.strip(), entry.id


def test_required_evidence_entries_are_present(evidence: list[EvidenceEntry]) -> None:
    known = {entry.id for entry in evidence}
    required = set(REQUIRED_EVIDENCE.split())
    assert sorted(required - known) == []


def test_fact_fields_are_unique_and_tests_are_vocabulary_ids(facts: list[FactEntry]) -> None:
    assert _duplicates([fact.field for fact in facts]) == []
    for fact in facts:
        assert fact.test is None or fact.test in vocabulary.TEST_IDS, fact.field
        assert fact.label.strip() and fact.why.strip(), fact.field
        root = fact.field.split(".")[0].split("[")[0]
        assert root in {"tumor", "patient", "treatments", "setting", "preferences"}, fact.field


def test_no_duplicate_ids_across_files(
    therapies: list[Therapy], evidence: list[EvidenceEntry]
) -> None:
    therapy_ids = {therapy.id for therapy in therapies}
    evidence_ids = {entry.id for entry in evidence}
    assert sorted(therapy_ids & evidence_ids) == []
