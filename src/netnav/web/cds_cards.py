"""A netnav plan as CDS Hooks cards (CDS Hooks 2.0, "CDS Service Response").

:func:`plan_cards` gives the ``plan`` card — options best first with their reasons and
evidence, what to avoid, the missing information with the test that settles it, and what of the
record was not used — and, when the patient is receiving a therapy the plan advises against, a
``safety`` card. :func:`unplannable_card` is the one card of a record netnav cannot plan from,
:func:`incomplete_card` the one ``warning`` card of a record that could not be read completely
(no plan: never a plan from part of the record presented as whole, safety case H-22), and
:func:`deceased_card` the one ``info`` card of a patient the record shows as deceased.

The indicator is read from the plan, not from clinical conditions written here:

* ``critical``: an option of the plan is recommended by a rule in the knowledge base's urgent
  band (rule priority up to ``urgent_priority_max`` of ``web/data/cds_cards.yaml``: crises,
  fluids, valve surgery), or the patient
  is receiving (``ongoing``) a therapy the plan lists under ``avoid``;
* ``warning``: the plan lists therapies to avoid, or an option carries cautions;
* ``info``: otherwise.

Card ids are UUID 5 of the ``hookInstance``, the card kind and the saved plan's id (when a
plan was saved): deterministic, and two calls that reuse a ``hookInstance`` but save different
plans give different card ids (feedback names one plan's card, never another's). Cards without
a plan (incomplete, deceased, unplannable) keep the same id for a repeated call. Text that comes from the patient's record is escaped before it goes into Markdown.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from netnav.errors import CaseProblem
from netnav.fhir import Unmapped
from netnav.knowledge.load import Knowledge
from netnav.web.cds_prefetch import Gap
from netnav.web.pages import FHIR_UPLOAD_PATH

__all__ = [
    "CARD_NAMESPACE",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
    "SUMMARY_MAX",
    "TOPIC_SYSTEM",
    "CardContext",
    "card_uuid",
    "deceased_card",
    "incomplete_card",
    "plan_cards",
    "unplannable_card",
    "urgent_priority",
]

SUMMARY_MAX: Final = 140
"""The spec's limit on a card's ``summary`` (characters)."""


@cache
def urgent_priority() -> int:
    """The highest rule priority that counts as urgent (``web/data/cds_cards.yaml``)."""
    text = resources.files("netnav.web").joinpath("data/cds_cards.yaml").read_text("utf-8")
    return int(yaml.safe_load(text)["urgent_priority_max"])


CARD_NAMESPACE: Final = uuid.UUID("4f0c5b0e-6a3e-5d1c-9a51-6e65746e6176")
TOPIC_SYSTEM: Final = "https://fhir.netnav.org/CodeSystem/cds-topic"
OVERRIDE_SYSTEM: Final = "https://fhir.netnav.org/CodeSystem/cds-override-reason"
OVERRIDE_REASONS: Final[tuple[dict[str, str], ...]] = (
    {"system": OVERRIDE_SYSTEM, "code": "patient-preference", "display": "Patient's preference"},
    {"system": OVERRIDE_SYSTEM, "code": "tumour-board", "display": "Tumour board decided otherwise"},
    {"system": OVERRIDE_SYSTEM, "code": "record-incomplete", "display": "The record is incomplete or wrong"},
    {"system": OVERRIDE_SYSTEM, "code": "already-addressed", "display": "Already addressed"},
    {"system": OVERRIDE_SYSTEM, "code": "clinical-judgement", "display": "Clinical judgement"},
)  # fmt: skip
"""Override reasons offered on every card (``overrideReasons``); feedback may cite them."""
CHECK_FIRST: Final = ("Another active cancer is recorded",)
"""Reasons of the import's unmapped items that open a card in "Check first" (and make it at
least a ``warning``): the import's summary of something that withheld part of the record."""
LEVELS: Final = ("info", "warning", "critical")
UNMAPPED_GROUPS_SHOWN: Final = 15
"""At most this many lines (groups of like items) in a card's "Not used from the record"."""
_MD_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()#!|<>&~])")
_FIELD_PREFIX: Final = re.compile(r"^[a-z_]+(?:\.[a-z0-9_]+)+: ")


@dataclass(frozen=True)
class CardContext:
    """Where the cards point: the saved plan's page, the SMART launch, the service's home."""

    hook_instance: str
    base_url: str
    plan_id: str | None = None
    smart_launch_url: str | None = None

    @property
    def plan_url(self) -> str | None:
        return f"{self.base_url}/plans/{self.plan_id}" if self.plan_id else None


def card_uuid(hook_instance: str, kind: str, plan_id: str | None = None) -> str:
    """The card id of ``kind`` in the call ``hook_instance`` about the saved plan ``plan_id``
    (None: no plan saved) — UUID 5, deterministic."""
    name = f"{hook_instance}:{kind}" + (f":{plan_id}" if plan_id else "")
    return str(uuid.uuid5(CARD_NAMESPACE, name))


def md(text: object) -> str:
    """``text`` with Markdown's special characters escaped (text from the patient's record)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: object) -> str:
    """``text`` as a Markdown code span (no escapes work inside one: backticks replaced)."""
    return "`" + " ".join(str(text).replace("`", "'").split()) + "`"


def summary(text: str) -> str:
    """``text`` cut to :data:`SUMMARY_MAX` characters (an ellipsis where cut)."""
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


@cache
def _test_names() -> dict[str, str]:
    text = resources.files("netnav.web").joinpath("data/tests.yaml").read_text("utf-8")
    names: dict[str, str] = yaml.safe_load(text)
    return names


def _test_name(test: str | None) -> str | None:
    if not test:
        return None
    return _test_names().get(test, test.replace("_", " "))


def urgent_options(plan: Mapping[str, Any], kb: Knowledge) -> list[str]:
    """Options of ``plan`` recommended by an urgent-band rule (see module doc)."""
    urgent = {
        (rule.spec.id, rec.option)
        for rule in kb.rules
        for rec in rule.spec.recommend
        if rec.priority <= urgent_priority()
    }
    return [
        o["id"]
        for o in plan.get("options", [])
        if any((r, o["id"]) in urgent for r in o.get("basis", {}).get("rules", []))
    ]


def avoided_now(plan: Mapping[str, Any], case_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plan's ``avoid`` entries whose therapy the case says is ongoing."""
    ongoing = {
        t.get("therapy")
        for t in case_doc.get("treatments") or []
        if isinstance(t, Mapping) and t.get("ongoing") is True
    }
    return [a for a in plan.get("avoid", []) if a.get("id") in ongoing]


def indicator(plan: Mapping[str, Any], kb: Knowledge, case_doc: Mapping[str, Any]) -> str:
    """``critical``, ``warning`` or ``info`` for the plan card (module doc)."""
    if urgent_options(plan, kb) or avoided_now(plan, case_doc):
        return "critical"
    if plan.get("avoid") or any(o.get("cautions") for o in plan.get("options", [])):
        return "warning"
    return "info"


def at_least(level: str, floor: str) -> str:
    """The higher of two indicators (``info`` < ``warning`` < ``critical``)."""
    return max(level, floor, key=LEVELS.index)


def _source(kb: Knowledge, ctx: CardContext) -> dict[str, Any]:
    return {
        "label": f"netnav (knowledge {kb.version})",
        "url": f"{ctx.base_url}/",
        "topic": {
            "system": TOPIC_SYSTEM,
            "code": "net-management-plan",
            "display": f"NET management plan, knowledge base {kb.version}",
        },
    }


def _links(ctx: CardContext) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    if ctx.plan_url:
        links.append(
            {"label": "Open the saved plan in netnav", "url": ctx.plan_url, "type": "absolute"}
        )
    launch = ctx.smart_launch_url or ctx.plan_url
    if launch:
        link: dict[str, Any] = {"label": "Open netnav (SMART app)", "url": launch, "type": "smart"}
        if ctx.plan_id:
            link["appContext"] = f"plan={ctx.plan_id}"
        links.append(link)
    return links


def _evidence_line(items: Sequence[Mapping[str, Any]]) -> str:
    cited = []
    for e in items:
        year = f", {e['year']}" if e.get("year") else ""
        cited.append(f"{e['id']} ({e.get('title', '')}{year})")
    return "; ".join(cited)


def _options_md(plan: Mapping[str, Any]) -> list[str]:
    lines = ["### Options, best first", ""]
    options = plan.get("options", [])
    if not options:
        lines.append("No option could be recommended from what is known; see what is missing.")
    for o in options:
        lines.append(f"{o['rank']}. **{o.get('name', o['id'])}** — {o['tier']}")
        lines.extend(f"   - {why}" for why in o.get("rationale", []))
        if o.get("evidence"):
            lines.append(f"   - Evidence: {_evidence_line(o['evidence'])}")
        lines.extend(f"   - Caution: {c}" for c in o.get("cautions", []))
    return lines


def _avoid_md(plan: Mapping[str, Any]) -> list[str]:
    avoid = plan.get("avoid", [])
    if not avoid:
        return []
    lines = ["", "### Avoid", ""]
    for a in avoid:
        reasons = "; ".join(a.get("reasons", []))
        evidence = _evidence_line(a.get("evidence", []))
        lines.append(
            f"- **{a.get('name', a['id'])}**: {reasons}"
            + (f" (evidence: {evidence})" if evidence else "")
        )
    return lines


def check_first(unmapped: Sequence[Unmapped]) -> list[Unmapped]:
    """The unmapped items whose reason opens with one of :data:`CHECK_FIRST`."""
    return [u for u in unmapped if u.reason.startswith(CHECK_FIRST)]


def _check_first_md(items: Sequence[Unmapped]) -> list[str]:
    if not items:
        return []
    lines = ["### Check first", ""]
    lines.extend(f"- {md(u.reason)}" for u in items)
    return [*lines, ""]


def observation_fields(bundle: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``{Observation label: case fields its codes fill}`` for the Bundle's Observations (the
    import's code tables: a LOINC code's field, or a case-field code and its components')."""
    from netnav.fhir.codes import tables

    t = tables()
    local = t.uri("case_field")
    found: dict[str, frozenset[str]] = {}
    entries = bundle.get("entry")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "Observation":
            continue
        concepts = [resource.get("code")]
        components = resource.get("component")
        if isinstance(components, list):
            concepts += [c.get("code") for c in components if isinstance(c, Mapping)]
        fields: set[str] = set()
        for concept in concepts:
            codings = concept.get("coding") if isinstance(concept, Mapping) else None
            for coding in codings if isinstance(codings, list) else []:
                if not isinstance(coding, Mapping):
                    continue
                system, value = coding.get("system"), coding.get("code")
                if not isinstance(system, str) or not isinstance(value, str):
                    continue
                if system == local:
                    fields.add(value)
                entry_code = t.observation_code(system, value)
                if entry_code is not None and entry_code.field:
                    fields.add(entry_code.field)
        rid = resource.get("id")
        label = f"Observation/{rid}" if isinstance(rid, str) and rid else f"Observation#entry[{i}]"
        if fields:
            found[label] = frozenset(fields)
    return found


def _related(a: str, b: str) -> bool:
    """One case field is the other or one of its parts (``tumor.sstr_imaging.krenning_max``)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def not_used_for(
    field: str,
    unmapped: Sequence[Unmapped],
    fields_of: Mapping[str, frozenset[str]],
) -> list[Unmapped]:
    """The unmapped items about ``field``: an Observation whose code fills it (``fields_of``,
    from :func:`observation_fields`), or a reason naming the field (``tumor.ki67_percent: …``)."""
    named = re.compile(r"(?<![\w.])" + re.escape(field) + r"(?![\w])")
    return [
        u
        for u in unmapped
        if any(_related(field, f) for f in fields_of.get(u.resource, ())) or named.search(u.reason)
    ]


def _missing_md(
    plan: Mapping[str, Any],
    unmapped: Sequence[Unmapped] = (),
    fields_of: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    missing = plan.get("missing_information", [])
    if not missing:
        return []
    lines = ["", "### Missing information", ""]
    for m in missing:
        test = _test_name(m.get("test"))
        settle = f" *Test that settles it:* {test}." if test else ""
        there = not_used_for(m["field"], unmapped, fields_of or {})
        if there:
            first = there[0]
            reason = _FIELD_PREFIX.sub("", first.reason, count=1)
            more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
            settle = (
                f" *In the record but not used:* {md(first.resource)}: {md(reason)}{more}." + settle
            )
        lines.append(f"- **{m.get('label', m['field'])}** (`{m['field']}`): {m['why']}{settle}")
    return lines


def unmapped_md(unmapped: Sequence[Unmapped], base_url: str = "") -> list[str]:
    """The record's data that netnav did not use, grouped: the items of one resource type with
    the same element and reason are one line with their count (600 heart rates are one line);
    the first :data:`UNMAPPED_GROUPS_SHOWN` groups, then how many more."""
    if not unmapped:
        return []
    groups: dict[tuple[str, str, str], list[Unmapped]] = {}
    for u in unmapped:
        rtype = re.split(r"[/#]", u.resource, maxsplit=1)[0]
        groups.setdefault((rtype, u.element, u.reason), []).append(u)
    lines = [
        "",
        "### Not used from the record",
        "",
        f"{len(unmapped)} element{'s' if len(unmapped) != 1 else ''} of the record "
        "did not become part of the case:",
        "",
    ]
    shown = list(groups.items())[:UNMAPPED_GROUPS_SHOWN]
    for (rtype, element, reason), items in shown:
        who = md(items[0].resource) if len(items) == 1 else f"{len(items)} × {md(rtype)}"
        lines.append(f"- {who} {code(element)}: {md(reason)}")
    rest = len(unmapped) - sum(len(items) for _, items in shown)
    if rest:
        where = f"[Plan from a FHIR Bundle]({base_url}{FHIR_UPLOAD_PATH})"
        lines.append(
            f"- … and {rest} more (the full list: load the record as a FHIR Bundle on {where}, "
            "or send it to `POST /v1/plans`)"
        )
    return lines


def _footer(kb: Knowledge, ctx: CardContext) -> list[str]:
    lines = [
        "",
        "---",
        f"Knowledge base {kb.version} (reviewed {kb.manifest.last_reviewed}). Decision "
        "support for clinicians, not a prescription.",
    ]
    if ctx.plan_url:
        lines[-1] += f" [Open the saved plan]({ctx.plan_url})."
    return lines


def _plan_summary(plan: Mapping[str, Any]) -> str:
    options = plan.get("options", [])
    missing = len(plan.get("missing_information", []))
    gaps = f"; {missing} fact{'s' if missing != 1 else ''} missing" if missing else ""
    if not options:
        return summary(f"NET plan: no option yet{gaps}")
    top = options[0]
    more = f" + {len(options) - 1} more" if len(options) > 1 else ""
    head = f"NET plan: {top.get('name', top['id'])} ({top['tier']}){more}{gaps}"
    if len(head) > SUMMARY_MAX:  # a long option name: keep the counts, cut the name
        tail = f" ({top['tier']}){more}{gaps}"
        name = str(top.get("name", top["id"]))[: SUMMARY_MAX - len("NET plan: ") - len(tail) - 1]
        head = f"NET plan: {name.rstrip()}…{tail}"
    return summary(head)


def plan_cards(
    plan: Mapping[str, Any],
    case_doc: Mapping[str, Any],
    kb: Knowledge,
    ctx: CardContext,
    unmapped: Sequence[Unmapped] = (),
    fields_of: Mapping[str, frozenset[str]] | None = None,
) -> list[dict[str, Any]]:
    """The cards of a plan: ``plan``, and ``safety`` when an avoided therapy is ongoing.

    ``unmapped``: what the import did not use — :data:`CHECK_FIRST` items open the plan card
    (at least ``warning``), the items about a missing field are named under it, the rest are
    listed at the end. ``fields_of``: :func:`observation_fields` of the record."""
    cards: list[dict[str, Any]] = []
    first = check_first(unmapped)
    unmapped = [u for u in unmapped if u not in first]
    current = avoided_now(plan, case_doc)
    if current:
        names = ", ".join(str(a.get("name", a["id"])) for a in current)
        detail = ["The patient is receiving a therapy this plan advises against:", ""]
        for a in current:
            detail.append(f"- **{a.get('name', a['id'])}**: {'; '.join(a.get('reasons', []))}")
        detail.extend(_footer(kb, ctx))
        cards.append(
            _card(
                ctx,
                "safety",
                f"Review current therapy: {names} is advised against",
                "critical",
                kb,
                detail,
            )
        )
    detail = _check_first_md(first) + _options_md(plan) + _avoid_md(plan)
    detail += _missing_md(plan, unmapped, fields_of)
    warnings = plan.get("warnings", [])
    if warnings:
        detail += ["", "### Notes", ""] + [f"- {w}" for w in warnings]
    detail += unmapped_md(unmapped, ctx.base_url) + _footer(kb, ctx)
    level = indicator(plan, kb, case_doc)
    if first:
        level = at_least(level, "warning")
    cards.append(_card(ctx, "plan", _plan_summary(plan), level, kb, detail))
    return cards


def unplannable_card(
    problems: Iterable[CaseProblem],
    kb: Knowledge,
    ctx: CardContext,
    unmapped: Sequence[Unmapped] = (),
) -> dict[str, Any]:
    """The one ``info`` card of a record netnav cannot plan from: what is missing or wrong
    (``warning`` when a :data:`CHECK_FIRST` item opens it)."""
    problems = list(problems)
    fields = [p.path or "the case" for p in problems]
    first = next((f for f in fields if f != "tumor"), fields[0] if fields else "the case")
    check = check_first(unmapped)
    unmapped = [u for u in unmapped if u not in check]
    detail = [
        *_check_first_md(check),
        "netnav could not make a case it can plan from this record. What is missing or not valid:",
        "",
    ]
    for p in problems:
        allowed = f" (allowed: {md(p.allowed)})" if p.allowed else ""
        detail.append(f"- {code(p.path or 'case')}: {md(p.message)}{allowed}")
    if any(f.startswith("tumor") for f in fields):
        detail += [
            "",
            "netnav plans neuroendocrine neoplasms: it needs a primary cancer Condition with a "
            "neuroendocrine code (ICD-10-CM C7A/C7B, or an ICD-O-3 morphology 8240/3, 8249/3, "
            "8246/3, 8041/3, 8013/3, 8154/3) and its site.",
        ]
    detail += unmapped_md(unmapped, ctx.base_url) + _footer(kb, ctx)
    text = f"netnav cannot plan from this record: {first} missing or invalid"
    level = "warning" if check else "info"
    return _card(ctx, "unplannable", text, level, kb, detail, links=False)


def _card(
    ctx: CardContext,
    kind: str,
    text: str,
    level: str,
    kb: Knowledge,
    detail: list[str],
    *,
    links: bool = True,
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": card_uuid(ctx.hook_instance, kind, ctx.plan_id),
        "summary": summary(text),
        "indicator": level,
        "detail": "\n".join(detail).strip() + "\n",
        "source": _source(kb, ctx),
        "overrideReasons": list(OVERRIDE_REASONS),
    }
    if links and _links(ctx):
        card["links"] = _links(ctx)
    return card


def _gap_advice(gaps: Sequence[Gap]) -> list[str]:
    """What to do about each kind of gap (one line a kind, in the order the gaps came)."""
    advice: dict[str, str] = {}
    for g in gaps:
        if g.kind in advice and g.kind not in _PER_TARGET:
            continue
        line = _advice_line(g)
        if g.kind in _PER_TARGET:
            advice.setdefault(f"{g.kind}:{g.target}", line)
        else:
            advice[g.kind] = line
    return list(advice.values())


_PER_TARGET: Final = frozenset({"medication-missing", "medication-unresolvable"})


def _advice_line(g: Gap) -> str:
    target = code(g.target or "the Medication")
    if g.kind == "page-cap":
        return (
            "The record is longer than netnav reads from the EHR: if records this size are "
            "common, ask the netnav administrator to raise `NETNAV_CDS_MAX_PAGES`, or the EHR "
            "team to send the whole searchset as prefetch."
        )
    if g.kind == "other-server":
        return (
            "The EHR's search pointed to another server, which netnav does not send the access "
            "token to: ask the EHR team to page searches on the EHR's own FHIR server."
        )
    if g.kind == "server-outcome":
        return (
            f"The EHR said its {g.resource_type} search was cut short or failed: ask the EHR "
            "team why (the message is quoted above), or try again later."
        )
    if g.kind == "short-total":
        return (
            f"The EHR sent fewer {g.resource_type} results than it counted: ask the EHR team "
            "to send the whole searchset (all pages) or check the server's search limits."
        )
    if g.kind == "medication-missing":
        return (
            f"The EHR did not return {target}, and the order names no drug in its display: "
            "ask the EHR team to include Medications in the prefetch "
            f"(`_include={g.resource_type}:medication`) or to add a display to the reference."
        )
    if g.kind == "medication-unresolvable":
        return (
            f"The medication reference {target} points outside the EHR's FHIR server and has "
            "no display: ask the EHR team to include the Medication (`_include`) or name the drug."
        )
    if g.kind == "medications-many":
        return (
            "More Medications were referenced than netnav reads one by one: ask the EHR team "
            f"to include them in the prefetch (`_include={g.resource_type}:medication`)."
        )
    return "Ask the EHR team why the record could not be read completely."


def incomplete_card(gaps: Sequence[Gap], kb: Knowledge, ctx: CardContext) -> dict[str, Any]:
    """The one ``warning`` card of a record known to be incomplete: which resource types, how
    much was read, why, and what to do. No plan is made or saved."""
    types = sorted({g.resource_type for g in gaps})
    detail = [
        "netnav could not read the patient's record completely, so it shows **no plan**: a plan "
        "made from part of the record could miss a result or a treatment that changes it.",
        "",
        "### What could not be read",
        "",
    ]
    for g in gaps:
        read = (
            f" ({g.pages} page{'s' if g.pages != 1 else ''}, {g.read} "
            f"resource{'s' if g.read != 1 else ''} read)"
            if g.pages
            else ""
        )
        detail.append(f"- **{g.resource_type}** ({code(g.key)}){read}: {md(g.reason)}")
    detail += [
        "",
        "### What to do",
        "",
        f"- Open netnav and plan from the complete record: export the patient's record as a "
        f"FHIR Bundle and load it on [Plan from a FHIR Bundle]({ctx.base_url}{FHIR_UPLOAD_PATH}) "
        "(or send it to `POST /v1/plans`).",
    ]
    detail += [f"- {advice}" for advice in _gap_advice(gaps)]
    detail += _footer(kb, ctx)
    text = f"netnav could not read the whole record ({', '.join(types)}): no plan shown"
    card = _card(ctx, "incomplete", text, "warning", kb, detail, links=False)
    card["links"] = [
        {
            "label": "Plan from a FHIR Bundle in netnav",
            "url": f"{ctx.base_url}{FHIR_UPLOAD_PATH}",
            "type": "absolute",
        }
    ]
    return card


def deceased_card(since: str | None, kb: Knowledge, ctx: CardContext) -> dict[str, Any]:
    """The one ``info`` card of a patient the record shows as deceased (no plan is made)."""
    when = f" (Patient.deceasedDateTime {code(since)})" if since else " (Patient.deceasedBoolean)"
    detail = [
        f"The record shows this patient as deceased{when}. netnav makes no management plan.",
        "",
        "If this is wrong, correct the record; netnav plans again when the chart is next opened.",
    ]
    detail += _footer(kb, ctx)
    text = "The record shows this patient as deceased: no NET plan made"
    return _card(ctx, "deceased", text, "info", kb, detail, links=False)
