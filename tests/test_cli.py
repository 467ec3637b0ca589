"""The ``netnav`` command line: in-process (typer's CliRunner on ``app``, and ``main()`` for
the error exits) and a few real processes of ``.venv/bin/netnav``.

Contract (src/netnav/cli.py): exit 0 on success; 2 on bad input, with a message on stderr
naming the field path, the value and what is allowed, nothing on stdout and no file written;
never a traceback; free text of the case never echoed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netnav.api import explain, plan_result, recommend
from netnav.case import load_case_file
from netnav.cli import app, main
from netnav.plan import plan_json
from netnav.vocabulary import OPTION_IDS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
EXAMPLES = sorted((DATA / "examples").glob("*.json"))
VIGNETTES = sorted((DATA / "vignettes").glob("*.json"))
V01 = DATA / "vignettes" / "V01-si-metastatic-first-line.json"
CASE_SCHEMA = ROOT / "src" / "netnav" / "case" / "case.schema.json"
NETNAV = ROOT / ".venv" / "bin" / "netnav"
SENTINEL = "SENTINEL-4711-SECRET"
VERDICT_LINE = re.compile(r"^\s+[✓✗!?] \[(pass|fail|warn|undetermined)\] ", re.MULTILINE)

runner = CliRunner()


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def _no_traceback(run: Run) -> Run:
    assert "Traceback" not in run.stderr, run.stderr
    assert "Traceback" not in run.stdout, run.stdout
    return run


def invoke(*args: str, input: str | None = None) -> Run:
    """``app`` through CliRunner (what typer itself does; NetnavError is main()'s job)."""
    result = runner.invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _no_traceback(Run(result.exit_code, result.stdout, result.stderr))


@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Call ``netnav.cli.main()`` in-process, as the console script does."""

    def run(*args: str, input: str | bytes | None = None) -> Run:
        monkeypatch.setattr(sys, "argv", ["netnav", *args])
        with runner.isolation(input=input) as (out, err, _):
            try:
                main()
                code: int | str | None = 0
            except SystemExit as exc:
                code = exc.code
            stdout = out.getvalue().decode("utf-8", "replace")
            stderr = err.getvalue().decode("utf-8", "replace")
        assert isinstance(code, int | None), code
        return _no_traceback(Run(code or 0, stdout, stderr))

    return run


def process(*args: str, input: str | None = None, cwd: Path = ROOT) -> Run:
    """A real ``.venv/bin/netnav`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [str(NETNAV), *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )
    return _no_traceback(Run(proc.returncode, proc.stdout, proc.stderr))


def write(tmp_path: Path, doc: object, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def base_case(**tumor: Any) -> dict[str, Any]:
    return {
        "format": "netnav-case/1",
        "id": "CLI-1",
        "tumor": {"primary_site": "small_intestine", "differentiation": "well", **tumor},
    }


# --- recommend ----------------------------------------------------------------------------------


def test_examples_exist() -> None:
    assert EXAMPLES, "tests/data/examples holds no case"
    assert NETNAV.exists(), f"{NETNAV} missing: run `make setup`"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_recommend_json_is_the_plan_document(example: Path) -> None:
    run = invoke("recommend", str(example), "--format", "json")
    assert run.code == 0, run.stderr
    plan = json.loads(run.stdout)
    assert plan["format"] == "netnav-plan/1"
    assert run.stdout == plan_json(recommend(load_case_file(str(example))))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_recommend_markdown(example: Path) -> None:
    run = invoke("recommend", str(example), "--format", "markdown")
    assert run.code == 0, run.stderr
    assert "\n## Options\n" in run.stdout
    assert run.stdout.startswith("# netnav plan")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_recommend_text_is_the_default(example: Path) -> None:
    run = invoke("recommend", str(example))
    assert run.code == 0, run.stderr
    assert run.stdout == invoke("recommend", str(example), "--format", "text").stdout
    assert "Recommended options" in run.stdout
    plan = recommend(load_case_file(str(example)))
    for option in plan["options"]:
        assert f"[{option['id']}]" in run.stdout


def test_recommend_out_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    run = invoke("recommend", str(EXAMPLES[0]), "--format", "json", "--out", str(out))
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert (
        out.read_text(encoding="utf-8")
        == invoke("recommend", str(EXAMPLES[0]), "--format", "json").stdout
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no partial file left


def test_recommend_reads_standard_input() -> None:
    text = EXAMPLES[0].read_text(encoding="utf-8")
    from_file = invoke("recommend", str(EXAMPLES[0]), "--format", "json")
    from_stdin = invoke("recommend", "-", "--format", "json", input=text)
    assert from_stdin.code == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    inner = json.dumps(json.loads(text)["case"])  # a bare case document as well
    assert invoke("recommend", "-", "--format", "json", input=inner).stdout == from_file.stdout


def test_recommend_is_byte_identical_across_runs() -> None:
    first = invoke("recommend", str(V01), "--format", "json").stdout
    assert invoke("recommend", str(V01), "--format", "json").stdout == first


# --- explain ------------------------------------------------------------------------------------


def _explained(path: Path, option: str) -> Run:
    run = invoke("explain", str(path), option)
    assert run.code == 0, run.stderr
    summary = explain(load_case_file(str(path)), option)["summary"]
    assert run.stdout.splitlines()[0] == summary
    assert VERDICT_LINE.search(run.stdout), run.stdout
    assert "Legend:" in run.stdout
    return run


def _with_avoid() -> tuple[Path, str]:
    for path in [*EXAMPLES, *VIGNETTES]:
        plan = recommend(load_case_file(str(path)))
        if plan["avoid"]:
            return path, plan["avoid"][0]["id"]
    pytest.fail("no example or vignette has an option in avoid")


def test_explain_an_option_in_the_plan() -> None:
    plan = recommend(load_case_file(str(V01)))
    option = plan["options"][0]["id"]
    run = _explained(V01, option)
    assert "is in the plan at rank 1" in run.stdout


def test_explain_an_option_to_avoid() -> None:
    path, option = _with_avoid()
    run = _explained(path, option)
    assert "is to be avoided" in run.stdout
    assert "[fail]" in run.stdout


def test_explain_an_option_not_recommended() -> None:
    # Sunitinib for a small-intestine NET: rules name it, none offers it here.
    result = plan_result(load_case_file(str(V01)))
    taken = {o.id for o in result.options} | {a.id for a in result.avoid} | set(result.held_back)
    assert "sunitinib" not in taken
    run = _explained(V01, "sunitinib")
    assert "is not recommended" in run.stdout


@pytest.mark.parametrize("option", OPTION_IDS)
def test_explain_every_option_renders(option: str) -> None:
    run = invoke("explain", str(V01), option)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines()[0] == explain(load_case_file(str(V01)), option)["summary"]
    assert run.stdout.rstrip().endswith("✗ fail")  # the legend closes every explanation


def test_explain_json_is_a_verdict_tree() -> None:
    plan = recommend(load_case_file(str(V01)))
    option = plan["options"][0]["id"]
    run = invoke("explain", str(V01), option, "--format", "json")
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["option"] == option and doc["status"] == "recommended"

    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("children", []):
            yield from walk(child)

    nodes = list(walk(doc["tree"]))
    assert len(nodes) > 1
    for node in nodes:
        assert node["verdict"] in ("pass", "warn", "undetermined", "fail")
        assert isinstance(node["why"], str) and node["why"]
        assert isinstance(node["facts"], list)


def test_explain_unknown_option_exits_2(run_main: Any) -> None:
    run = run_main("explain", str(V01), "lanreotid")
    assert run.code == 2
    assert run.stdout == ""
    assert "lanreotid" in run.stderr
    assert "lanreotide" in run.stderr  # the suggestion


# --- validate and invalid input -----------------------------------------------------------------


def test_validate_a_valid_case() -> None:
    run = invoke("validate", str(EXAMPLES[0]))
    assert run.code == 0, run.stderr
    assert "valid" in run.stdout


INVALID: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (document text, substrings stderr must hold: the path and what is allowed)
    "unknown_key": (
        json.dumps(base_case(colour="red")),
        ("tumor.colour", "unknown field", "primary_site", "ki67_percent"),
    ),
    "bad_enum": (
        json.dumps(base_case(differentiation="moderate")),
        ("tumor.differentiation", "moderate", "well, poor, mixed_minen, uncertain"),
    ),
    "nan": (
        json.dumps(base_case(ki67_percent=float("nan"))),
        ("tumor.ki67_percent", "NaN", "0", "100"),
    ),
    "bad_enum_in_wrapper": (
        json.dumps({"id": "W", "case": base_case(nodes="n3")}),
        ("case.tumor.nodes", "n3", "n0, n1, n2, nx"),
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
@pytest.mark.parametrize("command", ["recommend", "validate"])
def test_invalid_case_exits_2_naming_the_field(
    run_main: Any, tmp_path: Path, name: str, command: str
) -> None:
    text, expected = INVALID[name]
    path = write(tmp_path, text)
    out = tmp_path / "plan.json"
    args = [command, str(path)] + (["--out", str(out)] if command == "recommend" else [])
    run = run_main(*args)
    assert run.code == 2
    assert run.stdout == ""
    for part in expected:
        assert part in run.stderr, f"{part!r} not in {run.stderr!r}"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json"]


def test_invalid_case_from_standard_input(run_main: Any) -> None:
    text, expected = INVALID["bad_enum"]
    run = run_main("recommend", "-", "--format", "json", input=text)
    assert run.code == 2 and run.stdout == ""
    assert all(part in run.stderr for part in expected), run.stderr


def _secret_case() -> dict[str, Any]:
    doc = base_case(primary_site_detail=SENTINEL, differentiation="moderately")
    doc["id"] = SENTINEL
    doc["patient"] = {"ecog": 7}
    doc["treatments"] = [{"therapy": "lanreotide", "details": SENTINEL}]
    doc["extensions"] = {"note": SENTINEL}
    return doc


@pytest.mark.parametrize("command", ["recommend", "validate", "explain"])
def test_free_text_never_appears_in_errors(run_main: Any, tmp_path: Path, command: str) -> None:
    path = write(tmp_path, _secret_case())
    args = [command, str(path)] + (["everolimus"] if command == "explain" else [])
    run = run_main(*args)
    assert run.code == 2
    assert "tumor.differentiation" in run.stderr and "patient.ecog" in run.stderr
    assert SENTINEL not in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
        pytest.param(b'{"format": "netnav-case/1", "format": "netnav-case/1"}', id="repeated"),
        pytest.param(b"42", id="not-an-object"),
    ],
)
def test_unreadable_documents_exit_2(run_main: Any, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "case.json"
    path.write_bytes(content)
    run = run_main("recommend", str(path))
    assert run.code == 2, run
    assert run.stdout == ""
    assert run.stderr.startswith("netnav: ")


def test_missing_file_exits_2(run_main: Any, tmp_path: Path) -> None:
    run = run_main("validate", str(tmp_path / "absent.json"))
    assert run.code == 2
    assert "not found" in run.stderr


def test_unwritable_out_path_is_bad_input(run_main: Any, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "plan.json"
    run = run_main("recommend", str(V01), "--out", str(out))
    assert run.code == 2, run
    assert str(out.parent) in run.stderr or "plan.json" in run.stderr
    assert "internal error" not in run.stderr


def test_usage_error_exits_2() -> None:
    run = invoke("recommend", str(V01), "--format", "pdf")
    assert run.code == 2
    assert "pdf" in run.stderr


# --- schema and knowledge -----------------------------------------------------------------------


def test_schema_case_is_the_packaged_schema() -> None:
    run = invoke("schema", "case")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == json.loads(CASE_SCHEMA.read_text(encoding="utf-8"))


def test_schema_plan_describes_the_plans() -> None:
    import jsonschema

    run = invoke("schema", "plan")
    assert run.code == 0, run.stderr
    validator = jsonschema.Draft202012Validator(json.loads(run.stdout))
    for path in [*EXAMPLES, V01]:
        plan = json.loads(invoke("recommend", str(path), "--format", "json").stdout)
        errors = [e.message for e in validator.iter_errors(plan)]
        assert not errors, f"{path.name}: {errors[:3]}"


def test_knowledge_check() -> None:
    run = invoke("knowledge", "check")
    assert run.code == 0, run.stderr
    assert "ok" in run.stdout


def test_knowledge_list_rules() -> None:
    run = invoke("knowledge", "list", "rules")
    assert run.code == 0, run.stderr
    ids = [line.split()[0] for line in run.stdout.splitlines() if line.strip()]
    assert "SI-05" in ids
    assert len(ids) == len(set(ids))


def test_knowledge_list_unknown_kind_exits_2() -> None:
    run = invoke("knowledge", "list", "spells")
    assert run.code == 2
    assert "spells" in run.stderr


def test_knowledge_show_rule_as_json() -> None:
    run = invoke("knowledge", "show", "SI-05", "--format", "json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["rule"]["id"] == "SI-05"


def test_knowledge_show_rule_reads_as_text_for_a_clinician() -> None:
    run = invoke("knowledge", "show", "si-05")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("Rule SI-05 (brief SI-05)")
    assert "Recommend PRRT with lutetium-177 dotatate" in run.stdout
    assert "evidence: NETTER-1" in run.stdout


def test_knowledge_show_unknown_exits_2(run_main: Any) -> None:
    run = run_main("knowledge", "show", "NOPE")
    assert run.code == 2
    assert "NOPE" in run.stderr
    assert run.stdout == ""


# --- real processes (exit codes through main()) -------------------------------------------------


def test_process_recommend_json() -> None:
    run = process("recommend", str(V01), "--format", "json")
    assert run.code == 0, run.stderr
    assert run.stdout == plan_json(recommend(load_case_file(str(V01))))


def test_process_recommend_from_stdin(tmp_path: Path) -> None:
    run = process("recommend", "-", "--format", "markdown", input=V01.read_text("utf-8"))
    assert run.code == 0, run.stderr
    assert "## Options" in run.stdout


def test_process_invalid_case(tmp_path: Path) -> None:
    path = write(tmp_path, _secret_case())
    out = tmp_path / "plan.json"
    run = process("recommend", str(path), "--out", str(out))
    assert run.code == 2
    assert run.stdout == ""
    assert "tumor.differentiation" in run.stderr
    assert "well, poor, mixed_minen, uncertain" in run.stderr
    assert SENTINEL not in run.stderr
    assert not out.exists()


def test_process_unknown_option_and_entry() -> None:
    run = process("explain", str(V01), "no_such_option")
    assert run.code == 2 and "no_such_option" in run.stderr and run.stdout == ""
    run = process("knowledge", "show", "NOPE")
    assert run.code == 2 and "NOPE" in run.stderr


def test_process_validate_and_knowledge_check() -> None:
    assert process("validate", str(V01)).code == 0
    assert process("knowledge", "check").code == 0
