"""Which cancer a record entry is about, when the record holds more than one cancer.

:func:`classify` says what a Condition is: the neuroendocrine primary (``net``), another primary
cancer (``other``), a secondary neoplasm (``secondary``) or none of these (``None``).
:func:`attribute` then gives, for each Observation and secondary-cancer Condition, why it must
not fill a tumour-specific field (cancers.yaml ``tumour_specific_fields``):

* ``other``: it names (``Observation.focus`` or a condition-link extension of cancers.yaml)
  only another cancer's Condition — not the NEN's result, never used;
* ``ambiguous``: the record holds another *active* cancer (:func:`not_competing`: not
  resolved, in remission or abated, not in situ, not a skin cancer, not a malignancy of
  unspecified site, not the NEN's own organ) and the entry names neither cancer (or a
  Condition that is not in the record), or it names both — the field it would fill is left
  unknown.

With no active other cancer in the record only entries naming another cancer are withheld.
:func:`withhold` applies the verdicts to the gathered candidates. The code ranges and the field
list are data (``data/cancers.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from netnav.fhir.codes import CodeTables, normal_icdo3
from netnav.fhir.facts import Candidate, Facts
from netnav.fhir.values import codings

__all__ = [
    "Verdict",
    "attribute",
    "classify",
    "describe_condition",
    "not_competing",
    "primary_sites",
    "withhold",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why an entry must not fill tumour-specific fields: ``kind`` ``other`` or
    ``ambiguous``, and the sentence for the report."""

    kind: str
    reason: str


def _icd10(cond: Any, tables: CodeTables) -> list[str]:
    return [str(c) for s, c, _ in codings(cond.code) if tables.is_icd10(s) and c]


def _morphology_codes(cond: Any, tables: CodeTables) -> list[str]:
    url = tables.uri("histology_morphology_behavior")
    found: list[str] = []
    for ext in cond.extension or []:
        if ext.url != url:
            continue
        for system, code, _ in codings(ext.valueCodeableConcept):
            if system in (tables.uri("icdo3"), tables.uri("icdo3_oid")) and code:
                found.append(normal_icdo3(str(code)))
            elif system == tables.uri("snomed") and str(code) in tables.morphology_snomed:
                found.append(str(tables.morphology_snomed[str(code)]["icdo3"]))
    return found


def _profiles(cond: Any) -> set[str]:
    meta = getattr(cond, "meta", None)
    return {str(p).split("|")[0] for p in (meta.profile or [])} if meta is not None else set()


def classify(cond: Any, tables: CodeTables) -> str | None:
    """``net``, ``other``, ``secondary`` or ``None`` (not a cancer netnav can place)."""
    icd = _icd10(cond, tables)
    morphologies = _morphology_codes(cond, tables)
    neuroendocrine = any(m in tables.morphology for m in morphologies)
    malignant_other = any(
        m.endswith(("/3", "/2")) and m not in tables.morphology for m in morphologies
    )
    if any(tables.is_secondary_code(code) for code in icd):
        return "secondary"
    for code in icd:
        hit = tables.icd10(code, "primary")
        if hit is not None:
            if not hit[1].get("needs_morphology") or neuroendocrine:
                return "net"
            return "other"
    if any(tables.is_other_cancer_code(code) for code in icd):
        return "net" if neuroendocrine else "other"
    profiles = _profiles(cond)
    if tables.uri("secondary_cancer_profile") in profiles:
        return "secondary"
    if neuroendocrine:
        return "net"
    if malignant_other:
        return "other"
    if tables.uri("primary_cancer_profile") in profiles:
        return "net"  # read as the primary (its body site), as before; see docs/fhir.md
    return None


def describe_condition(cond: Any, label: str) -> str:
    """``Condition/x (breast cancer text or first coding)`` for the report."""
    text = getattr(cond.code, "text", None) if cond.code is not None else None
    if not text:
        for _, code, display in codings(cond.code):
            text = display or code
            if text:
                break
    return f"{label} ({text})" if text else label


def primary_sites(cond: Any, tables: CodeTables) -> set[str]:
    """The NEN primary sites a Condition's codes and body sites name (sites.yaml)."""
    found: set[str] = set()
    for code in _icd10(cond, tables):
        hit = tables.icd10(code, "primary")
        if hit is not None and hit[1]["sets"].get("tumor.primary_site"):
            found.add(str(hit[1]["sets"]["tumor.primary_site"]))
    for concept in cond.bodySite or []:
        for system, snomed, _ in codings(concept):
            if system == tables.uri("snomed") and snomed in tables.body_sites:
                site = tables.body_sites[snomed].get("primary")
                if site:
                    found.add(str(site))
    return found


def not_competing(
    cond: Any, tables: CodeTables, net_sites: set[str], abated: str | None
) -> str | None:
    """Why another cancer's Condition does not compete with the NEN for tumour results
    (cancers.yaml: not active, in situ, skin, unspecified site, the NEN's own organ), or
    ``None`` when it does. ``abated``: the importer's abatement text (``abated 2015-03``)."""
    for _, code, _ in codings(cond.clinicalStatus):
        if code in tables.inactive_statuses:
            return f"recorded as {code}"
        break
    if abated is not None:
        return abated
    for code in _icd10(cond, tables):
        reason = tables.not_competing_reason(code)
        if reason is not None:
            return f"ICD-10 {code}: {reason}"
    for morphology in _morphology_codes(cond, tables):
        reason = tables.not_competing_behaviour.get(morphology.rpartition("/")[2])
        if reason is not None:
            return f"ICD-O-3 {morphology}: {reason}"
    for code in _icd10(cond, tables):
        same = set(tables.organ_sites(code)) & net_sites
        if same:
            return (
                f"ICD-10 {code} names the organ of the neuroendocrine primary "
                f"({', '.join(sorted(same))}): read as the same tumour coded before pathology, "
                "not another cancer"
            )
    return None


def _link_references(resource: Any, tables: CodeTables) -> list[str]:
    refs: list[str] = []
    for ref in getattr(resource, "focus", None) or []:
        if ref.reference:
            refs.append(str(ref.reference))
    for ext in resource.extension or []:
        if ext.url in tables.condition_links:
            value = getattr(ext, "valueReference", None)
            if value is not None and value.reference:
                refs.append(str(value.reference))
    return refs


def attribute(
    entries: Iterable[tuple[str, str, Any]],
    kinds: dict[str, str],
    describe: dict[str, str],
    resolve: Callable[[str], str | None],
    tables: CodeTables,
    competing: set[str] | None = None,
) -> dict[str, Verdict]:
    """Verdicts for Observations and secondary-cancer Conditions.

    ``entries``: ``(label, type, resource)``; ``kinds``: Condition label → :func:`classify`
    result; ``describe``: Condition label → report text; ``resolve``: a reference → the
    label of the entry it names (``None`` when not in the record); ``competing``: the other
    cancers that are active (:func:`not_competing`; default: every ``other``). An entry naming
    only another cancer is never used; one naming neither is left unknown only while a
    competing cancer is in the record.
    """
    all_others = [label for label, kind in kinds.items() if kind == "other"]
    if not all_others:
        return {}
    others = [o for o in all_others if competing is None or o in competing]
    nets = [label for label, kind in kinds.items() if kind == "net"]
    other_text = ", ".join(describe[o] for o in others)
    named_only = "the mCODE related-primary-cancer-condition extension"
    verdicts: dict[str, Verdict] = {}
    for label, type_, resource in entries:
        if type_ == "Condition":
            if kinds.get(label) != "secondary":
                continue
            codes = _icd10(resource, tables)
            morph = _morphology_codes(resource, tables)
            net_specific = any(tables.is_net_secondary_code(c) for c in codes) or any(
                m.split("/")[0] + "/3" in tables.morphology for m in morph
            )
            link = named_only
        elif type_ == "Observation":
            net_specific = False
            link = "Observation.focus"
        else:
            continue
        refs = _link_references(resource, tables)
        targets = [(ref, resolve(ref)) for ref in refs]
        named_other = [t for _, t in targets if t is not None and kinds.get(t) == "other"]
        named_net = [t for _, t in targets if t is not None and kinds.get(t) != "other"]
        missing = [ref for ref, t in targets if t is None]
        if named_other and not named_net:
            shown = ", ".join(describe.get(t, t) for t in named_other)
            verdicts[label] = Verdict(
                "other", f"about {shown}, not the neuroendocrine tumour: not used"
            )
        elif named_other:
            shown = ", ".join(describe.get(t, t) for t in named_other)
            verdicts[label] = Verdict(
                "ambiguous",
                f"names both the neuroendocrine tumour and another cancer ({shown}); left unknown",
            )
        elif named_net or net_specific or not others:
            continue
        elif missing:
            verdicts[label] = Verdict(
                "ambiguous",
                f"names {', '.join(missing)}, which is not in the record, and another active "
                f"cancer is recorded ({other_text}); left unknown",
            )
        elif nets:
            verdicts[label] = Verdict(
                "ambiguous",
                f"another active cancer is recorded ({other_text}) and this result is not linked "
                f"to the neuroendocrine tumour ({', '.join(describe[n] for n in nets)}); "
                f"link it with {link} to use it; left unknown",
            )
        else:
            verdicts[label] = Verdict(
                "ambiguous",
                f"another active cancer is recorded ({other_text}) and no neuroendocrine primary "
                f"this result is linked to; link it with {link} to use it; left unknown",
            )
    return verdicts


def withhold(
    facts: Facts,
    ki67: list[Any],
    sstr: list[Candidate],
    verdicts: dict[str, Verdict],
    tables: CodeTables,
    withheld: dict[str, set[str]] | None = None,
) -> tuple[list[Any], list[Candidate]]:
    """Remove tumour-specific candidates of entries with a verdict (each listed); a field with
    an ``ambiguous`` candidate is left unknown altogether (its other candidates listed too).
    Returns the Ki-67 values and SSTR panels kept; ``withheld`` (if given) gathers, per
    resource not linked to the NEN, the fields it would have filled."""
    if not verdicts:
        return ki67, sstr

    def split(path: str, items: list[Any], resource: Callable[[Any], str]) -> list[Any]:
        hit = [i for i in items if resource(i) in verdicts]
        if not hit:
            return items
        ambiguous = [i for i in hit if verdicts[resource(i)].kind == "ambiguous"]
        shown = f"{tables.field_name(path)} result ({path})"
        for item in hit:
            facts.note(
                resource(item), _element(item), f"{shown}: {verdicts[resource(item)].reason}"
            )
            if withheld is not None and verdicts[resource(item)].kind == "ambiguous":
                withheld.setdefault(resource(item), set()).add(path)
        kept = [i for i in items if resource(i) not in verdicts]
        if ambiguous:
            cause = resource(ambiguous[0])
            for item in kept:
                facts.note(
                    resource(item),
                    _element(item),
                    f"{shown}: left unknown: {cause}, not linked to either cancer, may be this "
                    "tumour's newer or differing result",
                )
            return []
        return kept

    for store in (facts.single, facts.arrays):
        for path in list(store):
            if tables.is_tumour_specific(path):
                kept = split(path, store[path], lambda c: str(c.resource))
                if kept:
                    store[path] = kept
                else:
                    del store[path]
    kept_ki67 = split("tumor.ki67_percent", ki67, lambda k: str(k.resource))
    kept_sstr = split("tumor.sstr_imaging", sstr, lambda c: str(c.resource))
    return kept_ki67, kept_sstr


def _element(item: Any) -> str:
    element = getattr(item, "element", None)
    return str(element) if element else "Observation.valueQuantity"
