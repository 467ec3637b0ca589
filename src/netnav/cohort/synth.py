"""Clinically plausible synthetic NEN cohorts in the ``netnav-case/1`` format.

``synthetic_cases(n, seed)`` yields ``n`` case documents (plain dicts, ids ``SYN-<seed>-<k>``)
and ``write_synthetic_cohort(path, n, seed)`` writes them as JSON Lines. They feed the cohort
benchmarks (up to a million cases) and the tests of the cohort audit, which compares the
treatment actually given (``extensions.actual_treatment``) with netnav's plan. The patients
are not real: each is drawn from the mix below so that a cohort *looks like* a population
registry (sites, stage, grade, syndromes, gaps in the record), not like a trial.

Determinism: one ``random.Random(seed)`` drawn in a fixed order; no clock, no global state,
no iteration over sets. The same ``(n, seed)`` gives the same cases on every run, and the
first ``m`` cases of ``synthetic_cases(n, seed)`` are ``synthetic_cases(m, seed)``.

Mix (proportions are the module constants named; "≈" = an approximation of the source, not a
figure copied from it; sources are summaries of published data, the fine detail is ours):

==========================  ==========================================  =====================
what                        synthetic mix                               source
==========================  ==========================================  =====================
primary site                lung 28 %, small intestine 17 %, rectum     Dasari et al., JAMA
(``SITE_WEIGHTS``)          13 %, unknown primary 10 %, pancreas 8 %,   Oncol 2017 (SEER
                            stomach 6 %, colon 6 %, appendix 5 %,       1973–2012, 64,971 NETs)
                            duodenum 3 %, rare sites 4 %                ≈
stage (``STAGE_BY_SITE``)   per site; overall localized 49.6 %,         Dasari 2017 (overall
                            regional 19 %, distant 22.6 %, not staged   ~50/20/21 %); Yao et
                            8.8 % (``expected_stage_mix()``)            al., JCO 2008
                                                                        (stage by site) ≈
grade / NEC                 per site, e.g. small intestine G1 68 / G2   WHO 2019 digestive
(``CATEGORY_BY_SITE``)      27 / G3 3 / NEC 2 %; pancreas 40 / 40 / 11  system tumours; ENETS
                            / NEC 7 / MiNEN 2 %; colon NEC 25 %;        2023 site guidance ≈
                            oesophagus NEC 80 %; lung typical 70 /
                            atypical 12 / LCNEC 12 / SCLC 6 % (a NEN
                            registry, not all small-cell lung cancer);
                            G3/NEC ×2 in distant, ×0.5 in localized
                            disease (``STAGE_GRADE_SHIFT``)
gastric type                type 1 70 %, type 2 5 %, type 3 15 %,       ENETS gastroduodenal
                            NEC 8 %, MiNEN 2 %                          guidance 2023 ≈
sex (``FEMALE_SHARE``)      52.7 % female                               Dasari 2017
age (``AGE_MEAN_SD``)       normal 60 ± 13 years (appendix 42 ± 17),    Dasari 2017 (median
                            clipped to 18–95                            age ~63) ≈
ECOG (``ECOG_BY_GROUP``)    localized 0/1/2/3: 56/28/5/1 %, unknown     trial populations
                            10 %; advanced NET 35/37/13/5/1 %, unknown  (NETTER-1, RADIANT-4:
                            9 %; advanced NEC 20/40/20/10/2 %, unknown  ~95 % ECOG 0–1) widened
                            8 %                                         for registries ≈
carcinoid syndrome          30 % of metastatic small-intestine NET,     Halperin et al., Lancet
(``CARCINOID_SYNDROME_P``)  15 % of metastatic unknown primary, 8 %     Oncol 2017 (SEER-
                            of metastatic lung NET, 5 % of other        Medicare: 19 % of all
                            metastatic NET, 5 % of regional SI NET;     non-pancreatic NETs,
                            carcinoid heart disease in 20 % of them     mostly SI) ≈
functioning pNET            localized: non-functioning 80 %,            Halfdanarson et al.,
(``PNET_SYNDROME_*``)       insulinoma 12 %, gastrinoma 4 %, rare 4 %;  Endocr Relat Cancer
                            advanced: non-functioning 89 %, gastrinoma  2008 (SEER pNET, ~90 %
                            4 %, insulinoma 2 %, glucagonoma 2 %,       non-functioning) ≈
                            VIPoma 1.5 %, other 1.5 %; duodenum:
                            gastrinoma 15 %
SSTR imaging                done in 72 % of advanced well-              our assumption (a
(``SSTR_IMAGING_P``)        differentiated cases, 35 % of localized,    60–80 % range for
                            20 % of NEC; Krenning max ≥3 in ~80 % of    advanced NET; NANETS/
                            G1/G2 NET, Krenning recorded in 85 %        SNMMI advise it)
prior treatment             advanced NET: 0/1/2/3 earlier lines 50/30/  our assumption; the
(``PRIOR_LINES_*``)         14/6 % (SSA first, then PRRT, everolimus,   order follows ESMO/
                            CAPTEM, sunitinib, liver-directed);         ENETS sequencing
                            advanced NEC: 30 % after platinum-etoposide
gaps                        Ki-67 unrecorded 12 %, labs 25 %,           registry completeness
(``*_MISSING_P``)           comorbidities 30 %, not staged 9 %,         ≈ (our assumption)
                            ECOG ~10 %, no SSTR imaging as above
preferences                 declines an option 2 %, other preferences   our assumption
(``DECLINES_P``)            in 10 %
region (``REGION_WEIGHTS``) US 45 %, EU 35 %, UK 10 %, other 5 %,       our assumption
                            not stated 5 %
actual treatment            recorded in 90 % (``ACTUAL_RECORDED_P``);   see below
==========================  ==========================================  =====================

The actual treatment is drawn from a practice-pattern table per scenario (``PRACTICE``),
never from the netnav engine, so that the audit is not circular. The tables are mostly
guideline-like (somatostatin analogue for advanced well-differentiated GEP-NET, surgery for
localized disease, platinum-etoposide for NEC, CAPTEM, everolimus or sunitinib for progressive
pNET, PRRT after SSA in SSTR-positive disease), with a share of discordant choices (the
shares are our assumption; no registry reports them per scenario):
chemotherapy in low-grade small-intestine NET, PRRT without SSTR imaging, everolimus first
line, observation or an SSA in NEC, adjuvant SSA after R0 resection, gastrectomy for small type
1 gastric NET, docetaxel in NEC. Frail or ECOG ≥3 patients get best supportive care in half
the cases; a declined option is redrawn once. The option is an id of ``options.md`` or one of
its groups (``ssa``, ``prrt``, ``liver_directed``...), as registries often record only the
class; its date lies after every other date of the case and not after ``as_of``.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

from netnav.vocabulary import members

__all__ = [
    "ACTUAL_RECORDED_P",
    "SITE_WEIGHTS",
    "STAGES",
    "STAGE_BY_SITE",
    "expected_stage_mix",
    "synthetic_cases",
    "write_synthetic_cohort",
]

Doc = dict[str, Any]

# --- the mix (see the module docstring for the sources) -------------------------------------

# Primary site. Dasari et al., JAMA Oncol 2017 (SEER 1973–2012): lung ~30 %, small intestine
# ~17–19 %, rectum ~12–17 %, pancreas ~7–10 %, stomach ~6 %, colon ~5–8 %, appendix ~5–6 %,
# unknown primary ~10 %; duodenum and the rare sites (thymus, ampulla, oesophagus, ovary,
# other) share the rest (≈).
SITE_WEIGHTS: Final[dict[str, float]] = {
    "lung": 0.28,
    "small_intestine": 0.17,
    "rectum": 0.13,
    "unknown_primary": 0.10,
    "pancreas": 0.08,
    "stomach": 0.06,
    "colon": 0.06,
    "appendix": 0.05,
    "duodenum": 0.03,
    "thymus": 0.01,
    "other": 0.015,
    "ampulla": 0.005,
    "esophagus": 0.005,
    "ovary": 0.005,
}

STAGES: Final[tuple[str, ...]] = ("localized", "regional", "distant", "unknown")

# Extent (SEER summary stage) by site: localized, regional, distant, unknown (not staged).
# Overall ≈ Dasari 2017 (localized ~50 %, regional ~20 %, distant ~21 %); the split by site
# follows Yao et al., JCO 2008 (SEER 1973–2004: rectum and appendix mostly localized, small
# intestine mostly regional or distant, pancreas ~60 % distant) ≈. A case's extent is what it
# shows now: ``metastases`` non-empty = distant; [] with N1/N2 = regional; [] otherwise =
# localized; ``metastases`` absent = not staged.
STAGE_BY_SITE: Final[dict[str, tuple[float, float, float, float]]] = {
    "lung": (0.64, 0.20, 0.10, 0.06),
    "small_intestine": (0.30, 0.40, 0.25, 0.05),
    "rectum": (0.86, 0.05, 0.04, 0.05),
    "unknown_primary": (0.0, 0.0, 0.68, 0.32),
    "pancreas": (0.26, 0.14, 0.52, 0.08),
    "stomach": (0.72, 0.08, 0.12, 0.08),
    "colon": (0.36, 0.24, 0.32, 0.08),
    "appendix": (0.60, 0.30, 0.05, 0.05),
    "duodenum": (0.65, 0.15, 0.10, 0.10),
    "thymus": (0.35, 0.30, 0.30, 0.05),
    "other": (0.50, 0.20, 0.20, 0.10),
    "ampulla": (0.45, 0.35, 0.15, 0.05),
    "esophagus": (0.25, 0.25, 0.45, 0.05),
    "ovary": (0.85, 0.05, 0.05, 0.05),
}

# Histological category by site, all stages together (WHO 2019 classification of digestive
# system tumours; ENETS 2023 site guidance; ≈). net_g1/g2/g3 = well-differentiated NET of that
# grade, nec = poorly differentiated neuroendocrine carcinoma, minen = mixed neoplasm, goblet =
# appendiceal goblet-cell adenocarcinoma. Lung and thymus by histotype (typical carcinoid,
# atypical carcinoid, large-cell and small-cell NEC); stomach by type (type_3 graded below).
CATEGORY_BY_SITE: Final[dict[str, dict[str, float]]] = {
    "lung": {"tc": 0.70, "ac": 0.12, "lcnec": 0.12, "sclc": 0.06},
    "thymus": {"tc": 0.40, "ac": 0.50, "lcnec": 0.05, "sclc": 0.05},
    "small_intestine": {"net_g1": 0.68, "net_g2": 0.27, "net_g3": 0.03, "nec": 0.02},
    "rectum": {"net_g1": 0.82, "net_g2": 0.12, "net_g3": 0.01, "nec": 0.04, "minen": 0.01},
    "unknown_primary": {"net_g1": 0.30, "net_g2": 0.40, "net_g3": 0.08, "nec": 0.22},
    "pancreas": {"net_g1": 0.40, "net_g2": 0.40, "net_g3": 0.11, "nec": 0.07, "minen": 0.02},
    "stomach": {"type_1": 0.70, "type_2": 0.05, "type_3": 0.15, "nec": 0.08, "minen": 0.02},
    "colon": {"net_g1": 0.45, "net_g2": 0.22, "net_g3": 0.03, "nec": 0.25, "minen": 0.05},
    "appendix": {"net_g1": 0.80, "net_g2": 0.13, "net_g3": 0.01, "goblet": 0.06},
    "duodenum": {"net_g1": 0.70, "net_g2": 0.24, "net_g3": 0.02, "nec": 0.04},
    "other": {"net_g1": 0.45, "net_g2": 0.30, "net_g3": 0.05, "nec": 0.20},
    "ampulla": {"net_g1": 0.40, "net_g2": 0.25, "net_g3": 0.05, "nec": 0.25, "minen": 0.05},
    "esophagus": {"net_g1": 0.08, "net_g2": 0.07, "net_g3": 0.02, "nec": 0.80, "minen": 0.03},
    "ovary": {"net_g1": 0.80, "net_g2": 0.13, "net_g3": 0.02, "nec": 0.05},
}
# High-grade categories are commoner in metastatic disease: weight ×2 in distant, ×0.5 in
# localized disease (then renormalised). Our assumption, in line with SEER grade-by-stage.
STAGE_GRADE_SHIFT: Final[dict[str, float]] = {
    "localized": 0.5,
    "regional": 1.0,
    "distant": 2.0,
    "unknown": 1.0,
}
_HIGH_GRADE: Final = frozenset({"net_g3", "nec", "minen", "lcnec", "sclc", "type_3"})

# Sex: 52.7 % women (Dasari 2017). Ovarian primaries are women.
FEMALE_SHARE: Final = 0.527
# Age at the case: mean ± SD years, clipped to 18–95 (Dasari 2017 ≈; appendiceal NETs are
# found young, at appendectomy).
AGE_MEAN_SD: Final[dict[str, tuple[float, float]]] = {
    "default": (60.0, 13.0),
    "appendix": (42.0, 17.0),
}

# ECOG performance status (None = not recorded). Trials enrol ~95 % ECOG 0–1 (NETTER-1,
# RADIANT-4); a registry has more 2–3 and gaps (≈, our assumption).
ECOG_BY_GROUP: Final[dict[str, dict[int | None, float]]] = {
    "local": {0: 0.56, 1: 0.28, 2: 0.05, 3: 0.01, None: 0.10},
    "advanced_net": {0: 0.35, 1: 0.37, 2: 0.13, 3: 0.05, 4: 0.01, None: 0.09},
    "advanced_nec": {0: 0.20, 1: 0.40, 2: 0.20, 3: 0.10, 4: 0.02, None: 0.08},
}

# Carcinoid syndrome in well-differentiated NET by (site, extent): Halperin et al., Lancet Oncol
# 2017 (19 % of non-pancreatic NETs in SEER-Medicare, mostly small intestine); 20–40 % of
# metastatic small-intestine NET in clinical series (≈).
CARCINOID_SYNDROME_P: Final[dict[tuple[str, str], float]] = {
    ("small_intestine", "distant"): 0.30,
    ("small_intestine", "regional"): 0.05,
    ("unknown_primary", "distant"): 0.15,
    ("lung", "distant"): 0.08,
    ("other_site", "distant"): 0.05,
}
CARCINOID_HEART_DISEASE_P: Final = 0.20  # of carcinoid syndrome (ENETS 2017 CHD guidance ≈)

# Functioning pancreatic NET (Halfdanarson et al., Endocr Relat Cancer 2008: ~90 % of pNETs in
# SEER non-functioning; insulinomas are mostly small and benign, gastrinomas and the rarer
# syndromes mostly metastatic) ≈.
PNET_SYNDROME_LOCAL: Final[dict[str, float]] = {
    "none": 0.80,
    "insulinoma": 0.12,
    "gastrinoma": 0.04,
    "glucagonoma": 0.015,
    "vipoma": 0.01,
    "somatostatinoma": 0.01,
    "other": 0.005,
}
PNET_SYNDROME_ADVANCED: Final[dict[str, float]] = {
    "none": 0.89,
    "gastrinoma": 0.04,
    "insulinoma": 0.02,
    "glucagonoma": 0.02,
    "vipoma": 0.015,
    "ectopic_acth": 0.01,
    "somatostatinoma": 0.005,
}
DUODENUM_SYNDROME: Final[dict[str, float]] = {
    "none": 0.83,
    "gastrinoma": 0.15,
    "somatostatinoma": 0.02,
}

# SSTR imaging done (NANETS/SNMMI advise it before systemic treatment of advanced NET; the
# share done in a registry is our assumption, within 60–80 %), its tracer (≈ 2018–2026
# practice) and the Krenning score of the strongest lesion by grade group (our assumption).
# Scores recorded in 85 % of the scans.
SSTR_IMAGING_P: Final[dict[str, float]] = {
    "advanced_wd": 0.72,
    "localized_wd": 0.35,
    "nec": 0.20,
}
SSTR_MODALITY: Final[dict[str, float]] = {
    "ga68_dotatate_pet": 0.55,
    "ga68_dotatoc_pet": 0.14,
    "cu64_dotatate_pet": 0.08,
    "ga68_dotanoc_pet": 0.04,
    "in111_pentetreotide": 0.14,
    "tc99m_hynic_toc_spect": 0.03,
    "other": 0.02,
}
KRENNING_MAX: Final[dict[str, dict[int, float]]] = {
    "low_grade": {4: 0.50, 3: 0.32, 2: 0.10, 1: 0.05, 0: 0.03},
    "net_g3": {4: 0.30, 3: 0.30, 2: 0.20, 1: 0.10, 0: 0.10},
    "nec": {4: 0.05, 3: 0.15, 2: 0.20, 1: 0.30, 0: 0.30},
}
KRENNING_RECORDED_P: Final = 0.85

# Earlier lines of systemic treatment in advanced disease (our assumption for a registry; the
# order of the lines follows ESMO/ENETS sequencing: SSA first, then PRRT, everolimus...).
PRIOR_LINES_NET: Final[dict[int, float]] = {0: 0.50, 1: 0.30, 2: 0.14, 3: 0.06}
PRIOR_LINES_NEC: Final[dict[int, float]] = {0: 0.70, 1: 0.30}

# Gaps of a real registry (our assumption): Ki-67 not recorded, no laboratory values, no
# comorbidity record, ECOG (in ECOG_BY_GROUP), staging (STAGE_BY_SITE "unknown").
KI67_MISSING_P: Final = 0.12
LABS_MISSING_P: Final = 0.25
COMORBIDITIES_MISSING_P: Final = 0.30
DECLINES_P: Final = 0.02
PREFERENCES_P: Final = 0.10
REGION_WEIGHTS: Final[dict[str | None, float]] = {
    "us": 0.45,
    "eu": 0.35,
    "uk": 0.10,
    "other": 0.05,
    None: 0.05,
}
ACTUAL_RECORDED_P: Final = 0.90

# Practice patterns: the treatment actually given, by scenario (our assumption; see the module
# docstring). Keys are option ids or option groups of options.md; "ssa", "prrt" and
# "liver_directed" are then recorded as the group or as one member (``_RECORDED_AS``).
PRACTICE: Final[dict[str, dict[str, float]]] = {
    # localized or regional well-differentiated NET, primary in place
    "local_rectum_small": {
        "endoscopic_resection": 0.74,
        "local_excision": 0.10,
        "surgical_resection": 0.10,  # radical rectal surgery for a small NET: overtreatment
        "active_surveillance": 0.06,
    },
    "local_gastric_type1": {
        "endoscopic_surveillance": 0.50,
        "endoscopic_resection": 0.38,
        "surgical_resection": 0.06,  # gastrectomy for small type 1: overtreatment
        "ssa": 0.06,
    },
    "local_pnet_small": {
        "active_surveillance": 0.50,
        "surgical_resection": 0.44,
        "ssa": 0.06,
    },
    "local_insulinoma": {
        "surgical_resection": 0.80,
        "diazoxide": 0.10,
        "eus_radiofrequency_ablation": 0.05,
        "ssa": 0.05,  # may worsen hypoglycaemia
    },
    "local_gastrinoma": {
        "surgical_resection": 0.55,
        "proton_pump_inhibitor": 0.40,
        "ssa": 0.05,
    },
    "local_other_functioning_pnet": {
        "surgical_resection": 0.60,
        "ssa": 0.35,
        "fluid_electrolyte_replacement": 0.05,
    },
    "local_lung": {
        "surgical_resection": 0.84,
        "active_surveillance": 0.06,
        "external_beam_radiotherapy": 0.04,
        "ssa": 0.04,
        "platinum_etoposide": 0.02,  # adjuvant chemotherapy for a carcinoid: discordant
    },
    "local_default": {
        "surgical_resection": 0.82,
        "endoscopic_resection": 0.05,
        "active_surveillance": 0.06,
        "ssa": 0.05,
        "capecitabine_temozolomide": 0.02,  # neoadjuvant or discordant
    },
    # localized or regional well-differentiated NET, primary already removed
    "resected": {
        "active_surveillance": 0.62,
        "no_further_treatment": 0.22,
        "surgical_resection": 0.07,  # completion or re-resection
        "ssa": 0.07,  # "adjuvant" SSA after R0 resection: discordant
        "capecitabine_temozolomide": 0.02,  # adjuvant chemotherapy: discordant
    },
    "resected_appendix_large": {
        "surgical_resection": 0.55,  # completion right hemicolectomy
        "active_surveillance": 0.40,
        "no_further_treatment": 0.05,
    },
    # advanced (distant, or regional judged unresectable) well-differentiated NET, no prior line
    "first_gep": {
        "ssa": 0.60,
        "active_surveillance": 0.11,
        "surgical_resection": 0.06,
        "cytoreductive_surgery": 0.03,
        "liver_directed": 0.04,
        "prrt": 0.04,  # first-line PRRT (NETTER-2 era), with or without SSTR imaging
        "everolimus": 0.03,  # everolimus first line: discordant
        "capecitabine_temozolomide": 0.04,  # chemotherapy in low-grade NET: discordant
        "platinum_etoposide": 0.01,  # NEC regimen for a NET: discordant
        "clinical_trial": 0.02,
        "best_supportive_care": 0.02,
    },
    "first_pnet": {
        "ssa": 0.44,
        "capecitabine_temozolomide": 0.12,
        "everolimus": 0.10,
        "sunitinib": 0.06,
        "surgical_resection": 0.07,
        "active_surveillance": 0.07,
        "prrt": 0.04,
        "liver_directed": 0.04,
        "streptozocin_fluorouracil": 0.02,
        "clinical_trial": 0.02,
        "best_supportive_care": 0.02,
    },
    "first_lung": {
        "ssa": 0.38,
        "everolimus": 0.20,
        "active_surveillance": 0.11,
        "capecitabine_temozolomide": 0.08,
        "platinum_etoposide": 0.06,
        "prrt": 0.05,
        "surgical_resection": 0.04,
        "external_beam_radiotherapy": 0.03,
        "clinical_trial": 0.03,
        "best_supportive_care": 0.02,
    },
    "first_net_g3": {
        "capecitabine_temozolomide": 0.35,
        "platinum_etoposide": 0.20,
        "ssa": 0.14,
        "prrt": 0.10,
        "everolimus": 0.07,
        "surgical_resection": 0.05,
        "clinical_trial": 0.05,
        "best_supportive_care": 0.04,
    },
    "first_carcinoid_syndrome": {
        "ssa": 0.85,
        "telotristat_ethyl": 0.03,
        "surgical_resection": 0.04,
        "liver_directed": 0.04,
        "prrt": 0.02,
        "everolimus": 0.02,
    },
    "first_functioning_pnet": {
        "ssa": 0.45,
        "everolimus": 0.12,
        "diazoxide": 0.08,
        "proton_pump_inhibitor": 0.10,
        "capecitabine_temozolomide": 0.10,
        "liver_directed": 0.07,
        "surgical_resection": 0.05,
        "prrt": 0.03,
    },
    "stable_on_ssa": {
        "ssa": 0.82,
        "active_surveillance": 0.08,
        "prrt": 0.04,  # switching while stable: discordant
        "everolimus": 0.03,
        "liver_directed": 0.03,
    },
    # advanced well-differentiated NET progressing after an SSA (second line)
    "after_ssa_gep_imaged": {
        "prrt": 0.38,
        "everolimus": 0.20,
        "liver_directed": 0.11,
        "ssa_dose_escalation": 0.08,
        "capecitabine_temozolomide": 0.07,
        "clinical_trial": 0.04,
        "cabozantinib": 0.03,
        "best_supportive_care": 0.03,
        "interferon_alpha": 0.02,
        "sunitinib": 0.02,  # sunitinib outside the pancreas: discordant
        "ssa": 0.02,  # continued unchanged despite progression
    },
    "after_ssa_gep_not_imaged": {
        "everolimus": 0.32,
        "liver_directed": 0.16,
        "ssa_dose_escalation": 0.12,
        "capecitabine_temozolomide": 0.10,
        "prrt": 0.08,  # PRRT without SSTR imaging: discordant
        "clinical_trial": 0.06,
        "cabozantinib": 0.04,
        "best_supportive_care": 0.06,
        "sunitinib": 0.02,
        "ssa": 0.04,
    },
    "after_ssa_pnet": {
        "everolimus": 0.24,
        "capecitabine_temozolomide": 0.22,
        "sunitinib": 0.14,
        "prrt": 0.16,
        "liver_directed": 0.08,
        "streptozocin_fluorouracil": 0.04,
        "cabozantinib": 0.03,
        "clinical_trial": 0.04,
        "best_supportive_care": 0.03,
        "ssa_dose_escalation": 0.02,
    },
    # third line and later
    "later": {
        "everolimus": 0.20,
        "capecitabine_temozolomide": 0.16,
        "cabozantinib": 0.12,
        "prrt": 0.12,
        "liver_directed": 0.10,
        "clinical_trial": 0.09,
        "best_supportive_care": 0.11,
        "sunitinib": 0.04,
        "platinum_etoposide": 0.03,
        "interferon_alpha": 0.03,
    },
    # neuroendocrine carcinoma and MiNEN
    "nec_local": {
        "surgical_resection": 0.45,
        "platinum_etoposide": 0.30,
        "chemoradiotherapy": 0.15,
        "active_surveillance": 0.05,  # observation of a localized NEC: discordant
        "best_supportive_care": 0.05,
    },
    "nec_first": {
        "platinum_etoposide": 0.62,
        "irinotecan_cisplatin": 0.05,
        "folfox": 0.04,
        "capecitabine_temozolomide": 0.05,
        "best_supportive_care": 0.10,
        "active_surveillance": 0.04,  # observation in NEC: discordant
        "ssa": 0.03,  # SSA in NEC: discordant
        "prrt": 0.02,
        "clinical_trial": 0.03,
        "external_beam_radiotherapy": 0.02,
    },
    "nec_second": {
        "folfiri": 0.25,
        "capecitabine_temozolomide": 0.20,
        "best_supportive_care": 0.20,
        "folfox": 0.10,
        "platinum_etoposide": 0.07,
        "nal_irinotecan_fluorouracil": 0.05,
        "ipilimumab_nivolumab": 0.05,
        "clinical_trial": 0.05,
        "docetaxel": 0.03,  # failed in NET-02: discordant
    },
    "goblet": {
        "surgical_resection": 0.70,
        "folfox": 0.15,
        "active_surveillance": 0.10,
        "ssa": 0.05,  # an SSA for an adenocarcinoma: discordant
    },
    "not_staged": {
        "active_surveillance": 0.30,
        "surgical_resection": 0.28,
        "ssa": 0.20,
        "specialist_referral": 0.17,
        "endoscopic_resection": 0.05,
    },
}
# How a class is recorded: the group itself (the record says only "SSA") or one member.
_RECORDED_AS: Final[dict[str, dict[str, float]]] = {
    "ssa": {"ssa": 0.30, "octreotide_lar": 0.38, "lanreotide": 0.32},
    "prrt": {"prrt_lu177_dotatate": 0.80, "prrt": 0.20},
    "liver_directed": {
        "liver_directed": 0.20,
        "bland_embolization": 0.22,
        "chemoembolization": 0.20,
        "radioembolization": 0.15,
        "thermal_ablation": 0.23,
    },
}
# Share of frail or ECOG >= 3 patients given best supportive care whatever the scenario.
FRAIL_SUPPORTIVE_P: Final = 0.5

# --- dates -----------------------------------------------------------------------------------

_DAY0: Final = date(2000, 1, 1).toordinal()
_AS_OF_FIRST: Final = date(2018, 1, 1).toordinal() - _DAY0
_AS_OF_LAST: Final = date(2026, 10, 31).toordinal() - _DAY0
_MONTH_DAYS: Final = 30.44


@functools.cache
def _iso_days() -> tuple[str, ...]:
    """ISO dates from 2000-01-01 to 2026-12-31, indexed by days since 2000-01-01."""
    last = date(2026, 12, 31).toordinal()
    return tuple(date.fromordinal(day).isoformat() for day in range(_DAY0, last + 1))


# --- weighted choice ----------------------------------------------------------------------------


Picker = Callable[[Callable[[], float]], Any]


def _weighted(table: Mapping[Any, float]) -> Picker:
    """A weighted choice over ``table``'s keys: ``pick(rng.random)``, with the cumulative
    weights computed once (the last one is infinite, so no draw falls off the end)."""
    values = tuple(table)
    cum: list[float] = []
    running = 0.0
    for weight in table.values():
        running += weight
        cum.append(running)
    cum[-1] = float("inf")
    total = running
    bisect_right = bisect.bisect_right

    def pick(rnd: Callable[[], float]) -> Any:
        return values[bisect_right(cum, rnd() * total)]

    return pick


def _shifted(table: Mapping[str, float], factor: float) -> dict[str, float]:
    return {key: w * (factor if key in _HIGH_GRADE else 1.0) for key, w in table.items()}


_SITE: Final = _weighted(SITE_WEIGHTS)
_STAGE: Final = {
    site: _weighted(dict(zip(STAGES, w, strict=True))) for site, w in STAGE_BY_SITE.items()
}
_CATEGORY: Final = {
    (site, stage): _weighted(_shifted(table, STAGE_GRADE_SHIFT[stage]))
    for site, table in CATEGORY_BY_SITE.items()
    for stage in STAGES
}
_ECOG: Final = {group: _weighted(table) for group, table in ECOG_BY_GROUP.items()}
_PNET_LOCAL: Final = _weighted(PNET_SYNDROME_LOCAL)
_PNET_ADVANCED: Final = _weighted(PNET_SYNDROME_ADVANCED)
_DUODENUM: Final = _weighted(DUODENUM_SYNDROME)
_MODALITY: Final = _weighted(SSTR_MODALITY)
_KRENNING: Final = {group: _weighted(table) for group, table in KRENNING_MAX.items()}
_PRIOR_NET: Final = _weighted(PRIOR_LINES_NET)
_PRIOR_NEC: Final = _weighted(PRIOR_LINES_NEC)
_REGION: Final = _weighted(REGION_WEIGHTS)
_PRACTICE: Final = {scenario: _weighted(table) for scenario, table in PRACTICE.items()}
_RECORDED: Final = {group: _weighted(table) for group, table in _RECORDED_AS.items()}

_DIABETES: Final = _weighted(
    {"none": 0.80, "controlled": 0.13, "uncontrolled": 0.03, "present_control_unknown": 0.04}
)
_HYPERTENSION: Final = _weighted(
    {"none": 0.52, "controlled": 0.36, "uncontrolled": 0.05, "present_control_unknown": 0.07}
)
_NYHA: Final = _weighted({0: 0.93, 1: 0.03, 2: 0.03, 3: 0.01})
_GERMLINE: Final = _weighted({"none": 0.45, "untested": 0.25, None: 0.30})
_MARGIN: Final = _weighted({"r0": 0.86, "r1": 0.07, "rx": 0.07})
_DPYD: Final = _weighted({"untested": 0.70, "normal": 0.27, "intermediate": 0.025, "poor": 0.005})
_SSA_HISTORY: Final = _weighted(
    {"octreotide_lar": 0.45, "lanreotide": 0.45, "ssa_unspecified": 0.10}
)
_NEC_RESPONSE: Final = _weighted({"pr": 0.45, "sd": 0.25, "pd": 0.25, "not_evaluable": 0.05})
_LIVER_BURDEN: Final = _weighted({"lt10": 0.40, "10_25": 0.30, "25_50": 0.20, "gt50": 0.10})
_LIVER_BURDEN_RANGE: Final = {
    "lt10": (1, 9),
    "10_25": (10, 25),
    "25_50": (26, 50),
    "gt50": (51, 80),
}

# Boolean comorbidities and how often each is present (≈ age 60 population).
_COMORBIDITY_FLAGS: Final[tuple[tuple[str, float], ...]] = (
    ("portal_vein_thrombosis", 0.005),
    ("severe_lung_disease", 0.03),
    ("thromboembolism_last_6_months", 0.02),
    ("interstitial_lung_disease", 0.01),
    ("biliary_enteric_anastomosis", 0.0),  # set after a Whipple operation
    ("sphincterotomy", 0.01),
    ("psychiatric_illness", 0.05),
    ("autoimmune_disease", 0.04),
    ("urinary_incontinence", 0.03),
    ("hearing_loss", 0.05),
    ("peripheral_neuropathy", 0.04),
    ("cirrhosis_or_decompensated_liver", 0.01),
)

_SURGERY_DETAIL: Final[dict[str, tuple[str, ...]]] = {
    "small_intestine": ("segmental small-bowel resection with mesenteric lymphadenectomy",),
    "pancreas": (
        "pancreatoduodenectomy",
        "distal pancreatectomy with splenectomy",
        "enucleation",
    ),
    "lung": ("lobectomy with mediastinal lymph node dissection", "segmentectomy"),
    "thymus": ("thymectomy",),
    "colon": ("right hemicolectomy",),
    "appendix": ("right hemicolectomy",),
    "rectum": ("low anterior resection",),
    "stomach": ("partial gastrectomy",),
    "duodenum": ("transduodenal excision", "pancreatoduodenectomy"),
    "ampulla": ("pancreatoduodenectomy",),
    "esophagus": ("oesophagectomy",),
    "ovary": ("salpingo-oophorectomy",),
}
_SYMPTOMS_CS: Final = ("flushing", "diarrhea")
_SYNDROME_SYMPTOMS: Final[dict[str, tuple[str, ...]]] = {
    "insulinoma": ("hypoglycemia",),
    "gastrinoma": ("peptic_ulcers", "diarrhea"),
    "vipoma": ("diarrhea",),
    "glucagonoma": ("rash", "weight_loss"),
    "somatostatinoma": ("diarrhea",),
    "ectopic_acth": ("weight_loss",),
}


# --- public API -----------------------------------------------------------------------------


def synthetic_cases(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` synthetic case documents, ids ``SYN-<seed>-<k>`` with k from 1.

    Deterministic for ``(n, seed)``; the first ``m`` cases do not depend on ``n``. Raises
    ValueError when ``n`` is not a whole number >= 0 or ``seed`` is not an integer.
    """
    _check_arguments(n, seed)
    return _generate(n, seed)


def write_synthetic_cohort(
    path: Path,
    n: int,
    seed: int,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``synthetic_cases(n, seed)`` to ``path`` as JSON Lines and return ``n``.

    One compact JSON object per line (the bytes of ``json.dumps(case, ensure_ascii=False,
    separators=(",", ":"))`` and a newline), written to a temporary file in the same directory
    and moved over ``path`` only when complete. ``on_progress(k)`` is called after every
    10,000 cases and once at the end with ``n``.
    """
    _check_arguments(n, seed)
    path = Path(path)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, then renamed)
        mode="w",
        encoding="utf-8",
        newline="\n",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            batch: list[str] = []
            done = 0
            for case in _generate(n, seed):
                batch.append(encode(case))
                if len(batch) == _BATCH:
                    handle.write("\n".join(batch) + "\n")
                    done += len(batch)
                    batch.clear()
                    if on_progress is not None:
                        on_progress(done)
            if batch:
                handle.write("\n".join(batch) + "\n")
                done += len(batch)
                if on_progress is not None:
                    on_progress(done)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # the temporary file is 0600; the cohort is a shared file
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return n


def expected_stage_mix() -> dict[str, float]:
    """The overall extent mix implied by ``SITE_WEIGHTS`` and ``STAGE_BY_SITE``."""
    total = sum(SITE_WEIGHTS.values())
    mix = dict.fromkeys(STAGES, 0.0)
    for site, weight in SITE_WEIGHTS.items():
        by_stage = STAGE_BY_SITE[site]
        row_total = sum(by_stage)
        for stage, share in zip(STAGES, by_stage, strict=True):
            mix[stage] += weight / total * share / row_total
    return mix


_BATCH: Final = 10_000


def _check_arguments(n: object, seed: object) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise ValueError(f"the number of cases must be a whole number, not {n!r}")
    if n < 0:
        raise ValueError(f"the number of cases must be 0 or more, not {n}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"the seed must be an integer, not {seed!r}")


def _generate(n: int, seed: int) -> Iterator[Doc]:
    rng = random.Random(seed)
    iso = _iso_days()
    for k in range(1, n + 1):
        yield _Case(rng, iso).build(f"SYN-{seed}-{k}")


# --- one case ---------------------------------------------------------------------------------

_NEC_CATEGORIES: Final = frozenset({"nec", "lcnec", "sclc"})
_REMOVED_BEFORE_P: Final[dict[str, float]] = {
    # share of localized/regional cases whose primary was already removed (≈, our assumption)
    "appendix": 0.92,
    "rectum": 0.60,
    "colon": 0.55,
    "small_intestine": 0.50,
    "lung": 0.50,
    "duodenum": 0.45,
    "stomach": 0.35,
    "pancreas": 0.35,
}
_REMOVED_BEFORE_DISTANT_P: Final[dict[str, float]] = {
    "appendix": 0.85,
    "small_intestine": 0.40,
    "colon": 0.30,
    "rectum": 0.25,
    "pancreas": 0.25,
    "lung": 0.20,
}
_RESECTABILITY_DISTANT: Final = _weighted(
    {"unresectable": 0.75, "borderline": 0.08, "resectable": 0.12, None: 0.05}
)
_RESECTABILITY_REGIONAL: Final = _weighted(
    {"resectable": 0.78, "borderline": 0.08, "unresectable": 0.10, None: 0.04}
)
_COURSE_NEW: Final = _weighted(
    {"stable": 0.35, "progressive": 0.28, "rapidly_progressive": 0.05, None: 0.32}
)
# Later lines of well-differentiated NET (after the first), by site group.
_NEXT_LINE: Final[dict[str, dict[str, float]]] = {
    "pancreas": {
        "everolimus": 0.30,
        "capecitabine_temozolomide": 0.30,
        "sunitinib": 0.15,
        "prrt": 0.20,
        "liver_directed": 0.05,
    },
    "other": {
        "prrt": 0.50,
        "everolimus": 0.30,
        "liver_directed": 0.15,
        "capecitabine_temozolomide": 0.05,
    },
}
_LIVER_HISTORY: Final = (
    "embolization_unspecified",
    "chemoembolization",
    "bland_embolization",
    "radioembolization",
)
_DECLINE_TARGETS: Final[dict[str, tuple[str, ...]]] = {
    "local": ("surgical_resection",),
    "first": ("octreotide_lar", "lanreotide"),
    "after": ("prrt_lu177_dotatate",),
    "later": ("prrt_lu177_dotatate", "everolimus"),
    "nec": ("platinum_etoposide",),
}


class _Case:
    """Draws one case. The attributes are the latent facts that parts of the document share."""

    __slots__ = (
        "advanced",
        "category",
        "declines",
        "ecog",
        "events",
        "frail",
        "germline",
        "grade",
        "imaged",
        "iso",
        "ki67",
        "krenning_max",
        "nec",
        "rnd",
        "rng",
        "site",
        "size",
        "stage",
        "syndrome",
        "syndrome_labs",
    )

    def __init__(self, rng: random.Random, iso: tuple[str, ...]) -> None:
        self.rng = rng
        self.rnd = rng.random
        self.iso = iso
        # treatments as (document, start day, end day or None), days since diagnosis
        self.events: list[tuple[Doc, int, int | None]] = []
        self.declines: tuple[str, ...] = ()
        self.imaged = False
        self.krenning_max = -1
        self.syndrome = "none"
        self.syndrome_labs: Doc | None = None
        self.germline: str | None = None
        self.ki67 = -1.0

    def build(self, case_id: str) -> Doc:
        rnd = self.rnd
        site: str = _SITE(rnd)
        stage: str = _STAGE[site](rnd)
        self.site, self.stage = site, stage
        self.category = category = _CATEGORY[(site, stage)](rnd)
        self.nec = category in _NEC_CATEGORIES
        self.advanced = stage == "distant"
        tumor = self._tumor()
        patient = self._patient()
        scenario, decision_day = self._course(tumor)
        actual_day = decision_day + 7 + int(rnd() * 39)
        as_of_day = actual_day + int(rnd() * 91)
        # Place the story so that as_of falls within 2018-01-01..2026-10-31.
        as_of = _AS_OF_FIRST + int(rnd() * (_AS_OF_LAST - _AS_OF_FIRST + 1))
        base = as_of - as_of_day
        doc: Doc = {"format": "netnav-case/1", "id": case_id, "as_of": self.iso[as_of]}
        doc["patient"] = patient
        doc["tumor"] = tumor
        if self.events:
            doc["treatments"] = self._treatments(base, as_of)
        elif rnd() < 0.7:
            doc["treatments"] = []
        if "ki67_history" in tumor:
            for record in tumor["ki67_history"]:
                record["date"] = self.iso[base + record["date"]]
        preferences = self._preferences(scenario)
        if preferences:
            doc["preferences"] = preferences
        region = _REGION(rnd)
        if region is not None:
            doc["setting"] = {"region": region}
        if rnd() < ACTUAL_RECORDED_P:
            option = self._actual(scenario)
            actual = {"option": option, "date": self.iso[base + actual_day]}
            doc["extensions"] = {"actual_treatment": actual}
        return doc

    # --- tumour ----------------------------------------------------------------------------

    def _tumor(self) -> Doc:
        rnd, site = self.rnd, self.site
        tumor: Doc = {"primary_site": site}
        if site == "other":
            details = ("mesentery", "presacral", "kidney", "breast", "liver")
            tumor["primary_site_detail"] = details[int(rnd() * 5)]
        self.grade = self._pathology(tumor)
        self._extent(tumor)
        self._imaging(tumor)
        self._syndrome(tumor)
        high_risk = self.nec or self.grade == "g3" or site == "pancreas"
        if self.advanced and high_risk and rnd() < 0.3:
            tumor["mgmt"] = ("proficient", "deficient", "unknown")[int(rnd() * 3)]
        if self.nec and rnd() < 0.3:
            tumor["msi"] = "msi_high" if rnd() < 0.05 else "mss"
        return tumor

    def _pathology(self, tumor: Doc) -> str:
        """Differentiation, Ki-67, mitoses and grade; returns the grade (g1, g2, g3)."""
        rnd, category, site, nec = self.rnd, self.category, self.site, self.nec
        if site in ("lung", "thymus"):
            tumor["lung_histotype"] = _HISTOTYPE[category]
        if category == "goblet":
            tumor["goblet_cell"] = True
            return "g2"
        if category.startswith("type_"):
            tumor["gastric_type"] = category
            grade = "g1" if rnd() < (0.35 if category == "type_3" else 0.8) else "g2"
            if category == "type_3" and rnd() < 0.2:
                grade = "g3"
        else:
            grade = _GRADE_OF.get(category, "g3")
        if category == "minen":
            tumor["differentiation"] = "mixed_minen"
        elif nec:
            tumor["differentiation"] = "poor"
            small = category == "sclc" or (category == "nec" and rnd() < 0.45)
            tumor["nec_subtype"] = "small_cell" if small else "large_cell"
        elif rnd() < 0.01:
            tumor["differentiation"] = "uncertain"
        elif rnd() < 0.93:
            tumor["differentiation"] = "well"
        ki67: float
        if nec or category == "minen":
            ki67, mitoses = round(30 + 65 * rnd()), round(20 + 60 * rnd())
        elif category == "tc":
            ki67, mitoses = round(0.5 + 3.5 * rnd(), 1), int(rnd() * 2)
        elif category == "ac":
            ki67, mitoses = round(3 + 17 * rnd()), 2 + int(rnd() * 9)
        elif grade == "g1":
            ki67, mitoses = round(0.5 + 2.4 * rnd(), 1), int(rnd() * 2)
        elif grade == "g2":
            ki67, mitoses = round(3 + 17 * rnd() ** 1.6), int(rnd() * 8)
        else:
            ki67, mitoses = round(21 + 34 * rnd()), round(10 + 20 * rnd())
        if rnd() >= KI67_MISSING_P:
            self.ki67 = ki67
            tumor["ki67_percent"] = ki67
            if rnd() < 0.6:
                tumor["mitoses_per_2mm2"] = mitoses
        if site in ("lung", "thymus") or nec:
            if category == "tc":
                tumor["necrosis"] = "none"
            elif category == "ac":
                tumor["necrosis"] = "focal" if rnd() < 0.6 else "none"
            elif rnd() < 0.7:
                tumor["necrosis"] = "extensive" if rnd() < 0.7 else "focal"
        elif rnd() < 0.8:
            tumor["reported_grade"] = grade
        return grade

    def _extent(self, tumor: Doc) -> None:
        rnd, site, stage = self.rnd, self.site, self.stage
        self.size = size = self._size()
        if site != "unknown_primary" and rnd() < 0.9:
            tumor["size_mm"] = size
        if self.category == "type_1":
            tumor["lesion_count"] = 1 + int(rnd() * 5)
        elif site == "small_intestine" and rnd() < 0.3:
            tumor["lesion_count"] = 2 + int(rnd() * 4)
        elif site in ("pancreas", "rectum") and rnd() < 0.5:
            tumor["lesion_count"] = 1
        if stage in ("localized", "regional") and site in _WALL_SITES:
            if site == "appendix":
                deep = ("muscularis_propria", "subserosa", "serosa_or_adjacent_organs")
                tumor["invasion_depth"] = deep[0 if size < 10 else int(rnd() * 3)]
                tumor["appendix_location"] = ("tip", "tip", "body", "base")[int(rnd() * 4)]
                tumor["mesoappendix_invasion_mm"] = 0 if size < 10 else int(rnd() * 6)
            elif size <= 10:
                tumor["invasion_depth"] = "submucosa" if rnd() < 0.85 else "mucosa"
            else:
                layers = ("submucosa", "muscularis_propria", "subserosa")
                tumor["invasion_depth"] = layers[int(rnd() * 3)]
            tumor["lymphovascular_invasion"] = rnd() < (0.08 if size <= 10 else 0.35)
        if site == "pancreas":
            tumor["duct_dilatation"] = size > 30 and rnd() < 0.4
            tumor["jaundice"] = size > 30 and rnd() < 0.1
        if stage == "unknown":
            if rnd() < 0.5:
                tumor["nodes"] = "nx"
        elif stage == "localized":
            tumor["nodes"] = "n0" if rnd() < 0.85 else "nx"
            tumor["metastases"] = []
        elif stage == "regional":
            tumor["nodes"] = "n2" if site == "small_intestine" and rnd() < 0.35 else "n1"
            tumor["metastases"] = []
        else:
            if site != "unknown_primary" and rnd() < 0.8:
                tumor["nodes"] = "n2" if site == "small_intestine" and rnd() < 0.4 else "n1"
            tumor["metastases"] = mets = self._metastases()
            if "liver" in mets and rnd() < 0.8:
                low, high = _LIVER_BURDEN_RANGE[_LIVER_BURDEN(rnd)]
                tumor["liver_tumor_burden_percent"] = low + int(rnd() * (high - low + 1))

    def _size(self) -> int:
        rnd, site = self.rnd, self.site
        if self.category == "type_1":
            return 3 + int(rnd() * 12)
        if site == "rectum":
            return 3 + int(rnd() ** 2 * 30)
        if site == "appendix":
            return 3 + int(rnd() ** 1.5 * 30)
        if site == "duodenum":
            return 4 + int(rnd() * 20)
        if site == "pancreas":
            return 8 + int(rnd() ** 1.5 * 80)
        if site in ("lung", "thymus"):
            return 8 + int(rnd() * 50)
        return 8 + int(rnd() * 40)

    def _metastases(self) -> list[str]:
        rnd, site = self.rnd, self.site
        thoracic = site in ("lung", "thymus")
        mets: list[str] = []
        if rnd() < (0.6 if thoracic else 0.88):
            mets.append("liver")
        if rnd() < (0.3 if thoracic else 0.15):
            mets.append("bone")
        if rnd() < 0.2:
            mets.append("distant_lymph_nodes")
        if rnd() < (0.2 if site == "small_intestine" else 0.07):
            mets.append("peritoneum")
        if not thoracic and rnd() < 0.05:
            mets.append("lung")
        if rnd() < (0.1 if self.category in ("sclc", "lcnec") else 0.01):
            mets.append("brain")
        if rnd() < 0.03:
            mets.append("other")
        if not mets:
            mets.append("bone" if thoracic else "liver")
        return mets

    def _imaging(self, tumor: Doc) -> None:
        rnd, nec, grade = self.rnd, self.nec, self.grade
        if self.category == "goblet":
            return
        if nec or self.category == "minen":
            p, group = SSTR_IMAGING_P["nec"], "nec"
        else:
            extent = "advanced_wd" if self.stage in ("distant", "regional") else "localized_wd"
            p, group = SSTR_IMAGING_P[extent], "net_g3" if grade == "g3" else "low_grade"
        if rnd() < p:
            self.imaged = True
            imaging: Doc = {"modality": _MODALITY(rnd)}
            if rnd() < KRENNING_RECORDED_P:
                high: int = _KRENNING[group](rnd)
                drop = 0 if rnd() < 0.6 else 1 if rnd() < 0.6 else 2
                low = max(0, high - drop)
                imaging["krenning_min"] = low
                imaging["krenning_max"] = high
                imaging["all_lesions_positive"] = low >= 2
                self.krenning_max = high
            tumor["sstr_imaging"] = imaging
        if nec or grade == "g3":
            if rnd() < 0.5:
                if not self.imaged:
                    tumor["fdg_pet"] = "positive"
                elif rnd() < 0.6:
                    tumor["fdg_pet"] = "positive_concordant"
                else:
                    tumor["fdg_pet"] = "positive_sstr_negative_lesions"
        elif self.advanced and rnd() < 0.2:
            tumor["fdg_pet"] = "negative" if rnd() < 0.7 else "positive_concordant"
        if self.advanced and not self.imaged and rnd() < 0.1:
            tumor["sstr_ihc"] = "positive" if not nec and rnd() < 0.85 else "negative"

    def _syndrome(self, tumor: Doc) -> None:
        rnd, site, stage, category = self.rnd, self.site, self.stage, self.category
        syndrome = "none"
        if not self.nec and category not in ("minen", "goblet"):
            if site == "pancreas":
                syndrome = (_PNET_ADVANCED if self.advanced else _PNET_LOCAL)(rnd)
            elif site == "duodenum":
                syndrome = _DUODENUM(rnd)
            else:
                key = site if (site, stage) in CARCINOID_SYNDROME_P else "other_site"
                if rnd() < CARCINOID_SYNDROME_P.get((key, stage), 0.0):
                    syndrome = "carcinoid_syndrome"
        self.syndrome = syndrome
        if rnd() < 0.85 or syndrome != "none":
            tumor["functional_syndrome"] = syndrome
        symptoms: list[str] = []
        labs: Doc | None = None
        if syndrome == "carcinoid_syndrome":
            symptoms += [s for s in _SYMPTOMS_CS if rnd() < 0.8] or ["flushing"]
            controlled = rnd() < 0.55
            tumor["syndrome_controlled"] = controlled
            tumor["bowel_movements_per_day"] = 2 + int(rnd() * (3 if controlled else 8))
            heart = "none"
            if rnd() < CARCINOID_HEART_DISEASE_P:
                heart = ("mild", "moderate", "severe")[int(rnd() * 3)]
            tumor["carcinoid_heart_disease"] = heart
            labs = {"u5hiaa_umol_24h": round(100 + 400 * rnd() ** 2)}
            if heart != "none" or rnd() < 0.3:
                labs["nt_probnp_pg_ml"] = round(80 + 1500 * rnd() ** 2)
        elif syndrome != "none":
            symptoms += _SYNDROME_SYMPTOMS.get(syndrome, ())
            tumor["syndrome_controlled"] = rnd() < 0.5
            if syndrome == "insulinoma":
                labs = {"fasting_glucose_mmol_l": round(1.8 + 1.0 * rnd(), 1)}
                if rnd() < 0.2:
                    worse = rnd() < 0.2
                    tumor["ssa_test_dose"] = "hypoglycemia_worsened" if worse else "tolerated"
            elif syndrome == "gastrinoma":
                labs = {"gastrin_pg_ml": round(300 + 3000 * rnd() ** 2), "gastric_ph": 1.5}
                if rnd() < 0.25:
                    self.germline = "men1"
            elif syndrome == "vipoma":
                labs = {"vip_pg_ml": round(150 + 800 * rnd())}
                labs["potassium_mmol_l"] = round(2.4 + 0.8 * rnd(), 1)
                tumor["bowel_movements_per_day"] = 8 + int(rnd() * 12)
            elif syndrome == "glucagonoma":
                labs = {"glucagon_pg_ml": round(500 + 2000 * rnd())}
        if category in ("type_1", "type_2"):
            labs = {"gastrin_pg_ml": round(400 + 1500 * rnd())}
            labs["gastric_ph"] = 7.0 if category == "type_1" else 1.5
            if category == "type_2":
                self.germline = "men1"
        elif site == "pancreas" and self.germline is None and rnd() < 0.05:
            self.germline = "men1" if rnd() < 0.8 else "vhl"
        self.syndrome_labs = labs
        if self.advanced:
            if "bone" in tumor["metastases"] and rnd() < 0.4:
                symptoms.append("bone_pain")
            if rnd() < 0.12:
                liver = "liver" in tumor["metastases"]
                symptoms.append("hepatomegaly_pain" if liver else "weight_loss")
            if self.nec and "weight_loss" not in symptoms and rnd() < 0.4:
                symptoms.append("weight_loss")
            if site == "small_intestine" and rnd() < 0.06:
                symptoms.append("bowel_obstruction")
            if rnd() < 0.85:
                tumor["bulky_or_symptomatic"] = (bool(symptoms) and rnd() < 0.6) or rnd() < 0.1
        elif stage == "regional" and site == "small_intestine" and rnd() < 0.08:
            symptoms.append("bowel_obstruction")
        if symptoms or rnd() < 0.7:
            tumor["symptoms"] = symptoms

    # --- patient ---------------------------------------------------------------------------

    def _patient(self) -> Doc:
        rnd, site = self.rnd, self.site
        mean, sd = AGE_MEAN_SD.get(site, AGE_MEAN_SD["default"])
        age = min(95, max(18, round(self.rng.gauss(mean, sd))))
        sex = "female" if site == "ovary" or rnd() < FEMALE_SHARE else "male"
        group = ("advanced_nec" if self.nec else "advanced_net") if self.advanced else "local"
        ecog: int | None = _ECOG[group](rnd)
        if ecog is not None and age >= 80 and ecog < 2 and rnd() < 0.3:
            ecog += 1
        self.ecog = ecog
        patient: Doc = {"age_years": age, "sex": sex}
        if ecog is not None:
            patient["ecog"] = ecog
        elif rnd() < 0.3:
            patient["karnofsky"] = 90 - 10 * int(rnd() * 4)
        self.frail = frail = (ecog is not None and ecog >= 3) or (age >= 82 and rnd() < 0.5)
        if frail:
            patient["frail"] = True
        if sex == "female" and age < 48:
            patient["pregnant_or_breastfeeding"] = rnd() < 0.01
        germline = self.germline or _GERMLINE(rnd)
        if germline is not None:
            patient["germline_syndrome"] = germline
        if rnd() < 0.8:
            patient["fit_for_major_surgery"] = (
                not frail and (ecog is None or ecog <= 1) and age < 82
            )
        if age >= 85 and rnd() < 0.3:
            patient["life_expectancy_months"] = 12 + int(rnd() * 36)
        if rnd() >= COMORBIDITIES_MISSING_P:
            patient["comorbidities"] = self._comorbidities(age)
        labs = self._labs(age) if rnd() >= LABS_MISSING_P else None
        if self.syndrome_labs is not None and (labs is not None or rnd() < 0.7):
            labs = {**(labs or {}), **self.syndrome_labs}
        if labs is not None:
            patient["labs"] = labs
        if self.advanced and rnd() < 0.4:
            patient["pharmacogenomics"] = {"dpyd": _DPYD(rnd), "ugt1a1": "untested"}
        return patient

    def _comorbidities(self, age: int) -> Doc:
        rnd = self.rnd
        older = 1.0 if age < 65 else 1.6
        diabetes: str = _DIABETES(rnd)
        comorbidities: Doc = {
            "diabetes": diabetes,
            "hypertension": _HYPERTENSION(rnd),
            "heart_failure_nyha": _NYHA(rnd),
        }
        if diabetes != "none" and rnd() < 0.5:
            base = {"controlled": 6.8, "uncontrolled": 9.2}.get(diabetes, 7.6)
            comorbidities["hba1c_percent"] = round(base + 0.8 * (rnd() - 0.5), 1)
        for name, p in _COMORBIDITY_FLAGS:
            comorbidities[name] = rnd() < p * older
        return comorbidities

    def _labs(self, age: int) -> Doc:
        rnd, gauss = self.rnd, self.rng.gauss
        advanced = self.advanced
        egfr = max(12, min(130, round(gauss(95 - 0.5 * max(0, age - 40), 16))))
        wbc = max(1.5, round(gauss(6.5, 1.6), 1))
        labs: Doc = {
            "egfr_ml_min": egfr,
            "creatinine_clearance_ml_min": max(10, round(egfr * (1.0 + 0.1 * rnd()))),
            "hemoglobin_g_dl": max(7.0, round(gauss(12.3 if advanced else 13.3, 1.4), 1)),
            "wbc_10e9_l": wbc,
            "neutrophils_10e9_l": round(wbc * (0.5 + 0.2 * rnd()), 1),
            "platelets_10e9_l": max(40, round(gauss(250, 60))),
            "bilirubin_x_uln": round(0.3 + 0.7 * rnd() + (0.6 * rnd() if advanced else 0.0), 1),
            "albumin_g_l": max(22, round(gauss(37 if advanced else 41, 4))),
        }
        if advanced and not self.nec and rnd() < 0.5:
            labs["chromogranin_a_x_uln"] = round(1 + 20 * rnd() ** 2, 1)
        return labs

    # --- course: treatment history and the scenario of the actual decision -------------------

    def _course(self, tumor: Doc) -> tuple[str, int]:
        """Fill the history and the current course; return the practice scenario and the day
        (since diagnosis) of the decision that the actual treatment follows."""
        stage = self.stage
        if self.category == "goblet":
            return self._local(tumor, "goblet")
        if stage == "unknown":
            return ("nec_first" if self.nec else "not_staged"), 0
        if stage in ("localized", "regional"):
            return self._local(tumor, None)
        return self._advanced(tumor, removed=None)

    def _local(self, tumor: Doc, scenario: str | None) -> tuple[str, int]:
        rnd, site, size, category = self.rnd, self.site, self.size, self.category
        nec = self.nec or category == "minen"
        if rnd() < _REMOVED_BEFORE_P.get(site, 0.4):
            tumor["primary_removed"] = True
            tumor["resection_margin"] = _MARGIN(rnd)
            if site == "appendix":
                therapy, detail = "appendectomy", "laparoscopic appendectomy for appendicitis"
            elif site in ("rectum", "stomach", "duodenum") and size <= 15:
                therapy, detail = "endoscopic_resection", ("EMR", "ESD")[int(rnd() * 2)]
            else:
                therapy, detail = "surgical_resection", self._surgery_detail()
            self._event({"therapy": therapy, "stop_reason": "completed", "details": detail}, 0, 0)
            if scenario is None:
                if nec:
                    scenario = "nec_local"
                elif site == "appendix" and therapy == "appendectomy" and size > 20:
                    scenario = "resected_appendix_large"
                else:
                    scenario = "resected"
            return scenario, 14 + int(rnd() * 47)
        if rnd() < 0.8:
            tumor["primary_removed"] = False
        resectability = _RESECTABILITY_REGIONAL(rnd) if self.stage == "regional" else None
        if resectability is None and rnd() < 0.85:
            resectability = "resectable"
        if resectability is not None:
            tumor["resectability"] = resectability
        if scenario is not None:
            return scenario, 0
        if nec:
            return "nec_local", 0
        if resectability == "unresectable":
            return self._advanced(tumor, removed=False)
        syndrome = self.syndrome
        if site == "rectum" and size <= 20:
            return "local_rectum_small", 0
        if category == "type_1":
            return "local_gastric_type1", 0
        if site in ("pancreas", "duodenum") and syndrome != "none":
            if syndrome in ("insulinoma", "gastrinoma"):
                return f"local_{syndrome}", 0
            return "local_other_functioning_pnet", 0
        if site == "pancreas" and size <= 20:
            return "local_pnet_small", 0
        if site in ("lung", "thymus"):
            return "local_lung", 0
        return "local_default", 0

    def _surgery_detail(self) -> str:
        options = _SURGERY_DETAIL.get(self.site, ("resection of the primary",))
        return options[int(self.rnd() * len(options))]

    def _advanced(self, tumor: Doc, removed: bool | None) -> tuple[str, int]:
        rnd, site = self.rnd, self.site
        day = 0
        if removed is None:
            removed = rnd() < _REMOVED_BEFORE_DISTANT_P.get(site, 0.0)
            if removed:
                therapy = "appendectomy" if site == "appendix" and rnd() < 0.5 else None
                detail = self._surgery_detail()
                item: Doc = {"therapy": therapy or "surgical_resection"}
                item["stop_reason"] = "completed"
                item["details"] = detail if therapy is None else "appendectomy"
                self._event(item, 0, 0)
                tumor["primary_removed"] = True
                tumor["resection_margin"] = _MARGIN(rnd)
                day = 30 + int(rnd() * 60)
            elif site != "unknown_primary" and rnd() < 0.8:
                tumor["primary_removed"] = False
            resectability = _RESECTABILITY_DISTANT(rnd)
            if resectability is not None:
                tumor["resectability"] = resectability
        if self.nec or self.category == "minen":
            return self._nec_lines(tumor, day)
        return self._net_lines(tumor, day)

    def _nec_lines(self, tumor: Doc, day: int) -> tuple[str, int]:
        rnd = self.rnd
        if _PRIOR_NEC(rnd) == 0:
            course = "rapidly_progressive" if rnd() < 0.4 else None
            self._set_course(tumor, course)
            return "nec_first", day + int(rnd() * 20)
        start = day + 14 + int(rnd() * 21)
        cycles = 4 + int(rnd() * 3)
        response: str = _NEC_RESPONSE(rnd)
        months = (2 + 3 * rnd()) if response == "pd" else (4 + 8 * rnd())
        months = max(months, cycles * 0.7 + 0.5) if response != "pd" else months
        progression = start + round(months * _MONTH_DAYS)
        end = min(start + cycles * 21, progression)
        item: Doc = {"therapy": "platinum_etoposide", "cycles": cycles, "best_response": response}
        item["stop_reason"] = "progression" if end == progression else "completed"
        item["months_to_progression"] = round(months, 1)
        self._event(item, start, end)
        self._set_course(tumor, "rapidly_progressive" if rnd() < 0.4 else "progressive")
        return "nec_second", progression + int(rnd() * 21)

    def _net_lines(self, tumor: Doc, day: int) -> tuple[str, int]:
        rnd, site = self.rnd, self.site
        lines: int = _PRIOR_NET(rnd)
        if lines == 0:
            course: str | None = _COURSE_NEW(rnd)
            self._set_course(tumor, course)
            return self._first_line_scenario(), day + int(rnd() * 20)
        first = "capecitabine_temozolomide" if self.grade == "g3" and rnd() < 0.5 else "ssa"
        given = [first]
        group = "pancreas" if site == "pancreas" else "other"
        while len(given) < lines:
            choices = {k: w for k, w in _NEXT_LINE[group].items() if k not in given}
            if not self.imaged:
                choices.pop("prrt", None)
            given.append(_weighted(choices)(rnd) if choices else "cabozantinib")
        start = day + 14 + int(rnd() * 30)
        stable_on_ssa = lines == 1 and first == "ssa" and rnd() < 0.3
        for index, line in enumerate(given):
            last = index == len(given) - 1
            if last and stable_on_ssa:
                months = 6 + 30 * rnd()
                item: Doc = {"therapy": _SSA_HISTORY(rnd), "ongoing": True, "best_response": "sd"}
                self._event(item, start, None)
                self._set_course(tumor, "stable")
                return "stable_on_ssa", start + round(months * _MONTH_DAYS)
            ongoing = last and rnd() < 0.5
            progression = self._line(line, start, ongoing=ongoing, may_stop_early=not last)
            start = progression + 14 + int(rnd() * 45)
        # ki-67 measured again at progression (a rise may cross into G3)
        if self.ki67 >= 0 and rnd() < 0.25:
            earlier = round(max(0.5, self.ki67 * (0.3 + 0.6 * rnd())), 1)
            tumor["ki67_history"] = [{"date": 0, "percent": earlier, "specimen": "primary"}]
        self._set_course(tumor, "rapidly_progressive" if rnd() < 0.15 else "progressive")
        if len(given) >= 2 or first != "ssa":
            scenario = "later"
        elif site == "pancreas":
            scenario = "after_ssa_pnet"
        elif self.imaged and self.krenning_max != 0:
            scenario = "after_ssa_gep_imaged"
        else:
            scenario = "after_ssa_gep_not_imaged"
        return scenario, progression + int(rnd() * 21)

    def _first_line_scenario(self) -> str:
        site, syndrome = self.site, self.syndrome
        if syndrome == "carcinoid_syndrome":
            return "first_carcinoid_syndrome"
        if syndrome != "none":
            return "first_functioning_pnet"
        if self.grade == "g3":
            return "first_net_g3"
        if site == "pancreas":
            return "first_pnet"
        if site in ("lung", "thymus"):
            return "first_lung"
        return "first_gep"

    def _line(self, line: str, start: int, *, ongoing: bool, may_stop_early: bool) -> int:
        """Add one line of treatment for well-differentiated NET; return the day it failed
        (progression, or stopped for toxicity when ``may_stop_early``)."""
        rnd = self.rnd
        item: Doc
        end: int | None
        if line == "ssa":
            response = "pr" if rnd() < 0.05 else "sd" if rnd() < 0.9 else "pd"
            months = (3 + 5 * rnd()) if response == "pd" else (8 + 32 * rnd())
            item = {"therapy": _SSA_HISTORY(rnd), "best_response": response}
        elif line == "prrt":
            cycles = 4 if rnd() < 0.85 else 2 + int(rnd() * 2)
            therapy = "prrt_lu177_dotatate" if rnd() < 0.9 else "prrt_other"
            response = "pr" if rnd() < 0.25 else "sd" if rnd() < 0.87 else "pd"
            months = (4 + 4 * rnd()) if response == "pd" else (14 + 22 * rnd())
            item = {"therapy": therapy, "cycles": cycles, "best_response": response}
            end = start + (cycles - 1) * 56
            progression = start + round(months * _MONTH_DAYS)
            item["stop_reason"] = "completed" if end <= progression else "progression"
            item["months_to_progression"] = round(months, 1)
            self._event(item, start, min(end, progression))
            return progression
        elif line == "liver_directed":
            therapy = _LIVER_HISTORY[int(rnd() * len(_LIVER_HISTORY))]
            months = 6 + 14 * rnd()
            item = {"therapy": therapy, "best_response": "pr" if rnd() < 0.4 else "sd"}
            item["stop_reason"] = "completed"
            item["months_to_progression"] = round(months, 1)
            self._event(item, start, start)
            return start + round(months * _MONTH_DAYS)
        else:  # oral targeted drugs and chemotherapy, given until progression
            low, high = _LINE_MONTHS.get(line, (5.0, 16.0))
            response = "pr" if rnd() < _LINE_PR.get(line, 0.05) else "sd" if rnd() < 0.85 else "pd"
            months = (2 + 3 * rnd()) if response == "pd" else (low + (high - low) * rnd())
            item = {"therapy": line, "best_response": response}
            if line == "capecitabine_temozolomide":
                item["cycles"] = max(1, min(12, round(months)))
        progression = start + round(months * _MONTH_DAYS)
        item["months_to_progression"] = round(months, 1)
        if ongoing:
            item["ongoing"] = True
            end = None
        elif may_stop_early and rnd() < 0.12:
            item["stop_reason"] = "toxicity"
            del item["months_to_progression"]
            end = start + 30 + round((progression - start) * rnd())
            progression = end
        else:
            item["stop_reason"] = "progression"
            end = progression
        self._event(item, start, end)
        return progression

    def _event(self, item: Doc, start: int, end: int | None) -> None:
        self.events.append((item, start, end))

    def _set_course(self, tumor: Doc, course: str | None) -> None:
        if course is not None:
            tumor["disease_course"] = course
            if self.rnd() < 0.7:
                tumor["months_observed"] = 2 + int(self.rnd() * 11)

    def _treatments(self, base: int, as_of: int) -> list[Doc]:
        iso, rnd = self.iso, self.rnd
        treatments: list[Doc] = []
        for item, start, end in self.events:
            month_only = as_of - (base + start) > 730 and rnd() < 0.3
            first = iso[base + start]
            item["start"] = first[:7] if month_only else first
            if end is not None:
                last = iso[base + end]
                item["end"] = last[:7] if month_only else last
            treatments.append(_ordered(item))
        return treatments

    # --- preferences and the treatment actually given -------------------------------------

    def _preferences(self, scenario: str) -> Doc | None:
        rnd = self.rnd
        preferences: Doc | None = None
        if rnd() < DECLINES_P:
            key = scenario.split("_", 1)[0]
            if key in ("resected", "not", "goblet", "stable"):
                key = "local" if key != "stable" else "after"
            self.declines = _DECLINE_TARGETS.get(key, ("surgical_resection",))
            preferences = {"declines": list(self.declines)}
        if rnd() < PREFERENCES_P:
            preferences = preferences or {}
            if rnd() < 0.5:
                preferences["prefers_oral"] = rnd() < 0.6
            if rnd() < 0.5:
                preferences["language"] = "es" if rnd() < 0.12 else "en"
            preferences["wants_trial_information"] = rnd() < 0.4
        return preferences

    def _actual(self, scenario: str) -> str:
        rnd = self.rnd
        if self.frail and rnd() < FRAIL_SUPPORTIVE_P:
            option: str = "best_supportive_care"
        else:
            pick = _PRACTICE[scenario]
            option = pick(rnd)
            if self.declines and not members(option).isdisjoint(self.declines):
                option = pick(rnd)  # the patient's refusal is usually respected
        recorded = _RECORDED.get(option)
        return recorded(rnd) if recorded is not None else option


_HISTOTYPE: Final[dict[str, str]] = {
    "tc": "typical_carcinoid",
    "ac": "atypical_carcinoid",
    "lcnec": "large_cell_nec",
    "sclc": "small_cell_nec",
}
_GRADE_OF: Final[dict[str, str]] = {"net_g1": "g1", "tc": "g1", "net_g2": "g2", "ac": "g2"}
_WALL_SITES: Final = frozenset({"rectum", "stomach", "appendix", "colon", "duodenum"})
_LINE_MONTHS: Final[dict[str, tuple[float, float]]] = {
    "everolimus": (5.0, 18.0),
    "sunitinib": (5.0, 16.0),
    "capecitabine_temozolomide": (8.0, 24.0),
    "cabozantinib": (4.0, 14.0),
}
_LINE_PR: Final[dict[str, float]] = {"capecitabine_temozolomide": 0.3, "sunitinib": 0.1}
_TREATMENT_KEYS: Final = (
    "therapy",
    "start",
    "end",
    "ongoing",
    "best_response",
    "stop_reason",
    "months_to_progression",
    "cycles",
    "details",
)


def _ordered(item: Doc) -> Doc:
    """The treatment with its keys in the order of the case format."""
    return {key: item[key] for key in _TREATMENT_KEYS if key in item}
