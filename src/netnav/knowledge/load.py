"""Load the knowledge base once, validate it and cross-check every reference.

:func:`load_knowledge` reads the YAML files of ``netnav/knowledge/data`` (or another
directory), validates each entry against :mod:`netnav.knowledge.schema`, compiles every
criterion, and checks that every option, evidence id, test, criterion, definition and
surveillance schedule named anywhere exists. The first problem raises
:class:`netnav.errors.KnowledgeError` with the file, the entry and the reason.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netnav import __version__
from netnav.engine.criteria import CriterionSpecError, Node, compile_criterion
from netnav.engine.criteria.base import possible_sites, possible_values
from netnav.engine.criteria.fields import field_exists
from netnav.engine.verdict import MissingFact
from netnav.errors import KnowledgeError
from netnav.knowledge.schema import (
    Check,
    Definition,
    EvidenceEntry,
    EvidenceStatus,
    FactEntry,
    Manifest,
    Recommendation,
    RepeatFamily,
    Rule,
    SurveillanceSchedule,
    Therapy,
)
from netnav.vocabulary import ALL_THERAPY_IDS, HISTORY_ONLY_IDS, OPTION_IDS, TEST_IDS

__all__ = [
    "DATA_DIR",
    "CompiledCheck",
    "CompiledRecommendation",
    "CompiledRule",
    "Knowledge",
    "default_knowledge",
    "load_knowledge",
]

DATA_DIR = Path(__file__).parent / "data"

M = TypeVar("M", bound=BaseModel)


@cache
def _yaml_loader() -> Any:
    """PyYAML's safe loader (libyaml's C one when available) that refuses a key repeated in
    one mapping: PyYAML would keep the last one and silently drop a condition written twice.
    Imported lazily: the CLI reads the compiled cache and seldom needs YAML at all."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} repeated", key_node.start_mark
                    )
                seen.add(key)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    Loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        lambda loader, node: loader.construct_mapping(node, deep=True),
    )
    return Loader


@dataclass(frozen=True)
class CompiledRecommendation:
    spec: Recommendation
    when: Node | None


@dataclass(frozen=True)
class CompiledRule:
    spec: Rule
    file: str
    when: Node
    recommend: tuple[CompiledRecommendation, ...]
    avoid_when: tuple[Node | None, ...]
    scope: Node | None = None


@dataclass(frozen=True)
class CompiledCheck:
    spec: Check
    require: Node
    applies_when: Node | None


@dataclass(frozen=True)
class Knowledge:
    """The whole knowledge base, validated and compiled (immutable)."""

    manifest: Manifest
    therapies: Mapping[str, Therapy]
    evidence: Mapping[str, EvidenceEntry]
    facts: Mapping[str, FactEntry]
    definitions: Mapping[str, tuple[Definition, Node]]
    rules: tuple[CompiledRule, ...]
    checks: tuple[CompiledCheck, ...]
    checks_by_option: Mapping[str, tuple[CompiledCheck, ...]]
    surveillance: Mapping[str, SurveillanceSchedule]
    repeat_families: tuple[RepeatFamily, ...]

    @property
    def version(self) -> str:
        return self.manifest.version

    @cached_property
    def therapy_classes(self) -> dict[str, tuple[str, ...]]:
        return {tid: tuple(t.classes) for tid, t in self.therapies.items()}

    @cached_property
    def anti_tumour(self) -> frozenset[str]:
        return frozenset(tid for tid, t in self.therapies.items() if t.anti_tumour)

    @cached_property
    def fact_tests(self) -> dict[str, str | None]:
        return {f: e.test for f, e in self.facts.items()}

    @cached_property
    def field_labels(self) -> dict[str, str]:
        return {f: e.label for f, e in self.facts.items()}

    @cached_property
    def options_with_pure_checks(self) -> frozenset[str]:
        """Options none of whose checks reads the planner's state (no ``option_not_excluded``
        in them): their checks give the same answer whenever they are asked."""
        return frozenset(
            option
            for option, checks in self.checks_by_option.items()
            if all(
                c.require.pure and (c.applies_when is None or c.applies_when.pure) for c in checks
            )
        ) | (frozenset(self.therapies) - frozenset(self.checks_by_option))

    @cached_property
    def rule_status(self) -> dict[str, EvidenceStatus]:
        """Each rule's own status tag in the brief, by rule id."""
        return {r.spec.id: r.spec.status for r in self.rules}

    @cached_property
    def evidence_items(self) -> Mapping[str, Mapping[str, Any]]:
        """Each evidence entry as plans cite it: ``{"id", "title", "citation", "year",
        "key_result", "status"}``, made once; a plan copies the ones it cites. (Plain dicts,
        typed read-only, so that the knowledge base still pickles.)"""
        return {
            eid: {
                "id": e.id,
                "title": e.title,
                "citation": e.citation,
                "year": e.year,
                "key_result": e.key_result,
                "status": e.status.value,
            }
            for eid, e in self.evidence.items()
        }

    @cached_property
    def rule_sites(self) -> tuple[tuple[frozenset[str] | None, frozenset[str] | None], ...]:
        """Per rule (in order), the primary sites for which its ``scope`` and its ``when``
        may hold (None: any site; see :func:`possible_sites`). Only pure trees are read: an
        impure one is always evaluated where it stands."""
        return tuple(
            (
                possible_sites(r.scope) if r.scope is not None and r.scope.pure else None,
                possible_sites(r.when) if r.when.pure else None,
            )
            for r in self.rules
        )

    @cached_property
    def rule_limits(
        self,
    ) -> tuple[
        tuple[tuple[tuple[str, frozenset[object]], ...], tuple[tuple[str, frozenset[object]], ...]],
        ...,
    ]:
        """Per rule (in order), for its ``scope`` and its ``when``: the fixed facts (site,
        category, extent, syndrome, histotype) each with the values for which the tree may
        hold (see :func:`possible_values`); for any other value it fails. Only pure trees
        are read: an impure one is always evaluated where it stands."""

        def limits(node: Node | None) -> tuple[tuple[str, frozenset[object]], ...]:
            if node is None or not node.pure:
                return ()
            return tuple(sorted(possible_values(node).items()))

        return tuple((limits(r.scope), limits(r.when)) for r in self.rules)

    @cached_property
    def rule_steps(
        self,
    ) -> tuple[
        tuple[
            CompiledRule,
            Node | None,
            tuple[tuple[str, frozenset[object]], ...],
            Node,
            tuple[tuple[str, frozenset[object]], ...],
        ],
        ...,
    ]:
        """Per rule (in order): the rule, its scope and the limits of its scope, its ``when``
        and the limits of that (see :attr:`rule_limits`), read in one go by the planner."""
        return tuple(
            (r, r.scope, scope_limits, r.when, when_limits)
            for r, (scope_limits, when_limits) in zip(self.rules, self.rule_limits, strict=True)
        )

    @cached_property
    def missing_facts(self) -> dict[str, MissingFact]:
        """The missing-fact record of every field of facts.yaml (made once, not per case)."""
        return {f: MissingFact(f, e.test) for f, e in self.facts.items()}


def _entry_at(text: str, line: int) -> str:
    """The id of the list entry that encloses ``line`` (0-based), for error messages."""
    lines = text.splitlines()
    for i in range(min(line, len(lines) - 1), -1, -1):
        m = re.match(r"\s*-\s*(?:id|name|field):\s*\"?([^\s\"]+)", lines[i])
        if m:
            return m.group(1)
    return f"line {line + 1}"


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(path.name, "-", "file missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(path.name, "-", f"cannot be read: {exc}") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        entry = _entry_at(text, mark.line) if mark is not None else "-"
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise KnowledgeError(path.name, entry, f"{exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        raise KnowledgeError(path.name, "-", f"not valid YAML: {exc}") from None


def _read(path: Path, key: str) -> list[Any]:
    doc = _load_yaml(path)
    if not isinstance(doc, dict) or key not in doc or not isinstance(doc[key], list):
        raise KnowledgeError(path.name, "-", f"expected a top-level list under {key!r}")
    items: list[Any] = doc[key]
    return items


def _entry_id(raw: object, index: int) -> str:
    if isinstance(raw, dict):
        for key in ("id", "name", "field"):
            if isinstance(raw.get(key), str):
                return str(raw[key])
    return f"#{index + 1}"


def _validate(model: type[M], items: list[Any], file: str) -> list[M]:
    out: list[M] = []
    for i, raw in enumerate(items):
        try:
            out.append(model.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise KnowledgeError(file, _entry_id(raw, i), f"{where}: {first['msg']}") from None
    return out


def _unique(items: Iterable[M], key: str, file: str) -> dict[str, M]:
    out: dict[str, M] = {}
    for item in items:
        ident = getattr(item, key)
        if ident in out:
            raise KnowledgeError(file, ident, "duplicate id")
        out[ident] = item
    return out


class _Compiler:
    """Compiles the criteria of one knowledge base: ``defs`` holds the definitions compiled
    so far; ``shared`` the nodes compiled so far, so that a criterion written identically in
    two places is one node and the per-case memo works it out once."""

    def __init__(self) -> None:
        self.defs: dict[str, Node] = {}
        self.shared: dict[tuple[object, ...], Node] = {}

    def __call__(self, spec: object, file: str, entry: str) -> Node:
        try:
            return compile_criterion(spec, self.defs, self.shared)
        except CriterionSpecError as exc:
            raise KnowledgeError(file, entry, str(exc)) from None


class _Refs:
    """Cross-checks of ids named in the data files."""

    def __init__(self, evidence: Mapping[str, EvidenceEntry]) -> None:
        self.evidence = evidence

    def evidence_ids(self, ids: Iterable[str], file: str, entry: str) -> None:
        for e in ids:
            if e not in self.evidence:
                raise KnowledgeError(file, entry, f"unknown evidence id {e!r}")

    @staticmethod
    def option(option: str, file: str, entry: str, recommendable: bool = True) -> None:
        allowed = OPTION_IDS if recommendable else tuple(ALL_THERAPY_IDS)
        if option not in allowed:
            kind = "history-only id" if option in HISTORY_ONLY_IDS else "unknown option id"
            raise KnowledgeError(file, entry, f"{kind} {option!r}")

    @staticmethod
    def test(test: str, file: str, entry: str) -> None:
        if test not in TEST_IDS:
            raise KnowledgeError(file, entry, f"unknown test id {test!r}")


def load_knowledge(data_dir: Path = DATA_DIR) -> Knowledge:
    """Load and cross-check the knowledge base in ``data_dir``.

    Raises :class:`KnowledgeError` (file, entry, reason) at the first problem.
    """
    manifest_raw = _load_yaml(data_dir / "manifest.yaml")
    manifest = _validate(Manifest, [manifest_raw], "manifest.yaml")[0]

    evidence = _unique(
        _validate(EvidenceEntry, _read(data_dir / "evidence.yaml", "evidence"), "evidence.yaml"),
        "id",
        "evidence.yaml",
    )
    refs = _Refs(evidence)

    therapies = _unique(
        _validate(Therapy, _read(data_dir / "therapies.yaml", "therapies"), "therapies.yaml"),
        "id",
        "therapies.yaml",
    )
    missing = sorted(ALL_THERAPY_IDS - set(therapies))
    if missing:
        raise KnowledgeError("therapies.yaml", missing[0], "option id of options.md has no entry")
    for tid, therapy in therapies.items():
        refs.option(tid, "therapies.yaml", tid, recommendable=False)
        refs.evidence_ids(therapy.evidence, "therapies.yaml", tid)

    facts = _unique(
        _validate(FactEntry, _read(data_dir / "facts.yaml", "facts"), "facts.yaml"),
        "field",
        "facts.yaml",
    )
    for f in facts.values():
        if f.test is not None:
            refs.test(f.test, "facts.yaml", f.field)

    definitions: dict[str, tuple[Definition, Node]] = {}
    compiler = _Compiler()
    for path in _files(data_dir, "definitions"):
        for d in _validate(Definition, _read(path, "definitions"), path.name):
            if d.name in definitions:
                raise KnowledgeError(path.name, d.name, "duplicate definition")
            node = compiler(d.when, path.name, d.name)
            definitions[d.name] = (d, node)
            compiler.defs[d.name] = node

    surveillance = _unique(
        [
            sched
            for path in _files(data_dir, "surveillance")
            for sched in _validate(SurveillanceSchedule, _read(path, "schedules"), path.name)
        ],
        "id",
        "surveillance*.yaml",
    )
    for s in surveillance.values():
        refs.evidence_ids(s.evidence, "surveillance.yaml", s.id)
        for oid in s.for_options:
            refs.option(oid, "surveillance.yaml", s.id)

    families = tuple(
        _validate(
            RepeatFamily, _read(data_dir / "sequencing.yaml", "repeat_families"), "sequencing.yaml"
        )
    )
    for fam in families:
        for m in fam.members:
            refs.option(m, "sequencing.yaml", fam.name, recommendable=False)
        refs.evidence_ids(fam.evidence, "sequencing.yaml", fam.name)

    rules = _load_rules(data_dir, compiler, refs, surveillance)
    checks = _load_checks(data_dir, compiler, refs)
    by_option: dict[str, list[CompiledCheck]] = {}
    for c in checks:
        for opt in c.spec.options:
            by_option.setdefault(opt, []).append(c)

    return Knowledge(
        manifest=manifest,
        therapies=therapies,
        evidence=evidence,
        facts=facts,
        definitions=definitions,
        rules=rules,
        checks=checks,
        checks_by_option={k: tuple(v) for k, v in by_option.items()},
        surveillance=surveillance,
        repeat_families=families,
    )


def _load_rules(
    data_dir: Path,
    compile_: _Compiler,
    refs: _Refs,
    surveillance: Mapping[str, SurveillanceSchedule],
) -> tuple[CompiledRule, ...]:
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for path in sorted(data_dir.glob("rules_*.yaml")):
        file = path.name
        for rule in _validate(Rule, _read(path, "rules"), file):
            if rule.id in seen:
                raise KnowledgeError(file, rule.id, "duplicate rule id")
            seen.add(rule.id)
            when = compile_(rule.when, file, rule.id)
            recs = []
            for rec in rule.recommend:
                refs.option(rec.option, file, f"{rule.id} -> {rec.option}")
                refs.evidence_ids(rec.evidence, file, f"{rule.id} -> {rec.option}")
                rec_when = (
                    compile_(rec.when, file, f"{rule.id} -> {rec.option}")
                    if rec.when is not None
                    else None
                )
                recs.append(CompiledRecommendation(rec, rec_when))
            avoid_when: list[Node | None] = []
            for av in rule.avoid:
                refs.option(av.option, file, f"{rule.id} avoid {av.option}")
                refs.evidence_ids(av.evidence, file, f"{rule.id} avoid {av.option}")
                avoid_when.append(
                    compile_(av.when, file, f"{rule.id} avoid {av.option}")
                    if av.when is not None
                    else None
                )
            for fld in rule.ask:
                if not field_exists(fld):
                    raise KnowledgeError(file, rule.id, f"ask: {fld!r} is not a case field")
            for t in rule.tests:
                refs.test(t, file, rule.id)
            for opt in rule.at_progression:
                refs.option(opt, file, f"{rule.id} at_progression")
            if rule.surveillance is not None and rule.surveillance not in surveillance:
                raise KnowledgeError(
                    file, rule.id, f"unknown surveillance schedule {rule.surveillance!r}"
                )
            scope = compile_(rule.scope, file, rule.id) if rule.scope is not None else None
            compiled.append(CompiledRule(rule, file, when, tuple(recs), tuple(avoid_when), scope))
    if not compiled:
        raise KnowledgeError("rules_*.yaml", "-", "no rule files found")
    return tuple(compiled)


def _files(data_dir: Path, stem: str) -> list[Path]:
    """``stem.yaml`` first, then ``stem_*.yaml`` by name (pathway files of the same kind)."""
    main = data_dir / f"{stem}.yaml"
    extra = sorted(data_dir.glob(f"{stem}_*.yaml"))
    return [main, *extra]


def _load_checks(data_dir: Path, compile_: _Compiler, refs: _Refs) -> tuple[CompiledCheck, ...]:
    pairs = [
        (path.name, c)
        for path in _files(data_dir, "checks")
        for c in _validate(Check, _read(path, "checks"), path.name)
    ]
    seen: set[str] = set()
    for file, c in pairs:
        if c.id in seen:
            raise KnowledgeError(file, c.id, "duplicate id")
        seen.add(c.id)
    compiled = []
    for file, c in pairs:
        for opt in c.options:
            refs.option(opt, file, c.id)
        refs.evidence_ids(c.evidence, file, c.id)
        require = compile_(c.require, file, c.id)
        applies = compile_(c.applies_when, file, c.id) if c.applies_when else None
        compiled.append(CompiledCheck(c, require, applies))
    return tuple(compiled)


def _digest(data_dir: Path) -> str:
    """Hash of the data files and of the code that compiles them (loader, schema, criteria),
    so a cached knowledge base is never served after either changes."""
    h = hashlib.sha256(__version__.encode())
    code = Path(__file__).parent.parent
    sources = [
        *sorted(data_dir.glob("*.yaml")),
        *sorted((code / "knowledge").glob("*.py")),
        *sorted((code / "engine" / "criteria").glob("*.py")),
    ]
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def user_cache_dir() -> Path | None:
    """netnav's cache folder (``$NETNAV_CACHE_DIR`` or ``$XDG_CACHE_HOME`` + ``/netnav``,
    else ``~/.cache/netnav``); None when ``NETNAV_NO_CACHE`` is set. Start-up caches only:
    nothing in it changes a plan."""
    if os.environ.get("NETNAV_NO_CACHE"):
        return None
    base = os.environ.get("NETNAV_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "netnav" if base else Path.home() / ".cache" / "netnav"


def load_knowledge_cached(data_dir: Path = DATA_DIR) -> Knowledge:
    """Like :func:`load_knowledge`, reusing a compiled copy from the user's cache directory.

    The cache key is a hash of every data file and the netnav version, so an edited
    knowledge base is never served stale. The cache only saves start-up time for the CLI
    (YAML parsing and validation); set ``NETNAV_NO_CACHE=1`` to bypass it. A cache that
    cannot be read or written is ignored.
    """
    folder = user_cache_dir()
    if folder is None:
        return load_knowledge(data_dir)
    target = folder / f"knowledge-{_digest(data_dir)}.pickle"
    try:
        with target.open("rb") as fh:
            cached = pickle.load(fh)  # our own cache file, keyed by content hash
        if isinstance(cached, Knowledge):
            return cached
    except Exception:
        pass
    kb = load_knowledge(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("knowledge-*.pickle"):
            stale.unlink(missing_ok=True)  # older knowledge versions are never read again
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(kb, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(target)
    except OSError:
        pass
    return kb


@cache
def default_knowledge() -> Knowledge:
    """The packaged knowledge base, loaded once per process (it is immutable)."""
    return load_knowledge_cached(DATA_DIR)
