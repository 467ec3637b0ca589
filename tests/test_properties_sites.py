"""Site-focused safety invariants over random valid cases (hypothesis).

Each strategy builds ``netnav-case/1`` documents aimed at one primary site or one situation of
the clinical brief (§2.2, §2.4, §2.6.3, §2.8, §2.11, §4, G-08), and every document goes through
``case_from_mapping`` (via ``Sample``), so an invalid one raises rather than being planned.
The general strategy and helpers come from ``tests/test_properties.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.test_properties import (
    FDG_PET,
    KB,
    NEVER_OFFERED,
    PANCREAS_ONLY,
    PRIMARY_SITES,
    REGIONS,
    SSA_ANTI_TUMOUR,
    Sample,
    _numbers,
    _subset,
    derived,
    offered,
    patient,
    sstr_imaging,
    treatments,
    tumor,
)

SITE_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INVASION_DEPTHS = (
    "mucosa", "submucosa", "muscularis_propria", "subserosa", "serosa_or_adjacent_organs",
)  # fmt: skip
LUNG_HISTOTYPES = ("typical_carcinoid", "atypical_carcinoid", "large_cell_nec", "small_cell_nec")
MARGINS = ("r0", "r1", "r2", "rx")
SITE_ONLY_KEYS = (
    "gastric_type", "lung_histotype", "goblet_cell", "appendix_location",
    "mesoappendix_invasion_mm", "duct_dilatation",
)  # fmt: skip

NOT_FOR_NEC = (*SSA_ANTI_TUMOUR, "prrt_lu177_dotatate", "prrt_lu177_edotreotide", "everolimus")
SSA_ANY = ("octreotide_lar", "lanreotide", "ssa_dose_escalation", "octreotide_short_acting")

# Option classes (knowledge base) that are systemic anti-tumour therapy; the other classes
# are local treatments (surgery, endoscopy, liver-directed, radiotherapy) or syndrome,
# supportive, strategy, referral, genetics and trial measures.
SYSTEMIC_ANTI_TUMOUR_CLASSES = frozenset(
    {"ssa", "prrt", "mtor_inhibitor", "tyrosine_kinase_inhibitor", "chemotherapy", "interferon"}
    | {"immunotherapy"}
)
LOCAL_CLASSES = frozenset({"surgery", "endoscopy", "liver_directed", "radiotherapy"})
# Short-acting octreotide is a syndrome measure (flare-ups, cover around procedures).
SYNDROME_ONLY_IDS = frozenset({"octreotide_short_acting", "telotristat_ethyl"})


def _classes(option_id: str) -> frozenset[str]:
    return frozenset(KB.therapies[option_id].classes)


def is_systemic_anti_tumour(option_id: str) -> bool:
    """Systemic anti-tumour therapy (chemoradiotherapy counts as a local treatment)."""
    if option_id in SYNDROME_ONLY_IDS or option_id == "chemoradiotherapy":
        return False
    return bool(_classes(option_id) & SYSTEMIC_ANTI_TUMOUR_CLASSES)


def is_anti_tumour(option_id: str) -> bool:
    return is_systemic_anti_tumour(option_id) or bool(_classes(option_id) & LOCAL_CLASSES)


def tiers(plan: dict[str, Any]) -> dict[str, str]:
    return {o["id"]: o["tier"] for o in plan["options"]}


# --- strategies -----------------------------------------------------------------------------------


def _size_mm(high_tenths: int) -> st.SearchStrategy[float | int]:
    """A size above 0 and at most ``high_tenths`` / 10 mm: whole and one-decimal values."""
    return st.one_of(
        st.integers(1, high_tenths // 10),
        st.integers(1, high_tenths).map(lambda x: x / 10),
    )


def _ki67_g1() -> st.SearchStrategy[float | int]:
    """Ki-67 below 3 % (G1)."""
    return _numbers(0, 2.9)


@st.composite
def _wrap(draw: st.DrawFn, tumor_doc: dict[str, Any]) -> dict[str, Any]:
    """A whole case around a tumour: optional as_of, patient, history, preferences, region."""
    doc: dict[str, Any] = {"format": "netnav-case/1", "tumor": tumor_doc}
    as_of = draw(st.none() | st.dates(dt.date(2015, 1, 1), dt.date(2026, 12, 31)))
    if as_of is not None:
        doc["as_of"] = as_of.isoformat()
    if draw(st.booleans()):
        doc["patient"] = draw(patient())
    if draw(st.integers(0, 2)):
        doc["treatments"] = draw(treatments(as_of))
    if draw(st.booleans()):
        doc["setting"] = {"region": draw(st.sampled_from(REGIONS))}
    if draw(st.integers(0, 3)) == 0:
        doc["preferences"] = {"prefers_oral": draw(st.booleans())}
    return doc


def cases(tumor_strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Sample]:
    return tumor_strategy.flatmap(_wrap).map(Sample)


@st.composite
def site_tumor(draw: st.DrawFn, site: str | None = None) -> dict[str, Any]:
    """A random tumour (the general strategy) moved to one site, with that site's own fields."""
    site = site or draw(st.sampled_from(PRIMARY_SITES))
    doc = draw(tumor())
    doc["primary_site"] = site
    for key in SITE_ONLY_KEYS:
        doc.pop(key, None)
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "invasion_depth": st.sampled_from(INVASION_DEPTHS),
                "lymphovascular_invasion": st.booleans(),
                "perineural_invasion": st.booleans(),
                "resection_margin": st.sampled_from(MARGINS),
                "lesion_count": st.integers(1, 6),
                "necrosis": st.sampled_from(("none", "focal", "extensive")),
            },
        )
    )
    doc.update(extra)
    if site == "stomach" and draw(st.booleans()):
        doc["gastric_type"] = draw(st.sampled_from(("type_1", "type_2", "type_3")))
    if site in ("lung", "thymus") and draw(st.booleans()):
        doc["lung_histotype"] = draw(st.sampled_from(LUNG_HISTOTYPES))
    if site == "appendix":
        if draw(st.integers(0, 3)) == 0:
            doc["goblet_cell"] = draw(st.booleans())
        if draw(st.booleans()):
            doc["appendix_location"] = draw(st.sampled_from(("tip", "body", "base")))
        if draw(st.booleans()):
            doc["mesoappendix_invasion_mm"] = draw(_numbers(0, 15))
    if site == "pancreas" and draw(st.booleans()):
        doc["duct_dilatation"] = draw(st.booleans())
    return doc


def any_site_tumor() -> st.SearchStrategy[dict[str, Any]]:
    return site_tumor()


@st.composite
def low_risk_appendix(draw: st.DrawFn) -> dict[str, Any]:
    """Appendix NET <10 mm, R0 appendectomy, no risk factor, G1, staged M0 (brief §2.4)."""
    doc: dict[str, Any] = {
        "primary_site": "appendix",
        "differentiation": "well",
        "size_mm": draw(_size_mm(99)),
        "primary_removed": True,
        "resection_margin": "r0",
        "appendix_location": draw(st.sampled_from(("tip", "body"))),
        "lymphovascular_invasion": False,
        "ki67_percent": draw(_ki67_g1()),
        "metastases": [],
    }
    if draw(st.booleans()):
        doc["goblet_cell"] = False
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "mesoappendix_invasion_mm": _numbers(0, 3),
                "mitoses_per_2mm2": _numbers(0, 1.9),
                "reported_grade": st.just("g1"),
                "nodes": st.sampled_from(("n0", "nx")),
                "perineural_invasion": st.just(False),
                "invasion_depth": st.sampled_from(("mucosa", "submucosa", "muscularis_propria")),
                "functional_syndrome": st.just("none"),
                "sstr_imaging": sstr_imaging(),
                "lesion_count": st.just(1),
            },
        )
    )
    doc.update(optional)
    return doc


@st.composite
def low_risk_rectum(draw: st.DrawFn) -> dict[str, Any]:
    """Rectal NET <10 mm, R0 removal, G1, no LVI, mucosa/submucosa, staged M0 (brief §2.4)."""
    doc: dict[str, Any] = {
        "primary_site": "rectum",
        "differentiation": "well",
        "size_mm": draw(_size_mm(99)),
        "primary_removed": True,
        "resection_margin": "r0",
        "ki67_percent": draw(_ki67_g1()),
        "lymphovascular_invasion": False,
        "invasion_depth": draw(st.sampled_from(("mucosa", "submucosa"))),
        "metastases": [],
    }
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "mitoses_per_2mm2": _numbers(0, 1.9),
                "reported_grade": st.just("g1"),
                "nodes": st.sampled_from(("n0", "nx")),
                "perineural_invasion": st.just(False),
                "functional_syndrome": st.just("none"),
                "sstr_imaging": sstr_imaging(),
                "fdg_pet": st.sampled_from(FDG_PET),
                "lesion_count": st.just(1),
            },
        )
    )
    doc.update(optional)
    return doc


@st.composite
def nec_tumor(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(site_tumor())
    doc["differentiation"] = "poor"
    if draw(st.booleans()):
        doc["nec_subtype"] = draw(st.sampled_from(("small_cell", "large_cell")))
    else:
        doc.pop("nec_subtype", None)
    return doc


@st.composite
def well_tumor(draw: st.DrawFn) -> dict[str, Any]:
    """Well-differentiated, mostly G1–G2 (Ki-67 ≤ 20 %), often advanced."""
    doc = draw(site_tumor())
    doc["differentiation"] = "well"
    doc.pop("nec_subtype", None)
    if draw(st.integers(0, 3)):
        doc["ki67_percent"] = draw(_numbers(0, 20))
        if "mitoses_per_2mm2" in doc:
            doc["mitoses_per_2mm2"] = draw(_numbers(0, 20))
    if draw(st.booleans()):
        doc["metastases"] = draw(
            _subset(("liver", "bone", "distant_lymph_nodes", "lung"), 3).filter(bool)
        )
    return doc


@st.composite
def advanced_tumor(draw: st.DrawFn) -> dict[str, Any]:
    """Distant metastases (or unresectable), NET or NEC."""
    doc = draw(site_tumor())
    doc["differentiation"] = draw(st.sampled_from(("well", "poor")))
    if doc["differentiation"] != "poor":
        doc.pop("nec_subtype", None)
    if draw(st.integers(0, 4)):
        mets = draw(_subset(("liver", "bone", "distant_lymph_nodes", "peritoneum", "lung"), 3))
        doc["metastases"] = mets or ["liver"]
    else:
        doc["resectability"] = "unresectable"
    return doc


@st.composite
def thoracic_carcinoid(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(site_tumor(draw(st.sampled_from(("lung", "thymus")))))
    doc["lung_histotype"] = draw(st.sampled_from(("typical_carcinoid", "atypical_carcinoid")))
    doc.pop("nec_subtype", None)
    if draw(st.integers(0, 3)):
        doc["differentiation"] = "well"
    else:
        doc.pop("differentiation", None)
    if "mitoses_per_2mm2" in doc:
        doc["mitoses_per_2mm2"] = draw(_numbers(0, 10))
    return doc


@st.composite
def small_gastric_type_1(draw: st.DrawFn) -> dict[str, Any]:
    """Gastric type 1, ≤10 mm, G1, staged M0 (brief ST-01)."""
    doc: dict[str, Any] = {
        "primary_site": "stomach",
        "gastric_type": "type_1",
        "size_mm": draw(_size_mm(100)),
        "ki67_percent": draw(_ki67_g1()),
        "metastases": [],
    }
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "differentiation": st.just("well"),
                "mitoses_per_2mm2": _numbers(0, 1.9),
                "reported_grade": st.just("g1"),
                "lesion_count": st.integers(1, 8),
                "invasion_depth": st.sampled_from(("mucosa", "submucosa")),
                "lymphovascular_invasion": st.just(False),
                "nodes": st.sampled_from(("n0", "nx")),
                "primary_removed": st.booleans(),
                "resection_margin": st.sampled_from(MARGINS),
                "sstr_imaging": sstr_imaging(),
                "functional_syndrome": st.just("none"),
            },
        )
    )
    doc.update(optional)
    return doc


def mixed_sites() -> st.SearchStrategy[Sample]:
    return cases(
        st.one_of(
            any_site_tumor(),
            well_tumor(),
            nec_tumor(),
            advanced_tumor(),
            thoracic_carcinoid(),
            low_risk_appendix(),
            low_risk_rectum(),
            small_gastric_type_1(),
        )
    )


# --- invariants -----------------------------------------------------------------------------------


@SITE_SETTINGS
@given(cases(low_risk_appendix()))
def test_low_risk_appendix_net_gets_no_surgical_resection(sample: Sample) -> None:
    assert derived(sample.plan, "grade") == "g1"
    assert "surgical_resection" not in offered(sample.plan), offered(sample.plan)


@SITE_SETTINGS
@given(cases(low_risk_rectum()))
def test_low_risk_rectal_net_gets_no_surgical_resection(sample: Sample) -> None:
    assert derived(sample.plan, "grade") == "g1"
    assert "surgical_resection" not in offered(sample.plan), offered(sample.plan)


@SITE_SETTINGS
@given(cases(nec_tumor()))
def test_nec_gets_no_ssa_prrt_or_everolimus(sample: Sample) -> None:
    given_ = set(offered(sample.plan)) & set(NOT_FOR_NEC)
    assert not given_, sorted(given_)


@SITE_SETTINGS
@given(cases(well_tumor()))
def test_platinum_etoposide_never_preferred_for_well_differentiated_g1_g2(
    sample: Sample,
) -> None:
    if derived(sample.plan, "grade") in ("g1", "g2"):
        assert tiers(sample.plan).get("platinum_etoposide") != "preferred"


@SITE_SETTINGS
@given(mixed_sites())
def test_never_offered_options_any_site(sample: Sample) -> None:
    given_ = set(offered(sample.plan)) & set(NEVER_OFFERED)
    assert not given_, sorted(given_)


@SITE_SETTINGS
@given(mixed_sites())
def test_pancreas_only_options_only_for_pancreas(sample: Sample) -> None:
    site = sample.doc["tumor"]["primary_site"]
    if site != "pancreas":
        given_ = set(offered(sample.plan)) & set(PANCREAS_ONLY)
        assert not given_, (site, sorted(given_))


@pytest.mark.xfail(
    strict=False,
    reason=(
        "known gap: advanced NET/NEC plans with systemic anti-tumour options but empty "
        "at_progression (NEC with ECOG 3: BSC + platinum_etoposide 'consider'; insulinoma "
        "INS-02: capecitabine_temozolomide 'consider'; VIPoma/glucagonoma/gastrinoma: SSA; "
        "pNET bulky/symptomatic with unknown grade: CAPTEM preferred)"
    ),
)
@SITE_SETTINGS
@given(cases(advanced_tumor()))
def test_advanced_anti_tumour_plan_says_what_next(sample: Sample) -> None:
    plan = sample.plan
    assume(derived(plan, "extent") == "advanced")
    assume(derived(plan, "category") in ("net", "nec"))
    ids = offered(plan)
    assume(any(is_anti_tumour(o) for o in ids))
    only_local_or_syndrome = not any(is_systemic_anti_tumour(o) for o in ids)
    assert plan["at_progression"] or only_local_or_syndrome, [
        (o["id"], o["tier"]) for o in plan["options"]
    ]


@SITE_SETTINGS
@given(cases(thoracic_carcinoid()))
def test_thoracic_carcinoid(sample: Sample) -> None:
    plan = sample.plan
    assert "sunitinib" not in offered(plan)
    assert tiers(plan).get("platinum_etoposide") != "preferred"
    assert derived(plan, "grade") is None, plan["derived"]["grade"]


@SITE_SETTINGS
@given(cases(small_gastric_type_1()))
def test_small_gastric_type_1_is_not_operated_or_given_ssa_first(sample: Sample) -> None:
    plan = sample.plan
    assert derived(plan, "grade") == "g1"
    preferred = {o for o, tier in tiers(plan).items() if tier == "preferred"}
    assert "surgical_resection" not in preferred, sorted(preferred)
    assert not preferred & set(SSA_ANY), sorted(preferred)


def test_site_strategies_reach_interesting_cases() -> None:
    """The strategies are not degenerate: every site, NEC, NET and advanced plans occur."""
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, database=None, derandomize=True)
    @given(mixed_sites())
    def sample(s: Sample) -> None:
        plan = s.plan
        seen.add(s.doc["tumor"]["primary_site"])
        seen.add(f"category:{derived(plan, 'category')}")
        seen.add(f"extent:{derived(plan, 'extent')}")
        if plan["at_progression"]:
            seen.add("at_progression")
        if any(is_systemic_anti_tumour(o) for o in offered(plan)):
            seen.add("systemic")

    sample()
    wanted = {
        "appendix", "rectum", "stomach", "lung", "thymus", "pancreas", "small_intestine",
        "category:net", "category:nec", "extent:advanced", "extent:localized",
        "at_progression", "systemic",
    }  # fmt: skip
    assert wanted <= seen, sorted(wanted - seen)
