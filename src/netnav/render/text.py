"""Clinician summary of a plan as plain text (``--format text``) or Markdown.

Both read only the plan document (``netnav-plan/1``), so they render saved plans too.
"""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = ["render_explanation", "render_markdown", "render_text"]

_WIDTH = 96


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _value(v: object) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v).upper() if isinstance(v, str) and v.startswith("g") and len(v) == 2 else str(v)


def render_text(plan: dict[str, Any]) -> str:
    """A readable clinician summary: derived facts, options with reasons, avoid, gaps."""
    out: list[str] = []
    out.append(
        f"netnav plan for case {plan.get('case_id') or '(no id)'}  "
        f"[knowledge {plan['knowledge_version']}]"
    )
    out.append("=" * min(_WIDTH, 72))
    out.append("Derived facts")
    for key, fact in plan["derived"].items():
        out.append(_wrap(f"{key.replace('_', ' ')}: {_value(fact['value'])} — {fact['how']}"))
    if plan.get("warnings"):
        out.append("")
        out.append("Warnings")
        for w in plan["warnings"]:
            out.append(_wrap(f"! {w}"))
    out.append("")
    out.append(_headline(plan))
    out.append("")
    out.append("Recommended options (best first)")
    if not plan["options"]:
        out.append("    none: see missing information")
    for o in plan["options"]:
        out.append(f"  {o['rank']}. {o['name']} [{o['id']}] — {o['tier']}")
        for r in o["rationale"]:
            out.append(_wrap(f"why: {r}", "       "))
        ev = "; ".join(f"{e['id']} ({e['status']})" for e in o["evidence"])
        out.append(_wrap(f"evidence: {ev}", "       "))
        rule_status = o.get("basis", {}).get("weakest_rule_status")
        if rule_status in ("V2", "UNVERIFIED"):
            shown = (
                "checked only against a secondary source"
                if rule_status == "V2"
                else ("not verified against a primary source")
            )
            out.append(_wrap(f"basis: the rule is {shown} ({rule_status})", "       "))
        for c in o["cautions"]:
            out.append(_wrap(f"caution: {c}", "       "))
    if plan["avoid"]:
        out.append("")
        out.append("Avoid")
        for a in plan["avoid"]:
            out.append(f"  - {a['name']} [{a['id']}]")
            for r in a["reasons"]:
                out.append(_wrap(r, "       "))
    if plan["missing_information"]:
        out.append("")
        out.append("Missing information that would change the plan")
        for m in plan["missing_information"]:
            test = f"; test: {m['test']}" if m["test"] else ""
            label = m.get("label") or m["field"]
            out.append(_wrap(f"- {label} [{m['field']}{test}] {m['why']}", "  "))
    if plan["tests"]:
        out.append("")
        out.append("Tests to request: " + ", ".join(plan["tests"]))
    s = plan.get("surveillance")
    if s:
        out.append("")
        out.append(f"Follow-up ({s['situation']})")
        out.append(
            _wrap(f"imaging: {s['imaging']}; interval: {s['interval']}; duration: {s['duration']}")
        )
        if s.get("markers"):
            out.append(_wrap(f"tests: {s['markers']}"))
        if s.get("rebiopsy"):
            out.append(_wrap(f"re-biopsy: {s['rebiopsy']}"))
    if plan["at_progression"]:
        out.append("")
        names = plan.get("at_progression_names") or plan["at_progression"]
        out.append(_wrap("At progression, consider next: " + "; ".join(names), ""))
    if plan.get("disagreements"):
        out.append("")
        out.append("Where guidelines disagree")
        for d in plan["disagreements"]:
            out.append(_wrap(f"{d['option']}: {d['positions']}", "  "))
    out.append("")
    out.append(
        "Decision support for a clinician; not a prescription. Confirm at a NET-expert "
        "tumour board."
    )
    return "\n".join(out) + "\n"


def _headline(plan: dict[str, Any]) -> str:
    """One line a busy reader can act on: the first choice and what stands equal with it."""
    options = plan["options"]
    preferred = [o for o in options if o["tier"] == "preferred"]
    if preferred:
        first = preferred[0]
        line = f"First choice: {first['name']}"
        equal = [o["name"] for o in preferred[1:] if o.get("rank", 0) <= 4]
        if equal:
            line += "; of equal or near standing: " + "; ".join(equal)
        return _wrap(line, "")
    settle = ", ".join(plan.get("tests", [])[:4])
    then = f" Tests that would settle it: {settle}." if settle else ""
    if options:
        return _wrap(
            f"No option is preferred on the facts given; the best available is "
            f"{options[0]['name']} ({options[0]['tier']}). See missing information.{then}",
            "",
        )
    return "No option can be recommended on the facts given: see missing information."


def render_markdown(plan: dict[str, Any]) -> str:
    """The same summary as Markdown (for notes and tumour-board documents)."""
    out: list[str] = [f"# netnav plan: case {plan.get('case_id') or '(no id)'}", ""]
    out.append(
        f"Knowledge version {plan['knowledge_version']}"
        f" (reviewed {plan.get('knowledge_reviewed', 'unknown')})."
    )
    out += ["", "**" + " ".join(_headline(plan).split()) + "**", ""]
    out.append("## Derived facts")
    out.append("")
    out.append("| fact | value | how |")
    out.append("|---|---|---|")
    for key, fact in plan["derived"].items():
        how = str(fact["how"]).replace("|", "\\|")
        out.append(f"| {key.replace('_', ' ')} | {_value(fact['value'])} | {how} |")
    if plan.get("warnings"):
        out += ["", "## Warnings", ""] + [f"- {w}" for w in plan["warnings"]]
    out += ["", "## Options", ""]
    for o in plan["options"]:
        out.append(f"{o['rank']}. **{o['name']}** (`{o['id']}`, {o['tier']})")
        for r in o["rationale"]:
            out.append(f"   - {r}")
        ev = "; ".join(f"{e['id']} [{e['status']}]" for e in o["evidence"])
        out.append(f"   - Evidence: {ev}")
        for c in o["cautions"]:
            out.append(f"   - Caution: {c}")
    if plan["avoid"]:
        out += ["", "## Avoid", ""]
        for a in plan["avoid"]:
            out.append(f"- **{a['name']}** (`{a['id']}`): " + " ".join(a["reasons"]))
    if plan["missing_information"]:
        out += ["", "## Missing information", ""]
        for m in plan["missing_information"]:
            test = f"; test `{m['test']}`" if m["test"] else ""
            label = m.get("label") or m["field"]
            out.append(f"- **{label}** (`{m['field']}`{test}): {m['why']}")
    if plan["tests"]:
        out += ["", "## Tests to request", "", ", ".join(f"`{t}`" for t in plan["tests"])]
    s = plan.get("surveillance")
    if s:
        out += [
            "",
            "## Follow-up",
            "",
            f"{s['situation']}: {s['imaging']}, {s['interval']}, {s['duration']}.",
        ]
        if s.get("rebiopsy"):
            out.append(f"Re-biopsy: {s['rebiopsy']}.")
    if plan["at_progression"]:
        names = plan.get("at_progression_names") or plan["at_progression"]
        out += ["", "## At progression", "", "; ".join(names)]
    if plan.get("disagreements"):
        out += ["", "## Where guidelines disagree", ""]
        out += [f"- `{d['option']}`: {d['positions']}" for d in plan["disagreements"]]
    out += [
        "",
        "_Decision support for a clinician; not a prescription. Confirm at a "
        "NET-expert tumour board._",
    ]
    return "\n".join(out) + "\n"


def render_explanation(explanation: dict[str, Any]) -> str:
    """The verdict tree of ``netnav explain`` as an indented outline."""
    lines = [explanation["summary"], ""]

    def walk(node: dict[str, Any], depth: int) -> None:
        mark = {"pass": "✓", "fail": "✗", "warn": "!", "undetermined": "?"}[node["verdict"]]
        text = f"{mark} [{node['verdict']}] {node['criterion']}: {node['why']}"
        lines.append(
            textwrap.fill(
                text,
                width=_WIDTH,
                initial_indent="  " * depth,
                subsequent_indent="  " * depth + "    ",
            )
        )
        for m in node.get("missing", []):
            test = f" (test: {m['test']})" if m.get("test") else ""
            lines.append("  " * depth + f"    missing: {m['field']}{test}")
        for child in node.get("children", []):
            walk(child, depth + 1)

    for child in explanation["tree"].get("children", []):
        walk(child, 1)
    lines.append("")
    lines.append(
        "Legend: ✓ pass  ! warn (a person must look)  ? undetermined (fact missing)  ✗ fail"
    )
    return "\n".join(lines) + "\n"
