"""Knowledge-base entries as a clinician reads them (``netnav knowledge show ID``)."""

from __future__ import annotations

import textwrap
from typing import Any

from netnav.knowledge.load import Knowledge

__all__ = ["render_entry"]


def _criterion(spec: Any, depth: int, kb: Knowledge) -> list[str]:
    pad = "  " * depth
    if isinstance(spec, str):
        if spec in kb.definitions:
            return [f"{pad}- {spec.replace('_', ' ')}: {kb.definitions[spec][0].description}"]
        return [f"{pad}- {spec.replace('_', ' ')}"]
    if isinstance(spec, list):
        return [line for s in spec for line in _criterion(s, depth, kb)]
    if isinstance(spec, dict) and len(spec) == 1:
        ((name, arg),) = spec.items()
        if name in ("all_of", "any_of"):
            head = "all of:" if name == "all_of" else "any of:"
            return [f"{pad}- {head}", *_criterion(arg, depth + 1, kb)]
        if name == "not":
            return [f"{pad}- not:", *_criterion(arg, depth + 1, kb)]
        if isinstance(arg, dict):
            shown = ", ".join(
                f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in arg.items()
            )
            return [f"{pad}- {name.replace('_', ' ')} ({shown})"]
    return [f"{pad}- {spec}"]


def _wrap(text: str, pad: str) -> str:
    return textwrap.fill(text, width=96, initial_indent=pad, subsequent_indent=pad + "  ")


def render_entry(found: dict[str, Any], kb: Knowledge) -> str:
    """Readable text for one entry as returned by ``knowledge show`` (rule, check, therapy,
    evidence or definition)."""
    kind, entry = next((k, v) for k, v in found.items() if k != "file")
    out: list[str] = []
    if kind == "rule":
        out.append(f"Rule {entry['id']} (brief {entry['brief_rule']}): {entry['title']}")
        if "scope" in entry:
            out += ["Only for:", *_criterion(entry["scope"], 1, kb)]
        out += ["When:", *_criterion(entry["when"], 1, kb)]
        for rec in entry.get("recommend", []):
            name = kb.therapies[rec["option"]].name
            out.append(
                f"Recommend {name} [{rec['option']}] — {rec['tier']}, priority {rec['priority']}"
            )
            if "when" in rec:
                out += ["    only when:", *_criterion(rec["when"], 3, kb)]
            out.append(_wrap(f"because: {rec['because']}", "    "))
            out.append(_wrap(f"evidence: {', '.join(rec['evidence'])}", "    "))
            if rec.get("disagreement"):
                out.append(_wrap(f"guidelines disagree: {rec['disagreement']}", "    "))
        for av in entry.get("avoid", []):
            out.append(f"Avoid {kb.therapies[av['option']].name} [{av['option']}]")
            out.append(_wrap(av["reason"], "    "))
        for key in ("tests", "ask", "at_progression"):
            if entry.get(key):
                out.append(f"{key.replace('_', ' ').capitalize()}: {', '.join(entry[key])}")
        if entry.get("surveillance"):
            out.append(f"Follow-up schedule: {entry['surveillance']}")
        out.append(f"Evidence status of the rule: {entry.get('status', 'V')}")
        if found.get("file"):
            out.append(f"File: {found['file']}")
    elif kind == "check":
        out.append(
            f"Check {entry['id']} (brief {entry['brief_rule']}), effect {entry['effect']}"
            f" ({entry.get('kind', 'safety')})"
        )
        out.append(_wrap(f"for: {', '.join(entry['options'])}", ""))
        if "applies_when" in entry:
            out += ["Applies when:", *_criterion(entry["applies_when"], 1, kb)]
        out += ["Requires:", *_criterion(entry["require"], 1, kb)]
        out.append(_wrap(f"Reason: {entry['reason']}", ""))
        out.append(f"Evidence: {', '.join(entry['evidence'])}")
    elif kind == "definition":
        out.append(f"Definition {entry['name']} (brief {entry['brief_rule']})")
        out.append(_wrap(entry["description"], ""))
        out += ["Holds when:", *_criterion(entry["when"], 1, kb)]
    else:
        for key, value in entry.items():
            if value in (None, "", []):
                continue
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            out.append(_wrap(f"{key.replace('_', ' ')}: {shown}", ""))
    return "\n".join(out) + "\n"
