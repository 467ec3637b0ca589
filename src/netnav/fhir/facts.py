"""Candidate facts and the rules that choose among them (newest wins; a tie that disagrees is
left unknown; nothing dropped silently).

Mappers add :class:`Candidate` values for case field paths; :class:`Facts` resolves them:

* single-valued fields: the newest candidate wins; older ones are listed as "superseded by …";
  two different values with the same newest date leave the field absent and both are listed;
  undated candidates count as older than any dated one.
* array fields (``tumor.metastases``, ``tumor.symptoms``): items are gathered in document
  order; a "none" marker (TNM M0, case-value ``none``) gives ``[]`` only when no item exists.

Dates are FHIR ``date``/``dateTime`` text (partial dates allowed); they are compared by
(year, month, day) with missing parts as 0, so ``2021-03`` sorts before ``2021-03-15``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from netnav.fhir.model import Unmapped

__all__ = ["Candidate", "DateKey", "Facts", "date_key", "earliest_day", "iso_date"]

DateKey = tuple[int, int, int]
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def date_key(text: str | None) -> DateKey | None:
    """``(year, month, day)`` of a FHIR date/dateTime text (0 for missing parts)."""
    if not text:
        return None
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = match.groups()
    return (int(year), int(month or 0), int(day or 0))


def earliest_day(text: str | None) -> date | None:
    """The first calendar day a (partial) date can mean: ``2026-09`` → 2026-09-01."""
    key = date_key(text)
    if key is None:
        return None
    return date(key[0], key[1] or 1, key[2] or 1)


def iso_date(text: str | None) -> str | None:
    """The date part of a FHIR date/dateTime, keeping its precision (``2021-03``)."""
    if not text:
        return None
    match = _DATE.match(text)
    return None if match is None else match.group(0)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One value for a case field read from one FHIR element.

    ``source``: the provenance string (``Observation/ki67-1.valueQuantity``); ``resource``: the
    resource label; ``element``: the FHIR element path for the report (``Observation.value``);
    ``when``: the FHIR date it holds for (``None``: undated); ``marker``: for array fields,
    ``"none"`` (staged/asked and nothing found) or ``"unknown_site"`` (present, site unknown).
    """

    path: str
    value: Any
    source: str
    resource: str
    element: str
    when: str | None = None
    marker: str | None = None

    @property
    def key(self) -> DateKey:
        return date_key(self.when) or (0, 0, 0)


def _describe(candidate: Candidate) -> str:
    when = f", {candidate.when}" if candidate.when else ", undated"
    return f"{candidate.source} ({candidate.value!r}{when})"


@dataclass(slots=True)
class Facts:
    """Candidates gathered by the mappers, resolved into case values with provenance."""

    single: dict[str, list[Candidate]] = field(default_factory=dict)
    arrays: dict[str, list[Candidate]] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)

    def add(self, candidate: Candidate) -> None:
        self.single.setdefault(candidate.path, []).append(candidate)

    def add_item(self, candidate: Candidate) -> None:
        self.arrays.setdefault(candidate.path, []).append(candidate)

    def note(self, resource: str, element: str, reason: str) -> None:
        self.unmapped.append(Unmapped(resource, element, reason))

    def resolve_single(self, path: str) -> tuple[Any, list[Candidate]] | None:
        """The winning value of a single-valued field and the candidates that gave it;
        ``None`` when absent or conflicting. Notes the losers (each once)."""
        candidates = self.single.pop(path, [])
        if not candidates:
            return None
        newest = max(c.key for c in candidates)
        top = [c for c in candidates if c.key == newest]
        values = {repr(c.value) for c in top}
        if len(values) > 1:
            listing = "; ".join(_describe(c) for c in top)
            for c in top:
                self.note(
                    c.resource,
                    c.element,
                    f"{path}: values disagree on the same date ({listing}); left unknown",
                )
            winners: list[Candidate] = []
            value: Any = None
        else:
            winners, value = top, top[0].value
        for c in candidates:
            if c.key != newest:
                by = top[0].source if winners else "a newer value"
                when = f" ({winners[0].when})" if winners and winners[0].when else ""
                self.note(c.resource, c.element, f"{path}: superseded by {by}{when}")
        return None if not winners else (value, winners)

    def resolve(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """All fields: ``({path: value}, {path: [provenance strings]})``."""
        values: dict[str, Any] = {}
        provenance: dict[str, list[str]] = {}
        for path in sorted(self.single):
            found = self.resolve_single(path)
            if found is not None:
                values[path] = found[0]
                provenance[path] = _sources(found[1])
        for path, candidates in self.arrays.items():
            resolved = self._resolve_array(path, candidates)
            if resolved is not None:
                values[path], provenance[path] = resolved
        self.arrays.clear()
        return values, provenance

    def _resolve_array(
        self, path: str, candidates: list[Candidate]
    ) -> tuple[list[Any], list[str]] | None:
        items = [c for c in candidates if c.marker is None]
        markers = [c for c in candidates if c.marker is not None]
        if items:
            result: list[Any] = []
            for c in items:
                if c.value not in result:
                    result.append(c.value)
            for c in markers:
                if c.marker == "none":
                    self.note(
                        c.resource,
                        c.element,
                        f"{path}: 'none found' outweighed by the items recorded ({items[0].source})",
                    )
            return result, _sources(items)
        if not markers:
            return None
        newest = max(c.key for c in markers)
        top = [c for c in markers if c.key == newest]
        kinds = {c.marker for c in top}
        for c in markers:
            if c.key != newest:
                self.note(c.resource, c.element, f"{path}: superseded by {top[0].source}")
        if kinds == {"none"}:
            return [], _sources(top)
        for c in top:
            reason = (
                f"{path}: present but no site netnav can place; left unknown"
                if kinds == {"unknown_site"}
                else f"{path}: 'none' and 'present' on the same date; left unknown"
            )
            self.note(c.resource, c.element, reason)
        return None


def _sources(candidates: list[Candidate]) -> list[str]:
    seen: list[str] = []
    for c in candidates:
        if c.source not in seen:
            seen.append(c.source)
    return seen
