"""Loading the knowledge base: the packaged data is whole and consistent, and a broken copy
fails at load with a KnowledgeError naming the file, the entry and the reason
(netnav.knowledge.load)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netnav.engine.criteria import REGISTRY
from netnav.errors import KnowledgeError
from netnav.knowledge.load import DATA_DIR, Knowledge, load_knowledge
from netnav.vocabulary import ALL_THERAPY_IDS, OPTION_IDS

RULES_FILE = "rules_10_midgut.yaml"
OTHER_RULES_FILE = "rules_20_pancreas.yaml"


@pytest.fixture(scope="module")
def packaged() -> Knowledge:
    # The loader itself, not the start-up cache of default_knowledge().
    return load_knowledge(DATA_DIR)


# --- the packaged knowledge -------------------------------------------------------------------


def test_packaged_knowledge_loads_with_entries_in_every_section(packaged: Knowledge) -> None:
    assert len(packaged.rules) > 0
    assert len(packaged.checks) > 0
    assert len(packaged.definitions) > 0
    assert len(packaged.evidence) > 0
    assert len(packaged.facts) > 0
    assert len(packaged.surveillance) > 0
    assert len(packaged.repeat_families) > 0
    assert packaged.version


def test_every_vocabulary_id_has_a_therapy_entry(packaged: Knowledge) -> None:
    assert set(packaged.therapies) == set(ALL_THERAPY_IDS)


def test_every_rule_names_its_brief_rule(packaged: Knowledge) -> None:
    no_brief_rule = [r.spec.id for r in packaged.rules if not r.spec.brief_rule.strip()]
    assert no_brief_rule == []


def test_every_check_and_definition_names_its_brief_rule(packaged: Knowledge) -> None:
    assert [c.spec.id for c in packaged.checks if not c.spec.brief_rule.strip()] == []
    assert [n for n, (d, _) in packaged.definitions.items() if not d.brief_rule.strip()] == []


def test_every_recommendation_cites_evidence_that_exists(packaged: Knowledge) -> None:
    for rule in packaged.rules:
        for rec in rule.recommend:
            assert rec.spec.evidence, f"{rule.spec.id} -> {rec.spec.option} cites nothing"
            unknown = set(rec.spec.evidence) - set(packaged.evidence)
            assert unknown == set(), f"{rule.spec.id} -> {rec.spec.option}: {unknown}"
        for av in rule.spec.avoid:
            assert set(av.evidence) <= set(packaged.evidence), rule.spec.id


def test_every_check_cites_evidence_that_exists(packaged: Knowledge) -> None:
    for check in packaged.checks:
        assert set(check.spec.evidence) <= set(packaged.evidence), check.spec.id


def test_every_option_named_by_rules_and_checks_is_in_the_vocabulary(packaged: Knowledge) -> None:
    named: set[str] = set()
    for rule in packaged.rules:
        named |= {rec.spec.option for rec in rule.recommend}
        named |= {av.option for av in rule.spec.avoid}
        named |= set(rule.spec.at_progression)
    for check in packaged.checks:
        named |= set(check.spec.options)
    assert named - set(OPTION_IDS) == set()


def test_rule_ids_are_unique_across_rule_files(packaged: Knowledge) -> None:
    ids = [r.spec.id for r in packaged.rules]
    assert len(ids) == len(set(ids))


def test_every_rule_surveillance_schedule_exists(packaged: Knowledge) -> None:
    for rule in packaged.rules:
        if rule.spec.surveillance is not None:
            assert rule.spec.surveillance in packaged.surveillance, rule.spec.id


def test_every_line_counting_class_is_the_first_class_of_a_therapy(packaged: Knowledge) -> None:
    # derive() reads the first class of each therapy to tell a same-class switch.
    assert all(classes for classes in packaged.therapy_classes.values())


def test_knowledge_names_only_registered_criteria() -> None:
    names: set[str] = set()
    for path in DATA_DIR.glob("*.yaml"):
        names |= _criterion_names(yaml.safe_load(path.read_text("utf-8")))
    definitions = {
        d["name"]
        for path in DATA_DIR.glob("definitions*.yaml")
        for d in yaml.safe_load(path.read_text("utf-8"))["definitions"]
    }
    assert names - set(REGISTRY) - definitions - {"all_of", "any_of", "not"} == set()


def _criterion_names(doc: Any) -> set[str]:
    """Every criterion name used under a ``when``, ``require`` or ``applies_when`` key."""
    found: set[str] = set()

    def spec(node: Any) -> None:
        if isinstance(node, str):
            found.add(node)
        elif isinstance(node, list):
            for item in node:
                spec(item)
        elif isinstance(node, dict) and len(node) == 1:
            ((name, arg),) = node.items()
            found.add(name)
            if name in ("all_of", "any_of") or name == "not":
                spec(arg)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("when", "require", "applies_when"):
                    spec(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return found


# --- a broken copy fails at load ----------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A writable copy of the packaged data directory."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _read(data: Path, name: str) -> Any:
    return yaml.safe_load((data / name).read_text("utf-8"))


def _write(data: Path, name: str, doc: Any) -> None:
    (data / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")


def edit(data: Path, name: str, change: Callable[[Any], None]) -> None:
    doc = _read(data, name)
    change(doc)
    _write(data, name, doc)


def first_rule_with_recommendation(doc: Any) -> dict[str, Any]:
    return next(r for r in doc["rules"] if r.get("recommend"))


def _leaves(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item)


def load_error(data: Path) -> KnowledgeError:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(data)
    return info.value


def test_an_unbroken_copy_loads(data: Path) -> None:
    assert len(load_knowledge(data).rules) == len(load_knowledge(DATA_DIR).rules)


def test_an_unknown_criterion_in_a_rule_names_the_file_the_rule_and_the_name(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["when"] = {"all_of": [rule["when"], "liver_dominnant"]}
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "unknown criterion 'liver_dominnant'" in err.reason
    assert RULES_FILE in str(err) and rule["id"] in str(err)


def test_a_wrong_parameter_name_for_a_criterion_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = next(
        r for r in doc["rules"] if any("ki67_at_most" in leaf for leaf in _leaves(r["when"]))
    )
    leaf = next(leaf for leaf in _leaves(rule["when"]) if "ki67_at_most" in leaf)
    leaf["ki67_at_most"] = {"pct": 10}
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "ki67_at_most" in err.reason
    assert "pct" in err.reason
    assert "percent" in err.reason


def test_a_criterion_parameter_out_of_range_is_refused(data: Path) -> None:
    def change(doc: Any) -> None:
        check = next(
            c
            for c in doc["checks"]
            if any("ki67_at_most" in leaf for leaf in _leaves(c["require"]))
        )
        leaf = next(leaf for leaf in _leaves(check["require"]) if "ki67_at_most" in leaf)
        leaf["ki67_at_most"] = {"percent": 155}
        change.entry = check["id"]  # type: ignore[attr-defined]

    edit(data, "checks.yaml", change)
    err = load_error(data)
    assert (err.file, err.entry) == ("checks.yaml", change.entry)  # type: ignore[attr-defined]
    assert "percent" in err.reason


def test_an_unknown_evidence_id_in_a_recommendation_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rec = rule["recommend"][0]
    rec["evidence"] = [*rec["evidence"], "NO-SUCH-TRIAL"]
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert err.file == RULES_FILE
    assert err.entry == f"{rule['id']} -> {rec['option']}"
    assert err.reason == "unknown evidence id 'NO-SUCH-TRIAL'"


def test_an_unknown_evidence_id_in_a_check_is_refused(data: Path) -> None:
    doc = _read(data, "checks.yaml")
    check = doc["checks"][0]
    check["evidence"] = ["NO-SUCH-LABEL"]
    _write(data, "checks.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("checks.yaml", check["id"])
    assert "unknown evidence id 'NO-SUCH-LABEL'" in err.reason


def test_an_unknown_option_id_in_a_recommendation_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["recommend"][0]["option"] = "surgical_resecton"
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert err.file == RULES_FILE
    assert err.entry == f"{rule['id']} -> surgical_resecton"
    assert err.reason == "unknown option id 'surgical_resecton'"


def test_an_unknown_option_id_in_a_check_is_refused(data: Path) -> None:
    doc = _read(data, "checks.yaml")
    check = doc["checks"][0]
    check["options"] = [*check["options"], "lutathera"]
    _write(data, "checks.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("checks.yaml", check["id"])
    assert "unknown option id 'lutathera'" in err.reason


def test_a_history_only_id_cannot_be_recommended(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["recommend"][0]["option"] = "ssa_unspecified"
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert err.file == RULES_FILE
    assert "history-only id 'ssa_unspecified'" in err.reason


def test_a_duplicate_rule_id_in_one_file_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    first, second = doc["rules"][0], doc["rules"][1]
    second["id"] = first["id"]
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry, err.reason) == (RULES_FILE, first["id"], "duplicate rule id")


def test_a_rule_id_repeated_in_another_file_is_refused(data: Path) -> None:
    taken = _read(data, RULES_FILE)["rules"][0]["id"]
    doc = _read(data, OTHER_RULES_FILE)
    doc["rules"][0]["id"] = taken
    _write(data, OTHER_RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry, err.reason) == (OTHER_RULES_FILE, taken, "duplicate rule id")


def test_a_duplicate_evidence_id_is_refused(data: Path) -> None:
    doc = _read(data, "evidence.yaml")
    doc["evidence"].append(dict(doc["evidence"][0]))
    _write(data, "evidence.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("evidence.yaml", doc["evidence"][0]["id"])
    assert err.reason == "duplicate id"


def test_a_duplicate_check_id_is_refused(data: Path) -> None:
    doc = _read(data, "checks.yaml")
    doc["checks"][1]["id"] = doc["checks"][0]["id"]
    _write(data, "checks.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("checks.yaml", doc["checks"][0]["id"])
    assert err.reason == "duplicate id"


def test_malformed_yaml_names_the_file(data: Path) -> None:
    text = (data / OTHER_RULES_FILE).read_text("utf-8")
    (data / OTHER_RULES_FILE).write_text(text + "\n  - id: [unclosed\n", "utf-8")
    err = load_error(data)
    assert err.file == OTHER_RULES_FILE
    assert err.entry == "-"
    assert "not valid YAML" in err.reason


def test_a_missing_data_file_is_named(data: Path) -> None:
    (data / "evidence.yaml").unlink()
    err = load_error(data)
    assert (err.file, err.reason) == ("evidence.yaml", "file missing")


def test_a_file_without_its_top_level_list_is_refused(data: Path) -> None:
    _write(data, "surveillance.yaml", {"schedule": []})
    err = load_error(data)
    assert err.file == "surveillance.yaml"
    assert "top-level list under 'schedules'" in err.reason


def test_malformed_manifest_yaml_is_a_knowledge_error(data: Path) -> None:
    (data / "manifest.yaml").write_text('version: "2026.11.0\nreleased: [\n', "utf-8")
    err = load_error(data)
    assert err.file == "manifest.yaml"


def test_a_missing_manifest_is_a_knowledge_error(data: Path) -> None:
    (data / "manifest.yaml").unlink()
    err = load_error(data)
    assert (err.file, err.reason) == ("manifest.yaml", "file missing")


def test_a_missing_therapies_entry_names_the_option(data: Path) -> None:
    edit(
        data,
        "therapies.yaml",
        lambda doc: doc.update(therapies=[t for t in doc["therapies"] if t["id"] != "everolimus"]),
    )
    err = load_error(data)
    assert (err.file, err.entry) == ("therapies.yaml", "everolimus")
    assert "has no entry" in err.reason


def test_a_therapy_without_classes_is_refused(data: Path) -> None:
    def change(doc: Any) -> None:
        next(t for t in doc["therapies"] if t["id"] == "lanreotide")["classes"] = []

    edit(data, "therapies.yaml", change)
    err = load_error(data)
    assert (err.file, err.entry) == ("therapies.yaml", "lanreotide")
    assert "classes" in err.reason


def test_an_unknown_field_path_in_field_in_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["when"] = {
        "all_of": [rule["when"], {"field_in": {"field": "tumor.primary_sight", "values": ["x"]}}]
    }
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "'tumor.primary_sight' is not a field of the case format" in err.reason


def test_an_unknown_field_in_a_rules_ask_list_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["ask"] = ["tumor.ki67"]
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "'tumor.ki67' is not a case field" in err.reason


def test_an_unknown_surveillance_id_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["surveillance"] = "resected_net_lowgrade"
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "unknown surveillance schedule 'resected_net_lowgrade'" in err.reason


def test_an_unknown_test_id_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["tests"] = ["sstr_scan"]
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "unknown test id 'sstr_scan'" in err.reason


def test_a_misspelt_key_in_a_rule_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["recomend"] = rule.pop("recommend")
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "recomend" in err.reason
    assert "not permitted" in err.reason


def test_a_misspelt_key_in_a_recommendation_is_refused(data: Path) -> None:
    doc = _read(data, RULES_FILE)
    rule = first_rule_with_recommendation(doc)
    rule["recommend"][0]["evidense"] = ["PDQ-GI"]
    _write(data, RULES_FILE, doc)
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule["id"])
    assert "evidense" in err.reason


def test_an_unknown_definition_used_in_a_definition_is_refused(data: Path) -> None:
    doc = _read(data, "definitions.yaml")
    target = doc["definitions"][0]
    target["when"] = "net_g1_g2_g3"
    _write(data, "definitions.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("definitions.yaml", target["name"])
    assert "unknown criterion 'net_g1_g2_g3'" in err.reason


def test_a_definition_used_before_it_is_defined_is_refused(data: Path) -> None:
    # Definitions are compiled in file order: a forward reference is an unknown name.
    doc = _read(data, "definitions.yaml")
    first, last = doc["definitions"][0], doc["definitions"][-1]
    first["when"] = last["name"]
    _write(data, "definitions.yaml", doc)
    err = load_error(data)
    assert (err.file, err.entry) == ("definitions.yaml", first["name"])


def test_a_key_repeated_in_a_rule_is_refused(data: Path) -> None:
    text = (data / RULES_FILE).read_text("utf-8")
    rule_id = _read(data, RULES_FILE)["rules"][0]["id"]
    marker = f"  - id: {rule_id}\n"
    assert marker in text
    text = text.replace(marker, marker + "    when: stable_disease\n", 1)
    (data / RULES_FILE).write_text(text, "utf-8")
    err = load_error(data)
    assert (err.file, err.entry) == (RULES_FILE, rule_id)
