"""Reading a case document: JSON text, a mapping or a file -> :class:`Case`.

Every way in ends in :class:`~netnav.errors.CaseError` listing *every* problem of the document
at once (field path, value given, what is allowed), never a pydantic ``ValidationError``, a
``json`` exception or a traceback. Beyond the JSON Schema the loader refuses documents over
1 MB, repeated keys, non-finite numbers and ``extensions`` deeper than 20 levels; the models
add the calendar, option-id and cross-field checks.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any, Final, TypeGuard

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from netnav.case.model import (
    CROSS_FIELD_ERROR,
    MAX_EXTENSIONS_DEPTH,
    Case,
    cross_field_problems,
    format_path,
    suggest_ids,
)
from netnav.errors import CaseError, CaseProblem
from netnav.vocabulary import ALL_THERAPY_IDS, OPTION_IDS

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_PROBLEMS",
    "case_from_mapping",
    "load_case_file",
    "parse_case",
    "parse_case_document",
]

MAX_DOCUMENT_BYTES: Final = 1_048_576
# A hostile 1 MB document can hold ~100,000 mistakes; listing them all helps nobody.
MAX_PROBLEMS: Final = 200
# Beyond this depth nothing outside `extensions` can be valid; the walk need not go further.
_MAX_WALK_DEPTH: Final = 64
_UTF8_BOM: Final = b"\xef\xbb\xbf"

Path = tuple[str | int, ...]


# --- public functions ----------------------------------------------------------------------


def parse_case(data: str | bytes) -> Case:
    """Parse a JSON case document (text, or UTF-8 bytes) into a :class:`Case`.

    Raises :class:`CaseError` listing every problem found.
    """
    return _validate(_decode_json(data), wrapper_allowed=False)


def parse_case_document(data: str | bytes) -> tuple[Case, dict[str, Any]]:
    """Parse a JSON case document, or a wrapper ``{"case": {...}, ...}`` (as
    :func:`load_case_file` accepts), into the :class:`Case` and the case's own JSON object.

    The object is the case as given (the inner case of a wrapper), for storing it unchanged.
    Raises :class:`CaseError` listing every problem found.
    """
    obj = _decode_json(data)
    case = _validate(obj, wrapper_allowed=True)
    inner = obj["case"] if _is_wrapper(obj) else obj
    assert isinstance(inner, dict)  # _validate refuses anything else
    return case, inner


def case_from_mapping(obj: object) -> Case:
    """Validate an already decoded document (``dict`` from ``json.load``) into a :class:`Case`.

    Raises :class:`CaseError` listing every problem found.
    """
    return _validate(obj, wrapper_allowed=False)


def load_case_file(path: str) -> Case:
    """Read and validate the case file at ``path`` (``-`` = standard input).

    Also accepts a wrapper document ``{"id": ..., "title": ..., "case": {...}}`` (the shape of
    the examples and vignettes) when its top level has a ``case`` object and no ``format``
    key; problems of the inner case are then reported with paths ``case.…``.
    """
    return _validate(_decode_json(_read_source(path)), wrapper_allowed=True)


# --- reading and decoding ------------------------------------------------------------------


def _fail(message: str, value: object = None, allowed: str = "") -> CaseError:
    return CaseError([CaseProblem("", message, value, allowed)])


def _read_source(path: str) -> bytes | str:
    # Read one byte past the limit: enough to tell an oversized document without reading it all.
    try:
        if path == "-":
            return _read_stdin()
        with open(path, "rb") as stream:
            return stream.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise _fail("case file not found", path) from None
    except IsADirectoryError:
        raise _fail("the case path is a directory, not a file", path) from None
    except PermissionError:
        raise _fail("no permission to read the case file", path) from None
    except OSError as error:
        raise _fail(f"cannot read the case file: {error.strerror or error}", path) from None


def _read_stdin() -> bytes | str:
    stdin = sys.stdin
    if stdin is None:
        raise _fail("no standard input to read the case from")
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(MAX_DOCUMENT_BYTES + 1)
        return data
    text: str = stdin.read(MAX_DOCUMENT_BYTES + 1)
    return text


class _NonFinite:
    """Stands for a ``NaN``/``Infinity``/``-Infinity`` token, so the walk can name its path."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


class _RepeatedKeys(dict[str, object]):
    """A JSON object in which some key was given more than once (``repeated``: all values)."""

    repeated: dict[str, list[object]]


def _object_from_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads would silently keep the last value of a repeated key; record them instead.
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    values: dict[str, list[object]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    marked = _RepeatedKeys(obj)
    marked.repeated = {key: given for key, given in values.items() if len(given) > 1}
    return marked


def _decode_json(data: str | bytes) -> object:
    """The JSON value of ``data``; CaseError for an oversized, non-UTF-8 or malformed text."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise _fail(
            "the document is larger than 1 MB", allowed=f"at most {MAX_DOCUMENT_BYTES:,} bytes"
        )
    text = _utf8_text(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    try:
        return json.loads(text, object_pairs_hook=_object_from_pairs, parse_constant=_NonFinite)
    except json.JSONDecodeError as error:
        raise _fail(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise _fail("not readable: arrays and objects are nested too deeply") from None
    except ValueError as error:  # e.g. an integer literal of more than 4300 digits
        raise _fail(f"not valid JSON: {error}") from None


def _utf8_text(data: bytes) -> str:
    # RFC 8259 lets a parser ignore a byte-order mark; editors on Windows add one.
    try:
        return data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _fail(f"not UTF-8 text (invalid byte at offset {error.start})") from None


# --- validation ----------------------------------------------------------------------------


def _is_wrapper(obj: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(obj, dict) and "format" not in obj and isinstance(obj.get("case"), dict)


def _validate(obj: object, *, wrapper_allowed: bool) -> Case:
    prefix = ""
    problems: list[CaseProblem] = []
    if wrapper_allowed and _is_wrapper(obj):
        # The wrapper's own metadata (title, expected...) is not a case; only a repeated
        # "case" key or the like at its top level matters.
        problems += _repeated_key_problems(obj, ())
        obj, prefix = obj["case"], "case"
    case, case_problems = _check_case(obj)
    problems += [_prefixed(problem, prefix) for problem in case_problems]
    if problems or case is None:
        # The model's cross-field rules and cross_field_problems are one function, so a
        # refused case always has a problem; the fallback only keeps the error non-empty.
        raise CaseError(_limited(problems) or [CaseProblem("", "the case is invalid")])
    return case


def _check_case(obj: object) -> tuple[Case | None, list[CaseProblem]]:
    """The case and no problem, or None and every problem found."""
    if not isinstance(obj, dict):
        problem = CaseProblem(
            "",
            "the case must be a JSON object",
            _json_type(obj),
            'a JSON object with at least "format" and "tumor"',
        )
        return None, [problem]
    found = _document_problems(obj)
    case, schema = _schema_problems(obj)
    # A non-finite number or repeated key also trips the field's own type check; report it once.
    schema = [p for p in schema if not any(_covers(p.path, q.path) for q in found)]
    reported = {p.path for p in found + schema}
    cross = [p for p in cross_field_problems(obj) if p.path not in reported]
    problems = found + schema + cross
    return (None if problems else case), problems


def _schema_problems(obj: dict[str, object]) -> tuple[Case | None, list[CaseProblem]]:
    try:
        return Case.model_validate(obj), []
    except ValidationError as error:
        mapped = (_problem_from_error(detail) for detail in error.errors(include_url=False))
        return None, [problem for problem in mapped if problem is not None]


def _covers(outer: str, inner: str) -> bool:
    """Whether path ``inner`` is ``outer`` or lies under it."""
    if outer == inner or not outer:
        return True
    return inner.startswith((outer + ".", outer + "["))


def _prefixed(problem: CaseProblem, prefix: str) -> CaseProblem:
    if not prefix:
        return problem
    path = problem.path
    joined = prefix if not path else prefix + path if path.startswith("[") else f"{prefix}.{path}"
    return dataclasses.replace(problem, path=joined)


def _limited(problems: list[CaseProblem]) -> list[CaseProblem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], CaseProblem("", f"and {rest} more problems not listed")]


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "number" if isinstance(value, int | float) else type(value).__name__


# --- checks on the raw document ------------------------------------------------------------


def _document_problems(doc: dict[str, object]) -> list[CaseProblem]:
    """Repeated keys, non-finite numbers and too deep ``extensions``, anywhere in ``doc``."""
    problems: list[CaseProblem] = []
    too_deep_reported = False
    for node, path, extension_level in _walk(doc):
        if isinstance(node, dict | list) and extension_level > MAX_EXTENSIONS_DEPTH:
            if not too_deep_reported:
                problems.append(_too_deep_problem(path))
                too_deep_reported = True
        elif isinstance(node, dict):
            problems += _repeated_key_problems(node, path)
            problems += [
                _unstorable_text_problem(key, (*path, _escaped(key)), "key")
                for key in node
                if isinstance(key, str) and _unstorable(key)
            ]
        elif isinstance(node, str) and _unstorable(node):
            problems.append(_unstorable_text_problem(node, path, "text"))
        elif isinstance(node, _NonFinite) or (isinstance(node, float) and not math.isfinite(node)):
            problems.append(_non_finite_problem(node, path))
    return problems


def _unstorable(text: str) -> bool:
    """True for text holding NUL or an unpaired surrogate (``"\\ud800"`` in JSON): valid JSON
    escapes, but no UTF-8 text (file, database, page) can carry them."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _escaped(text: str) -> str:
    """``text`` with NUL and lone surrogates as backslash escapes (printable anywhere)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _unstorable_text_problem(text: str, path: Path, what: str) -> CaseProblem:
    return CaseProblem(
        format_path(path),
        f"the {what} holds a NUL character or an unpaired surrogate (\\ud800–\\udfff escape)",
        _escaped(text)[:80],
        "Unicode text without NUL or lone surrogate escapes",
    )


def _walk(doc: dict[str, object]) -> Iterator[tuple[object, Path, int]]:
    """Every value of ``doc`` in document order, with its path and its ``extensions`` level.

    The level is 0 outside ``extensions`` and 1 for the extensions object itself. Iterative,
    and each container is visited once, so neither deep nor cyclic (mapping) input hangs it.
    """
    stack: list[tuple[object, Path, int]] = [(doc, (), 0)]
    seen: set[int] = set()
    while stack:
        node, path, level = stack.pop()
        yield node, path, level
        if not isinstance(node, dict | list) or id(node) in seen:
            continue
        seen.add(id(node))
        if level > MAX_EXTENSIONS_DEPTH or (level == 0 and len(path) >= _MAX_WALK_DEPTH):
            continue
        children: list[tuple[object, Path, int]] = []
        if isinstance(node, dict):
            for key, child in node.items():
                name = key if isinstance(key, str) else repr(key)
                child_level = 1 if (path == () and key == "extensions") else _deeper(level)
                children.append((child, (*path, name), child_level))
        else:
            children = [(child, (*path, i), _deeper(level)) for i, child in enumerate(node)]
        stack.extend(reversed(children))


def _deeper(level: int) -> int:
    return level + 1 if level else 0


def _repeated_key_problems(node: dict[str, object], path: Path) -> list[CaseProblem]:
    if not isinstance(node, _RepeatedKeys):
        return []
    return [
        CaseProblem(
            format_path((*path, key)),
            f"key {key!r} is given {len(values)} times in one object",
            values,
            "each key at most once",
        )
        for key, values in node.repeated.items()
    ]


def _non_finite_problem(node: object, path: Path) -> CaseProblem:
    allowed = _describe(_schema_node(path)) or "a finite number"
    if isinstance(node, _NonFinite):
        return CaseProblem(format_path(path), "not a finite number", node.token, allowed)
    if isinstance(node, float) and math.isinf(node):  # also what a literal like 1e400 becomes
        return CaseProblem(format_path(path), "not a finite number (too large)", node, allowed)
    return CaseProblem(format_path(path), "not a finite number", node, allowed)


def _too_deep_problem(path: Path) -> CaseProblem:
    return CaseProblem(
        format_path(path),
        f"extensions are nested more than {MAX_EXTENSIONS_DEPTH} levels deep",
        None,
        f"at most {MAX_EXTENSIONS_DEPTH} levels of objects and arrays",
    )


# --- pydantic errors -> problems -----------------------------------------------------------

# Messages for pydantic's own error types; the model's custom errors bring their own.
_MESSAGES: Final[dict[str, str]] = {
    "missing": "required field is missing",
    "literal_error": "not an allowed value",
    "int_type": "must be a whole number (an integer)",
    "int_from_float": "must be a whole number (an integer)",
    "float_type": "must be a number",
    "finite_number": "not a finite number",
    "bool_type": "must be true or false",
    "string_type": "must be text (a JSON string)",
    "string_unicode": "text is not valid Unicode (it holds an unpaired surrogate)",
    "greater_than_equal": "out of range",
    "greater_than": "out of range",
    "less_than_equal": "out of range",
    "less_than": "out of range",
    "string_too_long": "text is too long",
    "too_long": "too many items",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "tuple_type": "must be an array",
    "list_type": "must be an array",
}


def _problem_from_error(detail: ErrorDetails) -> CaseProblem | None:
    kind, loc, given = detail["type"], tuple(detail["loc"]), detail.get("input")
    if kind == CROSS_FIELD_ERROR:
        return None  # checked on the raw document instead: see cross_field_problems
    if "[key]" in loc:  # a non-text key in a mapping given in Python
        at = loc.index("[key]") - 1
        return CaseProblem(format_path(loc[:at]), "object keys must be text", loc[at])
    path, node = format_path(loc), _schema_node(loc)
    if kind == "extra_forbidden":
        return _unknown_field_problem(loc, given)
    if kind == "missing":
        return CaseProblem(path, _MESSAGES[kind], None, _describe(node))
    if kind in ("unknown_therapy", "unknown_option"):
        return _unknown_id_problem(path, given, kind)
    if kind == "literal_error" and node is not None and "const" in node:
        return CaseProblem(path, "not a supported format", given, _describe(node))
    message = _MESSAGES.get(kind, detail["msg"])
    return CaseProblem(path, message, given, _describe(node))


def _unknown_field_problem(loc: Path, given: object) -> CaseProblem:
    parent = _schema_node(loc[:-1]) or {}
    names = list(parent.get("properties", {}))
    close = suggest_ids(loc[-1], names, limit=2)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return CaseProblem(
        format_path(loc), f"unknown field{hint}", given, "one of the fields: " + ", ".join(names)
    )


def _unknown_id_problem(path: str, given: object, kind: str) -> CaseProblem:
    therapy = kind == "unknown_therapy"
    known = ALL_THERAPY_IDS if therapy else OPTION_IDS
    close = suggest_ids(given, known)
    what = "a therapy id" if therapy else "an option id"
    allowed = f"{what} of options.md" + (f"; closest: {', '.join(close)}" if close else "")
    return CaseProblem(path, f"not {what} of options.md", given, allowed)


# --- the JSON Schema as the source of "allowed" --------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_node(loc: Sequence[str | int]) -> Mapping[str, Any] | None:
    """The schema of the value at ``loc``, or None where the schema says nothing."""
    node: Mapping[str, Any] | None = _schema()
    for part in loc:
        if node is None:
            return None
        node = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
    return node


_PATTERNS: Final[dict[str, str]] = {
    r"^\d{4}-\d{2}-\d{2}$": "a date written YYYY-MM-DD",
    r"^\d{4}-\d{2}(-\d{2})?$": "a date written YYYY-MM or YYYY-MM-DD",
    r"^[a-z0-9_]+$": "an option id of options.md",
}


def _describe(node: Mapping[str, Any] | None) -> str:
    """What the schema node accepts, in words: "one of: a, b", "a number from 0 to 100"."""
    if node is None:
        return ""
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return "one of: " + ", ".join(str(value) for value in node["enum"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        return _describe_range(node, "an integer" if kind == "integer" else "a number")
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return _describe_string(node)
    if kind == "array":
        return _describe_array(node)
    if kind == "object":
        required = node.get("required", [])
        return "a JSON object" + (f" with the field {', '.join(required)}" if required else "")
    return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe_range(node: Mapping[str, Any], noun: str) -> str:
    low, high, above = node.get("minimum"), node.get("maximum"), node.get("exclusiveMinimum")
    if low is not None and high is not None:
        return f"{noun} from {_number(low)} to {_number(high)}"
    if low is not None:
        return f"{noun} of at least {_number(low)}"
    if above is not None:
        return f"{noun} greater than {_number(above)}"
    return noun


def _describe_string(node: Mapping[str, Any]) -> str:
    if "pattern" in node:
        return _PATTERNS.get(node["pattern"], f"text matching {node['pattern']}")
    if "maxLength" in node:
        return f"text of at most {node['maxLength']} characters"
    return "text"


def _describe_array(node: Mapping[str, Any]) -> str:
    text = "an array"
    if "maxItems" in node:
        text += f" of at most {node['maxItems']} items"
    if node.get("uniqueItems"):
        text += " without repeats"
    items = node.get("items", {})
    if items.get("type") != "object" and _describe(items):
        text += ", each " + _describe(items)
    return text
