"""Domain-shaped builders for the engine's unit tests.

``case_with(ki67=12, site="pancreas", metastases=["liver"])`` builds a minimal valid
``netnav-case/1`` document (small-intestine primary by default) and parses it with the real
loader, so every test case is a case the engine could receive. ``ctx_for`` builds the criterion
context the way the planner does; ``evaluate`` compiles a criterion written as in the YAML
files and evaluates it; ``assert_verdict`` checks an outcome and that it is explained.
"""

from __future__ import annotations

from typing import Any

from netnav.case import Case, case_from_mapping
from netnav.engine.criteria import CaseContext, compile_criterion
from netnav.engine.planner import _Planner
from netnav.engine.verdict import Verdict
from netnav.knowledge.load import Knowledge, default_knowledge

__all__ = [
    "advanced_sstr_positive_si_net",
    "assert_verdict",
    "case_with",
    "ctx_for",
    "evaluate",
    "kb",
    "missing_fields",
    "treatment",
]

# Keyword -> field of ``tumor`` (the short names the tests use).
_TUMOR_KEYS: dict[str, str] = {
    "site": "primary_site",
    "ki67": "ki67_percent",
    "mitoses": "mitoses_per_2mm2",
    "differentiation": "differentiation",
    "metastases": "metastases",
    "nodes": "nodes",
    "reported_grade": "reported_grade",
    "necrosis": "necrosis",
    "lung_histotype": "lung_histotype",
    "goblet_cell": "goblet_cell",
    "resectability": "resectability",
    "disease_course": "disease_course",
    "months_observed": "months_observed",
    "sstr_imaging": "sstr_imaging",
    "functional_syndrome": "functional_syndrome",
    "symptoms": "symptoms",
    "bulky_or_symptomatic": "bulky_or_symptomatic",
    "size_mm": "size_mm",
}

# Keyword -> top-level key of the case document.
_TOP_KEYS = {"treatments", "preferences", "setting", "as_of", "extensions", "id"}


def kb() -> Knowledge:
    """The packaged knowledge base (loaded once per process)."""
    return default_knowledge()


def case_with(**overrides: Any) -> Case:
    """A minimal valid case with the given facts.

    Keyword arguments: the short tumour names of ``_TUMOR_KEYS`` (``ki67=12``,
    ``site="pancreas"``, ``metastases=["liver"]``); ``tumor={...}`` and ``patient={...}``
    merged into those objects (any case-format field); ``region="eu"`` for
    ``setting.region``; and the top-level keys ``treatments``, ``preferences``, ``setting``,
    ``as_of``. A keyword given the value ``None`` leaves the field out (unknown).
    """
    tumor: dict[str, Any] = {"primary_site": "small_intestine"}
    patient: dict[str, Any] = {}
    doc: dict[str, Any] = {"format": "netnav-case/1"}
    for key, value in overrides.items():
        if key in _TUMOR_KEYS:
            if value is not None:
                tumor[_TUMOR_KEYS[key]] = value
        elif key == "tumor":
            tumor.update(value)
        elif key == "patient":
            patient.update(value)
        elif key == "region":
            doc.setdefault("setting", {})["region"] = value
        elif key in _TOP_KEYS:
            if value is not None:
                doc[key] = value
        else:
            raise TypeError(f"case_with() does not know the keyword {key!r}")
    doc["tumor"] = tumor
    if patient:
        doc["patient"] = patient
    return case_from_mapping(doc)


def treatment(therapy: str, **fields: Any) -> dict[str, Any]:
    """One ``treatments[]`` item: ``treatment("everolimus", stop_reason="progression")``."""
    return {"therapy": therapy, **fields}


def ctx_for(case: Case) -> CaseContext:
    """The criterion context of ``case``, built by the planner itself (same derived facts,
    fact tests, field labels, therapy classes and option status)."""
    return _Planner(case, kb()).ctx


def _definitions() -> dict[str, Any]:
    return {name: node for name, (_d, node) in kb().definitions.items()}


def evaluate(criterion_spec: object, case: Case) -> Verdict:
    """Compile a criterion as written in the YAML files and evaluate it for ``case``."""
    node = compile_criterion(criterion_spec, _definitions())
    return node.evaluate(ctx_for(case))


def missing_fields(verdict: Verdict) -> set[str]:
    """The case field paths an undetermined verdict names as missing."""
    return {m.field for m in verdict.all_missing()}


def assert_verdict(expected: str, verdict: Verdict) -> None:
    """The verdict has outcome ``expected`` (pass, warn, undetermined, fail) and says why in
    a non-empty sentence."""
    assert verdict.outcome.label == expected, (
        f"expected {expected}, got {verdict.outcome.label}: {verdict.message!r}"
    )
    message = verdict.message
    assert isinstance(message, str) and message.strip(), "a verdict must say why"
    assert any(ch.isalpha() for ch in message), f"not a sentence: {message!r}"
    assert message == message.strip(), f"stray whitespace around {message!r}"


def advanced_sstr_positive_si_net(ssa_failed: bool = False, **extra: Any) -> Case:
    """A progressive small-intestine NET G2 (Ki-67 5%) with liver metastases, receptor-
    positive (Krenning 3–4), non-functioning; ``ssa_failed`` adds a long-acting SSA that
    ended for progression. ``extra`` as for :func:`case_with` (e.g. ``preferences``)."""
    if ssa_failed:
        extra.setdefault(
            "treatments",
            [
                {
                    "therapy": "lanreotide",
                    "start": "2024-01",
                    "end": "2025-06",
                    "stop_reason": "progression",
                }
            ],
        )
    return case_with(
        site="small_intestine",
        ki67=5,
        differentiation="well",
        metastases=["liver"],
        functional_syndrome="none",
        disease_course="progressive",
        sstr_imaging={"modality": "ga68_dotatate_pet", "krenning_min": 3, "krenning_max": 4},
        **extra,
    )
