"""Prefetch of the ``netnav-plan`` CDS service: the patient's record, one query per key.

The service asks the CDS client for :data:`PREFETCH` (templates filled with the context's
``patientId``). For each key of the request's ``prefetch``:

* present with a resource or Bundle: used as it is; a searchset with a ``next`` link is read
  on from ``fhirServer`` (same server only);
* present with ``null``: the client says there is no such data; nothing is fetched;
* absent (or an ``OperationOutcome``, the client's own failure): fetched from the request's
  ``fhirServer`` with ``Authorization: Bearer <fhirAuthorization.access_token>`` — searches
  ask for :data:`PAGE_SIZE` entries a page (``_count``) and are followed through their
  ``next`` links (at most ``max_pages`` pages, on the same server only).

Medication resources that a MedicationRequest, MedicationAdministration or MedicationStatement
names in ``medicationReference`` and that the client did not include are read from
``fhirServer`` (``GET Medication/<id>``). A reference that also carries a ``display`` (Epic:
``{"reference": "Medication/eX", "display": "lanreotide 120 mg …"}``) is readable without its
Medication — the import reads the drug from the display — so such a Medication is read when it
can be and otherwise left out (no gap, no 412); only a reference with neither a Medication to
be had nor a display makes the record incomplete.

Never a plan made from part of the record presented as if it were the whole record (safety case
H-22). Two ways a record is not whole:

* it **could not be read** — no ``fhirServer`` for data that is missing (an absent key, a paged
  searchset, a Medication not included), or the server refused, failed or timed out on any
  page: :class:`PrefetchUnavailable` is raised and the service answers 412 with an
  ``OperationOutcome`` (CDS Hooks: "unable to retrieve the necessary FHIR data");
* it was **read, and is known to be incomplete** — the page cap was reached with a ``next``
  link remaining, a ``next`` link points to another server, the server put an
  ``OperationOutcome`` of severity ``error``/``fatal`` or about truncated results into the
  searchset, fewer entries came than the searchset's ``total``, or a Medication named without
  a display does not exist: each is a :class:`Gap` of :attr:`Gathered.gaps` (its
  :attr:`Gap.kind` says which, so the card can say what to do), and the service answers with
  one ``warning`` card and no plan.

``OperationOutcome`` issues of severity ``information``/``warning`` (not about truncation) are
kept in :attr:`Gathered.notes` and listed in the plan card's "Not used from the record".

:func:`collection_bundle` joins what was gathered into one ``collection`` Bundle for the FHIR
import (each resource once, by type and id).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urljoin, urlsplit

import httpx

from netnav.fhir import Unmapped

__all__ = [
    "FHIR_JSON",
    "GAP_KINDS",
    "MEDICATION_KEYS",
    "PAGE_SIZE",
    "PREFETCH",
    "Gap",
    "Gathered",
    "PrefetchUnavailable",
    "collection_bundle",
    "gather",
    "operation_outcome",
    "resource_type_of",
]

log = logging.getLogger("netnav.web.cds")

FHIR_JSON: Final = "application/fhir+json"

PREFETCH: Final[Mapping[str, str]] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
    "&_include=MedicationRequest:medication",
    "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}"
    "&_include=MedicationAdministration:medication",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
    "&_include=MedicationStatement:medication",
    "procedures": "Procedure?patient={{context.patientId}}",
}
"""The prefetch templates of the discovery document (every key is needed to plan)."""

MEDICATION_KEYS: Final = ("medicationRequests", "medicationAdministrations", "medicationStatements")
_MEDICATION_USERS: Final = frozenset(
    {"MedicationRequest", "MedicationAdministration", "MedicationStatement"}
)
PAGE_SIZE: Final = 200
"""``_count`` of the searches fetched on miss (servers may give fewer a page)."""
MEDICATION_READS_MAX: Final = 50
"""At most this many Medications are read one by one; more is a :class:`Gap`."""
_TRUNCATION: Final = re.compile(
    r"truncat|incomplete|partial|not all|too many|limit(ed)? to|more results", re.IGNORECASE
)
_INCOMPLETE_CODES: Final = frozenset({"too-costly", "incomplete", "throttled", "timeout"})


def resource_type_of(key: str) -> str:
    """The FHIR resource type a prefetch key asks for (``observations`` → ``Observation``)."""
    return re.split(r"[/?]", PREFETCH[key], maxsplit=1)[0]


class PrefetchUnavailable(Exception):
    """Required data could not be read: ``issues`` maps each prefetch key to the reason."""

    def __init__(self, issues: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {r}" for k, r in issues.items()))
        self.issues = dict(issues)

    @property
    def keys(self) -> list[str]:
        return list(self.issues)


GAP_KINDS: Final = (
    "page-cap",
    "other-server",
    "server-outcome",
    "short-total",
    "medication-missing",
    "medication-unresolvable",
    "medications-many",
)
"""The kinds of :class:`Gap`: the page cap reached with a ``next`` link left; a ``next`` link
to another server; an ``OperationOutcome`` error or truncation notice in the searchset; fewer
entries than its ``total``; a Medication (named without a display) not on the server or not
a Medication; a Medication reference that cannot be read from ``fhirServer``; more
Medications to read than :data:`MEDICATION_READS_MAX`."""


@dataclass(frozen=True)
class Gap:
    """Why the data of a prefetch key is known to be incomplete (``pages`` and ``read``: how
    many Bundle pages and resources were read for it; ``kind``: one of :data:`GAP_KINDS`;
    ``target``: what was not had, e.g. ``Medication/eX``)."""

    key: str
    reason: str
    pages: int = 0
    read: int = 0
    kind: str = "server-outcome"
    target: str | None = None

    @property
    def resource_type(self) -> str:
        return resource_type_of(self.key)


@dataclass
class Gathered:
    """The Bundle entries gathered per prefetch key, how each key was satisfied, what is known
    to be missing (``gaps``) and the server's notes (``notes``)."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    """``prefetch``, ``null`` (no data), ``fetched`` or ``prefetch+fetched`` (paged)."""
    gaps: list[Gap] = field(default_factory=list)
    notes: list[Unmapped] = field(default_factory=list)

    def resources(self, key: str) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.entries.get(key, [])]


def fill(template: str, patient_id: str) -> str:
    """The query of ``template`` for the patient (the id URL-quoted)."""
    return template.replace("{{context.patientId}}", quote(patient_id, safe=""))


def _is_failure(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


@dataclass
class _Reading:
    """One key's data as it is read, page by page."""

    key: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    matches: int = 0
    total: int | None = None
    gaps: list[Gap] = field(default_factory=list)
    notes: list[Unmapped] = field(default_factory=list)

    def gap(self, reason: str, kind: str) -> None:
        self.gaps.append(Gap(self.key, reason, self.pages, self.matches, kind))

    def page(self, document: Mapping[str, Any]) -> str | None:
        """Take one page (a Bundle or a resource); the raw ``next`` link, if any."""
        self.pages += 1
        if document.get("resourceType") != "Bundle":
            self.entries.append({"resource": dict(document)})
            self.matches += 1
            return None
        total = document.get("total")
        if self.total is None and isinstance(total, int) and not isinstance(total, bool):
            self.total = total
        for entry in document.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if resource.get("resourceType") == "OperationOutcome":
                self._outcome(resource)
                continue
            search = entry.get("search")
            if not (isinstance(search, dict) and search.get("mode") == "include"):
                self.matches += 1
            kept: dict[str, Any] = {"resource": resource}
            if isinstance(entry.get("fullUrl"), str):
                kept["fullUrl"] = entry["fullUrl"]
            self.entries.append(kept)
        for link in document.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "next":
                target = link.get("url")
                if isinstance(target, str) and target.strip():
                    return target.strip()
        return None

    def _outcome(self, outcome: Mapping[str, Any]) -> None:
        """An OperationOutcome inside a searchset: an error or a truncation makes the key
        incomplete; information and warnings become notes."""
        where = f"OperationOutcome ({resource_type_of(self.key)} search)"
        issues = outcome.get("issue")
        for issue in issues if isinstance(issues, list) else []:
            if not isinstance(issue, dict):
                continue
            severity = str(issue.get("severity") or "unknown")
            code = str(issue.get("code") or "")
            details = issue.get("details")
            text = " ".join(
                t
                for t in (
                    details.get("text") if isinstance(details, dict) else None,
                    issue.get("diagnostics"),
                )
                if isinstance(t, str) and t
            )[:300]
            said = f"{severity} {code}: {text}" if text else f"{severity} {code}"
            if (
                severity in ("error", "fatal")
                or code in _INCOMPLETE_CODES
                or _TRUNCATION.search(text)
            ):
                self.gap(f"the FHIR server reported {said.strip()}", "server-outcome")
            else:
                self.notes.append(Unmapped(where, "OperationOutcome.issue", said.strip()))

    def finish(self) -> None:
        """After the last page: fewer entries than the searchset's ``total`` is a gap."""
        if self.total is not None and self.matches < self.total and not self.gaps:
            self.gap(
                f"the server counted {self.total} results but sent {self.matches}", "short-total"
            )


async def gather(
    prefetch: Mapping[str, Any],
    patient_id: str,
    fhir_server: str | None,
    access_token: str | None,
    *,
    timeout_s: float,
    max_pages: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Gathered:
    """Every key of :data:`PREFETCH`, from the request or fetched (see the module doc)."""
    gathered = Gathered()
    readings: dict[str, _Reading] = {}
    to_fetch: dict[str, str] = {}  # key -> URL (a query, or a prefetch Bundle's next link)
    for key in PREFETCH:
        value = prefetch.get(key, _ABSENT)
        if value is _ABSENT or _is_failure(value):
            query = fill(PREFETCH[key], patient_id)
            to_fetch[key] = query + (f"&_count={PAGE_SIZE}" if "?" in query else "")
            gathered.how[key] = "fetched"
            continue
        reading = readings[key] = _Reading(key)
        if value is None:
            gathered.how[key] = "null"
            continue
        gathered.how[key] = "prefetch"
        following = reading.page(value)
        if following is not None:
            to_fetch[key] = following
            gathered.how[key] = "prefetch+fetched"
    if to_fetch:
        readings.update(
            await _fetch_all(
                to_fetch,
                readings,
                fhir_server,
                access_token,
                timeout_s=timeout_s,
                max_pages=max_pages,
                transport=transport,
            )
        )
    for key in PREFETCH:
        reading = readings[key]
        if key not in to_fetch and not reading.gaps:
            reading.finish()
        gathered.entries[key] = reading.entries
        gathered.gaps.extend(reading.gaps)
        gathered.notes.extend(reading.notes)
    await _medications(
        gathered, fhir_server, access_token, timeout_s=timeout_s, transport=transport
    )
    return gathered


_ABSENT: Final = object()


def _server(fhir_server: str | None, keys: Iterable[str], reasons: Mapping[str, str]) -> str:
    """The FHIR base URL (ending ``/``), or :class:`PrefetchUnavailable` for ``keys``."""
    if not fhir_server:
        raise PrefetchUnavailable(
            {k: reasons[k] + " and no fhirServer in the request" for k in keys}
        )
    if not _server_allowed(fhir_server):
        raise PrefetchUnavailable({k: "fhirServer must be an https URL" for k in keys})
    return fhir_server.rstrip("/") + "/"


def _client(
    access_token: str | None, timeout_s: float, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    headers = {"Accept": FHIR_JSON}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    return httpx.AsyncClient(
        transport=transport, timeout=timeout_s, headers=headers, follow_redirects=False
    )


async def _fetch_all(
    to_fetch: Mapping[str, str],
    readings: Mapping[str, _Reading],
    fhir_server: str | None,
    access_token: str | None,
    *,
    timeout_s: float,
    max_pages: int,
    transport: httpx.AsyncBaseTransport | None,
) -> dict[str, _Reading]:
    """Fetch (or read on) every key of ``to_fetch``; raises :class:`PrefetchUnavailable`."""
    reasons = {
        k: "the prefetch Bundle has more pages (a next link)"
        if k in readings
        else "prefetch missing"
        for k in to_fetch
    }
    base = _server(fhir_server, to_fetch, reasons)
    out = {k: readings.get(k) or _Reading(k) for k in to_fetch}
    async with _client(access_token, timeout_s, transport) as client:
        results = await asyncio.gather(
            *(_fetch(client, base, to_fetch[k], out[k], max_pages) for k in to_fetch),
            return_exceptions=True,
        )
    failed = [k for k, r in zip(to_fetch, results, strict=True) if isinstance(r, BaseException)]
    if failed:
        kinds = sorted({type(r).__name__ for r in results if isinstance(r, BaseException)})
        log.warning("cds prefetch: fetch-on-miss failed for %s (%s)", failed, ", ".join(kinds))
        raise PrefetchUnavailable(
            {
                k: "the FHIR server could not be read"
                + (f" (after {out[k].pages} pages)" if out[k].pages else "")
                for k in failed
            }
        )
    return out


class _FetchError(Exception):
    pass


async def _fetch(
    client: httpx.AsyncClient, base: str, start: str, reading: _Reading, max_pages: int
) -> None:
    """Read ``start`` (a query or a next link) into ``reading``, following ``next`` links on
    the same server, at most ``max_pages`` pages fetched."""
    first = urljoin(base, start)
    if not _same_origin(first, base):
        reading.gap(
            "the searchset's next link points to another server (not followed)", "other-server"
        )
        return
    url: str | None = first
    fetched = 0
    while url is not None:
        if fetched >= max_pages:
            log.warning("cds prefetch: stopped after %d pages", max_pages)
            reading.gap(
                f"more pages remained after the page limit of {max_pages} pages", "page-cap"
            )
            return
        response = await client.get(url)
        fetched += 1
        if response.status_code == 404 and start.startswith("Patient/"):
            return  # no such patient: no data (the import reports what is missing)
        document = _document(response)
        following = reading.page(document)
        url = urljoin(base, following) if following is not None else None
        if url is not None and not _same_origin(url, base):
            # The access token goes to the EHR's own server only.
            log.warning("cds prefetch: next link to another server not followed")
            reading.gap(
                "the searchset's next link points to another server (not followed)", "other-server"
            )
            return
    reading.finish()


def _document(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise _FetchError(f"HTTP {response.status_code}")
    document = response.json()
    if not isinstance(document, dict) or "resourceType" not in document:
        raise _FetchError("not a FHIR resource")
    if _is_failure(document):
        raise _FetchError("OperationOutcome")
    return document


async def _medications(
    gathered: Gathered,
    fhir_server: str | None,
    access_token: str | None,
    *,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None,
) -> None:
    """Read the Medications that medication resources reference and nobody sent.

    A Medication every reference to which carries a ``display`` is *optional*: read when it
    can be, otherwise left out (the import reads the drug from the display). A Medication some
    reference names without a display is *needed*: not to be had, it is a :class:`Gap` (or
    a 412 when the server cannot be asked or fails)."""
    base = fhir_server.rstrip("/") + "/" if fhir_server else None
    have: set[str] = set()
    for entries in gathered.entries.values():
        for entry in entries:
            resource = entry["resource"]
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                have.add(f"{rtype}/{rid}")
            if "fullUrl" in entry:
                have.add(entry["fullUrl"])
    wanted: dict[str, str] = {}  # Medication/<id> -> key
    needed: set[str] = set()  # of wanted: named somewhere without a display
    for key in MEDICATION_KEYS:
        for resource in gathered.resources(key):
            found = _medication_reference(resource)
            if found is None:
                continue
            ref, displayed = found
            if ref in have:
                continue
            relative = _relative_medication(ref, base)
            if relative is None:
                if not displayed:
                    gathered.gaps.append(
                        Gap(
                            key,
                            f"the medication {ref} cannot be read from the FHIR server "
                            "(and the reference has no display)",
                            kind="medication-unresolvable",
                            target=ref,
                        )
                    )
            elif relative not in have:
                wanted.setdefault(relative, key)
                if not displayed:
                    needed.add(relative)
    if not wanted:
        return
    if len(needed) > MEDICATION_READS_MAX:
        for key in sorted({wanted[ref] for ref in needed}):
            gathered.gaps.append(
                Gap(
                    key,
                    f"{len(needed)} referenced Medications were not included (_include)",
                    kind="medications-many",
                )
            )
        return
    optional = [ref for ref in wanted if ref not in needed]
    refs = [ref for ref in wanted if ref in needed] + optional[: MEDICATION_READS_MAX - len(needed)]
    if base is None or not _server_allowed(base):
        if needed:
            reasons = {wanted[ref]: "referenced Medications were not included" for ref in needed}
            _server(fhir_server, reasons, reasons)  # raises PrefetchUnavailable
        return  # only optional ones: the displays name the drugs
    async with _client(access_token, timeout_s, transport) as client:
        results = await asyncio.gather(
            *(client.get(urljoin(base, ref)) for ref in refs), return_exceptions=True
        )
    failed: dict[str, str] = {}
    for ref, result in zip(refs, results, strict=True):
        key = wanted[ref]
        if isinstance(result, BaseException):
            if ref in needed:
                failed[key] = "the FHIR server could not be read (a referenced Medication)"
            continue
        if result.status_code in (404, 410):
            if ref in needed:
                gathered.gaps.append(
                    Gap(
                        key,
                        f"the referenced {ref} is not on the FHIR server "
                        "(and the reference has no display)",
                        kind="medication-missing",
                        target=ref,
                    )
                )
            continue
        try:
            document = _document(result)
        except (_FetchError, ValueError):
            if ref in needed:
                failed[key] = "the FHIR server could not be read (a referenced Medication)"
            continue
        if document.get("resourceType") != "Medication":
            if ref in needed:
                gathered.gaps.append(
                    Gap(
                        key,
                        f"{ref} did not answer a Medication",
                        kind="medication-missing",
                        target=ref,
                    )
                )
            continue
        gathered.entries[key].append({"resource": document})
    if failed:
        raise PrefetchUnavailable(failed)


def _medication_reference(resource: Mapping[str, Any]) -> tuple[str, bool] | None:
    """The ``medicationReference`` of a medication resource and whether it has a display
    (None: none, or a contained one, which the import reads)."""
    if resource.get("resourceType") not in _MEDICATION_USERS:
        return None
    if resource.get("status") == "entered-in-error":
        return None
    reference = resource.get("medicationReference")
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str) or not ref or ref.startswith("#"):
        return None
    display = reference.get("display")
    return ref, isinstance(display, str) and bool(display.strip())


def _relative_medication(ref: str, base: str | None) -> str | None:
    """``Medication/<id>`` of a relative reference, or of an absolute one on ``base``."""
    if base is not None and ref.startswith(base):
        ref = ref[len(base) :]
    parts = ref.split("/")
    if (
        len(parts) >= 2
        and parts[0] == "Medication"
        and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", parts[1])
    ):
        return f"Medication/{parts[1]}"  # a version (/_history/n) is read as the current one
    return None


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def _server_allowed(url: str) -> bool:
    """https, or http to a loopback host (a FHIR server on the same machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def collection_bundle(gathered: Gathered) -> dict[str, Any]:
    """One ``collection`` Bundle of every resource gathered (each ``type/id`` once)."""
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for key in PREFETCH:
        for entry in gathered.entries.get(key, []):
            resource = entry["resource"]
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                if (rtype, rid) in seen:
                    continue
                seen.add((rtype, rid))
            entries.append(dict(entry))
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def operation_outcome(issues: Mapping[str, str]) -> dict[str, Any]:
    """The 412 body: an OperationOutcome naming the prefetch keys that could not be had."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "not-found",
                "details": {"text": f"prefetch '{key}' ({PREFETCH[key]}) is missing: {reason}"},
                "expression": [f"prefetch.{key}"],
            }
            for key, reason in issues.items()
        ],
    }
