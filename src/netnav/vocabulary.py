"""The option vocabulary of ../shared/spec/options.md: ids only, no clinical content.

Cases, plans, tests and importers agree on these ids; the knowledge base owns what each
option means. Regenerate from options.md when the spec adds an id (an issue asks first).
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALL_THERAPY_IDS", "GROUPS", "HISTORY_ONLY_IDS", "OPTION_IDS", "TEST_IDS", "members"]

OPTION_IDS: Final[tuple[str, ...]] = (
    "no_further_treatment",
    "active_surveillance",
    "endoscopic_surveillance",
    "best_supportive_care",
    "endoscopic_resection",
    "local_excision",
    "surgical_resection",
    "appendectomy",
    "cytoreductive_surgery",
    "liver_transplantation",
    "thermal_ablation",
    "bland_embolization",
    "chemoembolization",
    "deb_tace",
    "radioembolization",
    "external_beam_radiotherapy",
    "chemoradiotherapy",
    "eus_radiofrequency_ablation",
    "parathyroidectomy",
    "cardiac_valve_surgery",
    "octreotide_lar",
    "lanreotide",
    "octreotide_short_acting",
    "ssa_dose_escalation",
    "prrt_lu177_dotatate",
    "prrt_lu177_edotreotide",
    "everolimus",
    "sunitinib",
    "cabozantinib",
    "capecitabine_temozolomide",
    "temozolomide",
    "streptozocin_fluorouracil",
    "streptozocin_doxorubicin",
    "platinum_etoposide",
    "irinotecan_cisplatin",
    "folfox",
    "folfiri",
    "nal_irinotecan_fluorouracil",
    "docetaxel",
    "ipilimumab_nivolumab",
    "interferon_alpha",
    "telotristat_ethyl",
    "diazoxide",
    "glucocorticoids",
    "proton_pump_inhibitor",
    "fluid_electrolyte_replacement",
    "anticoagulation",
    "pancreatic_enzyme_replacement",
    "nutritional_support",
    "bone_modifying_agent",
    "clinical_trial",
    "genetic_counseling",
    "specialist_referral",
)

HISTORY_ONLY_IDS: Final[tuple[str, ...]] = (
    "ssa_unspecified",
    "chemotherapy_unspecified",
    "embolization_unspecified",
    "prrt_other",
    "other_treatment",
)

TEST_IDS: Final[tuple[str, ...]] = (
    "sstr_pet",
    "fdg_pet",
    "multiphasic_ct_or_mri",
    "endoscopic_ultrasound",
    "pelvic_mri",
    "biopsy",
    "ki67_assessment",
    "echocardiogram",
    "nt_probnp",
    "urinary_5hiaa",
    "fasting_gastrin",
    "dpyd_genotyping",
    "mgmt_status",
    "msi_testing",
    "germline_testing",
    "brain_imaging",
    "renal_function",
    "blood_counts",
)

ALL_THERAPY_IDS: Final[frozenset[str]] = frozenset(OPTION_IDS) | frozenset(HISTORY_ONLY_IDS)

GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "ssa": (
        "octreotide_lar",
        "lanreotide",
    ),
    "prrt": (
        "prrt_lu177_dotatate",
        "prrt_lu177_edotreotide",
    ),
    "liver_directed": (
        "bland_embolization",
        "chemoembolization",
        "radioembolization",
        "thermal_ablation",
    ),
    "embolization": (
        "bland_embolization",
        "chemoembolization",
        "radioembolization",
    ),
    "pnet_chemotherapy": (
        "capecitabine_temozolomide",
        "streptozocin_fluorouracil",
        "streptozocin_doxorubicin",
    ),
    "temozolomide_based": (
        "capecitabine_temozolomide",
        "temozolomide",
    ),
    "nec_first_line": (
        "platinum_etoposide",
        "irinotecan_cisplatin",
    ),
    "nec_second_line": (
        "folfiri",
        "nal_irinotecan_fluorouracil",
    ),
    "local_removal": (
        "endoscopic_resection",
        "local_excision",
    ),
    "observation": (
        "active_surveillance",
        "endoscopic_surveillance",
    ),
}


def members(entry: str) -> frozenset[str]:
    """Option ids meant by ``entry``: the group's members, or the id itself."""
    return frozenset(GROUPS.get(entry, (entry,)))
