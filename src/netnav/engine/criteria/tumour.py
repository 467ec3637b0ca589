"""Criteria about the tumour: site, category, grade, Ki-67, extent, receptors, tempo, syndrome.

Ki-67 criteria evaluate over the possible values when Ki-67 is not measured but the report's
grade bounds it (design note 4): agreement over the whole range gives ``warn`` (an assumption,
shown), disagreement gives ``undetermined`` naming ``tumor.ki67_percent``.
"""

from __future__ import annotations

from pydantic import Field

from netnav.case.derive import Ki67Range
from netnav.engine.criteria.base import CaseContext, Params, criterion
from netnav.engine.verdict import Verdict, failed, passed, undetermined, warned

__all__: list[str] = []


def _words(value: object) -> str:
    return str(value).replace("_", " ")


class Sites(Params):
    sites: list[str] = Field(min_length=1)


@criterion("primary_site_in", Sites)
def primary_site_in(ctx: CaseContext, p: Sites) -> Verdict:
    """The primary site is one of the listed sites (case-format values)."""
    site = ctx.case.tumor.primary_site
    if site in p.sites:
        return passed(f"primary site {_words(site)}", "tumor.primary_site")
    return failed(f"primary site {_words(site)} is not among these", "tumor.primary_site")


class Categories(Params):
    categories: list[str] = Field(min_length=1)


@criterion("category_in", Categories)
def category_in(ctx: CaseContext, p: Categories) -> Verdict:
    """Derived category (net, nec, minen, goblet_cell_adenocarcinoma, uncertain) is listed."""
    cat = ctx.derived.category
    if cat.value in p.categories:
        return passed(f"{cat.value.upper()}: {cat.how}", "tumor.differentiation")
    if cat.value == "uncertain":
        return undetermined(
            f"differentiation unknown ({cat.how}): NET or NEC cannot be told",
            ctx.missing("tumor.differentiation"),
        )
    return failed(f"{cat.value.upper()}: {cat.how}", "tumor.differentiation")


class Grades(Params):
    grades: list[str] = Field(min_length=1)


@criterion("grade_in", Grades)
def grade_in(ctx: CaseContext, p: Grades) -> Verdict:
    """Derived WHO grade is one of the listed grades (g1, g2, g3)."""
    grade = ctx.derived.grade
    facts = ("tumor.ki67_percent", "tumor.mitoses_per_2mm2")
    if grade.value is None:
        return undetermined(f"grade unknown: {grade.how}", ctx.missing("tumor.ki67_percent"))
    listed = "/".join(g.upper() for g in p.grades)
    if grade.value in p.grades:
        if ctx.derived.grade_from_report:
            return warned(f"grade {grade.value.upper()} taken from the report: {grade.how}", *facts)
        return passed(f"grade {grade.value.upper()} ({grade.how})", *facts)
    return failed(f"grade {grade.value.upper()}, not {listed} ({grade.how})", *facts)


class Ki67Limit(Params):
    percent: float = Field(ge=0, le=100)


def _ki67(ctx: CaseContext, limit: float, kind: str) -> Verdict:
    rng: Ki67Range = ctx.derived.ki67
    words = {"at_most": "at most", "at_least": "at least", "below": "below", "above": "above"}
    wanted = f"{words[kind]} {limit:g}%"

    def holds(x: float) -> bool:
        return {
            "at_most": x <= limit,
            "at_least": x >= limit,
            "below": x < limit,
            "above": x > limit,
        }[kind]

    if rng.measured:
        if holds(rng.low):
            return passed(f"Ki-67 {rng.low:g}% is {wanted}", "tumor.ki67_percent")
        return failed(f"Ki-67 {rng.low:g}% is not {wanted}", "tumor.ki67_percent")
    if rng.source == "reported_grade":
        # Test both ends of the interval the grade allows (open ends nudged inwards).
        eps = 1e-9
        low = rng.low + (eps if rng.low_open else 0.0)
        high = rng.high - (eps if rng.high_open else 0.0)
        grade = ctx.derived.grade.value or "?"
        if holds(low) and holds(high):
            return warned(
                f"Ki-67 not measured; the reported grade {grade.upper()} implies Ki-67 {wanted} "
                "(assumption: confirm Ki-67)",
                "tumor.reported_grade",
            )
        if not holds(low) and not holds(high):
            return failed(
                f"Ki-67 not measured; the reported grade {grade.upper()} rules out Ki-67 {wanted}",
                "tumor.reported_grade",
            )
    return undetermined(
        f"Ki-67 not known: cannot tell whether it is {wanted}", ctx.missing("tumor.ki67_percent")
    )


@criterion("ki67_at_most", Ki67Limit)
def ki67_at_most(ctx: CaseContext, p: Ki67Limit) -> Verdict:
    """Ki-67 is at most the given percent (the boundary meets it, brief §1.6)."""
    return _ki67(ctx, p.percent, "at_most")


@criterion("ki67_at_least", Ki67Limit)
def ki67_at_least(ctx: CaseContext, p: Ki67Limit) -> Verdict:
    """Ki-67 is at least the given percent (the boundary meets it, brief §1.6)."""
    return _ki67(ctx, p.percent, "at_least")


@criterion("ki67_below", Ki67Limit)
def ki67_below(ctx: CaseContext, p: Ki67Limit) -> Verdict:
    """Ki-67 is strictly below the given percent."""
    return _ki67(ctx, p.percent, "below")


@criterion("ki67_above", Ki67Limit)
def ki67_above(ctx: CaseContext, p: Ki67Limit) -> Verdict:
    """Ki-67 is strictly above the given percent."""
    return _ki67(ctx, p.percent, "above")


class Extents(Params):
    extents: list[str] = Field(min_length=1)


@criterion("extent_in", Extents)
def extent_in(ctx: CaseContext, p: Extents) -> Verdict:
    """Derived extent (localized, locoregional, advanced) is one of the listed."""
    ext = ctx.derived.extent
    if ext.value in p.extents:
        return passed(f"{ext.value} disease ({ext.how})", "tumor.metastases")
    if ext.value == "unknown":
        return undetermined(f"extent unknown: {ext.how}", ctx.missing("tumor.metastases"))
    return failed(f"{ext.value} disease ({ext.how})", "tumor.metastases")


@criterion("liver_dominant")
def liver_dominant(ctx: CaseContext, p: Params) -> Verdict:
    """Metastatic disease is liver-dominant (liver only, or liver plus distant nodes)."""
    fact = ctx.derived.liver_dominant
    if fact.value is None:
        return undetermined(f"liver dominance unknown: {fact.how}", ctx.missing("tumor.metastases"))
    if fact.value and "assumed" in fact.how:
        return warned(f"liver-dominant: {fact.how}", "tumor.metastases")
    if fact.value:
        return passed(f"liver-dominant: {fact.how}", "tumor.metastases")
    return failed(f"not liver-dominant: {fact.how}", "tumor.metastases")


@criterion("liver_only")
def liver_only(ctx: CaseContext, p: Params) -> Verdict:
    """Metastases are in the liver only."""
    fact = ctx.derived.liver_only
    if fact.value is None:
        return undetermined(
            f"extent of spread unknown: {fact.how}", ctx.missing("tumor.metastases")
        )
    if fact.value:
        return passed("metastases in the liver only", "tumor.metastases")
    return failed(f"not liver-only: {fact.how}", "tumor.metastases")


class MetastaticSites(Params):
    sites: list[str] = Field(min_length=1)


@criterion("metastases_include", MetastaticSites)
def metastases_include(ctx: CaseContext, p: MetastaticSites) -> Verdict:
    """Any of the listed metastatic sites is present."""
    mets = ctx.case.tumor.metastases
    if mets is None:
        return undetermined("metastases not staged", ctx.missing("tumor.metastases"))
    found = [m for m in mets if m in p.sites]
    if found:
        return passed(f"metastases in {', '.join(_words(m) for m in found)}", "tumor.metastases")
    return failed(f"no metastases in {', '.join(_words(s) for s in p.sites)}", "tumor.metastases")


def _sstr(ctx: CaseContext, wanted: str) -> Verdict:
    fact = ctx.derived.sstr_status
    facts = ("tumor.sstr_imaging",)
    if fact.value == "unknown":
        return undetermined(
            f"SSTR status unknown ({fact.how}): cannot tell whether the tumour expresses "
            "somatostatin receptors",
            ctx.missing("tumor.sstr_imaging"),
        )
    if fact.value == wanted:
        return passed(f"SSTR {wanted}: {fact.how}", *facts)
    return failed(f"not SSTR {wanted}: {fact.how}", *facts)


@criterion("sstr_positive")
def sstr_positive(ctx: CaseContext, p: Params) -> Verdict:
    """SSTR uptake at least equal to liver in every known lesion (brief G-04, §1.1)."""
    return _sstr(ctx, "positive")


@criterion("sstr_negative")
def sstr_negative(ctx: CaseContext, p: Params) -> Verdict:
    """No lesion takes up tracer above Krenning 1 (SSTR-negative)."""
    return _sstr(ctx, "negative")


@criterion("sstr_heterogeneous")
def sstr_heterogeneous(ctx: CaseContext, p: Params) -> Verdict:
    """Some lesions take up tracer and others do not (below liver)."""
    return _sstr(ctx, "heterogeneous")


@criterion("documented_progression")
def documented_progression(ctx: CaseContext, p: Params) -> Verdict:
    """Progressive or rapidly progressive disease on imaging (RECIST), now."""
    fact = ctx.derived.documented_progression
    if fact.value is None:
        return undetermined(fact.how, ctx.missing("tumor.disease_course"))
    if fact.value:
        return passed(f"documented progression: {fact.how}", "tumor.disease_course")
    return failed(f"no documented progression: {fact.how}", "tumor.disease_course")


@criterion("rapid_progression")
def rapid_progression(ctx: CaseContext, p: Params) -> Verdict:
    """Rapidly progressive disease."""
    course = ctx.case.tumor.disease_course
    if course is None:
        return undetermined("disease course not recorded", ctx.missing("tumor.disease_course"))
    if course == "rapidly_progressive":
        return passed("rapidly progressive disease", "tumor.disease_course")
    return failed(f"disease course {_words(course)}, not rapid", "tumor.disease_course")


@criterion("stable_disease")
def stable_disease(ctx: CaseContext, p: Params) -> Verdict:
    """Stable disease on imaging now."""
    course = ctx.case.tumor.disease_course
    if course is None:
        return undetermined("disease course not recorded", ctx.missing("tumor.disease_course"))
    if course == "stable":
        return passed("stable disease on imaging", "tumor.disease_course")
    return failed(f"disease {_words(course)}", "tumor.disease_course")


class Syndromes(Params):
    syndromes: list[str] = Field(min_length=1)


@criterion("functional_syndrome_in", Syndromes)
def functional_syndrome_in(ctx: CaseContext, p: Syndromes) -> Verdict:
    """The hormone syndrome (none, carcinoid_syndrome, insulinoma, ...) is one listed."""
    syn = ctx.case.tumor.functional_syndrome
    if syn is None:
        return undetermined(
            "whether the tumour makes hormones (functional syndrome) is not recorded",
            ctx.missing("tumor.functional_syndrome"),
        )
    shown = "no hormone syndrome" if syn == "none" else _words(syn)
    if syn in p.syndromes:
        return passed(shown, "tumor.functional_syndrome")
    return failed(shown, "tumor.functional_syndrome")


class Symptoms(Params):
    symptoms: list[str] = Field(min_length=1)


@criterion("symptoms_include", Symptoms)
def symptoms_include(ctx: CaseContext, p: Symptoms) -> Verdict:
    """Any of the listed symptoms is present."""
    symptoms = ctx.case.tumor.symptoms
    if symptoms is None:
        return undetermined("symptoms not recorded", ctx.missing("tumor.symptoms"))
    found = [s for s in symptoms if s in p.symptoms]
    if found:
        return passed(f"symptoms: {', '.join(_words(s) for s in found)}", "tumor.symptoms")
    listed = ", ".join(_words(s) for s in p.symptoms)
    return failed(f"none of: {listed}", "tumor.symptoms")


@criterion("asymptomatic")
def asymptomatic(ctx: CaseContext, p: Params) -> Verdict:
    """No tumour symptoms recorded and the tumour is not bulky or symptomatic."""
    t = ctx.case.tumor
    facts = ("tumor.symptoms", "tumor.bulky_or_symptomatic")
    if t.symptoms or t.bulky_or_symptomatic is True:
        what = ", ".join(_words(s) for s in t.symptoms or ()) or "bulky or symptomatic tumour"
        return failed(f"symptomatic: {what}", *facts)
    if t.symptoms is not None and not t.symptoms and t.bulky_or_symptomatic is None:
        return passed("no symptoms recorded (bulk not stated)", "tumor.symptoms")
    if t.symptoms is None or t.bulky_or_symptomatic is None:
        missing = [
            f for f, v in zip(facts, (t.symptoms, t.bulky_or_symptomatic), strict=True) if v is None
        ]
        return undetermined("symptoms not fully recorded", ctx.missing(*missing))
    return passed("no symptoms from the tumour", *facts)


class Histotypes(Params):
    histotypes: list[str] = Field(min_length=1)


@criterion("lung_histotype_in", Histotypes)
def lung_histotype_in(ctx: CaseContext, p: Histotypes) -> Verdict:
    """Lung/thymic histotype (typical_carcinoid, atypical_carcinoid, large_cell_nec,
    small_cell_nec), as reported or derived from mitoses and necrosis (WHO thoracic)."""
    fact = ctx.derived.lung_histotype
    facts = ("tumor.lung_histotype", "tumor.mitoses_per_2mm2", "tumor.necrosis")
    if fact.value is None:
        return undetermined(f"histotype unknown: {fact.how}", ctx.missing("tumor.lung_histotype"))
    shown = _words(fact.value)
    if fact.value in p.histotypes:
        return passed(f"{shown} ({fact.how})", *facts)
    return failed(f"{shown} ({fact.how})", *facts)
