"""Reading a FHIR R4 document: a Bundle (any type) or a single resource, as JSON mapping.

Each resource is validated with its fhir.resources R4B model (R4B reads R4 JSON; R5-only or
STU3-only elements are refused by name). :func:`read_document` returns a :class:`ReadBundle`
(the entries in document order, the Bundle's timestamp, reference resolution) or raises
:class:`netnav.fhir.model.FhirImportError` naming the JSON path of the first problem
(``entry[2].resource.valueQuantity.value``), the value found and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netnav.fhir.model import FhirImportError

__all__ = ["Entry", "ReadBundle", "read_document"]

# Bundle elements checked here; a resource's own elements are checked by its model.
_BUNDLE_KEYS = {
    "resourceType", "id", "meta", "implicitRules", "language", "identifier", "type",
    "timestamp", "total", "link", "entry", "signature",
}  # fmt: skip
_ENTRY_KEYS = {"id", "extension", "modifierExtension", "link", "fullUrl", "resource", "search", "request", "response"}  # fmt: skip
_BUNDLE_TYPES = (
    "document", "message", "transaction", "transaction-response", "batch", "batch-response",
    "history", "searchset", "collection",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the document.

    ``path``: its JSON path (``entry[3].resource``; ``""`` for a lone resource); ``resource``:
    the fhir.resources R4B model instance; ``type`` and ``id`` as in the JSON; ``label``:
    ``"Observation/ki67-1"`` (``"Observation#entry[3]"`` when it has no id).
    """

    path: str
    resource: Any
    type: str
    id: str | None
    label: str
    full_url: str | None


@dataclass(slots=True)
class ReadBundle:
    """The resources of a document, in order, with the Bundle's timestamp (ISO text or None)."""

    entries: list[Entry]
    timestamp: str | None = None
    _index: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.entries:
            if entry.id is not None:
                self._index.setdefault(f"{entry.type}/{entry.id}", entry)
            if entry.full_url:
                self._index.setdefault(entry.full_url, entry)

    def resolve(self, reference: str) -> Any | None:
        """The resource a reference names (``Medication/abc``, a fullUrl such as
        ``urn:uuid:…``, or an absolute URL ending in ``Type/id``), or ``None``."""
        found = self._index.get(reference)
        if found is None and "/" in reference:
            parts = reference.rstrip("/").split("/")
            if len(parts) >= 2:
                found = self._index.get(f"{parts[-2]}/{parts[-1]}")
        return None if found is None else found.resource


def _json_path(prefix: str, loc: Sequence[str | int]) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _shown(value: object) -> object:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _read_resource(obj: object, path: str) -> Entry:
    from pydantic import ValidationError

    where = path or "(document)"
    if not isinstance(obj, Mapping):
        raise FhirImportError(where, _shown(obj), "a FHIR resource (a JSON object)")
    resource_type = obj.get("resourceType")
    type_path = _json_path(path, ["resourceType"])
    if not isinstance(resource_type, str):
        raise FhirImportError(type_path, _shown(resource_type), "a FHIR R4 resource type name")
    try:
        model = _model_class(resource_type)
    except ValueError:
        raise FhirImportError(
            type_path,
            resource_type,
            "a FHIR R4 resource type (Patient, Condition, Observation, …)",
            f"{type_path}: {resource_type!r} is not a FHIR R4 resource type",
        ) from None
    try:
        resource = model.model_validate(dict(obj))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [p for p in error["loc"] if p != "__root__"]
        at = _json_path(path, loc)
        if error["type"] == "extra_forbidden":
            allowed = f"the elements of a FHIR R4 {resource_type}"
            reason = (
                f"{at}: {loc[-1]!r} is not an element of a FHIR R4 {resource_type} "
                "(is this R5 or STU3 content?)"
            )
            raise FhirImportError(at, _shown(error.get("input")), allowed, reason) from None
        message = str(error.get("msg", "invalid"))
        raise FhirImportError(
            at,
            _shown(error.get("input")),
            f"a valid FHIR R4 value ({message.removeprefix('Value error, ')})",
        ) from None
    resource_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    label = f"{resource_type}/{resource_id}" if resource_id else f"{resource_type}#{where}"
    return Entry(path, resource, resource_type, resource_id, label, None)


def read_document(doc: object) -> ReadBundle:
    """Read a Bundle or a single resource (decoded JSON). Raises FhirImportError."""
    if not isinstance(doc, Mapping):
        raise FhirImportError("(document)", type(doc).__name__, "a FHIR R4 Bundle (a JSON object)")
    if "resourceType" not in doc:
        hint = " (this looks like a netnav case, not FHIR)" if "format" in doc else ""
        raise FhirImportError(
            "resourceType",
            None,
            "a FHIR R4 Bundle or resource",
            f"resourceType: missing; a FHIR R4 Bundle or resource has one{hint}",
        )
    if doc.get("resourceType") != "Bundle":
        entry = _read_resource(doc, "")
        return ReadBundle([entry])
    for key in doc:
        if key not in _BUNDLE_KEYS:
            raise FhirImportError(
                key,
                _shown(doc[key]),
                "the elements of a FHIR R4 Bundle",
                f"{key}: not an element of a FHIR R4 Bundle (is this R5 or STU3 content?)",
            )
    bundle_type = doc.get("type")
    if bundle_type not in _BUNDLE_TYPES:
        raise FhirImportError("type", _shown(bundle_type), ", ".join(_BUNDLE_TYPES))
    timestamp = doc.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        raise FhirImportError("timestamp", _shown(timestamp), "an instant (YYYY-MM-DDThh:mm:ssZ)")
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FhirImportError("entry", _shown(raw_entries), "a list of entries")
    entries: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        at = f"entry[{index}]"
        if not isinstance(raw, Mapping):
            raise FhirImportError(at, _shown(raw), "an entry object")
        for key in raw:
            if key not in _ENTRY_KEYS:
                raise FhirImportError(
                    f"{at}.{key}", _shown(raw[key]), "the elements of a Bundle entry"
                )
        if "resource" not in raw:
            continue  # a response entry or a deleted resource in a history bundle
        entry = _read_resource(raw["resource"], f"{at}.resource")
        full_url = raw.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            raise FhirImportError(f"{at}.fullUrl", _shown(full_url), "a URI")
        label = entry.label
        if entry.id is None:
            label = f"{entry.type}#{at}"
        entries.append(Entry(entry.path, entry.resource, entry.type, entry.id, label, full_url))
    return ReadBundle(entries, timestamp)
