"""`netnav cohort run`: every row planned or refused, resume, byte-identical reruns, engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from netnav.api import recommend
from netnav.case.load import parse_case_document
from netnav.cli import app
from netnav.cohort import worker
from netnav.cohort.run import run_cohort
from netnav.cohort.source import CohortInputError
from netnav.errors import NetnavError

DATA = Path(__file__).parent / "data"

CASE_FILES = sorted((DATA / "vignettes").glob("*.json")) + sorted(
    (DATA / "clinical").glob("*.json")
)

# Rows a registry extract really contains, each refused with the field it names.
BROKEN = {
    "not json at all": "(document)",
    '{"format": "netnav-case/1", "tumor": {"primary_site": "moon"}}': "tumor.primary_site",
    '{"format": "netnav-case/1", "tumor": {"primary_site": "lung", "ki67_percent": NaN}}': (
        "tumor.ki67_percent"
    ),
    '{"format": "netnav-case/1", "id": "dup", "id": "dup2", "tumor": {}}': "id",
    '{"format": "netnav-case/1", "tumor": {"primary_site": "rectum"}, '
    '"extensions": {"actual_treatment": {"option": "chemo"}}}': (
        "extensions.actual_treatment.option"
    ),
    '{"format": "netnav-case/1", "tumor": {"primary_site": "rectum"}, '
    '"extensions": {"actual_treatment": {"option": "ssa", "date": "2024-02-30"}}}': (
        "extensions.actual_treatment.date"
    ),
}


def _cases() -> Iterator[dict[str, Any]]:
    for i, path in enumerate(CASE_FILES):
        doc = json.loads(path.read_text(encoding="utf-8"))
        case = doc.get("case", doc)
        # A third of the cases record the treatment given: a group, an id, or an id that is
        # often in avoid (everolimus), so that every comparison status occurs.
        given = [("ssa", "2025-01-02"), ("everolimus", None), ("platinum_etoposide", None)]
        if i % 3 == 0:
            option, date = given[(i // 3) % 3]
            actual = {"option": option} | ({"date": date} if date else {})
            case.setdefault("extensions", {})["actual_treatment"] = actual
        yield case


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test cases as JSON Lines, with broken rows and a blank line mixed in."""
    lines = [json.dumps(c, ensure_ascii=False) for c in _cases()]
    broken = list(BROKEN)
    for k, text in enumerate(broken):
        lines.insert(7 + 11 * k, text)
    lines.insert(3, "")
    path = tmp_path_factory.mktemp("cohort") / "cohort.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(cohort_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    return out


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_row_is_planned_or_refused(cohort_file: Path, reference: Path) -> None:
    rows = [line for line in cohort_file.read_text(encoding="utf-8").splitlines() if line]
    plans = [p for f in sorted((reference / "plans-jsonl").glob("*.jsonl")) for p in _lines(f)]
    errors = _lines(reference / "errors.jsonl")
    refused = {e["row"] for e in errors}
    assert len(plans) == len(CASE_FILES)
    assert len(refused) == len(BROKEN)
    assert len(plans) + len(refused) == len(rows)
    figures = json.loads((reference / "concordance.json").read_text(encoding="utf-8"))
    assert figures["counts"]["cases_in"] == len(rows)
    assert figures["counts"]["errors"] == len(BROKEN)


def test_errors_name_the_row_the_field_and_the_reason(cohort_file: Path, reference: Path) -> None:
    numbered = dict(enumerate(cohort_file.read_text(encoding="utf-8").splitlines(), start=1))
    errors = _lines(reference / "errors.jsonl")
    assert [e["row"] for e in errors] == sorted(e["row"] for e in errors)
    paths: dict[int, list[str]] = {}
    for error in errors:
        assert numbered[error["row"]] in BROKEN, f"row {error['row']} refused but is good"
        assert error["reason"]
        paths.setdefault(error["row"], []).append(error["path"])
    for row, found in paths.items():
        assert BROKEN[numbered[row]] in found, (numbered[row], found)
    assert {numbered[e["row"]] for e in errors} == set(BROKEN)
    moon = next(e for e in errors if e["value"] == "moon")
    assert "small_intestine" in moon["reason"]


def test_plans_are_the_plans_of_netnav_recommend(cohort_file: Path, reference: Path) -> None:
    numbered = dict(enumerate(cohort_file.read_text(encoding="utf-8").splitlines(), start=1))
    table = pq.read_table(reference / "plans")
    assert table.column("row").to_pylist() == sorted(table.column("row").to_pylist())
    jsonl = [p for f in sorted((reference / "plans-jsonl").glob("*.jsonl")) for p in _lines(f)]
    for record, line in zip(table.to_pylist(), jsonl, strict=True):
        case, _ = parse_case_document(numbered[record["row"]])
        expected = recommend(case)
        assert json.loads(record["plan"]) == expected
        assert line == {"row": record["row"], "plan": expected}
        assert record["options"] == [o["id"] for o in expected["options"]]
        assert record["avoid"] == [a["id"] for a in expected["avoid"]]
        assert record["grade"] == expected["derived"]["grade"]["value"]
        assert set(record["blocking"]) <= set(record["missing"])


def test_actual_treatment_is_compared_with_the_plan(reference: Path) -> None:
    records = pq.read_table(reference / "plans").to_pylist()
    statuses = {r["actual_status"] for r in records}
    assert {"not_recorded", "in_avoid"} <= statuses
    assert statuses & {"in_preferred", "in_options"}
    for r in records:
        option = r["actual_option"]
        if option is None:
            assert r["actual_status"] == "not_recorded"
            continue
        ids = {"lanreotide", "octreotide_lar"} if option == "ssa" else {option}
        if ids & set(r["preferred"]):
            assert r["actual_status"] == "in_preferred"
        elif ids & set(r["options"]):
            assert r["actual_status"] == "in_options"
        elif ids & set(r["avoid"]):
            assert r["actual_status"] == "in_avoid"
            assert r["actual_avoid_reason"]
        else:
            # Not offered nor avoided: waiting on a missing fact (undecided), neither, or
            # (for follow-up only) following a plan whose advice is follow-up.
            assert r["actual_status"] in ("undecided", "not_in_plan", "in_preferred")
            if r["actual_status"] == "in_preferred":
                assert json.loads(r["plan"])["surveillance"] is not None


def test_rerun_gives_the_same_bytes(cohort_file: Path, reference: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    run_cohort(cohort_file, again, chunk_size=25, jobs=1)
    assert _tree(again) == _tree(reference)
    # And a finished run run again in its own directory changes nothing.
    result = run_cohort(cohort_file, again, chunk_size=25, jobs=1)
    assert result.chunks_resumed == result.chunks
    assert _tree(again) == _tree(reference)


def test_two_worker_processes_give_the_same_bytes(
    cohort_file: Path, reference: Path, tmp_path: Path
) -> None:
    run_cohort(cohort_file, tmp_path / "pool", chunk_size=25, jobs=2)
    assert _tree(tmp_path / "pool") == _tree(reference)


def test_an_interrupted_run_resumes_where_it_stopped(
    cohort_file: Path, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "interrupted"
    real = worker.plan_chunk
    planned: list[int] = []

    def stop_at_third(task: Any, settings: Any) -> Any:
        if task.index == 2:
            raise KeyboardInterrupt
        planned.append(task.index)
        return real(task, settings)

    monkeypatch.setattr("netnav.cohort.engines.plan_chunk", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    assert not (out / "concordance.json").exists()
    assert sorted(p.name for p in (out / "chunks").iterdir()) == ["00000.json", "00001.json"]
    # A chunk cut off while writing leaves only a temporary file, never a part that counts.
    (out / "plans" / ".part-00002.parquet.999.tmp").write_bytes(b"half")

    monkeypatch.setattr("netnav.cohort.engines.plan_chunk", real)
    result = run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    assert result.chunks_resumed == 2
    assert not (out / "plans" / ".part-00002.parquet.999.tmp").exists()  # cleaned up
    assert _tree(out) == _tree(reference)


def test_a_chunk_missing_a_file_is_planned_again(
    cohort_file: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "damaged"
    run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    (out / "plans-jsonl" / "part-00001.jsonl").unlink()
    result = run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    assert result.chunks_resumed == result.chunks - 1
    assert _tree(out) == _tree(reference)


def test_another_run_in_the_same_directory_is_refused(cohort_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cohort(cohort_file, out, chunk_size=25, jobs=1)
    before = _tree(out)
    with pytest.raises(CohortInputError, match=r"holds another run \(different --chunk-size\)"):
        run_cohort(cohort_file, out, chunk_size=40, jobs=1)
    other = tmp_path / "other.jsonl"
    other.write_text(cohort_file.read_text(encoding="utf-8").replace("V01", "V01b"))
    with pytest.raises(CohortInputError, match="different input file"):
        run_cohort(other, out, chunk_size=25, jobs=1)
    assert _tree(out) == before  # a refused run leaves the earlier one as it was
    result = run_cohort(other, out, chunk_size=40, jobs=1, overwrite=True)
    assert result.chunks_resumed == 0
    assert json.loads((out / "run.json").read_text())["chunk_size"] == 40


def test_a_directory_of_other_files_is_never_written_into(
    cohort_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(CohortInputError, match="not a netnav cohort run"):
        run_cohort(cohort_file, out, chunk_size=25, jobs=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]


def test_check_only_counts_and_writes_nothing(cohort_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "check"
    result = run_cohort(cohort_file, out, chunk_size=25, jobs=1, check_only=True)
    assert (result.rows, result.refused, result.plans) == (
        len(CASE_FILES) + len(BROKEN),
        len(BROKEN),
        0,
    )
    assert not out.exists()


def test_an_empty_input_gives_an_empty_report(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = run_cohort(empty, tmp_path / "out", jobs=1)
    assert (result.rows, result.plans, result.refused) == (0, 0, 0)
    assert (tmp_path / "out" / "errors.jsonl").read_bytes() == b""
    figures = json.loads((tmp_path / "out" / "concordance.json").read_text())
    assert figures["counts"]["cases_in"] == 0


def test_last_line_without_newline_and_chunk_boundaries(tmp_path: Path) -> None:
    cases = [json.dumps(c) for c in list(_cases())[:10]]
    path = tmp_path / "ten.jsonl"
    path.write_text("\n".join(cases), encoding="utf-8")  # no newline after the last case
    for size in (1, 3, 5, 10, 11):
        out = tmp_path / f"out{size}"
        result = run_cohort(path, out, chunk_size=size, jobs=1)
        assert (result.rows, result.plans) == (10, 10), size
        rows = pq.read_table(out / "plans").column("row").to_pylist()
        assert rows == list(range(1, 11))


runner = CliRunner()


def test_cli_run_prints_counts_and_where_things_are(cohort_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = runner.invoke(
        app, ["cohort", "run", str(cohort_file), "--out", str(out), "--quiet", "--jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(CASE_FILES)} planned, {len(BROKEN)} refused" in result.output
    assert "concordance.html" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cases.txt"], "unknown input kind '.txt'"),
        (["missing.jsonl"], "no such file"),
        (["cohort.csv"], "needs --mapping"),
        (["cohort.jsonl", "--mapping", "m.yaml"], "--mapping is for CSV and Parquet"),
        (["cohort.jsonl", "--scheduler", "tcp://x:1"], "--scheduler is for --engine dask"),
        (["cohort.jsonl", "--chunk-size", "0"], "chunk-size"),
    ],
)
def test_cli_refuses_unusable_input_with_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    from netnav.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases.txt").write_text("{}")
    (tmp_path / "cohort.csv").write_text("a,b\n1,2\n")
    (tmp_path / "cohort.jsonl").write_text("{}\n")
    monkeypatch.setattr("sys.argv", ["netnav", "cohort", "run", *args, "--out", "o", "-q"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert not (tmp_path / "o" / "plans").exists()
    assert message in capsys.readouterr().err


def test_dask_local_cluster_gives_the_same_bytes(
    cohort_file: Path, reference: Path, tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    result = run_cohort(cohort_file, out, chunk_size=25, engine="dask", jobs=2)
    assert result.plans == len(CASE_FILES)
    assert _tree(out) == _tree(reference)


# --- registry tables through a column mapping ---------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "cohort"
EXTRACT = EXAMPLES / "registry-extract.csv"
MAPPING = EXAMPLES / "registry-mapping.yaml"


def _plans(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "plans").to_pylist()


def test_a_registry_csv_is_planned_through_its_mapping(tmp_path: Path) -> None:
    result = run_cohort(EXTRACT, tmp_path / "csv", mapping=MAPPING, jobs=1)
    assert (result.rows, result.plans, result.refused) == (30, 28, 2)
    errors = _lines(tmp_path / "csv" / "errors.jsonl")
    assert {(e["row"], e["case_id"]) for e in errors} == {(13, "NETR-0013"), (21, "NETR-0021")}
    assert any("column ki67_pct" in e["path"] and e["value"] == "abc" for e in errors)
    plans = _plans(tmp_path / "csv")
    assert [p["row"] for p in plans] == [r for r in range(1, 31) if r not in (13, 21)]
    assert all(p["case_id"].startswith("NETR-") for p in plans)
    assert sum(p["actual_option"] is not None for p in plans) > 20


def test_parquet_table_and_parquet_parts_give_the_plans_of_the_csv(tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(EXTRACT)  # typed columns, as a registry's Parquet export has
    pq.write_table(table, tmp_path / "extract.parquet")
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 11), parts / "part-0.parquet")
    pq.write_table(table.slice(11), parts / "part-1.parquet")
    run_cohort(EXTRACT, tmp_path / "csv", mapping=MAPPING, jobs=1, chunk_size=7)
    run_cohort(tmp_path / "extract.parquet", tmp_path / "pq", mapping=MAPPING, jobs=1, chunk_size=7)
    run_cohort(parts, tmp_path / "parts-out", mapping=MAPPING, jobs=1, chunk_size=7)
    reference = [(p["row"], p["plan"]) for p in _plans(tmp_path / "csv")]
    assert [(p["row"], p["plan"]) for p in _plans(tmp_path / "pq")] == reference
    assert [(p["row"], p["plan"]) for p in _plans(tmp_path / "parts-out")] == reference


def test_a_csv_row_with_the_wrong_number_of_cells_is_an_error_not_a_stop(tmp_path: Path) -> None:
    lines = EXTRACT.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5] + ",surplus"
    damaged = tmp_path / "damaged.csv"
    damaged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cohort(damaged, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert (result.rows, result.refused) == (30, 3)
    (error,) = [e for e in _lines(tmp_path / "out" / "errors.jsonl") if e["row"] == 5]
    assert error["path"] == "(row)"
    assert "cells" in error["reason"]


def test_a_mapping_naming_a_column_the_table_lacks_is_refused(tmp_path: Path) -> None:
    text = EXTRACT.read_text(encoding="utf-8").replace("ki67_pct", "ki67", 1)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(text, encoding="utf-8")
    with pytest.raises(CohortInputError, match="ki67_pct"):
        run_cohort(renamed, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert not (tmp_path / "out" / "plans").exists()


def test_dask_reads_the_staged_table_like_the_local_engine(tmp_path: Path) -> None:
    run_cohort(EXTRACT, tmp_path / "local", mapping=MAPPING, jobs=2, chunk_size=8)
    run_cohort(EXTRACT, tmp_path / "dask", mapping=MAPPING, engine="dask", jobs=2, chunk_size=8)
    assert _tree(tmp_path / "dask") == _tree(tmp_path / "local")


def test_the_report_opens_with_the_headline_figures(reference: Path) -> None:
    from bs4 import BeautifulSoup

    figures = json.loads((reference / "concordance.json").read_text(encoding="utf-8"))
    page = BeautifulSoup(
        (reference / "concordance.html").read_text(encoding="utf-8"), "html.parser"
    )
    brief = page.find(id="summary-list")
    assert brief is not None
    text = " ".join(brief.get_text().split())
    overall = figures["overall"]
    assert f"{figures['counts']['cases_in']} cases read" in text
    assert f"{overall['in_options']['share'] * 100:.1f} % ({overall['in_options']['n']})" in text
    assert f"{overall['in_avoid']['n']} patients" in text
    assert f"For {overall['not_in_plan']['n']} (" in text
    table = page.find(id="not-in-plan-table")
    assert table is not None
    listed = {r["option"]: r["cases"] for r in figures["not_in_plan_treatments"]}
    assert sum(listed.values()) == overall["not_in_plan"]["n"]
    assert "Input SHA-256" in page.get_text()


def test_a_run_stopped_before_planning_started_is_resumed(tmp_path: Path) -> None:
    out = tmp_path / "early"
    out.mkdir()
    (out / "mapping.yaml").write_bytes(MAPPING.read_bytes())  # left by a stop while staging
    (out / ".staging").mkdir()
    (out / ".staging" / "input.parquet.tmp").write_bytes(b"half")
    result = run_cohort(EXTRACT, out, mapping=MAPPING, jobs=1)
    assert result.plans == 28


def test_synth_then_run_gives_plans_a_report_with_plots_and_no_errors(tmp_path: Path) -> None:
    cohort = tmp_path / "synthetic.jsonl"
    made = runner.invoke(app, ["cohort", "synth", "1500", "--seed", "11", "--out", str(cohort)])
    assert made.exit_code == 0, made.output
    assert "1500 synthetic cases (seed 11)" in made.output
    out = tmp_path / "audit"
    ran = runner.invoke(
        app, ["cohort", "run", str(cohort), "--out", str(out), "-q", "--chunk-size", "400"]
    )
    assert ran.exit_code == 0, ran.output
    assert "1500 planned, 0 refused" in ran.output
    assert (out / "errors.jsonl").read_bytes() == b""
    assert pq.read_table(out / "plans").num_rows == 1500
    html = (out / "concordance.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 5
    figures = json.loads((out / "concordance.json").read_text(encoding="utf-8"))
    # The synthetic practice patterns include discordant choices: the audit must find them.
    assert figures["counts"]["actual_recorded"] > 1200
    assert figures["overall"]["in_avoid"]["n"] > 0
    assert 0 < figures["overall"]["in_options"]["share"] < 1
    assert any(m["cases_blocked"] > 0 for m in figures["missing_facts"])


def test_dask_by_scheduler_address_gives_the_same_bytes(
    cohort_file: Path, reference: Path, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        out = tmp_path / "dask-address"
        run_cohort(
            cohort_file, out, chunk_size=25, engine="dask", scheduler=cluster.scheduler_address
        )
    assert _tree(out) == _tree(reference)


# --- what a registry really sends (found by trying to break the audit) --------------------------


def test_overwrite_never_deletes_a_run_for_an_input_that_cannot_be_read(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    run_cohort(EXTRACT, out, mapping=MAPPING, jobs=1)
    before = _tree(out)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    bad_mapping = tmp_path / "bad.yaml"
    bad_mapping.write_text("format: netnav-cohort-mapping/1\ncolumns: {age: {field: nope}}\n")
    with pytest.raises(CohortInputError, match="empty CSV"):
        run_cohort(empty, out, mapping=MAPPING, jobs=1, overwrite=True)
    with pytest.raises(NetnavError, match=str(bad_mapping)):
        run_cohort(EXTRACT, out, mapping=bad_mapping, jobs=1, overwrite=True)
    alternative = tmp_path / "alternative.yaml"
    alternative.write_text(MAPPING.read_text(encoding="utf-8") + "\n# another mapping\n")
    with pytest.raises(CohortInputError, match=r"different mapping"):
        run_cohort(EXTRACT, out, mapping=alternative, jobs=1)
    assert _tree(out) == before  # the run and its record of the mapping are untouched


def test_a_refused_first_run_leaves_no_directory_behind(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(EXTRACT.read_text(encoding="utf-8").replace("M", "\u00e9").encode("latin-1"))
    with pytest.raises(CohortInputError, match=r"not UTF-8 .*save or export the file as UTF-8"):
        run_cohort(latin1, tmp_path / "out", mapping=MAPPING, jobs=1)
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text(EXTRACT.read_text(encoding="utf-8").replace(",", ";"))
    with pytest.raises(CohortInputError, match="comma-separated"):
        run_cohort(semicolons, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert not (tmp_path / "out").exists()


def test_blank_csv_lines_and_unused_repeated_columns_are_not_cases(tmp_path: Path) -> None:
    lines = EXTRACT.read_text(encoding="utf-8").splitlines()
    lines[0] += ",note,note"  # two unmapped columns with the same name
    body = [line + ",a,b" for line in lines[1:]]
    text = "\r\n".join([lines[0], *body[:10], "", ",,,,", *body[10:], "", ""]) + "\r\n"
    messy = tmp_path / "messy.csv"
    messy.write_text(text, encoding="utf-8")
    result = run_cohort(messy, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert (result.rows, result.plans, result.refused) == (30, 28, 2)
    rows = pq.read_table(tmp_path / "out" / "plans").column("row").to_pylist()
    assert rows[-1] == 32  # row numbers count the blank lines, as a spreadsheet shows them


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"format": "netnav-case/1"}]', "a JSON array, not JSON Lines"),
        ('{\n  "format": "netnav-case/1"\n}\n', "spread over several lines"),
    ],
)
def test_json_that_is_not_json_lines_is_refused_as_a_whole(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(text)
    with pytest.raises(CohortInputError, match=message):
        run_cohort(path, tmp_path / "out", jobs=1)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_an_input_without_rows_still_gives_readable_datasets(tmp_path: Path, kind: str) -> None:
    if kind == "jsonl":
        path = tmp_path / "empty.jsonl"
        path.write_bytes(b"")
        run_cohort(path, tmp_path / "out", jobs=1)
    else:
        path = tmp_path / "header.csv"
        path.write_text(EXTRACT.read_text(encoding="utf-8").splitlines()[0] + "\n")
        run_cohort(path, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert pq.read_table(tmp_path / "out" / "plans").num_rows == 0
    assert (tmp_path / "out" / "errors.jsonl").read_bytes() == b""


def test_a_huge_cell_is_that_row_s_error_and_long_values_are_shortened(tmp_path: Path) -> None:
    lines = EXTRACT.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[4].split(",")
    cells[header.index("ki67_pct")] = "9" * 300_000
    lines[4] = ",".join(cells)
    path = tmp_path / "huge.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cohort(path, tmp_path / "out", mapping=MAPPING, jobs=1)
    assert result.rows == 30
    (error,) = [e for e in _lines(tmp_path / "out" / "errors.jsonl") if e["row"] == 4]
    assert len(str(error["value"])) < 300


def test_unwritable_output_is_exit_2_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from netnav.cli import main

    blocked = tmp_path / "file"
    blocked.write_text("x")
    cohort = tmp_path / "c.jsonl"
    cohort.write_text("\n".join(json.dumps(c) for c in list(_cases())[:3]) + "\n")
    monkeypatch.setattr(
        "sys.argv", ["netnav", "cohort", "run", str(cohort), "--out", str(blocked / "x"), "-q"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "cannot use" in err and str(blocked) in err


def test_an_unreachable_scheduler_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    cohort = tmp_path / "c.jsonl"
    cohort.write_text(json.dumps(next(_cases())) + "\n")
    with pytest.raises(CohortInputError, match="cannot reach a Dask scheduler"):
        run_cohort(cohort, tmp_path / "out", engine="dask", scheduler="notanaddress")
    assert not (tmp_path / "out").exists()
