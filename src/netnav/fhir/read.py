"""Reading a FHIR R4 document: JSON text (:func:`parse_fhir_json`), then a Bundle (any type)
or a single resource (:func:`read_document`).

:func:`parse_fhir_json` is the one JSON reader of FHIR input (CLI and web): UTF-8 (a
byte-order mark allowed), duplicate object keys, ``NaN``/``Infinity`` and documents nested too
deeply are refused with :class:`netnav.fhir.model.FhirImportError`.

Each resource is validated with its fhir.resources R4B model (R4B reads R4 JSON; R5-only or
STU3-only elements are refused by name). **Each Bundle entry is validated on its own**: an
entry that fails is kept aside as an :class:`InvalidEntry` (its JSON path, the first
validation error, shortened) and listed by the importer; the rest of the record is read.
**Lenient reading of an entry** (an entry fhir.resources refuses is repaired, then read
again, at most :data:`_MAX_REPAIRS` times; every repair is an :class:`Repair` of the entry,
listed by the importer): (a) a dateTime with a time but no time zone keeps its date
(``2025-03-01T10:00:00`` → ``2025-03-01``); (b) empty strings, objects and arrays are removed
anywhere (FHIR forbids them; they carry nothing); (c) an invalid ``id`` is dropped and the
entry named by its place (``Observation#entry[3]``); (d) any other invalid element is removed
when it is not an element netnav reads for that resource type (``data/elements_read.yaml``).
An invalid element netnav reads (``valueQuantity.value`` …) and an element that is not part of
FHIR R4 at all (R5/STU3 content) are never repaired: the entry is not used.

Only a document that is not a Bundle or resource at all (or a lone resource that fails) raises
:class:`netnav.fhir.model.FhirImportError` naming the JSON path of the problem
(``entry[2].resource.valueQuantity.value``), the value found and what is allowed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from netnav.fhir.model import FhirImportError

__all__ = ["Entry", "InvalidEntry", "ReadBundle", "Repair", "parse_fhir_json", "read_document"]

_MAX_MESSAGE = 200
# How many times a refused entry is repaired and read again before it is given up.
_MAX_REPAIRS = 4
# A dateTime with a time but no time zone (FHIR R4 requires the zone when a time is given).
_TIME_NO_ZONE = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")

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
class Repair:
    """One change made to an entry so that it could be read (listed in ``unmapped``).

    ``element``: the FHIR path of the element (``Observation.effectiveDateTime``,
    ``Observation.interpretation[0].coding[0].display``); ``reason``: what was wrong and what
    was done, for a clinician.
    """

    element: str
    reason: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the document.

    ``path``: its JSON path (``entry[3].resource``; ``""`` for a lone resource); ``resource``:
    the fhir.resources R4B model instance; ``type`` and ``id`` as in the JSON; ``label``:
    ``"Observation/ki67-1"`` (``"Observation#entry[3]"`` when it has no id); ``repairs``: what
    was changed so that the entry could be read (see the module docstring), in order.
    """

    path: str
    resource: Any
    type: str
    id: str | None
    label: str
    full_url: str | None
    repairs: tuple[Repair, ...] = ()


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    """A Bundle entry whose resource is not valid FHIR R4 (not used; listed by the importer).

    ``label``: ``"Observation/ki67-1"`` (from the JSON, ``"Observation#entry[3]"`` without an
    id); ``element``: the JSON path of the first problem; ``reason``: what is wrong, shortened;
    ``raw``: the entry's JSON object (read only for its id and ``subject``/``patient``).
    """

    path: str
    type: str
    id: str | None
    label: str
    full_url: str | None
    element: str
    reason: str
    raw: Mapping[str, Any] | None


@dataclass(slots=True)
class ReadBundle:
    """The resources of a document, in order, with the Bundle's timestamp (ISO text or None)
    and the entries that could not be read (``invalid``)."""

    entries: list[Entry]
    timestamp: str | None = None
    invalid: list[InvalidEntry] = field(default_factory=list)
    _index: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.entries:
            if entry.id is not None:
                self._index.setdefault(f"{entry.type}/{entry.id}", entry)
            if entry.full_url:
                self._index.setdefault(entry.full_url, entry)

    def resolve(self, reference: str) -> Any | None:
        """The resource a reference names (``Medication/abc``, a fullUrl such as
        ``urn:uuid:…``, or an absolute URL ending in ``Type/id``, each optionally followed by
        ``/_history/version``), or ``None``."""
        found = self._index.get(reference)
        if found is None and "/" in reference:
            parts = reference.rstrip("/").split("/")
            if "_history" in parts:  # Condition/x/_history/3: the resource, any version
                parts = parts[: parts.index("_history")]
            if len(parts) >= 2:
                found = self._index.get(f"{parts[-2]}/{parts[-1]}")
        return None if found is None else found.resource


class _Duplicated(dict[str, Any]):
    """A JSON object in which a key occurred twice (``duplicate`` names it)."""

    duplicate: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            found = _Duplicated(pairs)
            found.duplicate = key
            return found
        seen[key] = value
    return seen


def _duplicate_path(node: Any, path: str) -> tuple[str, str] | None:
    """(JSON path of the object, key) of the first duplicated key, depth first."""
    if isinstance(node, _Duplicated):
        return path or "(document)", node.duplicate
    if isinstance(node, dict):
        for key, value in node.items():
            found = _duplicate_path(value, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _duplicate_path(value, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (FHIR decimals are finite)")


def parse_fhir_json(data: bytes | str) -> object:
    """The JSON value of FHIR input text (UTF-8; a byte-order mark is allowed).

    Raises :class:`FhirImportError` when the text is not UTF-8, is empty, looks like XML, is
    not JSON, repeats a key in one object (JSON leaves the meaning open: which value counts is
    up to the reader; the error names the key and the JSON path of its object), holds
    ``NaN``/``Infinity`` or is nested too deeply to read.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FhirImportError(
                "(document)",
                None,
                "UTF-8 text",
                f"not UTF-8 text (invalid byte at offset {exc.start}); FHIR JSON is UTF-8",
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    if not text.strip():
        raise FhirImportError("(document)", "", "a FHIR JSON document", "the document is empty")
    if text.lstrip().startswith("<"):
        raise FhirImportError(
            "(document)",
            None,
            "FHIR JSON",
            "this looks like XML; netnav reads FHIR JSON (application/fhir+json)",
        )
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FhirImportError(
            "(document)",
            None,
            "JSON",
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None
    except RecursionError:
        raise FhirImportError(
            "(document)", None, "a FHIR JSON document", "the document is nested too deeply to read"
        ) from None
    except ValueError as exc:
        raise FhirImportError("(document)", None, "JSON", f"not valid JSON: {exc}") from None
    try:
        duplicate = _duplicate_path(doc, "")
    except RecursionError:  # pragma: no cover - json.loads fails first
        raise FhirImportError(
            "(document)", None, "a FHIR JSON document", "the document is nested too deeply to read"
        ) from None
    if duplicate is not None:
        where, key = duplicate
        raise FhirImportError(
            where,
            key,
            "each key once per object",
            f"{where}: the key {key!r} occurs twice in one object; which value is meant is "
            "not defined, so the document is refused",
        )
    return doc


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


@cache
def _elements_read() -> dict[str, frozenset[str]]:
    """The elements netnav reads per resource type (``data/elements_read.yaml``); ``all``: the
    elements of every type that are never removed."""
    text = resources.files("netnav.fhir").joinpath("data", "elements_read.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {str(k): frozenset(str(e) for e in v) for k, v in raw.items()}


def _is_read(resource_type: str, key: str) -> bool | None:
    """Whether netnav reads the top-level element ``key`` (``_x``, the primitive extension of
    ``x``, counts as ``x``); ``None`` when the resource type has no list (never repaired)."""
    table = _elements_read()
    names = table.get(resource_type)
    if names is None:
        return None
    name = key.removeprefix("_")
    for element in names | table["all"]:
        if element == name:
            return True
        stem = element.removesuffix("[x]")
        if stem != element and name.startswith(stem) and name[len(stem) : len(stem) + 1].isupper():
            return True
    return False


def _fhir_path(resource_type: str, loc: Sequence[str | int]) -> str:
    return _json_path(resource_type, loc)


def _is_empty(value: object) -> bool:
    return value == "" or (isinstance(value, (dict, list)) and not value)


def _strip_empty(node: Any, loc: list[str | int], found: list[list[str | int]]) -> None:
    """Remove empty strings, objects and arrays (depth first, so that an object left empty by
    the removal goes too), noting the location of each outermost one removed."""
    if isinstance(node, dict):
        for key in list(node):
            _strip_empty(node[key], [*loc, key], found)
            if _is_empty(node[key]):
                found[:] = [f for f in found if f[: len(loc) + 1] != [*loc, key]]
                found.append([*loc, key])
                del node[key]
    elif isinstance(node, list):
        for index in reversed(range(len(node))):
            _strip_empty(node[index], [*loc, index], found)
            if _is_empty(node[index]):
                found[:] = [f for f in found if f[: len(loc) + 1] != [*loc, index]]
                found.append([*loc, index])
                del node[index]


def _at(data: Any, loc: Sequence[str | int]) -> tuple[Any, str | int] | None:
    """(container, key) of the value at ``loc`` in the JSON, or ``None``."""
    node = data
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if not loc:
        return None
    last = loc[-1]
    if isinstance(node, dict) and isinstance(last, str) and last in node:
        return node, last
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        return node, last
    return None


def _repair(data: dict[str, Any], exc: Any, resource_type: str, repairs: list[Repair]) -> Any:
    """Repair ``data`` (in place) for the errors fhir.resources reported: ``None`` when
    repaired (read again), else the first error that cannot be repaired (the entry is then
    not used, for that reason)."""
    found: list[list[str | int]] = []
    _strip_empty(data, [], found)
    for loc in found:
        repairs.append(
            Repair(
                _fhir_path(resource_type, loc),
                "empty value removed (FHIR R4 forbids empty strings, objects and arrays; it "
                "carried nothing)",
            )
        )
    if found:
        return None  # read again: the other errors may have been about the empty values
    changed = False
    for error in exc.errors():
        loc = [p for p in error["loc"] if p != "__root__"]
        if not loc or error["type"] == "extra_forbidden":
            return error  # a rule across elements, or not an element of FHIR R4 at all
        top = str(loc[0])
        where = _fhir_path(resource_type, loc)
        value = error.get("input")
        spot = _at(data, loc)
        if top == "id" and len(loc) == 1:
            if "id" in data:
                del data["id"]
                repairs.append(
                    Repair(
                        where,
                        f"invalid id {_shown(value)!r} (FHIR ids are letters, digits, '-' and "
                        "'.'): the resource is read without its id, named by its place; "
                        "references to it are not resolved",
                    )
                )
                changed = True
            continue
        message = str(error.get("msg", ""))
        match = _TIME_NO_ZONE.match(value) if isinstance(value, str) else None
        if match and "DateTime" in message and spot is not None and spot[0][spot[1]] == value:
            spot[0][spot[1]] = match.group(1)
            repairs.append(
                Repair(
                    where,
                    f"time without zone: date kept ({value} → {match.group(1)}; FHIR R4 "
                    "requires a time zone with a time, so the time of day is not known)",
                )
            )
            changed = True
            continue
        if _is_read(resource_type, top) is False and top in data:
            del data[top]
            problem = _short(message.removeprefix("Value error, "))
            repairs.append(
                Repair(
                    _fhir_path(resource_type, [top]),
                    f"not valid FHIR R4 at {where} ({problem}); netnav does not read this "
                    "element: removed, the rest of the resource is read",
                )
            )
            changed = True
            continue
        if top not in data and _is_read(resource_type, top) is False:
            continue  # removed above for an earlier error of the same element
        return error
    return None if changed else exc.errors()[0]


class _InvalidResource(FhirImportError):
    """One resource is not valid FHIR R4 (a Bundle entry: listed; a lone resource: an error)."""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _read_resource(obj: object, path: str) -> Entry:
    from pydantic import ValidationError

    where = path or "(document)"
    if not isinstance(obj, Mapping):
        raise _InvalidResource(where, _shown(obj), "a FHIR resource (a JSON object)")
    resource_type = obj.get("resourceType")
    type_path = _json_path(path, ["resourceType"])
    if not isinstance(resource_type, str):
        raise _InvalidResource(type_path, _shown(resource_type), "a FHIR R4 resource type name")
    try:
        model = _model_class(resource_type)
    except ValueError:
        raise _InvalidResource(
            type_path,
            resource_type,
            "a FHIR R4 resource type (Patient, Condition, Observation, …)",
            f"{type_path}: {resource_type!r} is not a FHIR R4 resource type",
        ) from None
    data: dict[str, Any] = dict(obj)
    repairs: list[Repair] = []
    failed: Any = None  # the first error that could not be repaired
    for attempt in range(_MAX_REPAIRS + 1):
        try:
            resource = model.model_validate(data)
            failed = None
            break
        except RecursionError:
            raise FhirImportError(
                where, None, "a FHIR R4 resource", f"{where}: nested too deeply to read"
            ) from None
        except ValidationError as exc:
            if attempt == 0:
                data = copy.deepcopy(data)  # never change the caller's JSON
            failed = exc.errors()[0]
            if attempt < _MAX_REPAIRS:
                failed = _repair(data, exc, resource_type, repairs)
            if failed is not None:
                break
    if failed is not None:
        error = failed
        loc = [p for p in error["loc"] if p != "__root__"]
        at = _json_path(path, loc)
        if error["type"] == "extra_forbidden":
            allowed = f"the elements of a FHIR R4 {resource_type}"
            reason = (
                f"{at}: {loc[-1]!r} is not an element of a FHIR R4 {resource_type} "
                "(is this R5 or STU3 content?)"
            )
            raise _InvalidResource(at, _shown(error.get("input")), allowed, reason) from None
        message = _short(str(error.get("msg", "invalid")).removeprefix("Value error, "))
        raise _InvalidResource(
            at,
            _shown(error.get("input")),
            f"a valid FHIR R4 value ({message})",
        ) from None
    resource_id = data.get("id") if isinstance(data.get("id"), str) else None
    label = f"{resource_type}/{resource_id}" if resource_id else f"{resource_type}#{where}"
    return Entry(path, resource, resource_type, resource_id, label, None, tuple(repairs))


def _invalid(raw: object, at: str, full_url: str | None, exc: FhirImportError) -> InvalidEntry:
    obj = raw if isinstance(raw, Mapping) else None
    rtype = obj.get("resourceType") if obj is not None else None
    type_ = rtype if isinstance(rtype, str) and rtype else "Resource"
    rid = obj.get("id") if obj is not None and isinstance(obj.get("id"), str) else None
    label = f"{type_}/{rid}" if rid else f"{type_}#{at}"
    problem = exc.reason.removeprefix(f"{exc.path}: ")
    reason = _short(f"not valid FHIR R4, not read ({problem})")
    return InvalidEntry(f"{at}.resource", type_, rid, label, full_url, exc.path, reason, obj)


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
    invalid: list[InvalidEntry] = []
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
        full_url = raw.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            raise FhirImportError(f"{at}.fullUrl", _shown(full_url), "a URI")
        try:
            entry = _read_resource(raw["resource"], f"{at}.resource")
        except _InvalidResource as exc:
            invalid.append(_invalid(raw["resource"], at, full_url, exc))
            continue
        label = entry.label
        if entry.id is None:
            label = f"{entry.type}#{at}"
        entries.append(
            Entry(entry.path, entry.resource, entry.type, entry.id, label, full_url, entry.repairs)
        )
    return ReadBundle(entries, timestamp, invalid)
