"""Prefetch of the ``netnav-plan`` CDS service: the patient's record, one query per key.

The service asks the CDS client for :data:`PREFETCH` (templates filled with the context's
``patientId``). For each key of the request's ``prefetch``:

* present with a resource or Bundle: used as it is;
* present with ``null``: the client says there is no such data; nothing is fetched;
* absent (or an ``OperationOutcome``, the client's own failure): fetched from the request's
  ``fhirServer`` with ``Authorization: Bearer <fhirAuthorization.access_token>`` — searchset
  Bundles are followed through their ``next`` links (at most ``max_pages`` pages, on the same
  server only). When there is no ``fhirServer``, or it cannot be reached or answers an error,
  :class:`PrefetchUnavailable` is raised (the service answers 412 with an OperationOutcome).

:func:`collection_bundle` joins what was gathered into one ``collection`` Bundle for the FHIR
import (each resource once, by type and id).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urljoin, urlsplit

import httpx

__all__ = [
    "FHIR_JSON",
    "PREFETCH",
    "Gathered",
    "PrefetchUnavailable",
    "collection_bundle",
    "gather",
    "operation_outcome",
]

log = logging.getLogger("netnav.web.cds")

FHIR_JSON: Final = "application/fhir+json"

PREFETCH: Final[Mapping[str, str]] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}
"""The prefetch templates of the discovery document (every key is needed to plan)."""


class PrefetchUnavailable(Exception):
    """Required prefetch data is missing and could not be fetched (``keys``, ``reason``)."""

    def __init__(self, keys: list[str], reason: str) -> None:
        super().__init__(reason)
        self.keys = keys
        self.reason = reason


@dataclass
class Gathered:
    """The resources gathered per prefetch key, and how each key was satisfied."""

    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    """``prefetch``, ``null`` (no data) or ``fetched``."""


def fill(template: str, patient_id: str) -> str:
    """The query of ``template`` for the patient (the id URL-quoted)."""
    return template.replace("{{context.patientId}}", quote(patient_id, safe=""))


def resources_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a prefetch value: a Bundle's entries (``OperationOutcome`` entries of a
    search left out), or the resource itself."""
    if document.get("resourceType") == "Bundle":
        out = []
        for entry in document.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                out.append(resource)
        return out
    return [dict(document)]


def _is_failure(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


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
    missing: list[str] = []
    for key in PREFETCH:
        if key in prefetch and not _is_failure(prefetch[key]):
            value = prefetch[key]
            if value is None:
                gathered.resources[key] = []
                gathered.how[key] = "null"
            else:
                gathered.resources[key] = resources_of(value)
                gathered.how[key] = "prefetch"
        else:
            missing.append(key)
    if not missing:
        return gathered
    if not fhir_server:
        raise PrefetchUnavailable(missing, "prefetch missing and no fhirServer in the request")
    if not _server_allowed(fhir_server):
        raise PrefetchUnavailable(missing, "fhirServer must be an https URL")
    base = fhir_server.rstrip("/") + "/"
    headers = {"Accept": FHIR_JSON}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout_s, headers=headers, follow_redirects=False
    ) as client:
        results = await asyncio.gather(
            *(_fetch(client, base, fill(PREFETCH[k], patient_id), max_pages) for k in missing),
            return_exceptions=True,
        )
    failed = [k for k, r in zip(missing, results, strict=True) if isinstance(r, BaseException)]
    if failed:
        kinds = sorted({type(r).__name__ for r in results if isinstance(r, BaseException)})
        log.warning("cds prefetch: fetch-on-miss failed for %s (%s)", failed, ", ".join(kinds))
        raise PrefetchUnavailable(failed, "the FHIR server could not be read")
    for key, result in zip(missing, results, strict=True):
        assert not isinstance(result, BaseException)
        gathered.resources[key] = result
        gathered.how[key] = "fetched"
    return gathered


class _FetchError(Exception):
    pass


async def _fetch(
    client: httpx.AsyncClient, base: str, query: str, max_pages: int
) -> list[dict[str, Any]]:
    """The resources of one query, following ``next`` links on the same server."""
    url: str | None = urljoin(base, query)
    out: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        if pages >= max_pages:
            log.warning("cds prefetch: stopped after %d pages", max_pages)
            break
        response = await client.get(url)
        pages += 1
        if response.status_code == 404 and query.startswith("Patient/"):
            return []  # no such patient: no data (the import reports what is missing)
        if response.status_code != 200:
            raise _FetchError(f"HTTP {response.status_code}")
        document = response.json()
        if not isinstance(document, dict) or "resourceType" not in document:
            raise _FetchError("not a FHIR resource")
        if _is_failure(document):
            raise _FetchError("OperationOutcome")
        out.extend(resources_of(document))
        url = _next_link(document, base)
    return out


def _next_link(document: Mapping[str, Any], base: str) -> str | None:
    if document.get("resourceType") != "Bundle":
        return None
    for link in document.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            target = link.get("url")
            if isinstance(target, str):
                target = urljoin(base, target)
                # The access token goes to the EHR's own server only.
                if _same_origin(target, base):
                    return target
                log.warning("cds prefetch: next link to another server not followed")
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
        for resource in gathered.resources.get(key, []):
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                if (rtype, rid) in seen:
                    continue
                seen.add((rtype, rid))
            entries.append({"resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def operation_outcome(keys: list[str], reason: str) -> dict[str, Any]:
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
            for key in keys
        ],
    }
