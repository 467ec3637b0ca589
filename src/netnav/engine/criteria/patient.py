"""Criteria about the patient and the setting: performance status, region, availability."""

from __future__ import annotations

from pydantic import Field

from netnav.engine.criteria.base import CaseContext, Params, criterion
from netnav.engine.verdict import Verdict, failed, passed, undetermined, warned

__all__ = ["ecog_from_karnofsky"]


def ecog_from_karnofsky(kps: int) -> int:
    """Usual conversion of Karnofsky (0–100) to ECOG (0–4): 90–100→0, 70–80→1, 50–60→2,
    30–40→3, below 30→4 (Oken 1982 table, as used in oncology trials)."""
    if kps >= 90:
        return 0
    if kps >= 70:
        return 1
    if kps >= 50:
        return 2
    if kps >= 30:
        return 3
    return 4


class Ecog(Params):
    ecog: int = Field(ge=0, le=4)
    karnofsky_at_least: int | None = Field(default=None, ge=0, le=100)
    """Karnofsky threshold to use when only Karnofsky is recorded (a trial's own cut-off,
    e.g. NETTER-1 KPS ≥60); without it the usual conversion table is used."""


@criterion("performance_status_at_most", Ecog)
def performance_status_at_most(ctx: CaseContext, p: Ecog) -> Verdict:
    """ECOG performance status is at most ``ecog`` (Karnofsky converted when ECOG absent)."""
    pt = ctx.case.patient
    ecog = pt.ecog if pt is not None else None
    kps = pt.karnofsky if pt is not None else None
    if ecog is None and kps is None:
        return undetermined("performance status (ECOG) not recorded", ctx.missing("patient.ecog"))
    if ecog is None and kps is not None and p.karnofsky_at_least is not None:
        if kps >= p.karnofsky_at_least:
            return passed(
                f"Karnofsky {kps} is at least {p.karnofsky_at_least}", "patient.karnofsky"
            )
        return failed(f"Karnofsky {kps} is below {p.karnofsky_at_least}", "patient.karnofsky")
    if ecog is None and kps is not None:
        converted = ecog_from_karnofsky(kps)
        text = f"Karnofsky {kps} (about ECOG {converted})"
        if converted <= p.ecog:
            return warned(f"{text} is within ECOG {p.ecog} (converted)", "patient.karnofsky")
        return failed(f"{text} is worse than ECOG {p.ecog}", "patient.karnofsky")
    assert ecog is not None
    if ecog <= p.ecog:
        return passed(f"ECOG {ecog} is at most {p.ecog}", "patient.ecog")
    return failed(f"ECOG {ecog} is worse than {p.ecog}", "patient.ecog")


class Regions(Params):
    regions: list[str] = Field(min_length=1)


@criterion("region_in", Regions)
def region_in(ctx: CaseContext, p: Regions) -> Verdict:
    """Where the patient is treated (``setting.region``) is one of the listed regions."""
    region = ctx.case.setting.region if ctx.case.setting is not None else None
    if region is None:
        return undetermined(
            "region of treatment not stated: approval status depends on it (G-08)",
            ctx.missing("setting.region"),
        )
    shown = region.upper()
    if region in p.regions:
        return passed(f"treated in region {shown}", "setting.region")
    return failed(f"treated in region {shown}", "setting.region")


class OptionRef(Params):
    option: str


@criterion("option_not_excluded", OptionRef, pure=False)
def option_not_excluded(ctx: CaseContext, p: OptionRef) -> Verdict:
    """No avoid check of ``option`` fails for this patient (eligibility, e.g. the PRRT gate)."""
    return ctx.option_status(p.option)


class Because(Params):
    because: str = Field(min_length=3)


@criterion("never", Because)
def never(ctx: CaseContext, p: Because) -> Verdict:
    """Always fails, with the reason (e.g. a drug approved in no region, brief G-08)."""
    return failed(p.because)


@criterion("needs_review", Because)
def needs_review(ctx: CaseContext, p: Because) -> Verdict:
    """Always warns: something the case format cannot hold must be checked by a person."""
    return warned(p.because)


class Nyha(Params):
    nyha: int = Field(ge=1, le=4)


@criterion("heart_failure_class_at_least", Nyha)
def heart_failure_class_at_least(ctx: CaseContext, p: Nyha) -> Verdict:
    """Heart failure of at least NYHA class ``nyha`` (``heart_failure`` used when the class is
    not recorded: present with unknown class is a warn, a person must look)."""
    pt = ctx.case.patient
    com = pt.comorbidities if pt is not None else None
    nyha = com.heart_failure_nyha if com is not None else None
    present = com.heart_failure if com is not None else None
    roman = {1: "I", 2: "II", 3: "III", 4: "IV"}
    if nyha is not None:
        if nyha >= p.nyha:
            return passed(
                f"heart failure NYHA {roman.get(nyha, nyha)}",
                "patient.comorbidities.heart_failure_nyha",
            )
        shown = "no heart failure" if nyha == 0 else f"heart failure NYHA {roman[nyha]}"
        return failed(shown, "patient.comorbidities.heart_failure_nyha")
    if present is False:
        return failed("no heart failure", "patient.comorbidities.heart_failure")
    if present is True:
        return warned(
            "heart failure present, NYHA class not recorded", "patient.comorbidities.heart_failure"
        )
    return undetermined(
        "heart failure status not recorded", ctx.missing("patient.comorbidities.heart_failure_nyha")
    )


class PregnancyParams(Params):
    not_applicable_from_age: int = Field(ge=40, le=120)
    """Age from which an unrecorded pregnancy is not asked about (a convention in the data)."""


@criterion("pregnancy_excluded", PregnancyParams)
def pregnancy_excluded(ctx: CaseContext, p: PregnancyParams) -> Verdict:
    """Not pregnant or breast-feeding. A recorded pregnancy always counts, whatever else the
    case says; when pregnancy is not recorded, a male patient, or one aged at least
    ``not_applicable_from_age``, counts as not pregnant."""
    pt = ctx.case.patient
    pregnant = pt.pregnant_or_breastfeeding if pt is not None else None
    sex = pt.sex if pt is not None else None
    field = "patient.pregnant_or_breastfeeding"
    if pregnant is True:
        return failed("pregnant or breast-feeding", field)
    if pregnant is False:
        return passed("not pregnant or breast-feeding", field)
    if sex == "male":
        return passed("male patient: pregnancy not applicable", "patient.sex")
    age = pt.age_years if pt is not None else None
    if age is not None and age >= p.not_applicable_from_age:
        return passed(f"aged {age}: pregnancy not applicable", "patient.age_years")
    return undetermined("pregnancy or breast-feeding not recorded", ctx.missing(field))
