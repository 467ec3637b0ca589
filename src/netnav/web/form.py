"""The case form of the web app: its layout as data, and form data <-> case document.

The layout (which questions, in which order, in which words) is ``data/form.yaml``, written
for a clinician to review; input kinds, ranges and allowed values come from
``case/case.schema.json``, so the form cannot drift from the case format (:func:`build_layout`
refuses a layout that misses a schema field or names one that does not exist).

Field names in the HTML are case paths, with the row index in brackets for repeated rows::

    patient.age_years            tumor.metastases            setting.region
    treatments[0].therapy        tumor.ki67_history[1].percent
    treatments                   (the "no treatment so far" tick box of the rows)
    extensions_json              (hidden: the loaded case's ``extensions`` as JSON text)

which is the syntax of :attr:`netnav.errors.CaseProblem.path`, so a problem maps to its input
directly (:func:`field_errors`). The input ``id`` is ``f-`` plus the name with ``[``, ``]`` and
``.`` turned into ``-`` (:func:`field_id`): ``treatments[0].therapy`` -> ``f-treatments-0--therapy``.

Reading a posted form (:func:`case_from_form`): an empty box or the "unknown / not recorded"
choice leaves the field out (unknown, never ``false`` or ``0``); ``yes``/``no`` become
``true``/``false``; numbers are parsed, and text that is not a number is passed on as text so
that the case validator reports it with its path and value. A tick-box list, or a set of
rows, can also say "none" (:data:`NONE_CHOICE`, e.g. "no distant metastases found", "no
treatment so far"): that is an empty list, which is not the same as leaving it out. Rows whose
boxes are all empty are dropped and the others renumbered in order, so re-render a refused form
from ``form_values(document)`` (not from the raw post): then the problem paths
(``treatments[1].end``) name the rows as shown.

Extensions: the schema's ``extensions`` object (site data the form does not show) travels in
the hidden field ``extensions_json``. :func:`form_values` writes it as JSON text;
:func:`case_from_form` restores it when it parses to a JSON object. Anything else (damaged
JSON, an array) is passed on as the raw text, so validation refuses the case with the problem
``extensions: must be a JSON object`` (given the text), which :func:`field_errors` reports at
form level (key ``""``): nothing is dropped silently.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal

import yaml

from netnav.case.model import format_path
from netnav.errors import CaseProblem, NetnavError
from netnav.knowledge.load import default_knowledge
from netnav.vocabulary import HISTORY_ONLY_IDS, OPTION_IDS

__all__ = [
    "CASE_FORMAT",
    "EXTENSIONS_FIELD",
    "NONE_CHOICE",
    "FieldKind",
    "FormField",
    "FormGroup",
    "FormLayoutError",
    "build_layout",
    "case_from_form",
    "field_errors",
    "field_id",
    "form_layout",
    "form_values",
    "schema_leaves",
    "unmapped_paths",
]

CASE_FORMAT: Final = "netnav-case/1"
EXTENSIONS_FIELD: Final = "extensions_json"
# The value of a "none" tick box: not a valid enumeration value or id (they are snake_case).
NONE_CHOICE: Final = "-none-"
UNKNOWN_LABEL: Final = "Unknown / not recorded"
CHOOSE_LABEL: Final = "Choose…"

FieldKind = Literal[
    "select",  # one of a list; first choice "" = unknown
    "yesno",  # select of unknown / yes / no (never a checkbox: unknown is not "no")
    "number",  # integer or decimal number
    "date",  # a full date, YYYY-MM-DD
    "partial_date",  # YYYY-MM or YYYY-MM-DD
    "checkboxes",  # several of a list
    "text",  # free text
    "none",  # the "none" tick box of a set of rows
]

_FULL_DATE: Final = r"^\d{4}-\d{2}-\d{2}$"
_PARTIAL_DATE: Final = r"^\d{4}-\d{2}(-\d{2})?$"
_ID_PATTERN: Final = r"^[a-z0-9_]+$"
_ENTRY_KEYS: Final = frozenset({"path", "label", "unit", "help", "labels", "choices", "none_label"})
_GROUP_KEYS: Final = frozenset(
    {
        "id",
        "title",
        "intro",
        "fields",
        "subgroups",
        "collapsible",
        "repeat",
        "rows",
        "row_title",
        "none_label",
    }
)
_INTEGER_TEXT: Final = re.compile(r"[+-]?\d{1,30}")
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ROW_INDEX: Final = re.compile(r"\[\d+\]")
_MAX_ROW_INDEX_DIGITS: Final = 4


class FormLayoutError(NetnavError):
    """``form.yaml`` does not match the case schema; names the entry and the reason."""

    def __init__(self, entry: str, reason: str) -> None:
        self.entry = entry
        self.reason = reason
        super().__init__(f"form layout (web/data/form.yaml): {entry}: {reason}")


# --- the layout ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One question of the form.

    ``path`` is the case path, with ``[]`` for the row of a repeated group
    (``treatments[].therapy``); :meth:`input_name` gives the HTML name for a row.
    ``choices`` are ``(value, label)`` pairs in display order, without the empty "unknown"
    choice (the template adds it, labelled :attr:`empty_label`). ``minimum``, ``maximum`` and
    ``exclusive_minimum`` are the schema's bounds of a number; ``integer`` says whole numbers
    only. ``required`` mirrors the schema (for a row field: required once the row is used).
    ``none_label`` names the "none" tick box of a ``checkboxes`` or ``none`` field.
    """

    path: str
    label: str
    kind: FieldKind
    unit: str = ""
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    integer: bool = False
    max_length: int | None = None
    required: bool = False
    none_label: str = ""

    @property
    def name(self) -> str:
        """The HTML name of a field outside rows (for a row field, the pattern with ``[]``)."""
        return self.path

    @property
    def in_row(self) -> bool:
        """Whether the field belongs to a repeated row."""
        return "[]" in self.path

    @property
    def key(self) -> str:
        """The last key of the path: ``therapy`` for ``treatments[].therapy``."""
        return self.path.rsplit(".", 1)[-1].removesuffix("[]")

    @property
    def choice_values(self) -> tuple[str, ...]:
        """The values of :attr:`choices`, to tell a value outside the list."""
        return tuple(value for value, _ in self.choices)

    @property
    def empty_label(self) -> str:
        """The label of the first, empty choice of a select."""
        return CHOOSE_LABEL if self.required and not self.in_row else UNKNOWN_LABEL

    @property
    def step(self) -> str:
        """The ``step`` attribute of a number input: ``1`` or ``any``."""
        return "1" if self.integer else "any"

    @property
    def html_min(self) -> str:
        """The ``min`` attribute of a number input ("" = none)."""
        low = self.minimum if self.minimum is not None else self.exclusive_minimum
        return "" if low is None else _number_text(low)

    @property
    def html_max(self) -> str:
        """The ``max`` attribute of a number input ("" = none)."""
        return "" if self.maximum is None else _number_text(self.maximum)

    def input_type(self, value: object = "") -> str:
        """The ``type`` of a number input: always ``text`` (with ``inputmode="decimal"``).

        A browser's number input silently drops what it cannot read: "2,5" typed in Ki-67
        reached the server as 25 (G3 instead of G1), "1.5 cm" as 1.5. A text input sends what
        was typed, and the server refuses it with a message beside the field.
        """
        return "text"

    def input_name(self, row: int | None = None) -> str:
        """The HTML name: the path, with ``row`` in the brackets of a row field."""
        if row is None or not self.in_row:
            return self.path
        return self.path.replace("[]", f"[{row}]", 1)

    def input_id(self, row: int | None = None) -> str:
        """The HTML id of the (first) input of this field: :func:`field_id` of its name."""
        return field_id(self.input_name(row))


@dataclass(frozen=True)
class FormGroup:
    """A group of questions, shown as a fieldset (``collapsible``: inside ``<details>``).

    A repeated group (``repeat`` = the array's path, ``treatments``) shows its ``fields`` once
    per row, at least ``rows`` rows, titled ``row_title`` and the row number; ``none_field``
    is its "none" tick box (named ``repeat``). ``max_rows`` is the schema's ``maxItems``.
    """

    id: str
    title: str
    intro: str = ""
    fields: tuple[FormField, ...] = ()
    subgroups: tuple[FormGroup, ...] = ()
    collapsible: bool = False
    repeat: str = ""
    rows: int = 0
    row_title: str = ""
    none_field: FormField | None = None
    max_rows: int | None = None

    def walk(self) -> Iterator[FormGroup]:
        """This group and its subgroups, depth first, in display order."""
        yield self
        for sub in self.subgroups:
            yield from sub.walk()

    def all_fields(self) -> Iterator[FormField]:
        """Every field of this group and its subgroups (with the "none" tick boxes)."""
        for group in self.walk():
            if group.none_field is not None:
                yield group.none_field
            yield from group.fields

    def used_rows(
        self, values: Mapping[str, object], errors: Mapping[str, object] | None = None
    ) -> int:
        """1 + the highest row index holding a value or an error (0 when none does)."""
        if not self.repeat:
            return 0
        prefix = self.repeat + "["
        used = 0
        for name in (*values, *(errors or {})):
            if name.startswith(prefix) and (match := _ROW_INDEX.match(name, len(self.repeat))):
                used = max(used, int(match.group()[1:-1]) + 1)
        return used

    def row_count(
        self, values: Mapping[str, object], errors: Mapping[str, object] | None = None
    ) -> int:
        """How many rows to show: at least :attr:`rows`, and one empty row after the last used."""
        count = max(self.rows, self.used_rows(values, errors) + 1)
        return min(count, self.max_rows) if self.max_rows is not None else count

    def open_rows(
        self, values: Mapping[str, object], errors: Mapping[str, object] | None = None
    ) -> int:
        """How many rows to show open; the others go behind "more rows" (a ``<details>``)."""
        return min(self.used_rows(values, errors) + 1, self.row_count(values, errors))

    def is_filled(
        self, values: Mapping[str, object], errors: Mapping[str, object] | None = None
    ) -> bool:
        """Whether any field of this group (or its subgroups) has a value or an error.

        A collapsible group is shown open then.
        """
        paths = {field.path for field in self.all_fields()}
        filled = [name for name, value in values.items() if value]
        return any(_pattern(name) in paths for name in (*filled, *(errors or {})))

    def error_entries(self, errors: Mapping[str, Sequence[str]]) -> list[tuple[str, str, str]]:
        """``(input id, label, message)`` of every error in this group, in display order.

        For the error summary at the top of the form; a row field's label starts with the row
        title and number ("Treatment 2: Started").
        """
        entries: list[tuple[str, str, str]] = []
        for group in self.walk():
            named = ([group.none_field] if group.none_field else []) + list(group.fields)
            if not group.repeat:
                for field in named:
                    entries += [
                        (field.input_id(), field.label, m) for m in errors.get(field.name, ())
                    ]
                continue
            if group.none_field is not None:
                field = group.none_field
                entries += [(field.input_id(), group.title, m) for m in errors.get(field.name, ())]
            for row in range(group.used_rows({}, errors)):
                for field in group.fields:
                    label = f"{group.row_title} {row + 1}: {field.label}"
                    name = field.input_name(row)
                    entries += [(field.input_id(row), label, m) for m in errors.get(name, ())]
        return entries


def field_id(name: str) -> str:
    """The HTML id for the input named ``name``: ``f-`` + name with ``[ ] .`` as ``-``.

    ``treatments[0].therapy`` -> ``f-treatments-0--therapy``; ``patient.age_years`` ->
    ``f-patient-age_years``. Names are case paths, so the id holds only ``[A-Za-z0-9_-]``.
    """
    return "f-" + name.replace("[", "-").replace("]", "-").replace(".", "-").rstrip("-")


@functools.cache
def form_layout() -> tuple[FormGroup, ...]:
    """The form's groups, in display order, read once from ``web/data/form.yaml``.

    Raises :class:`FormLayoutError` when the file does not match the case schema.
    """
    text = resources.files("netnav.web").joinpath("data/form.yaml").read_text("utf-8")
    return build_layout(yaml.safe_load(text))


def build_layout(data: object) -> tuple[FormGroup, ...]:
    """Check a layout document (the parsed ``form.yaml``) against the case schema; build it.

    ``data`` is ``{"groups": [{"id", "title", "fields": [{"path", "label", ...}], ...}]}``.
    Raises :class:`FormLayoutError` naming the entry: an unknown path, a field asked twice, a
    schema field not asked, an unknown key, a label for a value the field does not have.
    """
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise FormLayoutError("(document)", "expected a mapping with a list 'groups'")
    builder = _LayoutBuilder(schema_leaves(), _repeats())
    groups = tuple(builder.group(entry, f"groups[{i}]") for i, entry in enumerate(data["groups"]))
    missing = [path for path in schema_leaves() if path not in builder.seen]
    if missing:
        raise FormLayoutError(
            "(document)", "schema fields not in the form: " + ", ".join(sorted(missing))
        )
    return groups


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_leaves() -> dict[str, dict[str, Any]]:
    """Every leaf of the case schema: path (``[]`` for array items) -> its schema node.

    A leaf is a field that is not an object and not an array of objects (an array of values,
    ``tumor.metastases``, is a leaf). ``format`` and ``extensions`` are left out: the form sets
    the first and carries the second in a hidden field.
    """
    leaves: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        items = node.get("items", {})
        if node.get("type") == "object" and "properties" in node:
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}" if path else key)
        elif node.get("type") == "array" and items.get("type") == "object":
            walk(items, path + "[]")
        elif path not in ("format", "extensions"):
            leaves[path] = node

    walk(_schema(), "")
    return leaves


def _repeats() -> dict[str, dict[str, Any]]:
    """Arrays of objects in the schema: path -> the array's node (``treatments``)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "object":
            for key, child in node.get("properties", {}).items():
                walk(child, f"{path}.{key}" if path else key)
        elif node.get("type") == "array" and node.get("items", {}).get("type") == "object":
            found[path] = node

    walk(_schema(), "")
    return found


def _required_paths() -> frozenset[str]:
    out: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        if node.get("type") == "array":
            walk(node.get("items", {}), path + "[]")
        for key, child in node.get("properties", {}).items():
            child_path = f"{path}.{key}" if path else key
            if key in node.get("required", ()):
                out.add(child_path)
            walk(child, child_path)

    walk(_schema(), "")
    return frozenset(out)


@functools.cache
def _choice_source(source: str) -> tuple[tuple[str, str], ...]:
    """``therapies`` (every therapy id) or ``options`` (recommendable option ids), by name."""
    ids = {"therapies": (*OPTION_IDS, *HISTORY_ONLY_IDS), "options": OPTION_IDS}[source]
    therapies = default_knowledge().therapies
    named = [(i, therapies[i].name if i in therapies else _humanise(i)) for i in ids]
    return tuple(sorted(named, key=lambda pair: pair[1].casefold()))


def _humanise(value: str) -> str:
    text = value.replace("_", " ")
    return text[:1].upper() + text[1:]


class _LayoutBuilder:
    """Builds groups from layout entries, remembering which schema fields were asked."""

    def __init__(self, leaves: dict[str, dict[str, Any]], repeats: dict[str, Any]) -> None:
        self.leaves = leaves
        self.repeats = repeats
        self.required = _required_paths()
        self.seen: set[str] = set()
        self.group_ids: set[str] = set()

    def group(self, entry: object, where: str) -> FormGroup:
        if not isinstance(entry, dict):
            raise FormLayoutError(where, "a group must be a mapping")
        group_id = _text(entry, "id", where, required=True)
        where = f"group {group_id!r}"
        if group_id in self.group_ids:
            raise FormLayoutError(where, "the group id is used twice")
        self.group_ids.add(group_id)
        _no_unknown_keys(entry, _GROUP_KEYS, where)
        repeat = _text(entry, "repeat", where)
        if repeat and repeat not in self.repeats:
            raise FormLayoutError(where, f"repeat {repeat!r} is not an array of rows in the schema")
        fields_data = entry.get("fields", [])
        subgroups_data = entry.get("subgroups", [])
        if not isinstance(fields_data, list) or not isinstance(subgroups_data, list):
            raise FormLayoutError(where, "'fields' and 'subgroups' must be lists")
        fields = tuple(self.field(item, where, repeat) for item in fields_data)
        none_label = _text(entry, "none_label", where)
        rows = entry.get("rows", 0)
        if repeat and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 1):
            raise FormLayoutError(where, "a repeated group needs 'rows', a whole number ≥ 1")
        none_field = None
        if repeat and none_label:
            none_field = FormField(
                path=repeat, label=none_label, kind="none", none_label=none_label
            )
        return FormGroup(
            id=group_id,
            title=_text(entry, "title", where, required=True),
            intro=_text(entry, "intro", where),
            fields=fields,
            subgroups=tuple(self.group(sub, where) for sub in subgroups_data),
            collapsible=bool(entry.get("collapsible", False)),
            repeat=repeat,
            rows=rows if repeat else 0,
            row_title=_text(entry, "row_title", where) or _text(entry, "title", where),
            none_field=none_field,
            max_rows=self.repeats[repeat].get("maxItems") if repeat else None,
        )

    def field(self, entry: object, group: str, repeat: str) -> FormField:
        if not isinstance(entry, dict):
            raise FormLayoutError(group, "a field entry must be a mapping")
        path = _text(entry, "path", group, required=True)
        where = f"field {path!r}"
        _no_unknown_keys(entry, _ENTRY_KEYS, where)
        node = self.leaves.get(path)
        if node is None:
            raise FormLayoutError(where, "no such field in the case schema")
        if path in self.seen:
            raise FormLayoutError(where, "the field is asked twice")
        if repeat and not path.startswith(repeat + "[]."):
            raise FormLayoutError(where, f"a field of the rows of {repeat!r} must start with it")
        if not repeat and "[]" in path:
            raise FormLayoutError(where, "a row field belongs in a group with 'repeat'")
        self.seen.add(path)
        label = _text(entry, "label", where, required=True)
        kind, choices, extra = _kind(node, entry, where)
        labels = entry.get("labels", {})
        if not isinstance(labels, dict):
            raise FormLayoutError(where, "'labels' must be a mapping value: label")
        unknown = [str(v) for v in labels if v not in dict(choices)]
        if unknown:
            raise FormLayoutError(where, f"labels for values the field does not have: {unknown}")
        choices = tuple((value, str(labels.get(value, text))) for value, text in choices)
        none_label = _text(entry, "none_label", where)
        if none_label and kind != "checkboxes":
            raise FormLayoutError(where, "'none_label' is only for tick-box lists")
        return FormField(
            path=path,
            label=label,
            kind=kind,
            unit=_text(entry, "unit", where),
            help=_text(entry, "help", where),
            choices=choices,
            required=path in self.required,
            none_label=none_label,
            **extra,
        )


def _kind(
    node: Mapping[str, Any], entry: Mapping[str, Any], where: str
) -> tuple[FieldKind, tuple[tuple[str, str], ...], dict[str, Any]]:
    """The input kind, the choices and the number/text bounds of a schema leaf."""
    source = entry.get("choices")
    if source is not None and source not in ("therapies", "options"):
        raise FormLayoutError(where, "'choices' must be 'therapies' or 'options'")
    items = node.get("items", {}) if node.get("type") == "array" else None
    values_node = items if items is not None else node
    if "enum" in values_node:
        choices = tuple((str(v), _humanise(str(v))) for v in values_node["enum"])
    elif values_node.get("pattern") == _ID_PATTERN:
        if source is None:
            raise FormLayoutError(where, "an option id field needs 'choices: therapies|options'")
        choices = _choice_source(str(source))
    else:
        choices = ()
    if source is not None and not choices:
        raise FormLayoutError(where, "'choices' is only for option id fields")
    if items is not None:
        if not choices:
            raise FormLayoutError(where, "only arrays of listed values can be tick boxes")
        return "checkboxes", choices, {}
    if choices:
        return "select", choices, {}
    kind = node.get("type")
    if kind == "boolean":
        return "yesno", (("yes", "Yes"), ("no", "No")), {}
    if kind in ("integer", "number"):
        bounds = {
            "minimum": node.get("minimum"),
            "maximum": node.get("maximum"),
            "exclusive_minimum": node.get("exclusiveMinimum"),
            "integer": kind == "integer",
        }
        return "number", (), bounds
    if kind == "string":
        pattern = node.get("pattern")
        if pattern == _FULL_DATE:
            return "date", (), {}
        if pattern == _PARTIAL_DATE:
            return "partial_date", (), {}
        if pattern is None:
            return "text", (), {"max_length": node.get("maxLength")}
    raise FormLayoutError(where, f"no input kind for the schema node {dict(node)}")


def _text(entry: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise FormLayoutError(where, f"{key!r} must be {'non-empty ' if required else ''}text")
    return value


def _no_unknown_keys(entry: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise FormLayoutError(where, f"unknown keys {unknown}; allowed: {sorted(allowed)}")


# --- lookups over the layout ----------------------------------------------------------------


def _pattern(name: str) -> str:
    """``treatments[2].therapy`` -> ``treatments[].therapy``."""
    return _ROW_INDEX.sub("[]", name)


@functools.cache
def _fields_by_path() -> dict[str, FormField]:
    return {field.path: field for group in form_layout() for field in group.all_fields()}


def _repeat_groups() -> Iterator[FormGroup]:
    for top in form_layout():
        for group in top.walk():
            if group.repeat:
                yield group


def _plain_fields() -> Iterator[FormField]:
    return (
        field for field in _fields_by_path().values() if not field.in_row and field.kind != "none"
    )


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# --- form -> case document ------------------------------------------------------------------


def case_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The case document (a ``netnav-case/1`` dict, not yet validated) of a posted form.

    ``form`` maps input names to the posted value, or to every value of a name posted several
    times (tick boxes); a multidict with ``getlist`` (Starlette's ``FormData``) is read with
    it. Names outside the layout (``csrftoken``) are ignored. Ticked boxes keep the posted
    order (a browser posts them in the order of the list). See the module docstring for how
    each kind of box is read; pass the result to ``netnav.case.load.case_from_mapping``.
    """
    doc: dict[str, Any] = {"format": CASE_FORMAT}
    for field in _plain_fields():
        value = _read(field, _posted(form, field.name))
        if value is not _ABSENT:
            _put(doc, field.path, value)
    names = list(form.keys())
    for group in _repeat_groups():
        rows: list[Any] = []
        for index in _row_indices(names, group.repeat):
            row = {}
            for field in group.fields:
                value = _read(field, _posted(form, field.input_name(index)))
                if value is not _ABSENT:
                    row[field.key] = value
            if row:
                rows.append(row)
        none = NONE_CHOICE in _posted(form, group.repeat)
        if none and rows:
            # Rows and "none" together contradict each other: keep the marker, so that the
            # validator refuses it at ``treatments[n]`` and field_errors explains.
            rows.append(NONE_CHOICE)
        if rows or none:
            _put(doc, group.repeat, rows)
    extensions = _posted(form, EXTENSIONS_FIELD)
    if extensions and extensions[-1].strip():
        doc["extensions"] = _extensions(extensions[-1])
    return doc


class _Absent:
    __slots__ = ()


_ABSENT: Final = _Absent()


def _posted(form: Mapping[str, str | Sequence[str]], name: str) -> list[str]:
    """Every value posted under ``name`` (text only; an uploaded file is ignored)."""
    getlist = getattr(form, "getlist", None)
    if callable(getlist):
        raw: object = getlist(name)
    else:
        raw = form.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, Iterable):
        return [item for item in raw if isinstance(item, str)]
    return []


def _read(field: FormField, posted: list[str]) -> Any:
    """The document value of a field from its posted values, or ``_ABSENT``."""
    if field.kind == "checkboxes":
        chosen = [value.strip() for value in posted if value.strip()]
        if not chosen:
            return _ABSENT
        rest = [value for value in chosen if value != NONE_CHOICE]
        return [*rest, NONE_CHOICE] if rest and len(rest) < len(chosen) else rest
    text = posted[-1] if posted else ""
    if field.kind == "text":
        return text if text.strip() else _ABSENT
    text = text.strip()
    if not text:
        return _ABSENT
    if field.kind == "yesno":
        return {"yes": True, "no": False}.get(text, text)
    if field.kind == "number":
        return _parse_number(text)
    return text


def _parse_number(text: str) -> int | float | str:
    """``"12"`` -> 12, ``"2.5"`` -> 2.5; anything else (``"12,5"``, ``"nan"``) stays text."""
    if _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if _NUMBER_TEXT.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else text
    return text


def _row_indices(names: Iterable[str], repeat: str) -> list[int]:
    """Row indices posted for the rows at ``repeat``, in order (``treatments[3].x`` -> 3)."""
    pattern = re.compile(re.escape(repeat) + rf"\[(\d{{1,{_MAX_ROW_INDEX_DIGITS}}})\]\.")
    found = {int(m.group(1)) for name in names if (m := pattern.match(name))}
    return sorted(found)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _extensions(text: str) -> Any:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, dict) else text


# --- case document -> form ------------------------------------------------------------------


def form_values(case_doc: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """The form's values for a case document (to prefill the form), by input name.

    Single fields map to text (``"yes"``/``"no"`` for booleans, numbers as written);
    tick-box lists to a list of values (``[NONE_CHOICE]`` for an empty list); an empty list of
    rows to ``{repeat: NONE_CHOICE}``; ``extensions`` to JSON text under
    :data:`EXTENSIONS_FIELD`. Values the form has no field for are left out: list them with
    :func:`unmapped_paths`. ``case_from_form(form_values(doc)) == doc`` for every valid case
    without empty objects or blank texts (``"patient": {}`` or ``"id": ""`` read as left
    out, which means the same).
    """
    values: dict[str, str | list[str]] = {}
    for field in _plain_fields():
        value = _get(case_doc, field.path)
        if value is not None:
            values[field.name] = _shown(field, value)
    for group in _repeat_groups():
        rows = _get(case_doc, group.repeat)
        if not isinstance(rows, list):
            continue
        if not rows and group.none_field is not None:
            values[group.repeat] = NONE_CHOICE
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                continue
            for field in group.fields:
                if row.get(field.key) is not None:
                    values[field.input_name(index)] = _shown(field, row[field.key])
    if "extensions" in case_doc:
        values[EXTENSIONS_FIELD] = json.dumps(case_doc["extensions"], ensure_ascii=False)
    return values


def _get(doc: Mapping[str, Any], path: str) -> Any:
    node: Any = doc
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _shown(field: FormField, value: Any) -> str | list[str]:
    if field.kind == "checkboxes":
        if not isinstance(value, list):
            return [_as_text(value)]
        return [_as_text(item) for item in value] or [NONE_CHOICE]
    if field.kind == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    return _as_text(value)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def unmapped_paths(case_doc: Mapping[str, Any]) -> list[str]:
    """Paths of the values in ``case_doc`` that no visible field of the form shows.

    ``extensions.<key>`` for each key of ``extensions`` (carried unchanged in the hidden
    ``extensions_json`` field, so the page can say "kept from the loaded case:
    extensions.source_notes"); any other path is a value the form cannot hold (an unknown key
    or a value of the wrong shape, only in an invalid case) and is lost on the next post.
    """
    known = _fields_by_path()
    repeats = {group.repeat for group in _repeat_groups()}
    objects = {p.rsplit(".", i)[0] for p in known for i in range(1, p.count(".") + 1)}
    found: list[str] = []

    def walk(node: Mapping[str, Any], parts: tuple[str | int, ...], pattern: str) -> None:
        for key, value in node.items():
            key_text = str(key)
            here = (*parts, key_text)
            at = f"{pattern}.{key_text}" if pattern else key_text
            if not parts and key_text in ("format", "extensions"):
                if key_text == "extensions":
                    if isinstance(value, Mapping):
                        found.extend(format_path(("extensions", str(k))) for k in value)
                    else:
                        found.append("extensions")
                continue
            if value is None or (at in known and at not in repeats):
                continue
            if at in repeats and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, Mapping):
                        walk(item, (*here, index), at + "[]")
                    else:
                        found.append(format_path((*here, index)))
            elif at in objects and isinstance(value, Mapping):
                walk(value, here, at)
            else:
                found.append(format_path(here))

    walk(case_doc, (), "")
    return found


# --- validation problems -> messages by field -----------------------------------------------


def field_errors(problems: Sequence[CaseProblem]) -> dict[str, list[str]]:
    """Human messages by input name, for the problems of a refused case.

    A problem on a field goes to that field (``treatments[1].end``); one on a value inside a
    field to the field (``tumor.metastases[2]`` -> ``tumor.metastases``); one on an object to
    its required field (``tumor`` missing -> ``tumor.primary_site``); any other (the whole
    document, ``extensions``) to the key ``""``, the form-level errors, with the place named.
    Messages read like "must be at most 100 (given 140)".
    """
    fields = _fields_by_path()
    out: dict[str, list[str]] = {}
    for problem in problems:
        name = _field_name(problem.path, fields)
        field = fields.get(_pattern(name)) if name else None
        message = _message(problem, field)
        if not name:
            message = f"{_place(problem.path)}: {message}"
        messages = out.setdefault(name, [])
        if message not in messages:
            messages.append(message)
    return out


def _field_name(path: str, fields: Mapping[str, FormField]) -> str:
    """The input name a problem at ``path`` belongs to, or "" for the form as a whole."""
    if not path:
        return ""
    candidate = path
    while candidate:
        if _pattern(candidate) in fields:
            return candidate
        parent = re.sub(r"(\.[^.\[\]]+|\[\d+\]|\[\"[^\]]*\"\])$", "", candidate)
        if parent == candidate:
            break
        candidate = parent
    pattern = _pattern(path)
    for field_path, field in fields.items():
        rest = field_path[len(pattern) :]
        if field.required and field_path.startswith(pattern + ".") and "[]" not in rest:
            return path + rest
    return ""


def _place(path: str) -> str:
    if not path:
        return "The case"
    if path == "extensions" or path.startswith(("extensions.", "extensions[")):
        return f"Data kept from the loaded case ({path})"
    return path


def _message(problem: CaseProblem, field: FormField | None) -> str:
    value, message = problem.value, problem.message
    if value == NONE_CHOICE:
        label = field.none_label if field is not None else "none"
        return f"“{label}” is ticked, but entries are given too: untick it or clear the entries"
    if message == "required field is missing":
        if field is not None and field.in_row:
            return "required in a row that is filled in (or clear the row)"
        return "required"
    if message == "out of range" and field is not None and isinstance(value, int | float):
        number = float(value)
        given = _number_text(number)
        if field.maximum is not None and number > field.maximum:
            return f"must be at most {_number_text(field.maximum)} (given {given})"
        if field.minimum is not None and number < field.minimum:
            return f"must be at least {_number_text(field.minimum)} (given {given})"
        if field.exclusive_minimum is not None and number <= field.exclusive_minimum:
            return f"must be more than {_number_text(field.exclusive_minimum)} (given {given})"
    if (
        field is not None
        and field.kind == "number"
        and isinstance(value, str)
        and re.fullmatch(r"\s*[+-]?\d+,\d+\s*", value)
    ):
        # "2,5" may be a decimal comma (2.5) or a thousands separator (2500): ask, never guess.
        point = value.strip().replace(",", ".")
        return (
            f"write decimals with a point: {point} (given {_given(value)}); no thousands separators"
        )
    if (
        field is not None
        and field.kind == "number"
        and field.unit
        and isinstance(value, str)
        and re.search(r"[A-Za-zµ%]", value)
    ):
        return f"a number only, in {field.unit} (given {_given(value)})"
    message = _PLAIN_MESSAGES.get(message, message)
    if value is None:
        return message
    shown = _given(value)
    if shown in message:
        return message
    return f"{message}; given {shown}" if message.endswith(")") else f"{message} (given {shown})"


# The loader's wording, where the form can say it more plainly.
_PLAIN_MESSAGES: Final = {
    "not an allowed value": "not one of the choices",
    "must be a whole number (an integer)": "must be a whole number",
    "must be text (a JSON string)": "must be text",
}


def _given(value: object) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "…"
        return f"“{text}”"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number_text(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"
