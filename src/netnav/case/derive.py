"""Facts the engine derives from a case, each computed once and explained (brief §1.6–§1.7).

``derive(case, therapy_classes)`` returns a :class:`Derived` whose facts each carry a value
and a ``how`` sentence; the plan's ``derived`` section reports them. Thresholds are the
engine constants of the brief (§1.6, WHO 2019 grading of GEP-NEN: G1 Ki-67 < 3 % and
mitoses < 2 per 2 mm²; G2 Ki-67 3–20 % or mitoses 2–20; G3 above either), and are kept here
because they define the derived vocabulary itself, not a treatment decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from netnav.case.model import Case, Treatment

__all__ = [
    "Derived",
    "Fact",
    "Ki67Range",
    "TherapyHistory",
    "derive",
    "grade_from_ki67",
    "grade_from_mitoses",
]

T = TypeVar("T")

# WHO 2019 (GEP) grading cut-offs, brief §1.6 `grade:` block [V].
G1_KI67_LT = 3.0
G2_KI67_MAX = 20.0
G1_MITOSES_LT = 2.0
G2_MITOSES_MAX = 20.0
# WHO thoracic criteria for lung/thymic carcinoids, brief §1.1 [UNVERIFIED, standard].
TC_MITOSES_LT = 2.0
AC_MITOSES_MAX = 10.0

_GRADE_ORDER = {"g1": 1, "g2": 2, "g3": 3}
_THORACIC = {"lung", "thymus"}
_PROGRESSIVE = {"progressive", "rapidly_progressive"}


@dataclass(frozen=True)
class Fact(Generic[T]):
    """A derived value with the sentence saying how it was worked out."""

    value: T
    how: str


@dataclass(frozen=True)
class Ki67Range:
    """What is known of Ki-67: a measured value, or bounds implied by a grade.

    ``low``/``high`` in percent; ``low_open``/``high_open`` say whether a bound itself is
    excluded; ``source`` is ``measured``, ``reported_grade`` or ``unknown``.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    source: str = "unknown"

    @property
    def measured(self) -> bool:
        return self.source == "measured"


@dataclass(frozen=True)
class TherapyHistory:
    """The treatment history as sets of option ids and therapy classes."""

    recorded: bool
    given: frozenset[str] = frozenset()
    given_classes: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()
    failed_classes: frozenset[str] = frozenset()
    ongoing: frozenset[str] = frozenset()
    ongoing_classes: frozenset[str] = frozenset()
    stopped_for_toxicity: frozenset[str] = frozenset()
    ended_outcome_unknown: frozenset[str] = frozenset()
    """Anti-tumour therapies that ended with no stop reason, response or progression given."""
    months_to_progression: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Derived:
    """Every derived fact of one case (plan ``derived`` keys and the engine's own)."""

    grade: Fact[str | None]
    grade_from_report: bool
    """True when the grade is the report's, not worked out from Ki-67 or mitoses."""
    category: Fact[str]
    extent: Fact[str]
    line_of_therapy: Fact[int]
    liver_dominant: Fact[bool | None]
    liver_only: Fact[bool | None]
    documented_progression: Fact[bool | None]
    progression_within_12_months: Fact[bool | None]
    sstr_status: Fact[str]
    lung_histotype: Fact[str | None]
    ki67: Ki67Range
    history: TherapyHistory
    warnings: tuple[str, ...] = ()

    def as_plan_section(self) -> dict[str, dict[str, object]]:
        """The plan's ``derived`` section: fixed keys first, then the engine's own."""
        facts: dict[str, Fact[object]] = {
            "grade": self.grade,  # type: ignore[dict-item]
            "category": self.category,  # type: ignore[dict-item]
            "extent": self.extent,  # type: ignore[dict-item]
            "line_of_therapy": self.line_of_therapy,  # type: ignore[dict-item]
            "liver_dominant": self.liver_dominant,  # type: ignore[dict-item]
            "documented_progression": self.documented_progression,  # type: ignore[dict-item]
            "progression_within_12_months": self.progression_within_12_months,  # type: ignore[dict-item]
            "sstr_status": self.sstr_status,  # type: ignore[dict-item]
        }
        if self.lung_histotype.value is not None:
            facts["lung_histotype"] = self.lung_histotype  # type: ignore[assignment]
        return {key: {"value": f.value, "how": f.how} for key, f in facts.items()}


def _num(x: float) -> str:
    return f"{x:g}"


def grade_from_ki67(ki67: float) -> str:
    """WHO 2019 GEP grade from Ki-67 (percent): G1 < 3, G2 3–20 (inclusive), G3 > 20."""
    if ki67 < G1_KI67_LT:
        return "g1"
    return "g2" if ki67 <= G2_KI67_MAX else "g3"


def grade_from_mitoses(mitoses: float) -> str:
    """WHO 2019 GEP grade from mitoses per 2 mm²: G1 < 2, G2 2–20 (inclusive), G3 > 20."""
    if mitoses < G1_MITOSES_LT:
        return "g1"
    return "g2" if mitoses <= G2_MITOSES_MAX else "g3"


def _lung_histotype(case: Case) -> Fact[str | None]:
    t = case.tumor
    if t.primary_site not in _THORACIC:
        return Fact(None, "not a lung or thymic primary")
    if t.lung_histotype is not None:
        return Fact(t.lung_histotype, f"reported as {t.lung_histotype.replace('_', ' ')}")
    if t.mitoses_per_2mm2 is None:
        return Fact(None, "no histotype reported and mitoses unknown")
    m = t.mitoses_per_2mm2
    if m > AC_MITOSES_MAX:
        return Fact(
            None,
            f"mitoses {_num(m)} per 2 mm² exceed 10: a neuroendocrine carcinoma (LCNEC or "
            "SCLC), subtype not stated",
        )
    if m < TC_MITOSES_LT and t.necrosis == "none":
        return Fact("typical_carcinoid", f"mitoses {_num(m)} per 2 mm² (<2) and no necrosis")
    if m >= TC_MITOSES_LT or t.necrosis == "focal":
        return Fact(
            "atypical_carcinoid",
            f"mitoses {_num(m)} per 2 mm² with necrosis {t.necrosis or 'not stated'} "
            "(2–10 mitoses and/or focal necrosis)",
        )
    if t.necrosis == "extensive":
        return Fact(
            None,
            f"mitoses {_num(m)} per 2 mm² but extensive necrosis, which is not a carcinoid "
            "pattern: histotype to be stated by pathology",
        )
    return Fact(None, "mitoses below 2 per 2 mm² but necrosis not stated")


def _category(case: Case, histotype: Fact[str | None]) -> Fact[str]:
    t = case.tumor
    if t.goblet_cell:
        return Fact(
            "goblet_cell_adenocarcinoma", "goblet-cell adenocarcinoma: not a NET (brief §1.1)"
        )
    if t.primary_site in _THORACIC:
        if t.differentiation == "poor":
            return Fact("nec", "poorly differentiated: thoracic neuroendocrine carcinoma")
        if histotype.value in ("large_cell_nec", "small_cell_nec") or (
            histotype.value is None
            and t.mitoses_per_2mm2 is not None
            and t.mitoses_per_2mm2 > AC_MITOSES_MAX
        ):
            return Fact("nec", f"thoracic neuroendocrine carcinoma ({histotype.how})")
        if histotype.value in ("typical_carcinoid", "atypical_carcinoid"):
            return Fact("net", f"lung/thymic carcinoid ({histotype.how})")
    mapping = {
        "well": ("net", "well differentiated: neuroendocrine tumour (NET)"),
        "poor": ("nec", "poorly differentiated: neuroendocrine carcinoma (NEC)"),
        "mixed_minen": ("minen", "mixed neuroendocrine–non-neuroendocrine neoplasm (MiNEN)"),
        "uncertain": ("uncertain", "differentiation reported as uncertain"),
    }
    if t.differentiation is None:
        return Fact("uncertain", "differentiation not reported")
    value, how = mapping[t.differentiation]
    if value == "net" and t.ki67_percent is not None and t.ki67_percent > G2_KI67_MAX:
        how += f"; Ki-67 {_num(t.ki67_percent)}% does not make it a NEC (differentiation decides)"
    return Fact(value, how)


def _grade(case: Case, category: Fact[str], histotype: Fact[str | None]) -> Fact[str | None]:
    t = case.tumor
    if category.value == "goblet_cell_adenocarcinoma":
        return Fact(None, "not graded as a NET (goblet-cell adenocarcinoma)")
    if category.value == "nec":
        return Fact("g3", "neuroendocrine carcinoma is G3 by definition")
    if histotype.value in ("typical_carcinoid", "atypical_carcinoid"):
        return Fact(None, "lung and thymic carcinoids are classed by histotype, not G1–G3")
    ki, mi = t.ki67_percent, t.mitoses_per_2mm2
    if ki is not None and mi is not None:
        gk, gm = grade_from_ki67(ki), grade_from_mitoses(mi)
        final = max(gk, gm, key=_GRADE_ORDER.__getitem__)
        return Fact(
            final,
            f"Ki-67 {_num(ki)}% gives {gk.upper()} and mitoses {_num(mi)} per 2 mm² give "
            f"{gm.upper()}: the higher gives {final.upper()} (WHO 2019)",
        )
    if ki is not None:
        g = grade_from_ki67(ki)
        return Fact(g, f"Ki-67 {_num(ki)}% gives {g.upper()} (WHO 2019; mitoses not reported)")
    if mi is not None:
        gm = grade_from_mitoses(mi)
        if gm == "g3":
            return Fact("g3", f"mitoses {_num(mi)} per 2 mm² (>20) give G3 whatever the Ki-67")
        if t.reported_grade is not None and _GRADE_ORDER[t.reported_grade] >= _GRADE_ORDER[gm]:
            return Fact(
                t.reported_grade,
                f"Ki-67 not reported; the report's grade {t.reported_grade.upper()} is used "
                f"(mitoses {_num(mi)} per 2 mm² alone give only a lower bound, {gm.upper()})",
            )
        return Fact(
            None,
            f"Ki-67 not reported; mitoses {_num(mi)} per 2 mm² give only a lower bound "
            f"({gm.upper()} or higher), so the grade cannot be derived",
        )
    if t.reported_grade is not None:
        return Fact(
            t.reported_grade,
            f"Ki-67 and mitoses not reported: the report's grade {t.reported_grade.upper()} "
            "is used as given",
        )
    return Fact(None, "Ki-67, mitoses and reported grade all unknown")


def _ki67_range(case: Case, grade: Fact[str | None]) -> Ki67Range:
    t = case.tumor
    if t.ki67_percent is not None:
        return Ki67Range(t.ki67_percent, t.ki67_percent, source="measured")
    # Without a measured Ki-67, a grade taken from the report bounds it (an assumption that
    # criteria show as warn, never as a silent pass). Known mitoses may have driven that
    # grade, so then only its upper bound holds; mitoses above 20 leave Ki-67 open.
    reported = t.reported_grade
    if reported is None or grade.value != reported:
        return Ki67Range(0.0, 100.0, source="unknown")
    mitoses = t.mitoses_per_2mm2
    if mitoses is not None and mitoses > G2_MITOSES_MAX:
        return Ki67Range(0.0, 100.0, source="unknown")
    bounds = {
        "g1": Ki67Range(0.0, G1_KI67_LT, high_open=True, source="reported_grade"),
        "g2": Ki67Range(G1_KI67_LT, G2_KI67_MAX, source="reported_grade"),
        "g3": Ki67Range(G2_KI67_MAX, 100.0, low_open=True, source="reported_grade"),
    }
    rng = bounds[str(reported)]
    if mitoses is not None:
        rng = Ki67Range(0.0, rng.high, high_open=rng.high_open, source="reported_grade")
    return rng


def _extent(case: Case) -> Fact[str]:
    t = case.tumor
    mets = t.metastases
    if mets:
        return Fact(
            "advanced", f"distant metastases: {', '.join(m.replace('_', ' ') for m in mets)}"
        )
    if t.resectability == "unresectable":
        return Fact("advanced", "disease judged unresectable")
    if mets is None:
        return Fact("unknown", "distant staging not recorded (metastases not staged)")
    if t.nodes in ("n1", "n2"):
        return Fact("locoregional", f"no distant metastases; regional nodes {t.nodes.upper()}")
    return Fact("localized", "no distant metastases and no known nodal disease")


def _liver(case: Case) -> tuple[Fact[bool | None], Fact[bool | None]]:
    mets = case.tumor.metastases
    if mets is None:
        unknown = "metastases not staged"
        return Fact(None, unknown), Fact(None, unknown)
    sites = set(mets)
    only = sites == {"liver"}
    if only:
        return Fact(True, "liver-only metastases"), Fact(True, "liver-only metastases")
    if sites == {"liver", "distant_lymph_nodes"}:
        return (
            Fact(
                True,
                "liver and distant nodal metastases; nodal disease assumed minor (the case "
                "format cannot say how much nodal disease there is)",
            ),
            Fact(False, "distant nodal disease besides the liver"),
        )
    if "liver" in sites:
        other = ", ".join(sorted(s.replace("_", " ") for s in sites - {"liver"}))
        return Fact(False, f"extrahepatic disease ({other})"), Fact(False, f"also {other}")
    return Fact(False, "no liver metastases"), Fact(False, "no liver metastases")


def _progression(case: Case) -> tuple[Fact[bool | None], Fact[bool | None]]:
    t = case.tumor
    course = t.disease_course
    if course is None:
        unknown = "disease course on serial imaging not recorded"
        return Fact(None, unknown), Fact(None, unknown)
    documented = course in _PROGRESSIVE
    doc: Fact[bool | None] = Fact(documented, f"disease course {course.replace('_', ' ')} (RECIST)")
    if not documented:
        return doc, Fact(False, f"disease {course}")
    if t.months_observed is None:
        return doc, Fact(None, "progressive, but over how many months is not recorded")
    within = t.months_observed <= 12
    return doc, Fact(
        within,
        f"progression observed over {_num(t.months_observed)} months "
        f"({'within' if within else 'beyond'} 12 months)",
    )


def _sstr_status(case: Case) -> Fact[str]:
    s = case.tumor.sstr_imaging
    if s is None:
        return Fact("unknown", "no somatostatin-receptor imaging recorded")
    kmin, kmax, all_pos = s.krenning_min, s.krenning_max, s.all_lesions_positive
    if kmax is not None and kmax <= 1:
        return Fact("negative", f"strongest uptake Krenning {kmax} (below liver): SSTR-negative")
    if all_pos is False or (kmin is not None and kmin <= 1):
        shown = f"weakest lesion Krenning {kmin}" if kmin is not None else "not every lesion"
        return Fact(
            "heterogeneous",
            f"{shown} below liver uptake: not every lesion is SSTR-positive",
        )
    if kmin is not None and kmin >= 2:
        note = " (Krenning 2 equals liver: borderline)" if kmin == 2 else ""
        if case.tumor.fdg_pet == "positive_sstr_negative_lesions":
            note += "; but FDG-PET shows lesions without SSTR uptake"
        return Fact("positive", f"weakest lesion Krenning {kmin}, uptake ≥ liver in all{note}")
    if all_pos is True and (kmax is None or kmax >= 2):
        return Fact("positive", "every known lesion takes up tracer at least as much as liver")
    return Fact("unknown", "SSTR imaging recorded without per-lesion uptake (Krenning scores)")


def _is_progression_event(tr: Treatment, course: str | None) -> bool:
    return (
        tr.stop_reason == "progression"
        or tr.best_response == "pd"
        or tr.months_to_progression is not None
        or (bool(tr.ongoing) and course in _PROGRESSIVE)
    )


def _history(
    case: Case, classes: Mapping[str, tuple[str, ...]], anti_tumour: frozenset[str]
) -> TherapyHistory:
    if case.treatments is None:
        return TherapyHistory(recorded=False)
    course = case.tumor.disease_course
    given, failed, ongoing, tox, unknown = set(), set(), set(), set(), set()
    months: dict[str, float] = {}
    for tr in case.treatments:
        given.add(tr.therapy)
        if tr.ongoing:
            ongoing.add(tr.therapy)
        # Only an anti-tumour therapy "fails" when the tumour progresses: a syndrome-control
        # drug (diazoxide, a proton-pump inhibitor) goes on whatever the tumour does.
        if tr.therapy in anti_tumour and _is_progression_event(tr, course):
            failed.add(tr.therapy)
            if tr.months_to_progression is not None:
                months[tr.therapy] = max(months.get(tr.therapy, 0.0), tr.months_to_progression)
        elif (
            tr.therapy in anti_tumour
            and not tr.ongoing
            and tr.stop_reason is None
            and tr.best_response is None
        ):
            unknown.add(tr.therapy)
        if tr.stop_reason == "toxicity":
            tox.add(tr.therapy)

    def cls(ids: set[str]) -> frozenset[str]:
        return frozenset(c for i in ids for c in classes.get(i, ()))

    return TherapyHistory(
        recorded=True,
        given=frozenset(given),
        given_classes=cls(given),
        failed=frozenset(failed),
        failed_classes=cls(failed),
        ongoing=frozenset(ongoing),
        ongoing_classes=cls(ongoing),
        stopped_for_toxicity=frozenset(tox),
        ended_outcome_unknown=frozenset(unknown - failed),
        months_to_progression=months,
    )


def _line_of_therapy(
    case: Case,
    extent: Fact[str],
    classes: Mapping[str, tuple[str, ...]],
    anti_tumour: frozenset[str],
) -> Fact[int]:
    if extent.value in ("localized", "locoregional"):
        return Fact(1, f"{extent.value} disease: line 1 by convention (brief §1.7)")
    if case.treatments is None:
        return Fact(1, "no treatments recorded: taken as treatment-naive (assumption)")
    course = case.tumor.disease_course
    # Each line: the therapies in it and whether it has ended or failed. A continuation of the
    # same class (dose escalation, or a switch after intolerance) joins the line, and the
    # latest entry decides whether the line is still running (an ongoing line with stable
    # disease is not yet counted, brief §1.7).
    lines: list[tuple[list[str], bool]] = []
    previous: Treatment | None = None
    for tr in case.treatments:
        if tr.therapy not in anti_tumour:
            continue
        ended = tr.end is not None or tr.stop_reason is not None or not tr.ongoing
        counts = ended or course in _PROGRESSIVE
        same_class = (
            previous is not None
            and classes.get(previous.therapy, ("",))[0] == classes.get(tr.therapy, ("?",))[0]
        )
        continues_line = same_class and (
            tr.therapy == "ssa_dose_escalation"
            or (previous is not None and previous.stop_reason in ("toxicity", "patient_choice"))
        )
        if continues_line and lines:
            lines[-1] = ([*lines[-1][0], tr.therapy], counts)
        else:
            lines.append(([tr.therapy], counts))
        previous = tr
    counted = [" → ".join(ids) for ids, done in lines if done]
    lines_text = counted
    n = len(lines_text)
    if n == 0:
        return Fact(1, "no anti-tumour line for advanced disease has ended or failed yet")
    listed = "; ".join(lines_text)
    if len(listed) > 240:
        listed = listed[:237] + "..."
    how = f"{n} earlier anti-tumour line{'s' if n > 1 else ''} ({listed})"
    vague = [
        tr.therapy
        for tr in case.treatments
        if tr.therapy in anti_tumour
        and not tr.ongoing
        and tr.end is None
        and tr.stop_reason is None
    ]
    if vague:
        how += "; entries without an end date or stop reason are taken as ended (assumption)"
    return Fact(n + 1, how)


def derive(
    case: Case,
    therapy_classes: Mapping[str, tuple[str, ...]],
    anti_tumour: frozenset[str],
) -> Derived:
    """Work out every derived fact of ``case``.

    ``therapy_classes`` maps each option id to its classes (first = line-counting class) and
    ``anti_tumour`` holds the ids that count as a line (both from the therapy catalogue).
    Pure: no I/O, no clock.
    """
    histotype = _lung_histotype(case)
    category = _category(case, histotype)
    grade = _grade(case, category, histotype)
    extent = _extent(case)
    liver_dominant, liver_only = _liver(case)
    documented, within_12 = _progression(case)
    warnings: list[str] = []
    reported = case.tumor.reported_grade
    if (
        reported is not None
        and grade.value is not None
        and reported != grade.value
        and (case.tumor.ki67_percent is not None or case.tumor.mitoses_per_2mm2 is not None)
    ):
        warnings.append(
            f"The report says {reported.upper()} but Ki-67/mitoses give {grade.value.upper()} "
            f"({grade.how}); the plan uses {grade.value.upper()}. Check the pathology report."
        )
    if category.value == "uncertain" and case.tumor.differentiation is None:
        warnings.append(
            "Differentiation is not reported: NET and NEC pathways differ; options that depend "
            "on it are held back until pathology states it."
        )
    from_report = (
        grade.value is not None
        and case.tumor.ki67_percent is None
        and grade.value == case.tumor.reported_grade
        and not (
            case.tumor.mitoses_per_2mm2 is not None
            and grade_from_mitoses(case.tumor.mitoses_per_2mm2) == "g3"
        )
    )
    return Derived(
        grade=grade,
        grade_from_report=from_report,
        category=category,
        extent=extent,
        line_of_therapy=_line_of_therapy(case, extent, therapy_classes, anti_tumour),
        liver_dominant=liver_dominant,
        liver_only=liver_only,
        documented_progression=documented,
        progression_within_12_months=within_12,
        sstr_status=_sstr_status(case),
        lung_histotype=histotype,
        ki67=_ki67_range(case, grade),
        history=_history(case, therapy_classes, anti_tumour),
        warnings=tuple(warnings),
    )
