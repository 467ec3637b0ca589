"""Reading one row of a registry's flat table as a ``netnav-case/1`` document.

A column mapping (YAML, ``format: netnav-cohort-mapping/1``, described for registry data
managers in ``docs/cohort-mapping.md``) says which column fills which case field, how its
codes translate (``values``), in which unit it is recorded (``unit``) and how its dates are
written (``date_format``). :func:`load_mapping` checks the whole mapping against the case JSON
Schema once and compiles every column into a converter closure; :meth:`ColumnMapping.case_from_row`
then turns a row (``{column: cell}``) into a case dict plus the problems of that row, without
I/O and without raising. The dict is validated afterwards by
:func:`netnav.case.load.case_from_mapping`.

Rules every converter follows:

- a blank cell, a null, a value listed in ``missing_values`` or a code mapped to ``null`` leaves
  the field out: unknown is never "no";
- the JSON Schema type of the target field decides how a cell is read (integer, number,
  boolean, enumeration, date, text); a cell that cannot be read is a :class:`RowProblem`
  naming the case field, the column, the value and the reason, and the field is left out;
- a decimal comma is refused (``12,5`` may be 12.5 or 125), as on the web form.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from netnav.cohort.actual import ACTUAL_OPTION_IDS
from netnav.errors import NetnavError
from netnav.vocabulary import ALL_THERAPY_IDS, OPTION_IDS

__all__ = [
    "MAPPING_FORMAT",
    "UNITS",
    "ColumnMapping",
    "ColumnSpec",
    "MappingDocument",
    "MappingError",
    "RowProblem",
    "load_mapping",
    "mapping_from_dict",
]

MAPPING_FORMAT: Final = "netnav-cohort-mapping/1"
CASE_FORMAT: Final = "netnav-case/1"
_MAX_INDEX: Final = (
    49  # treatments[0] .. treatments[49]; the case format allows no more in practice
)


# --- errors and problems -------------------------------------------------------------------


class MappingError(NetnavError):
    """The column mapping is unusable: names the YAML key, the value and what is allowed."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RowProblem:
    """One cell of a row that could not become a case value.

    ``path`` names the case field and the column (``tumor.ki67_percent (column ki67)``),
    ``value`` is the cell as read, ``reason`` what is wrong and what would be accepted.
    """

    path: str
    value: object
    reason: str


class _Bad(Exception):
    """Raised by a converter: the cell cannot be read (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Omit:
    """The converter's answer for "unknown": the field is left out."""

    def __repr__(self) -> str:
        return "OMIT"


_OMIT: Final = _Omit()
_NO_HIT: Final = object()


# --- the YAML document ---------------------------------------------------------------------

ExtensionType = Literal["string", "integer", "number", "boolean", "date", "option"]


class ColumnSpec(BaseModel):
    """What one column fills (one entry under ``columns``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    field: str
    """Target path in the case: ``tumor.size_mm``, ``treatments[0].therapy``,
    ``tumor.metastases[]`` (adds an item), ``extensions.anything``."""
    values: dict[str, Any] | None = None
    """Code -> case value; a code mapped to null means unknown (field left out)."""
    unit: str | None = None
    """Unit the column is recorded in (numeric fields only; see :data:`UNITS`)."""
    date_format: str | None = None
    """``strftime`` pattern of the column's dates (ISO is always accepted too)."""
    when_true: Any = None
    """List fields: the item added when the cell says yes (the cell is then a boolean)."""
    separator: str | None = None
    """List fields: the cell holds several items separated by this text."""
    type: ExtensionType | None = None
    """``extensions`` fields only: how to read the cell (default ``string``)."""


class MappingDocument(BaseModel):
    """The whole mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    format: Literal["netnav-cohort-mapping/1"]
    case: dict[str, Any] = {}
    """Constants put in every case before the columns (a column's value replaces them)."""
    id: str | None = None
    """The column giving the case id."""
    date_format: str | None = None
    """Default ``date_format`` of every date column."""
    missing_values: list[str] = []
    """Cell texts that mean "not recorded" in every column (compared case-insensitively)."""
    columns: dict[str, ColumnSpec | list[ColumnSpec]]
    """Column name -> what it fills (a list when one column fills several fields)."""


_COLUMN_KEYS: Final = tuple(ColumnSpec.model_fields)
_TOP_KEYS: Final = tuple(MappingDocument.model_fields)


# --- YAML reading: YAML 1.2 booleans, repeated keys refused -------------------------------


class _YamlLoader(yaml.SafeLoader):
    """Safe loader where only true/false are booleans (``yes``, ``no``, ``on``, ``off``, ``Y``,
    ``N`` stay text, as registry codes often are) and a key repeated in one mapping is an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:
                repeated = False
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_mapping(path: Path) -> ColumnMapping:
    """Read, check and compile the mapping file at ``path``.

    Raises :class:`MappingError` naming the file, the key, the value and what is allowed.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"mapping file {source} not found") from None
    except IsADirectoryError:
        raise MappingError(f"mapping path {source} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise MappingError(f"mapping file {source} is not UTF-8 text") from None
    except OSError as error:
        raise MappingError(
            f"cannot read the mapping file {source}: {error.strerror or error}"
        ) from None
    try:
        obj = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise MappingError(f"{source}: not valid YAML: {error}") from None
    return mapping_from_dict(obj, source=source)


def mapping_from_dict(obj: object, *, source: str = "mapping") -> ColumnMapping:
    """Check and compile an already parsed mapping document (see :func:`load_mapping`)."""
    if not isinstance(obj, dict):
        raise MappingError(
            f"{source}: the mapping must be a YAML mapping with the keys {', '.join(_TOP_KEYS)}; "
            f"given {_short(obj)}"
        )
    obj = _normalise_keys(obj)
    try:
        document = MappingDocument.model_validate(obj)
    except ValidationError as error:
        raise MappingError(_describe_validation(source, error, obj)) from None
    return _Compiler(document, source).compile()


def _normalise_keys(obj: dict[Any, Any]) -> dict[Any, Any]:
    # YAML reads the column 2021 or the code 9 as numbers; registries mean the text.
    out = dict(obj)
    columns = out.get("columns")
    if isinstance(columns, dict):
        out["columns"] = {_key_text(name): _normalise_spec(spec) for name, spec in columns.items()}
    if isinstance(out.get("id"), int | float) and not isinstance(out.get("id"), bool):
        out["id"] = _key_text(out["id"])
    if isinstance(out.get("missing_values"), list):
        out["missing_values"] = [
            _key_text(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for v in out["missing_values"]
        ]
    return out


def _normalise_spec(spec: object) -> object:
    if isinstance(spec, list):
        return [_normalise_spec(one) for one in spec]
    if isinstance(spec, dict) and isinstance(spec.get("values"), dict):
        return {**spec, "values": {_key_text(k): v for k, v in spec["values"].items()}}
    return spec


def _key_text(key: object) -> object:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() else repr(key)
    return key


def _describe_validation(source: str, error: ValidationError, obj: Mapping[Any, Any]) -> str:
    lines = []
    columns = obj.get("columns")
    for detail in error.errors():
        loc = detail["loc"]
        if len(loc) >= 3 and loc[0] == "columns" and isinstance(columns, dict):
            # A column's spec is a mapping or a list of mappings: report only the reading
            # that fits what was given.
            spec = columns.get(loc[1])
            if loc[2] == "list[ColumnSpec]" and not isinstance(spec, list):
                if not isinstance(spec, dict):
                    lines.append(
                        f"{_yaml_path(loc[:2])}: must be a mapping such as "
                        f"{{field: tumor.size_mm}}, or a list of them; given {_short(spec)}"
                    )
                continue
            if loc[2] == "ColumnSpec" and not isinstance(spec, dict):
                continue
        where = _yaml_path(loc)
        kind = detail["type"]
        given = detail.get("input")
        if kind == "extra_forbidden":
            allowed = _COLUMN_KEYS if len(loc) >= 3 and loc[0] == "columns" else _TOP_KEYS
            lines.append(f"{where}: unknown key; allowed keys: {', '.join(allowed)}")
        elif kind == "missing":
            lines.append(f"{where}: required key missing")
        elif kind == "literal_error" and loc and loc[-1] == "format":
            lines.append(f"format: given {_short(given)}; allowed: {MAPPING_FORMAT}")
        elif kind == "literal_error" and loc and loc[-1] == "type":
            allowed_types = ", ".join(get_args(ExtensionType))
            lines.append(f"{where}: given {_short(given)}; allowed: {allowed_types}")
        else:
            lines.append(f"{where}: {detail['msg'].lower()}; given {_short(given)}")
    unique = list(dict.fromkeys(lines))
    return f"{source}: invalid mapping:\n  " + "\n  ".join(unique)


_PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _yaml_path(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for index, part in enumerate(loc):
        if part in ("ColumnSpec", "list[ColumnSpec]"):
            continue  # pydantic's name of the union member, not a key
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif index == 1 and loc[0] == "columns" and not _PLAIN.fullmatch(part):
            parts.append(f".{json.dumps(part)}")
        else:
            parts.append(f".{part}" if parts else part)
    return "".join(parts) or "(document)"


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


# --- the case JSON Schema as a table of fields ----------------------------------------------

FieldKind = Literal[
    "string", "integer", "number", "boolean", "enum", "date", "month_or_date", "option"
]


@dataclass(frozen=True)
class _Field:
    """A leaf of the case schema, by template path (``treatments[].therapy``)."""

    path: str
    kind: FieldKind | Literal["object", "object_array", "array"]
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    max_length: int | None = None
    item: _Field | None = None  # for "array": the kind of its items


# The option vocabulary is checked by the case model, not the schema's pattern.
_THERAPY_CHOICES: Final = tuple(sorted(ALL_THERAPY_IDS))
_OPTION_CHOICES: Final = tuple(OPTION_IDS)
# The ids a recorded treatment may carry (option ids, groups, unspecific history ids).
_OPTION_OR_GROUP: Final = ACTUAL_OPTION_IDS
_SPECIAL_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "treatments[].therapy": _THERAPY_CHOICES,
    "preferences.declines[]": _OPTION_CHOICES,
}


def _case_schema() -> dict[str, Any]:
    text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _schema_fields() -> dict[str, _Field]:
    fields: dict[str, _Field] = {}

    def leaf(path: str, node: Mapping[str, Any]) -> _Field:
        if path in _SPECIAL_CHOICES:
            return _Field(path, "enum", _SPECIAL_CHOICES[path])
        if "const" in node:
            return _Field(path, "enum", (str(node["const"]),))
        if "enum" in node:
            return _Field(path, "enum", tuple(str(v) for v in node["enum"]))
        kind = node.get("type")
        if kind == "string" and "pattern" in node and "\\d{4}-\\d{2}" in node["pattern"]:
            full = node["pattern"] == "^\\d{4}-\\d{2}-\\d{2}$"
            return _Field(path, "date" if full else "month_or_date")
        if kind in ("integer", "number"):
            return _Field(
                path,
                kind,
                minimum=node.get("minimum"),
                maximum=node.get("maximum"),
                exclusive_minimum=node.get("exclusiveMinimum"),
            )
        if kind == "boolean":
            return _Field(path, "boolean")
        return _Field(path, "string", max_length=node.get("maxLength"))

    def walk(path: str, node: Mapping[str, Any]) -> None:
        if node.get("type") == "object" and "properties" in node:
            if path:
                fields[path] = _Field(path, "object")
            for key, child in node["properties"].items():
                walk(f"{path}.{key}" if path else key, child)
        elif node.get("type") == "object":
            fields[path] = _Field(path, "object")  # extensions: free below
        elif node.get("type") == "array":
            items = node.get("items", {})
            if items.get("type") == "object":
                fields[path] = _Field(path, "object_array")
                for key, child in items.get("properties", {}).items():
                    walk(f"{path}[].{key}", child)
            else:
                item = leaf(f"{path}[]", items)
                fields[path] = _Field(path, "array", item=item)
        else:
            fields[path] = leaf(path, node)

    walk("", _case_schema())
    return fields


# --- units ---------------------------------------------------------------------------------

Conversion = tuple[float, float]  # case value = cell * factor + offset

_MONTH_DAYS: Final = 365.25 / 12

UNITS: Final[dict[str, dict[str, Conversion]]] = {
    "length": {"mm": (1, 0), "cm": (10, 0)},
    "percentage": {"percent": (1, 0), "fraction": (100, 0)},
    "hba1c": {"percent": (1, 0), "mmol_mol": (0.09148, 2.152)},
    "growth": {"mm_per_year": (1, 0), "cm_per_year": (10, 0), "mm_per_month": (12, 0)},
    "duration": {
        "months": (1, 0),
        "years": (12, 0),
        "weeks": (7 / _MONTH_DAYS, 0),
        "days": (1 / _MONTH_DAYS, 0),
    },
    "hemoglobin": {"g_dl": (1, 0), "g_l": (0.1, 0), "mmol_l": (1.611, 0)},
    "albumin": {"g_l": (1, 0), "g_dl": (10, 0)},
    "cell_count": {"10e9_l": (1, 0), "10e3_ul": (1, 0), "per_nl": (1, 0), "per_ul": (0.001, 0)},
    "clearance": {"ml_min": (1, 0), "ml_s": (60, 0)},
    "glucose": {"mmol_l": (1, 0), "mg_dl": (1 / 18.016, 0)},
    "calcium": {"mmol_l": (1, 0), "mg_dl": (1 / 4.008, 0)},
    "potassium": {"mmol_l": (1, 0), "meq_l": (1, 0)},
    "u5hiaa": {"umol_24h": (1, 0), "mg_24h": (5.23, 0)},
    "times_uln": {"x_uln": (1, 0)},
    # Peptide hormones: pg/mL = ng/L; pmol/L by the molecular weight of the measured form.
    "gastrin": {"pg_ml": (1, 0), "ng_l": (1, 0), "pmol_l": (2.098, 0)},  # gastrin-17
    "vip": {"pg_ml": (1, 0), "ng_l": (1, 0), "pmol_l": (3.326, 0)},
    "glucagon": {"pg_ml": (1, 0), "ng_l": (1, 0), "pmol_l": (3.485, 0)},
    "pth": {"pg_ml": (1, 0), "ng_l": (1, 0), "pmol_l": (9.425, 0)},  # PTH 1-84
    "nt_probnp": {"pg_ml": (1, 0), "ng_l": (1, 0), "pmol_l": (8.457, 0)},
}
"""Quantity -> unit name -> conversion to the unit in the case field's name."""

_QUANTITY_OF: Final[dict[str, str]] = {
    "size_mm": "length",
    "mesoappendix_invasion_mm": "length",
    "hba1c_percent": "hba1c",
    "growth_mm_per_year": "growth",
    "life_expectancy_months": "duration",
    "months_observed": "duration",
    "months_to_progression": "duration",
    "hemoglobin_g_dl": "hemoglobin",
    "albumin_g_l": "albumin",
    "wbc_10e9_l": "cell_count",
    "neutrophils_10e9_l": "cell_count",
    "platelets_10e9_l": "cell_count",
    "egfr_ml_min": "clearance",
    "creatinine_clearance_ml_min": "clearance",
    "fasting_glucose_mmol_l": "glucose",
    "calcium_mmol_l": "calcium",
    "potassium_mmol_l": "potassium",
    "u5hiaa_umol_24h": "u5hiaa",
    "bilirubin_x_uln": "times_uln",
    "chromogranin_a_x_uln": "times_uln",
    "gastrin_pg_ml": "gastrin",
    "vip_pg_ml": "vip",
    "glucagon_pg_ml": "glucagon",
    "pth_pg_ml": "pth",
    "nt_probnp_pg_ml": "nt_probnp",
}


def _quantity(field_path: str) -> str | None:
    name = field_path.rsplit(".", 1)[-1]
    if name in _QUANTITY_OF:
        return _QUANTITY_OF[name]
    if name.endswith("_percent") or name == "percent":
        return "percentage"
    return None


# --- reading cells -------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_DECIMAL_COMMA: Final = re.compile(r"[+-]?[0-9]*,[0-9]+")
_ISO_DATE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?"
)
_ISO_MONTH: Final = re.compile(r"([0-9]{4})-([0-9]{2})")
_TRUE: Final = frozenset({"yes", "true", "y", "1"})
_FALSE: Final = frozenset({"no", "false", "n", "0"})
_BOOLEAN_WORDS: Final = "yes/no, true/false, y/n, 1/0"


def _cell_text(value: object) -> str:
    """A non-text cell (Parquet) as the text a CSV would hold, for ``values`` look-ups."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# No case field needs more digits than this; longer digit strings are refused before int()
# (which would raise for over 4300 digits).
_MAX_DIGITS: Final = 30


def _parse_number(text: str) -> int | float:
    if len(text) > _MAX_DIGITS and text.strip("+-").isdigit():
        raise _Bad("number too large")
    if text.isdigit() and text.isascii():
        return int(text)
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        number = float(text)
        if math.isinf(number):
            raise _Bad("number too large")
        return number
    if _DECIMAL_COMMA.fullmatch(text):
        point = text.replace(",", ".")
        raise _Bad(
            f"write decimals with a point: {point}; no decimal commas or thousands separators"
        )
    raise _Bad("not a number")


def _number_from_object(value: object) -> int | float:
    if isinstance(value, bool):
        raise _Bad("a yes/no value where a number is expected")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isinf(value):
            raise _Bad("not a finite number")
        return value
    raise _Bad(f"not a number (a {type(value).__name__})")


_DATE_DIRECTIVES: Final = {"%d": r"([0-9]{1,2})", "%m": r"([0-9]{1,2})", "%Y": r"([0-9]{4})"}


@dataclass(frozen=True)
class _DateFormat:
    """A ``date_format``: a fast regex when it uses only ``%d``, ``%m``, ``%Y`` and literal
    text, else ``strptime``; ``has_day`` False for month-only formats (``%m/%Y``)."""

    pattern: str
    has_day: bool
    regex: re.Pattern[str] | None
    order: tuple[int, int, int]  # group numbers of year, month, day (0: no day)

    def parse(self, text: str) -> _dt.date:
        if self.regex is None:
            return _dt.datetime.strptime(text, self.pattern).date()
        match = self.regex.fullmatch(text)
        if match is None:
            raise ValueError(text)
        year, month, day = self.order
        return _dt.date(int(match[year]), int(match[month]), int(match[day]) if day else 1)


def _date_format(pattern: str) -> _DateFormat | None:
    """The compiled format, or None when ``pattern`` cannot write and read back a date."""
    sample = _dt.date(2001, 11, 23)
    try:
        back = _dt.datetime.strptime(sample.strftime(pattern), pattern).date()
    except (ValueError, TypeError, re.error):
        return None
    if back == sample:
        has_day = True
    elif back == sample.replace(day=1):
        has_day = False
    else:
        return None
    tokens = re.split(r"(%.)", pattern)
    regex: list[str] = []
    order: list[str] = []
    for token in tokens:
        if token in _DATE_DIRECTIVES:
            regex.append(_DATE_DIRECTIVES[token])
            order.append(token)
        elif token.startswith("%"):
            return _DateFormat(pattern, has_day, None, (0, 0, 0))
        else:
            regex.append(re.escape(token))
    if len(set(order)) != len(order):
        return _DateFormat(pattern, has_day, None, (0, 0, 0))
    group = {directive: index + 1 for index, directive in enumerate(order)}
    positions = (group["%Y"], group["%m"], group.get("%d", 0))
    return _DateFormat(pattern, has_day, re.compile("".join(regex)), positions)


def _parse_date(text: str, fmt: _DateFormat | None, *, month_allowed: bool) -> str:
    if fmt is not None:
        try:
            day = fmt.parse(text)
        except ValueError:
            pass
        else:
            if fmt.has_day:
                return day.isoformat()
            return day.isoformat()[:7]
    match = _ISO_DATE.fullmatch(text)
    if match is not None:
        try:
            return _dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            raise _Bad("not a real calendar date") from None
    if month_allowed:
        month = _ISO_MONTH.fullmatch(text)
        if month is not None and 1 <= int(month[2]) <= 12:
            return text
    shapes = "YYYY-MM-DD" + (" or YYYY-MM" if month_allowed else "")
    if fmt is not None:
        shapes = f"{fmt.pattern} or {shapes}"
    raise _Bad(f"not a date written {shapes}")


# --- target paths --------------------------------------------------------------------------

Key = str | int


@dataclass(frozen=True)
class _Target:
    keys: tuple[Key, ...]  # (“treatments”, 0, “therapy”); append targets end at the list
    template: str  # "treatments[].therapy", "tumor.metastases"
    display: str  # "treatments[0].therapy", "tumor.metastases[]"
    append: bool
    extension: bool


_SEGMENT: Final = re.compile(r"([^.\[\]]+)((?:\[[0-9]*\])*)")


def _parse_target(text: str) -> _Target:
    """Parse ``tumor.size_mm``, ``treatments.0.therapy``, ``treatments[0].therapy``,
    ``tumor.metastases[]``; raises ValueError with the reason."""
    if not text or text != text.strip():
        raise ValueError("a field path such as tumor.ki67_percent")
    keys: list[Key] = []
    append = False
    for segment in text.split("."):
        if append:
            raise ValueError("[] (add an item) may only end the path")
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError(f"the part {segment!r} is not a key or an index")
        name, brackets = match[1], match[2]
        if name.isdigit() and keys:
            keys.append(int(name))
        else:
            keys.append(name)
        for bracket in re.findall(r"\[([0-9]*)\]", brackets):
            if append:
                raise ValueError("[] (add an item) may only end the path")
            if bracket == "":
                append = True
            else:
                keys.append(int(bracket))
    extension = keys[0] == "extensions"
    if extension and any(isinstance(k, int) for k in keys):
        raise ValueError("extensions paths are keys only (end with [] to build a list)")
    if any(isinstance(k, int) and k > _MAX_INDEX for k in keys):
        raise ValueError(f"a list index is at most {_MAX_INDEX}")
    template = ".".join(str(k) if isinstance(k, str) else "[]" for k in keys).replace(".[]", "[]")
    display = _display(keys) + ("[]" if append else "")
    return _Target(tuple(keys), template, display, append, extension)


def _display(keys: Sequence[Key]) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


# --- compiling -----------------------------------------------------------------------------

Converter = Callable[[object], object]
Assign = Callable[[dict[str, Any], object], None]


@dataclass(frozen=True)
class _Step:
    column: str
    label: str  # "tumor.ki67_percent (column ki67)"
    convert: Converter
    assign: Assign


class _Compiler:
    def __init__(self, document: MappingDocument, source: str) -> None:
        self.document = document
        self.source = source
        self.fields = _schema_fields()
        self.missing = frozenset(v.strip().casefold() for v in document.missing_values)
        self.default_format = self._date_format("date_format", document.date_format)

    def fail(self, where: str, message: str) -> NoReturn:
        raise MappingError(f"{self.source}: {where}: {message}")

    def compile(self) -> ColumnMapping:
        constants = self._constants(self.document.case)
        entries: list[tuple[str, str, ColumnSpec]] = []
        if self.document.id is not None:
            if not self.document.id.strip():
                self.fail("id", "an empty column name")
            entries.append((self.document.id, "id", ColumnSpec(field="id")))
        for column, spec in self.document.columns.items():
            if not column.strip():
                self.fail("columns", "an empty column name")
            where = f"columns.{json.dumps(column) if not _PLAIN.fullmatch(column) else column}"
            if isinstance(spec, list):
                if not spec:
                    self.fail(where, "an empty list; give at least one {field: ...}")
                entries += [(column, f"{where}[{i}]", one) for i, one in enumerate(spec)]
            else:
                entries.append((column, where, spec))
        if not entries:
            self.fail("columns", "no columns mapped")
        steps: list[_Step] = []
        writers: dict[tuple[Key, ...], str] = {}
        shared: dict[tuple[Key, ...], list[_Step]] = {}
        slot_paths: set[tuple[Key, ...]] = set()
        for column, where, spec in entries:
            target, step = self._column(column, where, spec, constants)
            if not target.append:
                writers.setdefault(target.keys, where)
                shared.setdefault(target.keys, []).append(step)
            for index, key in enumerate(target.keys):
                if isinstance(key, int):
                    slot_paths.add(target.keys[:index])
            steps.append(step)
        # Several columns filling one field: the first non-blank one in mapping order wins.
        groups = tuple(tuple(group) for group in shared.values() if len(group) > 1)
        grouped = {id(step) for group in groups for step in group}
        steps = [step for step in steps if id(step) not in grouped]
        self._check_prefixes(writers)
        columns = tuple(dict.fromkeys(column for column, _, _ in entries))
        return ColumnMapping(
            source=self.source,
            document=self.document,
            constants=constants,
            steps=tuple(steps),
            groups=groups,
            slot_paths=tuple(sorted(slot_paths, key=len)),
            columns=columns,
        )

    # - constants -

    def _constants(self, case: dict[str, Any]) -> dict[str, Any]:
        constants = {"format": CASE_FORMAT, **case}
        given = constants["format"]
        if given != CASE_FORMAT:
            self.fail("case.format", f"given {_short(given)}; allowed: {CASE_FORMAT}")
        self._check_constant("case", "", constants)
        return constants

    def _check_constant(self, where: str, template: str, value: object) -> None:
        if template == "extensions" or template.startswith("extensions."):
            self._check_free(where, value)
            return
        field = self.fields.get(template) if template else _Field("", "object")
        if field is None:
            self.fail(where, f"not a field of the case format{self._hint(template)}")
        if value is None:
            self.fail(where, "null is not a value; leave the key out when it is unknown")
        if field.kind == "object":
            if not isinstance(value, dict):
                self.fail(where, f"must be a mapping of its fields; given {_short(value)}")
            for key, child in value.items():
                if not isinstance(key, str):
                    self.fail(where, f"the key {key!r} is not text")
                child_template = f"{template}.{key}" if template else key
                self._check_constant(f"{where}.{key}", child_template, child)
        elif field.kind in ("array", "object_array"):
            if not isinstance(value, list):
                self.fail(where, f"must be a list; given {_short(value)}")
            for index, item in enumerate(value):
                if field.kind == "array":
                    assert field.item is not None
                    problem = _value_problem(field.item, item)
                    if problem:
                        self.fail(f"{where}[{index}]", problem)
                    continue
                if not isinstance(item, dict):
                    self.fail(f"{where}[{index}]", f"must be a mapping; given {_short(item)}")
                for key, child in item.items():
                    self._check_constant(f"{where}[{index}].{key}", f"{template}[].{key}", child)
        else:
            problem = _value_problem(field, value)
            if problem:
                self.fail(where, problem)

    def _check_free(self, where: str, value: object) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if not isinstance(key, str):
                    self.fail(where, f"the key {key!r} is not text")
                self._check_free(f"{where}.{key}", child)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._check_free(f"{where}[{index}]", item)
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail(where, "not a finite number")
        elif not isinstance(value, str | int | float | bool) and value is not None:
            self.fail(where, f"not a JSON value: {_short(value)} (quote dates)")

    def _check_prefixes(self, writers: Mapping[tuple[Key, ...], str]) -> None:
        # extensions.a and extensions.a.b cannot both be filled: a is a value or an object.
        for keys, where in writers.items():
            for cut in range(1, len(keys)):
                if keys[:cut] in writers:
                    self.fail(
                        where,
                        f"{_display(keys)} lies inside {_display(keys[:cut])}, "
                        f"which {writers[keys[:cut]]} fills with a value",
                    )

    def _hint(self, template: str) -> str:
        known = [path for path in self.fields if not path.endswith("[]")]
        close = difflib.get_close_matches(template, known, n=3, cutoff=0.6)
        tail = template.rsplit(".", 1)[-1]
        close += [p for p in known if p.endswith(f".{tail}") and p not in close]
        if close:
            shown = ", ".join(path.replace("[].", "[0].") for path in close[:3])
            return f" (did you mean {shown}?); see `netnav schema case`"
        return "; see `netnav schema case` for the fields"

    def _date_format(self, where: str, pattern: str | None) -> _DateFormat | None:
        if pattern is None:
            return None
        compiled = _date_format(pattern)
        if compiled is None:
            self.fail(
                where,
                f"given {pattern!r}, which cannot write and read back a date; allowed: a "
                "strftime pattern with the year, the month and optionally the day, "
                'such as "%d/%m/%Y", "%Y%m%d" or "%m/%Y"',
            )
        return compiled

    # - columns -

    def _column(
        self, column: str, where: str, spec: ColumnSpec, constants: Mapping[str, Any]
    ) -> tuple[_Target, _Step]:
        try:
            target = _parse_target(spec.field)
        except ValueError as error:
            self.fail(f"{where}.field", f"given {spec.field!r}; allowed: {error}")
        field = self._field(f"{where}.field", spec, target)
        self._check_inside_constants(f"{where}.field", target, constants)
        date_format = self._date_format(f"{where}.date_format", spec.date_format)
        item_field = field.item if field.kind == "array" else field
        assert item_field is not None
        if item_field.kind not in ("date", "month_or_date"):
            if spec.date_format is not None:
                self.fail(
                    f"{where}.date_format",
                    f"{target.display} is not a date ({_kind_text(item_field)})",
                )
        else:
            date_format = date_format or self.default_format
            if date_format is not None and not date_format.has_day and item_field.kind == "date":
                self.fail(
                    f"{where}.date_format",
                    f"{target.display} needs a full date; {date_format.pattern!r} has no day",
                )
        conversion = self._unit(f"{where}.unit", spec.unit, item_field, target)
        if field.kind == "array":
            convert, assign = self._list_column(where, spec, field, target, date_format, conversion)
        else:
            for key in ("when_true", "separator"):
                if getattr(spec, key) is not None:
                    self.fail(
                        f"{where}.{key}",
                        f"only for list fields (written with []); {target.display} is "
                        f"{_kind_text(field)}",
                    )
            values = self._values(f"{where}.values", spec.values, field, list_ok=False)
            convert = _converter(field, values, self.missing, date_format, conversion, spec.unit)
            assign = _setter(target.keys)
        label = f"{target.display} (column {column})"
        return target, _Step(column, label, convert, assign)

    def _field(self, where: str, spec: ColumnSpec, target: _Target) -> _Field:
        if target.extension:
            if len(target.keys) < 2:
                self.fail(where, "extensions itself is an object; name a key inside it")
            if spec.unit is not None:
                self.fail(where.replace(".field", ".unit"), "units are for case fields only")
            kind = spec.type or ("date" if spec.date_format else "string")
            item = _Field(target.template, _EXTENSION_KINDS[kind], _EXTENSION_CHOICES.get(kind, ()))
            return _Field(target.template, "array", item=item) if target.append else item
        if spec.type is not None:
            self.fail(
                where.replace(".field", ".type"),
                f"type is for extensions fields only; the case format fixes the type of "
                f"{target.display}",
            )
        if target.keys == ("format",):
            self.fail(where, "format is set by the mapping (case.format), not by a column")
        template = target.template
        field = self.fields.get(template)
        if field is None:
            self.fail(
                where, f"given {spec.field!r}: not a field of the case format{self._hint(template)}"
            )
        if field.kind == "object":
            inner = [p for p in self.fields if p.startswith(f"{template}.")][:2]
            self.fail(
                where,
                f"{target.display} is an object; map its fields instead, such as "
                + ", ".join(inner),
            )
        if field.kind == "object_array":
            inner = [p for p in self.fields if p.startswith(f"{template}[].")][:1]
            example = inner[0].replace("[]", "[0]", 1) if inner else f"{template}[0].…"
            self.fail(
                where,
                f"{target.display} is a list of objects; name an item and its field, such as "
                f"{example} (items are numbered from 0)",
            )
        if field.kind == "array" and not target.append:
            self.fail(
                where,
                f"{target.display} is a list: write {target.display}[] to add items from this "
                "column",
            )
        if field.kind != "array" and target.append:
            self.fail(where, f"{target.display[:-2]} is not a list; drop the []")
        return field

    def _check_inside_constants(
        self, where: str, target: _Target, constants: Mapping[str, Any]
    ) -> None:
        node: object = constants
        for depth, key in enumerate(target.keys):
            above = _display(target.keys[:depth])
            if isinstance(node, list):
                self.fail(where, f"{above} is a list given in case; a column cannot fill its items")
            if not isinstance(node, dict):
                self.fail(
                    where, f"{above} is a value given in case; a column cannot fill keys in it"
                )
            if key not in node:
                return
            node = node[key]
        if target.append and not isinstance(node, list):
            self.fail(where, f"{target.display[:-2]} is a value given in case, not a list")

    def _unit(
        self, where: str, unit: str | None, field: _Field, target: _Target
    ) -> Conversion | None:
        if unit is None:
            return None
        quantity = _quantity(field.path) if field.kind in ("number", "integer") else None
        if quantity is None:
            self.fail(
                where,
                f"given {unit!r}, but {target.display} takes no unit "
                f"({_kind_text(field)}; its unit, if any, is in its name)",
            )
        units = UNITS[quantity]
        if unit not in units:
            self.fail(
                where,
                f"given {unit!r}, which does not fit {target.display} ({quantity}); "
                f"allowed: {', '.join(units)}",
            )
        conversion = units[unit]
        return None if conversion == (1, 0) else conversion

    def _values(
        self, where: str, values: Mapping[str, Any] | None, field: _Field, *, list_ok: bool
    ) -> dict[str, object] | None:
        if values is None:
            return None
        checked: dict[str, object] = {}
        for code, target in values.items():
            if target is None:
                checked[code] = _OMIT
                continue
            if list_ok and target == []:
                checked[code] = _EMPTY_LIST
                continue
            problem = _value_problem(field, target)
            if problem:
                self.fail(f"{where}.{json.dumps(code)}", problem)
            checked[code] = target
        # Codes also match case-insensitively unless two codes differ only in case.
        folded: dict[str, list[object]] = {}
        for code, target in checked.items():
            folded.setdefault(code.strip().casefold(), []).append(target)
        table = dict(checked)
        for code, targets in folded.items():
            if code not in table and len(targets) == 1:
                table[code] = targets[0]
        return table

    def _list_column(
        self,
        where: str,
        spec: ColumnSpec,
        field: _Field,
        target: _Target,
        date_format: _DateFormat | None,
        conversion: Conversion | None,
    ) -> tuple[Converter, Assign]:
        assert field.item is not None
        item = field.item
        if spec.when_true is not None:
            if spec.separator is not None:
                self.fail(f"{where}.separator", "not with when_true (the cell is then yes/no)")
            problem = _value_problem(item, spec.when_true)
            if problem:
                self.fail(f"{where}.when_true", problem)
            boolean = _Field(target.display, "boolean")
            values = self._values(f"{where}.values", spec.values, boolean, list_ok=False)
            flag = _converter(boolean, values, self.missing, None, None, None)
            when_true: object = spec.when_true

            def convert_flag(raw: object) -> object:
                value = flag(raw)
                if value is _OMIT:
                    return _OMIT
                return (when_true,) if value else ()

            return convert_flag, _appender(target.keys)
        if spec.separator == "":
            self.fail(f"{where}.separator", "an empty separator; give the text between items")
        values = self._values(f"{where}.values", spec.values, item, list_ok=True)
        one = _converter(item, values, self.missing, date_format, conversion, spec.unit)
        separator = spec.separator

        def convert_items(raw: object) -> object:
            if separator is not None and isinstance(raw, str):
                parts: Sequence[object] = raw.split(separator)
            else:
                parts = (raw,)
            items: list[object] = []
            seen_empty = False
            for part in parts:
                value = one(part)
                if value is _EMPTY_LIST:
                    seen_empty = True
                elif value is not _OMIT:
                    items.append(value)
            if not items and not seen_empty:
                return _OMIT
            return tuple(items)

        return convert_items, _appender(target.keys)


class _EmptyList:
    """A ``values`` target ``[]`` of a list column: the list is known and empty."""


_EMPTY_LIST: Final = _EmptyList()

_EXTENSION_KINDS: Final[dict[str, FieldKind]] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "option": "option",
}
_EXTENSION_CHOICES: Final[dict[str, tuple[str, ...]]] = {"option": _OPTION_OR_GROUP}


def _kind_text(field: _Field) -> str:
    return {
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "a yes/no field",
        "enum": "a list of allowed values",
        "date": "a date",
        "month_or_date": "a date",
        "option": "an option id",
        "array": "a list",
        "object": "an object",
        "object_array": "a list of objects",
    }[field.kind]


def _allowed_text(choices: Sequence[str]) -> str:
    if len(choices) <= 20:
        return ", ".join(choices)
    return ", ".join(choices[:12]) + f", … ({len(choices)} in all; see options.md)"


def _value_problem(field: _Field, value: object) -> str | None:
    """Why ``value`` cannot stand in ``field`` (a constant or a ``values`` target), or None."""
    kind = field.kind
    if kind in ("enum", "option"):
        if not isinstance(value, str) or value not in field.choices:
            return f"given {_short(value)}; allowed: {_allowed_text(field.choices)}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"given {_short(value)}; allowed: true, false"
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"given {_short(value)}; allowed: {_kind_text(field)}"
        if kind == "integer" and not float(value).is_integer():
            return f"given {_short(value)}; allowed: a whole number"
        return _range_problem(field, float(value), "")
    if kind in ("date", "month_or_date"):
        if not isinstance(value, str):
            return f"given {_short(value)}; allowed: a date written YYYY-MM-DD (quoted)"
        try:
            _parse_date(value, None, month_allowed=kind == "month_or_date")
        except _Bad as bad:
            return f"given {value!r}: {bad.reason}"
        return None
    if not isinstance(value, str):
        return f"given {_short(value)}; allowed: text (quote it)"
    if field.max_length is not None and len(value) > field.max_length:
        return f"longer than {field.max_length} characters"
    return None


def _range_problem(field: _Field, number: float, note: str) -> str | None:
    if not math.isfinite(number):
        return "not a finite number"
    if field.maximum is not None and number > field.maximum:
        return f"{_number_text(number)}{note} is above the maximum {_number_text(field.maximum)}"
    if field.minimum is not None and number < field.minimum:
        return f"{_number_text(number)}{note} is below the minimum {_number_text(field.minimum)}"
    if field.exclusive_minimum is not None and number <= field.exclusive_minimum:
        return f"{_number_text(number)}{note} must be more than {_number_text(field.exclusive_minimum)}"
    return None


# --- converters ----------------------------------------------------------------------------


def _converter(
    field: _Field,
    values: Mapping[str, object] | None,
    missing: frozenset[str],
    date_format: _DateFormat | None,
    conversion: Conversion | None,
    unit: str | None,
) -> Converter:
    """The closure reading one cell into a case value (or ``_OMIT``; ``_Bad`` when unreadable).

    Every converter first drops blank and missing cells, then looks the cell up in ``values``,
    then reads it by the field's kind.
    """
    read_text, read_object = _readers(field, date_format, conversion, unit)
    lookup = values.get if values else None
    missing_lengths = frozenset(len(value) for value in missing)

    def convert(raw: object) -> object:
        if type(raw) is str:
            text = raw.strip()
            if not text:
                return _OMIT
            if len(text) in missing_lengths and text.casefold() in missing:
                return _OMIT
            if lookup is not None:
                hit = lookup(text, _NO_HIT)
                if hit is _NO_HIT:
                    hit = lookup(text.casefold(), _NO_HIT)
                if hit is not _NO_HIT:
                    return hit
            return read_text(text)
        if raw is None or (type(raw) is float and raw != raw):  # NaN: pandas' "missing"
            return _OMIT
        if lookup is not None:
            key = _cell_text(raw)
            hit = lookup(key, _NO_HIT)
            if hit is _NO_HIT:
                hit = lookup(key.casefold(), _NO_HIT)
            if hit is not _NO_HIT:
                return hit
        return read_object(raw)

    return convert


def _readers(
    field: _Field,
    date_format: _DateFormat | None,
    conversion: Conversion | None,
    unit: str | None,
) -> tuple[Callable[[str], object], Callable[[object], object]]:
    kind = field.kind
    if kind in ("integer", "number"):
        return _number_readers(field, conversion, unit)
    if kind == "boolean":

        def boolean_text(text: str) -> object:
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise _Bad(f"not a yes/no value; allowed: {_BOOLEAN_WORDS} (any case)")

        def boolean_object(value: object) -> object:
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float) and value in (0, 1):
                return bool(value)
            raise _Bad(f"not a yes/no value; allowed: {_BOOLEAN_WORDS}")

        return boolean_text, boolean_object
    if kind in ("enum", "option"):
        choices = frozenset(field.choices)
        allowed = _allowed_text(field.choices)

        def choice_text(text: str) -> object:
            if text in choices:
                return text
            lowered = text.lower()
            if lowered in choices:
                return lowered
            raise _Bad(f"not an allowed value (and not in the column's values); allowed: {allowed}")

        return choice_text, lambda value: choice_text(_cell_text(value))
    if kind in ("date", "month_or_date"):
        month_allowed = kind == "month_or_date"

        def date_text(text: str) -> object:
            return _parse_date(text, date_format, month_allowed=month_allowed)

        def date_object(value: object) -> object:
            if isinstance(value, _dt.datetime):
                return value.date().isoformat()
            if isinstance(value, _dt.date):
                return value.isoformat()
            if isinstance(value, int) and not isinstance(value, bool):
                return date_text(str(value))  # 20210315 under "%Y%m%d"
            raise _Bad(f"not a date (a {type(value).__name__})")

        return date_text, date_object
    max_length = field.max_length

    def string_text(text: str) -> object:
        if max_length is not None and len(text) > max_length:
            raise _Bad(f"longer than {max_length} characters")
        return text

    def string_object(value: object) -> object:
        if isinstance(value, bool):
            raise _Bad("a yes/no value where text is expected")
        return string_text(_cell_text(value))

    return string_text, string_object


def _number_readers(
    field: _Field, conversion: Conversion | None, unit: str | None
) -> tuple[Callable[[str], object], Callable[[object], object]]:
    integer = field.kind == "integer"
    note = f" (from {unit})" if conversion is not None else ""
    low = field.minimum
    high = field.maximum
    above = field.exclusive_minimum

    def finish(number: int | float) -> object:
        if conversion is not None:
            factor, offset = conversion
            number = float(f"{number * factor + offset:.12g}")
        if integer and not isinstance(number, int):
            if not number.is_integer():
                raise _Bad(f"{_number_text(number)}{note} is not a whole number")
            number = int(number)
        if (
            (high is not None and number > high)
            or (low is not None and number < low)
            or (above is not None and number <= above)
        ):
            problem = _range_problem(field, float(number), note)
            assert problem is not None
            raise _Bad(problem)
        return number

    def number_text(text: str) -> object:
        return finish(_parse_number(text))

    def number_object(value: object) -> object:
        return finish(_number_from_object(value))

    return number_text, number_object


# --- assigning -----------------------------------------------------------------------------


def _setter(keys: tuple[Key, ...]) -> Assign:
    # Depths 1 to 3 cover every case field but extensions; spelt out, they are ~2x faster.
    if len(keys) == 1:
        (first,) = keys

        def assign_1(case: dict[Any, Any], value: object) -> None:
            case[first] = value

        return assign_1
    if len(keys) == 2:
        first, second = keys

        def assign_2(case: dict[Any, Any], value: object) -> None:
            node = case.get(first)
            if node is None:
                node = case[first] = {}
            node[second] = value

        return assign_2
    if len(keys) == 3:
        first, second, third = keys

        def assign_3(case: dict[Any, Any], value: object) -> None:
            node: dict[Any, Any] | None = case.get(first)
            if node is None:
                node = case[first] = {}
            inner: dict[Any, Any] | None = node.get(second)
            if inner is None:
                inner = node[second] = {}
            inner[third] = value

        return assign_3
    parents, last = keys[:-1], keys[-1]

    def assign(case: dict[Any, Any], value: object) -> None:
        _parent(case, parents)[last] = value

    return assign


def _parent(case: dict[Any, Any], parents: tuple[Key, ...]) -> dict[Any, Any]:
    """The object at ``parents`` in ``case``, made (as empty objects) where missing."""
    node: dict[Any, Any] = case
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        node = child
    return node


def _appender(keys: tuple[Key, ...]) -> Assign:
    parents, last = keys[:-1], keys[-1]

    def append(case: dict[str, Any], items: object) -> None:
        node = _parent(case, parents)
        present = node.get(last)
        if present is None:
            present = node[last] = []
        assert isinstance(items, tuple)
        for item in items:
            if item not in present:
                present.append(item)

    return append


def _copy(value: Any) -> Any:
    if type(value) is dict:
        return {key: _copy(child) for key, child in value.items()}
    if type(value) is list:
        return [_copy(child) for child in value]
    return value


# --- the compiled mapping ------------------------------------------------------------------


class ColumnMapping:
    """A checked, compiled column mapping: call :meth:`case_from_row` once per table row."""

    def __init__(
        self,
        *,
        source: str,
        document: MappingDocument,
        constants: dict[str, Any],
        steps: tuple[_Step, ...],
        groups: tuple[tuple[_Step, ...], ...],
        slot_paths: tuple[tuple[Key, ...], ...],
        columns: tuple[str, ...],
    ) -> None:
        self.source = source
        self.document = document
        self.columns = columns
        """The mapped column names, in mapping order (read only these)."""
        self.id_column = document.id
        """The column giving the case id, or None."""
        self._constants = constants
        self._flat_constants = all(
            not isinstance(value, dict | list) for value in constants.values()
        )
        self._steps = tuple((s.column, s.label, s.convert, s.assign) for s in steps)
        self._groups = groups
        self._slot_paths = slot_paths

    def __reduce__(self) -> tuple[Callable[[MappingDocument, str], ColumnMapping], tuple[Any, ...]]:
        # The converters are closures, which pickle cannot carry to a worker process: send the
        # checked document and compile it again there.
        return _compile_document, (self.document, self.source)

    def check_columns(self, names: Sequence[str]) -> None:
        """Raise :class:`MappingError` when a mapped column is not among ``names`` (the table
        header), listing every missing column."""
        present = set(names)
        missing = [column for column in self.columns if column not in present]
        if not missing:
            return
        folded = {name.strip().casefold(): name for name in names}
        hints = []
        for column in missing:
            near = folded.get(column.strip().casefold())
            if near is None:
                close = difflib.get_close_matches(column, list(names), n=1, cutoff=0.75)
                near = close[0] if close else None
            if near is not None:
                hints.append(f"{column!r} (the table has {near!r})")
            else:
                hints.append(repr(column))
        shown = ", ".join(repr(n) for n in list(names)[:40])
        more = f", … ({len(names)} in all)" if len(names) > 40 else ""
        raise MappingError(
            f"the table has no column {', '.join(hints)}, named in the mapping; "
            f"its columns are: {shown}{more}"
        )

    def case_from_row(self, row: Mapping[str, object]) -> tuple[dict[str, Any], list[RowProblem]]:
        """The case document of one table row, and the problems of its cells.

        A cell with a problem leaves its field out; the document is not yet validated (pass it
        to :func:`netnav.case.load.case_from_mapping`). Pure: no I/O, same row -> same result.
        """
        case: dict[str, Any] = (
            dict(self._constants) if self._flat_constants else _copy(self._constants)
        )
        problems: list[RowProblem] = []
        get = row.get
        for column, label, convert, assign in self._steps:
            raw = get(column)
            if raw is None:
                continue
            try:
                value = convert(raw)
            except _Bad as bad:
                problems.append(RowProblem(label, raw, bad.reason))
                continue
            if value is not _OMIT:
                assign(case, value)
        for group in self._groups:
            _fill_from_first(group, get, case, problems)
        for path in self._slot_paths:
            _close_slots(case, path)
        return case, problems


def _compile_document(document: MappingDocument, source: str) -> ColumnMapping:
    return _Compiler(document, source).compile()


def _fill_from_first(
    group: tuple[_Step, ...],
    get: Callable[[str], object],
    case: dict[str, Any],
    problems: list[RowProblem],
) -> None:
    """Fill one field from the first of ``group``'s columns that holds a value; a later column
    holding a different value is a problem (the first value is kept)."""
    kept: object = _OMIT
    kept_column = ""
    for step in group:
        raw = get(step.column)
        if raw is None:
            continue
        try:
            value = step.convert(raw)
        except _Bad as bad:
            problems.append(RowProblem(step.label, raw, bad.reason))
            continue
        if value is _OMIT:
            continue
        if kept is _OMIT:
            kept, kept_column = value, step.column
            step.assign(case, value)
        elif value != kept:
            problems.append(
                RowProblem(
                    step.label,
                    raw,
                    f"disagrees with column {kept_column} ({kept!r}), whose value was kept",
                )
            )


def _close_slots(case: dict[str, Any], path: tuple[Key, ...]) -> None:
    """Turn the numbered items at ``path`` ({0: {...}, 2: {...}}) into a list, in order; an
    item whose cells were all blank is dropped and later items move up."""
    node: Any = case
    for key in path[:-1]:
        node = node.get(key)
        if node is None:
            return
    slots = node.get(path[-1])
    if isinstance(slots, dict):
        node[path[-1]] = [slots[index] for index in sorted(slots)]
