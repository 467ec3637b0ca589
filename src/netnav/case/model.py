"""Pydantic models of the ``netnav-case/1`` document (see shared/spec/case-format.md).

The models accept exactly what ``case.schema.json`` accepts, plus the checks the schema cannot
express (real calendar dates, option ids, ``krenning_min`` <= ``krenning_max``, dates not after
``as_of``, ``extensions`` depth). They make no clinical decision: an absent field is ``None`` and
means *unknown*.

JSON Schema semantics are kept on purpose, so that a document valid for one is valid for the
other: an integer is an ``int`` (a float such as ``3.0`` is taken as ``3``, like jsonschema
does) and never a boolean; a number is an ``int`` or ``float`` but never a boolean or a string;
a boolean is only ``true``/``false``; text is never coerced from a number; ``null`` is not a
value of any field (leave the field out instead).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Final, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from netnav.errors import CaseProblem
from netnav.vocabulary import ALL_THERAPY_IDS, OPTION_IDS

__all__ = [
    "CASE_FORMAT",
    "CROSS_FIELD_ERROR",
    "MAX_EXTENSIONS_DEPTH",
    "AppendixLocation",
    "BestResponse",
    "CarcinoidHeartDisease",
    "Case",
    "CaseFormat",
    "Comorbidities",
    "ControlStatus",
    "Differentiation",
    "DiseaseCourse",
    "FdgPet",
    "FunctionalSyndrome",
    "GastricType",
    "GermlineSyndrome",
    "Grade",
    "InvasionDepth",
    "Ki67Record",
    "Ki67Specimen",
    "Labs",
    "Language",
    "LungHistotype",
    "MetastasisSite",
    "Mgmt",
    "Msi",
    "NecSubtype",
    "Necrosis",
    "Nodes",
    "Patient",
    "PharmacogenomicStatus",
    "Pharmacogenomics",
    "Preferences",
    "PrimarySite",
    "Region",
    "Resectability",
    "ResectionMargin",
    "Setting",
    "Sex",
    "SsaTestDose",
    "SstrIhc",
    "SstrImaging",
    "SstrModality",
    "StopReason",
    "Symptom",
    "Treatment",
    "Tumor",
    "cross_field_problems",
    "format_path",
    "suggest_ids",
]

CASE_FORMAT: Final = "netnav-case/1"
MAX_EXTENSIONS_DEPTH: Final = 20
# Error type of the model's cross-field validator. The loader checks the same rules on the raw
# document (so they are reported even when other fields are wrong) and drops this error.
CROSS_FIELD_ERROR: Final = "netnav_cross_field"

# --- enumerations (values exactly as in case.schema.json) ----------------------------------

CaseFormat = Literal["netnav-case/1"]
Sex = Literal["female", "male", "other"]
GermlineSyndrome = Literal["none", "men1", "vhl", "nf1", "tsc", "untested"]
ControlStatus = Literal["none", "controlled", "uncontrolled", "present_control_unknown"]
PharmacogenomicStatus = Literal["normal", "intermediate", "poor", "untested"]
PrimarySite = Literal[
    "stomach",
    "duodenum",
    "ampulla",
    "small_intestine",
    "appendix",
    "colon",
    "rectum",
    "pancreas",
    "lung",
    "thymus",
    "esophagus",
    "ovary",
    "other",
    "unknown_primary",
]
GastricType = Literal["type_1", "type_2", "type_3"]
LungHistotype = Literal[
    "typical_carcinoid", "atypical_carcinoid", "large_cell_nec", "small_cell_nec"
]
Differentiation = Literal["well", "poor", "mixed_minen", "uncertain"]
NecSubtype = Literal["small_cell", "large_cell"]
Necrosis = Literal["none", "focal", "extensive"]
Grade = Literal["g1", "g2", "g3"]
InvasionDepth = Literal[
    "mucosa", "submucosa", "muscularis_propria", "subserosa", "serosa_or_adjacent_organs"
]
AppendixLocation = Literal["tip", "body", "base"]
ResectionMargin = Literal["r0", "r1", "r2", "rx"]
Nodes = Literal["n0", "n1", "n2", "nx"]
MetastasisSite = Literal[
    "liver", "bone", "distant_lymph_nodes", "peritoneum", "lung", "brain", "ovary", "other"
]
Resectability = Literal["resectable", "borderline", "unresectable"]
SstrModality = Literal[
    "ga68_dotatate_pet",
    "ga68_dotatoc_pet",
    "ga68_dotanoc_pet",
    "cu64_dotatate_pet",
    "in111_pentetreotide",
    "tc99m_hynic_toc_spect",
    "other",
]
FdgPet = Literal[
    "not_done", "negative", "positive", "positive_concordant", "positive_sstr_negative_lesions"
]
SstrIhc = Literal["positive", "negative"]
SsaTestDose = Literal["tolerated", "hypoglycemia_worsened"]
Mgmt = Literal["deficient", "proficient", "unknown"]
Msi = Literal["msi_high", "mss", "unknown"]
FunctionalSyndrome = Literal[
    "none",
    "carcinoid_syndrome",
    "insulinoma",
    "gastrinoma",
    "vipoma",
    "glucagonoma",
    "somatostatinoma",
    "ectopic_acth",
    "other",
]
CarcinoidHeartDisease = Literal["none", "mild", "moderate", "severe", "present_severity_unknown"]
DiseaseCourse = Literal["stable", "progressive", "rapidly_progressive"]
Symptom = Literal[
    "bone_pain",
    "spinal_cord_compression",
    "bowel_obstruction",
    "mesenteric_ischemia",
    "hepatomegaly_pain",
    "flushing",
    "diarrhea",
    "hypoglycemia",
    "bronchospasm",
    "peptic_ulcers",
    "rash",
    "weight_loss",
    "dyspnea",
    "carcinoid_crisis",
]
Ki67Specimen = Literal["primary", "metastasis", "unknown"]
BestResponse = Literal["cr", "pr", "sd", "pd", "not_evaluable"]
StopReason = Literal["progression", "toxicity", "completed", "patient_choice", "other"]
Language = Literal["en", "es"]
Region = Literal["us", "eu", "uk", "other"]


# --- paths and suggestions (shared with the loader) ----------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def format_path(parts: Iterable[str | int]) -> str:
    """``("treatments", 2, "therapy")`` -> ``treatments[2].therapy``.

    Keys that are not plain identifiers (only possible under ``extensions`` or as unknown
    keys) are shown quoted, ``["a b"]``, so that the path stays unambiguous.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out


def suggest_ids(value: object, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known ids closest to ``value``, for "did you mean" hints.

    Spelling neighbours (difflib) first, then ids that contain the value (``prrt`` ->
    ``prrt_lu177_dotatate``), which difflib misses when the id is much longer.
    """
    if not isinstance(value, str) or not value:
        return []
    ordered = sorted(known)
    close = difflib.get_close_matches(value, ordered, n=limit, cutoff=0.6)
    if len(value) >= 3:
        close += [known_id for known_id in ordered if value in known_id and known_id not in close]
    return close[:limit]


# --- scalar types with JSON Schema semantics -----------------------------------------------


def _integral_float_to_int(value: object) -> object:
    # jsonschema counts 3.0 as an integer; strict int would refuse it, so convert it first.
    # Booleans stay booleans and are then refused by the strict int.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number_fits_float(value: object) -> object:
    # An integer literal beyond the float range cannot become a float; say so plainly
    # instead of pydantic's "valid number".
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            raise PydanticCustomError("number_too_large", "number too large to represent") from None
    return value


JsonInteger = Annotated[int, Strict(), BeforeValidator(_integral_float_to_int)]
"""A JSON integer: an int (or an integral float such as 3.0), never a boolean or a string."""

JsonNumber = Annotated[float, Strict(), BeforeValidator(_number_fits_float)]
"""A finite JSON number: int or float, never a boolean or a string (stored as float)."""


# --- dates ---------------------------------------------------------------------------------


class PartialDate(NamedTuple):
    """A date written ``YYYY-MM`` (``day`` is None) or ``YYYY-MM-DD``."""

    year: int
    month: int
    day: int | None

    def is_after(self, other: PartialDate) -> bool:
        """Strictly later, compared at the coarser of the two precisions."""
        if self.day is None or other.day is None:
            return (self.year, self.month) > (other.year, other.month)
        return tuple(self) > tuple(other)

    def __str__(self) -> str:
        text = f"{self.year:04d}-{self.month:02d}"
        return text if self.day is None else f"{text}-{self.day:02d}"


# ASCII digits only: Python's \d also matches other scripts' digits, which are no date.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})(?:-([0-9]{2}))?")


def parse_partial_date(text: object, *, day_required: bool = False) -> PartialDate | None:
    """The date written in ``text``, or None when it is not a real calendar date."""
    if not isinstance(text, str):
        return None
    match = _DATE.fullmatch(text)
    if match is None or (day_required and match.group(3) is None):
        return None
    year, month = int(match.group(1)), int(match.group(2))
    day = int(match.group(3)) if match.group(3) is not None else None
    try:
        _dt.date(year, month, day if day is not None else 1)
    except ValueError:
        return None
    return PartialDate(year, month, day)


def _check_date(text: str, *, day_required: bool) -> str:
    shape = "YYYY-MM-DD" if day_required else "YYYY-MM or YYYY-MM-DD"
    match = _DATE.fullmatch(text)
    if match is None or (day_required and match.group(3) is None):
        raise PydanticCustomError("date_format", "not a date written {shape}", {"shape": shape})
    if parse_partial_date(text, day_required=day_required) is None:
        raise PydanticCustomError("invalid_date", "not a real calendar date")
    return text


def _check_full_date(text: str) -> str:
    return _check_date(text, day_required=True)


def _check_partial_date(text: str) -> str:
    return _check_date(text, day_required=False)


FullDate = Annotated[str, Strict(), AfterValidator(_check_full_date)]
"""A calendar date ``YYYY-MM-DD`` (kept as written)."""

MonthOrDate = Annotated[str, Strict(), AfterValidator(_check_partial_date)]
"""A calendar month ``YYYY-MM`` or date ``YYYY-MM-DD`` (kept as written)."""


# --- option ids ----------------------------------------------------------------------------


def _check_therapy_id(value: str) -> str:
    if value not in ALL_THERAPY_IDS:
        raise PydanticCustomError(
            "unknown_therapy",
            "not a therapy id of options.md{hint}",
            {"hint": _hint(value, ALL_THERAPY_IDS)},
        )
    return value


def _check_option_id(value: str) -> str:
    if value not in OPTION_IDS:
        raise PydanticCustomError(
            "unknown_option",
            "not an option id of options.md{hint}",
            {"hint": _hint(value, OPTION_IDS)},
        )
    return value


def _hint(value: str, known: Iterable[str]) -> str:
    close = suggest_ids(value, known)
    return f" (did you mean {', '.join(close)}?)" if close else ""


TherapyId = Annotated[str, Strict(), AfterValidator(_check_therapy_id)]
"""An option id of options.md, or a history-only id (``ssa_unspecified``...)."""

OptionId = Annotated[str, Strict(), AfterValidator(_check_option_id)]
"""An option id of options.md."""


# --- arrays --------------------------------------------------------------------------------


def _json_array(value: object) -> object:
    # Lax tuple validation would also take sets and generators; a JSON array is a list
    # (a tuple is let through so that a dumped model validates again).
    if not isinstance(value, list | tuple):
        raise PydanticCustomError("array_type", "must be an array")
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for index, item in enumerate(values):
        if item in seen:
            raise PydanticCustomError(
                "not_unique",
                "{item} is listed more than once (items {first} and {index})",
                {"item": repr(item), "first": seen[item], "index": index},
            )
        seen[item] = index
    return values


_Array = BeforeValidator(_json_array)
_Unique = AfterValidator(_unique)


# --- extensions ----------------------------------------------------------------------------


def _extensions_problem(value: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first path and reason that make ``extensions`` unacceptable, or None.

    The extensions object is level 1; every object or array inside adds a level. Walked
    iteratively so that a deep document cannot exhaust the stack.
    """
    stack: list[tuple[object, tuple[str | int, ...], int]] = [(value, ("extensions",), 1)]
    while stack:
        node, path, level = stack.pop()
        if isinstance(node, dict | list | tuple) and level > MAX_EXTENSIONS_DEPTH:
            return format_path(path), f"nested more than {MAX_EXTENSIONS_DEPTH} levels deep"
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    return format_path(path), "object keys must be text"
                stack.append((child, (*path, key), level + 1))
        elif isinstance(node, list | tuple):
            stack.extend((child, (*path, i), level + 1) for i, child in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            return format_path(path), "not a finite number"
        elif node is not None and not isinstance(node, str | int | float):
            return format_path(path), f"not a JSON value ({type(node).__name__})"
    return None


def _check_extensions(value: dict[str, Any]) -> dict[str, Any]:
    problem = _extensions_problem(value)
    if problem is not None:
        raise PydanticCustomError(
            "extensions_invalid", "{path}: {reason}", {"path": problem[0], "reason": problem[1]}
        )
    return value


# --- cross-field checks --------------------------------------------------------------------


def _member(obj: object, key: str) -> object:
    return obj.get(key) if isinstance(obj, Mapping) else None


def _items(obj: object) -> Sequence[object]:
    return obj if isinstance(obj, list | tuple) else ()


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def cross_field_problems(doc: Mapping[str, object]) -> list[CaseProblem]:
    """Problems between fields: Krenning order, treatment end vs start, dates vs ``as_of``.

    Works on the raw document as well as on a dumped model: a value of the wrong type or
    shape is skipped here (the field check reports it), so this never raises.
    """
    as_of = parse_partial_date(doc.get("as_of"), day_required=True)
    problems = _krenning_problems(_member(_member(doc, "tumor"), "sstr_imaging"))
    for index, record in enumerate(_items(_member(_member(doc, "tumor"), "ki67_history"))):
        path: tuple[str | int, ...] = ("tumor", "ki67_history", index, "date")
        problems += _not_after_as_of(path, _member(record, "date"), as_of)
    for index, treatment in enumerate(_items(doc.get("treatments"))):
        problems += _treatment_problems(index, treatment, as_of)
    return problems


def _krenning_problems(imaging: object) -> list[CaseProblem]:
    low = _as_int(_member(imaging, "krenning_min"))
    high = _as_int(_member(imaging, "krenning_max"))
    if low is None or high is None or low <= high:
        return []
    return [
        CaseProblem(
            "tumor.sstr_imaging.krenning_min",
            f"krenning_min ({low}) is greater than krenning_max ({high})",
            low,
            f"an integer from 0 to krenning_max ({high})",
        )
    ]


def _treatment_problems(
    index: int, treatment: object, as_of: PartialDate | None
) -> list[CaseProblem]:
    start_text, end_text = _member(treatment, "start"), _member(treatment, "end")
    problems = _not_after_as_of(("treatments", index, "start"), start_text, as_of)
    problems += _not_after_as_of(("treatments", index, "end"), end_text, as_of)
    start, end = parse_partial_date(start_text), parse_partial_date(end_text)
    if start is not None and end is not None and start.is_after(end):
        problems.append(
            CaseProblem(
                format_path(("treatments", index, "end")),
                f"the end is before the start ({start})",
                end_text,
                f"a date on or after {start}",
            )
        )
    return problems


def _not_after_as_of(
    path: tuple[str | int, ...], text: object, as_of: PartialDate | None
) -> list[CaseProblem]:
    date = parse_partial_date(text)
    if as_of is None or date is None or not date.is_after(as_of):
        return []
    return [
        CaseProblem(
            format_path(path), f"after as_of ({as_of})", text, f"a date on or before {as_of}"
        )
    ]


# --- models --------------------------------------------------------------------------------


class _CaseModel(BaseModel):
    """Common configuration: unknown keys refused, immutable, finite numbers only."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        # The schema allows no null anywhere: an unknown value is left out, never null. The
        # default None of an absent field is not validated, so only an explicit null lands here.
        if value is None:
            raise PydanticCustomError(
                "null_not_allowed", "null is not allowed: leave the field out when it is unknown"
            )
        return value


class Comorbidities(_CaseModel):
    """``patient.comorbidities``: each field absent = not known."""

    diabetes: ControlStatus | None = None
    """Diabetes mellitus and its control."""
    hba1c_percent: JsonNumber | None = Field(default=None, ge=0, le=25)
    """HbA1c, percent (0-25)."""
    hypertension: ControlStatus | None = None
    """Arterial hypertension and its control."""
    heart_failure_nyha: JsonInteger | None = Field(default=None, ge=0, le=4)
    """Heart failure NYHA class, integer 0-4 (0 = no heart failure)."""
    heart_failure: StrictBool | None = None
    """Heart failure present, when the NYHA class is not known."""
    portal_vein_thrombosis: StrictBool | None = None
    """Portal vein thrombosis."""
    severe_lung_disease: StrictBool | None = None
    """Severe lung disease (e.g. severe COPD)."""
    thromboembolism_last_6_months: StrictBool | None = None
    """Venous or arterial thromboembolism in the last 6 months."""
    interstitial_lung_disease: StrictBool | None = None
    """Interstitial lung disease."""
    biliary_enteric_anastomosis: StrictBool | None = None
    """Biliary-enteric anastomosis (e.g. after a Whipple operation)."""
    sphincterotomy: StrictBool | None = None
    """Previous biliary sphincterotomy."""
    psychiatric_illness: StrictBool | None = None
    """Psychiatric illness."""
    autoimmune_disease: StrictBool | None = None
    """Autoimmune disease."""
    urinary_incontinence: StrictBool | None = None
    """Urinary incontinence."""
    hearing_loss: StrictBool | None = None
    """Hearing loss."""
    peripheral_neuropathy: StrictBool | None = None
    """Peripheral neuropathy."""
    cirrhosis_or_decompensated_liver: StrictBool | None = None
    """Cirrhosis or decompensated liver disease."""


class Labs(_CaseModel):
    """``patient.labs``: recent laboratory values, each a number >= 0 in the unit named."""

    egfr_ml_min: JsonNumber | None = Field(default=None, ge=0)
    """Estimated GFR, mL/min (per 1.73 m²)."""
    creatinine_clearance_ml_min: JsonNumber | None = Field(default=None, ge=0)
    """Creatinine clearance, mL/min."""
    hemoglobin_g_dl: JsonNumber | None = Field(default=None, ge=0)
    """Haemoglobin, g/dL."""
    wbc_10e9_l: JsonNumber | None = Field(default=None, ge=0)
    """White blood cells, 10⁹/L."""
    neutrophils_10e9_l: JsonNumber | None = Field(default=None, ge=0)
    """Neutrophils, 10⁹/L."""
    platelets_10e9_l: JsonNumber | None = Field(default=None, ge=0)
    """Platelets, 10⁹/L."""
    bilirubin_x_uln: JsonNumber | None = Field(default=None, ge=0)
    """Total bilirubin, multiples of the upper limit of normal."""
    albumin_g_l: JsonNumber | None = Field(default=None, ge=0)
    """Albumin, g/L."""
    u5hiaa_umol_24h: JsonNumber | None = Field(default=None, ge=0)
    """Urinary 5-HIAA, µmol per 24 h."""
    chromogranin_a_x_uln: JsonNumber | None = Field(default=None, ge=0)
    """Chromogranin A, multiples of the upper limit of normal."""
    nt_probnp_pg_ml: JsonNumber | None = Field(default=None, ge=0)
    """NT-proBNP, pg/mL."""
    gastrin_pg_ml: JsonNumber | None = Field(default=None, ge=0)
    """Fasting serum gastrin, pg/mL."""
    gastric_ph: JsonNumber | None = Field(default=None, ge=0)
    """Gastric pH."""
    vip_pg_ml: JsonNumber | None = Field(default=None, ge=0)
    """Vasoactive intestinal peptide, pg/mL."""
    glucagon_pg_ml: JsonNumber | None = Field(default=None, ge=0)
    """Glucagon, pg/mL."""
    fasting_glucose_mmol_l: JsonNumber | None = Field(default=None, ge=0)
    """Fasting glucose, mmol/L."""
    potassium_mmol_l: JsonNumber | None = Field(default=None, ge=0)
    """Serum potassium, mmol/L."""
    calcium_mmol_l: JsonNumber | None = Field(default=None, ge=0)
    """Serum calcium, mmol/L."""
    pth_pg_ml: JsonNumber | None = Field(default=None, ge=0)
    """Parathyroid hormone, pg/mL."""


class Pharmacogenomics(_CaseModel):
    """``patient.pharmacogenomics``: metaboliser status; ``untested`` = not tested."""

    dpyd: PharmacogenomicStatus | None = None
    """DPYD (fluoropyrimidine metabolism) status."""
    ugt1a1: PharmacogenomicStatus | None = None
    """UGT1A1 (irinotecan metabolism) status."""


class Patient(_CaseModel):
    """``patient``: the person, their fitness, comorbidities and laboratory values."""

    age_years: JsonInteger | None = Field(default=None, ge=0, le=120)
    """Age in whole years, 0-120."""
    sex: Sex | None = None
    """Sex."""
    ecog: JsonInteger | None = Field(default=None, ge=0, le=4)
    """ECOG performance status, integer 0-4."""
    karnofsky: JsonInteger | None = Field(default=None, ge=0, le=100)
    """Karnofsky performance status, integer 0-100 (used when ECOG is absent)."""
    frail: StrictBool | None = None
    """Clinician's judgement of frailty."""
    life_expectancy_months: JsonNumber | None = Field(default=None, ge=0)
    """Life expectancy from causes other than the tumour, months >= 0."""
    pregnant_or_breastfeeding: StrictBool | None = None
    """Pregnant or breastfeeding."""
    germline_syndrome: GermlineSyndrome | None = None
    """Germline syndrome; ``none`` = assessed and none found, ``untested`` = not assessed."""
    prior_marrow_radiation_percent: JsonNumber | None = Field(default=None, ge=0, le=100)
    """Share of the bone marrow ever irradiated, percent 0-100."""
    fit_for_major_surgery: StrictBool | None = None
    """Clinician's judgement of fitness for major surgery."""
    family_history_nen: StrictBool | None = None
    """A first-degree relative with a neuroendocrine neoplasm."""
    comorbidities: Comorbidities | None = None
    """Comorbidities."""
    labs: Labs | None = None
    """Laboratory values."""
    pharmacogenomics: Pharmacogenomics | None = None
    """Pharmacogenomic test results."""


class SstrImaging(_CaseModel):
    """``tumor.sstr_imaging``: somatostatin-receptor imaging; the object absent = not done."""

    modality: SstrModality | None = None
    """Tracer and technique."""
    krenning_min: JsonInteger | None = Field(default=None, ge=0, le=4)
    """Krenning uptake score of the weakest lesion, integer 0-4 (<= ``krenning_max``)."""
    krenning_max: JsonInteger | None = Field(default=None, ge=0, le=4)
    """Krenning uptake score of the strongest lesion, integer 0-4 (3 > liver, 4 > spleen)."""
    all_lesions_positive: StrictBool | None = None
    """Every known lesion takes up the tracer at least as much as normal liver."""


class Ki67Record(_CaseModel):
    """One earlier Ki-67 value of ``tumor.ki67_history``."""

    date: MonthOrDate | None = None
    """When the specimen was taken, ``YYYY-MM`` or ``YYYY-MM-DD``, not after ``as_of``."""
    percent: JsonNumber = Field(ge=0, le=100)
    """Ki-67 index, percent 0-100 (required)."""
    specimen: Ki67Specimen | None = None
    """Which tissue was measured."""


class Tumor(_CaseModel):
    """``tumor``: the neoplasm, its pathology, extent, imaging and biology."""

    primary_site: PrimarySite
    """Site of the primary (required); ``small_intestine`` = jejunum/ileum."""
    primary_site_detail: StrictStr | None = Field(default=None, max_length=200)
    """Free text naming a rare site, at most 200 characters; never used for decisions."""
    gastric_type: GastricType | None = None
    """Gastric NET type (stomach only)."""
    lung_histotype: LungHistotype | None = None
    """Histological type (lung and thymus only)."""
    differentiation: Differentiation | None = None
    """Differentiation; ``poor`` = neuroendocrine carcinoma (NEC)."""
    nec_subtype: NecSubtype | None = None
    """NEC subtype (NEC only)."""
    goblet_cell: StrictBool | None = None
    """Appendiceal goblet-cell adenocarcinoma (not a NET)."""
    ki67_percent: JsonNumber | None = Field(default=None, ge=0, le=100)
    """Hot-spot Ki-67 index, percent 0-100: the current value used for grading."""
    ki67_history: Annotated[tuple[Ki67Record, ...], _Array] | None = Field(
        default=None, max_length=50
    )
    """Earlier Ki-67 values, oldest first, at most 50."""
    mitoses_per_2mm2: JsonNumber | None = Field(default=None, ge=0)
    """Mitotic count per 2 mm², >= 0."""
    necrosis: Necrosis | None = None
    """Tumour necrosis."""
    reported_grade: Grade | None = None
    """The grade written on the pathology report."""
    size_mm: JsonNumber | None = Field(default=None, gt=0)
    """Size of the largest primary lesion, mm > 0."""
    lesion_count: JsonInteger | None = Field(default=None, ge=1)
    """Number of primary lesions, integer >= 1."""
    invasion_depth: InvasionDepth | None = None
    """Deepest wall layer invaded."""
    lymphovascular_invasion: StrictBool | None = None
    """Lymphovascular invasion."""
    perineural_invasion: StrictBool | None = None
    """Perineural invasion."""
    mesoappendix_invasion_mm: JsonNumber | None = Field(default=None, ge=0)
    """Depth of mesoappendiceal invasion, mm >= 0 (appendix only)."""
    appendix_location: AppendixLocation | None = None
    """Location in the appendix (appendix only)."""
    duct_dilatation: StrictBool | None = None
    """Main pancreatic duct dilated (pancreas)."""
    jaundice: StrictBool | None = None
    """Jaundice."""
    primary_removed: StrictBool | None = None
    """The primary was already taken out."""
    resection_margin: ResectionMargin | None = None
    """Margin of that removal."""
    nodes: Nodes | None = None
    """Regional lymph-node status."""
    metastases: Annotated[tuple[MetastasisSite, ...], _Array, _Unique] | None = None
    """Distant metastatic sites, each at most once; empty = staged and none found."""
    liver_tumor_burden_percent: JsonNumber | None = Field(default=None, ge=0, le=100)
    """Share of liver volume replaced by tumour, percent 0-100."""
    resectability: Resectability | None = None
    """Resectability of all known disease, as judged by a surgeon."""
    sstr_imaging: SstrImaging | None = None
    """Somatostatin-receptor imaging; absent = not done."""
    fdg_pet: FdgPet | None = None
    """FDG PET result."""
    sstr_ihc: SstrIhc | None = None
    """SSTR2 immunohistochemistry on tissue."""
    growth_mm_per_year: JsonNumber | None = Field(default=None, ge=0)
    """Growth of the largest lesion on serial imaging, mm per year >= 0."""
    ssa_test_dose: SsaTestDose | None = None
    """Insulinoma: monitored test dose of short-acting octreotide; absent = not done."""
    mgmt: Mgmt | None = None
    """MGMT status."""
    msi: Msi | None = None
    """Microsatellite status."""
    tmb_high: StrictBool | None = None
    """High tumour mutational burden."""
    functional_syndrome: FunctionalSyndrome | None = None
    """Hormonal syndrome."""
    syndrome_controlled: StrictBool | None = None
    """The syndrome is controlled on current treatment."""
    bowel_movements_per_day: JsonNumber | None = Field(default=None, ge=0)
    """Bowel movements per day, >= 0."""
    carcinoid_heart_disease: CarcinoidHeartDisease | None = None
    """Carcinoid heart disease and its severity."""
    disease_course: DiseaseCourse | None = None
    """Course by imaging (RECIST 1.1), now."""
    months_observed: JsonNumber | None = Field(default=None, ge=0)
    """How long that course was watched, months >= 0."""
    bulky_or_symptomatic: StrictBool | None = None
    """Tumour bulk causes symptoms, or shrinkage is needed."""
    symptoms: Annotated[tuple[Symptom, ...], _Array, _Unique] | None = None
    """Current symptoms, each at most once."""


class Treatment(_CaseModel):
    """One earlier or current treatment of ``treatments`` (oldest first)."""

    therapy: TherapyId
    """Option id of options.md (required), e.g. ``octreotide_lar``."""
    start: MonthOrDate | None = None
    """Start, ``YYYY-MM`` or ``YYYY-MM-DD``, not after ``as_of``."""
    end: MonthOrDate | None = None
    """End, ``YYYY-MM`` or ``YYYY-MM-DD``, not before ``start`` nor after ``as_of``."""
    ongoing: StrictBool | None = None
    """Still being given."""
    best_response: BestResponse | None = None
    """Best response (RECIST)."""
    stop_reason: StopReason | None = None
    """Why it was stopped."""
    months_to_progression: JsonNumber | None = Field(default=None, ge=0)
    """Months from start to progression, >= 0."""
    cycles: JsonInteger | None = Field(default=None, ge=0)
    """Cycles given, integer >= 0."""
    details: StrictStr | None = Field(default=None, max_length=500)
    """Free text, at most 500 characters (procedure, regimen); never used for decisions."""


class Preferences(_CaseModel):
    """``preferences``: what the patient wants."""

    declines: Annotated[tuple[OptionId, ...], _Array] | None = None
    """Option ids of options.md the patient has refused."""
    prefers_oral: StrictBool | None = None
    """Prefers oral treatment."""
    language: Language | None = None
    """Language of the patient's summary."""
    wants_trial_information: StrictBool | None = None
    """Wants information on clinical trials."""


class Setting(_CaseModel):
    """``setting``: where the patient is treated."""

    region: Region | None = None
    """Region whose approvals and labels apply; absent = not stated."""


class Case(_CaseModel):
    """One ``netnav-case/1`` document: a patient's neoplasm at one point in time."""

    format: CaseFormat
    """Always ``netnav-case/1`` (required)."""
    id: StrictStr | None = None
    """Free text (e.g. a record number); never used for decisions."""
    as_of: FullDate | None = None
    """Date the case describes, ``YYYY-MM-DD``; no other date may be after it."""
    patient: Patient | None = None
    """The patient."""
    tumor: Tumor
    """The tumour (required)."""
    treatments: Annotated[tuple[Treatment, ...], _Array] | None = None
    """Earlier and current treatments, oldest first."""
    preferences: Preferences | None = None
    """The patient's preferences."""
    setting: Setting | None = None
    """Where the patient is treated."""
    extensions: Annotated[dict[str, Any], AfterValidator(_check_extensions)] | None = None
    """Site-specific data kept as is: any JSON object, at most 20 levels deep."""

    @model_validator(mode="after")
    def _check_across_fields(self) -> Case:
        problems = cross_field_problems(self.model_dump(exclude_none=True))
        if problems:
            raise PydanticCustomError(
                CROSS_FIELD_ERROR,
                "{problems}",
                {"problems": "; ".join(p.describe() for p in problems)},
            )
        return self
