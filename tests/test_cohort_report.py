"""The concordance figures and report of a cohort run (netnav.cohort.concordance, .report).

A cohort of 30 plan rows is written out by hand, so that every figure is known: shares and
their Wilson intervals (in options, in preferred, in avoid, undecided for a missing fact, not
in plan; all but in preferred add up to the patients with a treatment recorded), group order (size, then name; "not recorded" after named groups of
the same size), the potential-harm list (in row order whatever the batch order), missing
facts (a field listed twice in one case counts once) and first options. The HTML page is
read back with BeautifulSoup: its tables must hold exactly the numbers of the JSON, it must
hold no script and no external resource, escape what the data says and be the same bytes on
every run. The browser test opens the page in Debian's chromium and checks the plots show.
"""

from __future__ import annotations

import json
import re
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bs4 import BeautifulSoup, Tag
from playwright.sync_api import sync_playwright

from netnav.cohort.concordance import (
    GROUPINGS,
    SUMMARY_COLUMNS,
    concordance_figures,
    share,
    summary_batches,
    wilson_interval,
)
from netnav.cohort.records import PLAN_SCHEMA
from netnav.cohort.report import HARM_ROWS_SHOWN, render_html, write_report
from netnav.knowledge.load import default_knowledge
from tests.services import chromium_launch_args

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "cohort"
RUN = {
    "input": "cohort.csv",
    "knowledge_version": "2026.1",
    "netnav_version": "0.1.0",
    "engine": "local",
    "chunk_size": 10,
}
SCRIPT_ID = "<script>alert(1)</script>"

# --- the cohort --------------------------------------------------------------------------


def _row(row: int, status: str, **values: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(PLAN_SCHEMA.names)
    record.update(
        row=row,
        case_id=f"C{row:03d}",
        category="net",
        options=[],
        preferred=[],
        avoid=[],
        missing=[],
        blocking=[],
        actual_status=status,
        plan='{"format": "netnav-plan/1"}',
    )
    if status != "not_recorded":
        record.update(actual_option="ssa", actual_date=f"2025-03-{row:02d}")
    record.update(values)
    return record


def cohort_rows() -> list[dict[str, Any]]:
    """30 plans: pancreas (rows 1–10), small intestine (11–20), no site (21–25), rectum
    (26–30)."""
    rows: list[dict[str, Any]] = []
    pancreas = dict(site="pancreas", grade="g1", extent="localized", line_of_therapy=1)
    statuses = ["in_preferred"] * 4 + ["in_options"] * 2
    statuses += ["undecided", "undecided", "in_avoid", "not_in_plan"]
    for i, status in enumerate(statuses, start=1):
        rows.append(_row(i, status, options=["surgery", "ssa"], preferred=["surgery"], **pancreas))
    small = dict(site="small_intestine", grade="g2", extent="advanced", line_of_therapy=2)
    statuses = ["in_preferred"] * 2 + ["in_options", "in_avoid", "in_avoid", "not_in_plan"]
    statuses += ["undecided"] * 3 + ["not_recorded"]
    for i, status in enumerate(statuses, start=11):
        rows.append(_row(i, status, options=["ssa", "prrt"], **small))
    for i in range(21, 26):
        rows.append(_row(i, "not_recorded", extent="unknown", options=[] if i < 24 else None))
    rectum = dict(site="rectum", grade="g1", extent="localized", line_of_therapy=1)
    for i in range(26, 31):
        rows.append(_row(i, "in_preferred", options=["endoscopic_resection"], **rectum))
    # Harm: rows 9, 14 and 15; row 14 has no case id, row 15 a hostile one.
    rows[8].update(actual_option="everolimus", actual_avoid_reason="Not before surgery.")
    rows[13].update(case_id=None, actual_option="prrt", actual_avoid_reason="Low SSTR uptake.")
    rows[14].update(case_id=SCRIPT_ID, actual_option="sunitinib", actual_avoid_reason="<b>NET</b>")
    # Missing facts: Ki-67 missing in 7 cases and blocking in 5 (two of them undecided, rows
    # 7 and 8); receptor imaging missing and blocking in the 3 undecided rows 17–19; ECOG
    # listed twice in row 6.
    for i in (0, 1, 2, 6, 7):
        rows[i].update(missing=["tumor.ki67_percent"], blocking=["tumor.ki67_percent"])
    for i in (16, 17, 18):
        rows[i].update(
            actual_option="prrt", missing=["tumor.sstr_imaging"], blocking=["tumor.sstr_imaging"]
        )
    for i in (3, 4):
        rows[i].update(missing=["tumor.ki67_percent", "patient.ecog"])
    rows[5].update(missing=["patient.ecog", "patient.ecog"], blocking=["patient.ecog"])
    rows[10].update(missing=["x.unlabelled"], blocking=["x.unlabelled"])
    rows[15].update(actual_option="lanreotide")  # not in plan, beside row 10's ssa
    for i in range(20, 25):
        rows[i].update(missing=["tumor.size_mm"], blocking=None)
    return rows


def cohort_table() -> pa.Table:
    return pa.Table.from_pylist(cohort_rows(), schema=PLAN_SCHEMA)


def cohort_batches() -> list[pa.RecordBatch]:
    """Summary columns only, out of row order, with an empty batch."""
    table = cohort_table().select(SUMMARY_COLUMNS)
    empty = pa.RecordBatch.from_pylist([], schema=table.schema)
    return [
        *table.slice(12).to_batches(max_chunksize=7),
        empty,
        *table.slice(0, 12).to_batches(max_chunksize=5),
    ]


def figures() -> dict[str, Any]:
    return concordance_figures(iter(cohort_batches()), errors=2, run=RUN)


def S(n: int, of: int, value: float | None, ci: list[float] | None) -> dict[str, Any]:
    return {"n": n, "of": of, "share": value, "ci95": ci}


SHARE_KEYS = ("in_options", "in_preferred", "in_avoid", "undecided", "not_in_plan")

NONE_RECORDED = {
    "in_options": S(0, 0, None, None),
    "in_preferred": S(0, 0, None, None),
    "in_avoid": S(0, 0, None, None),
    "undecided": S(0, 0, None, None),
    "not_in_plan": S(0, 0, None, None),
}
PANCREAS = {
    "in_options": S(6, 10, 0.6, [0.3127, 0.8318]),
    "in_preferred": S(4, 10, 0.4, [0.1682, 0.6873]),
    "in_avoid": S(1, 10, 0.1, [0.0179, 0.4042]),
    "undecided": S(2, 10, 0.2, [0.0567, 0.5098]),
    "not_in_plan": S(1, 10, 0.1, [0.0179, 0.4042]),
}
SMALL_INTESTINE = {
    "in_options": S(3, 9, 0.3333, [0.1206, 0.6458]),
    "in_preferred": S(2, 9, 0.2222, [0.0632, 0.5474]),
    "in_avoid": S(2, 9, 0.2222, [0.0632, 0.5474]),
    "undecided": S(3, 9, 0.3333, [0.1206, 0.6458]),
    "not_in_plan": S(1, 9, 0.1111, [0.0199, 0.435]),
}
RECTUM = {
    "in_options": S(5, 5, 1.0, [0.5655, 1.0]),
    "in_preferred": S(5, 5, 1.0, [0.5655, 1.0]),
    "in_avoid": S(0, 5, 0.0, [0.0, 0.4345]),
    "undecided": S(0, 5, 0.0, [0.0, 0.4345]),
    "not_in_plan": S(0, 5, 0.0, [0.0, 0.4345]),
}
G1 = {  # pancreas and rectum
    "in_options": S(11, 15, 0.7333, [0.4805, 0.891]),
    "in_preferred": S(9, 15, 0.6, [0.3575, 0.8018]),
    "in_avoid": S(1, 15, 0.0667, [0.0119, 0.2982]),
    "undecided": S(2, 15, 0.1333, [0.0374, 0.3788]),
    "not_in_plan": S(1, 15, 0.0667, [0.0119, 0.2982]),
}
OVERALL = {
    "cases": 30,
    "actual_recorded": 24,
    "in_options": S(14, 24, 0.5833, [0.3883, 0.7553]),
    "in_preferred": S(11, 24, 0.4583, [0.2789, 0.6493]),
    "in_avoid": S(3, 24, 0.125, [0.0434, 0.31]),
    "undecided": S(5, 24, 0.2083, [0.0924, 0.4047]),
    "not_in_plan": S(2, 24, 0.0833, [0.0232, 0.2585]),
}


def group(name: str, cases: int, recorded: int, shares: dict[str, Any]) -> dict[str, Any]:
    return {"group": name, "cases": cases, "actual_recorded": recorded, **shares}


def label(field: str) -> str:
    return default_knowledge().facts[field].label


EXPECTED: dict[str, Any] = {
    "run": RUN,
    "counts": {"cases_in": 32, "plans": 30, "errors": 2, "actual_recorded": 24},
    "overall": OVERALL,
    "by_site": [
        group("pancreas", 10, 10, PANCREAS),
        group("small_intestine", 10, 9, SMALL_INTESTINE),
        group("rectum", 5, 5, RECTUM),
        group("not recorded", 5, 0, NONE_RECORDED),
    ],
    "by_grade": [
        group("g1", 15, 15, G1),
        group("g2", 10, 9, SMALL_INTESTINE),
        group("no WHO grade", 5, 0, NONE_RECORDED),
    ],
    "by_extent": [
        group("localized", 15, 15, G1),
        group("advanced", 10, 9, SMALL_INTESTINE),
        group("unknown", 5, 0, NONE_RECORDED),
    ],
    "by_line_of_therapy": [
        group("1", 15, 15, G1),
        group("2", 10, 9, SMALL_INTESTINE),
        group("not recorded", 5, 0, NONE_RECORDED),
    ],
    "potential_harm": [
        {
            "row": 9,
            "case_id": "C009",
            "actual_option": "everolimus",
            "actual_date": "2025-03-09",
            "reason": "Not before surgery.",
        },
        {
            "row": 14,
            "case_id": None,
            "actual_option": "prrt",
            "actual_date": "2025-03-14",
            "reason": "Low SSTR uptake.",
        },
        {
            "row": 15,
            "case_id": SCRIPT_ID,
            "actual_option": "sunitinib",
            "actual_date": "2025-03-15",
            "reason": "<b>NET</b>",
        },
    ],
    "missing_facts": [
        {
            "field": "tumor.ki67_percent",
            "label": label("tumor.ki67_percent"),
            "cases_missing": 7,
            "cases_blocked": 5,
        },
        {
            "field": "tumor.sstr_imaging",
            "label": label("tumor.sstr_imaging"),
            "cases_missing": 3,
            "cases_blocked": 3,
        },
        {
            "field": "patient.ecog",
            "label": label("patient.ecog"),
            "cases_missing": 3,
            "cases_blocked": 1,
        },
        {"field": "x.unlabelled", "label": None, "cases_missing": 1, "cases_blocked": 1},
        {
            "field": "tumor.size_mm",
            "label": label("tumor.size_mm"),
            "cases_missing": 5,
            "cases_blocked": 0,
        },
    ],
    "not_in_plan_treatments": [
        {"option": "lanreotide", "cases": 1},
        {"option": "ssa", "cases": 1},
    ],
    "first_options": {
        "plans_without_options": 5,
        "options": [
            {"option": "ssa", "plans": 10, "share": 0.3333},
            {"option": "surgery", "plans": 10, "share": 0.3333},
            {"option": "endoscopic_resection", "plans": 5, "share": 0.1667},
        ],
    },
}


# --- figures ------------------------------------------------------------------------------


def test_wilson_interval_matches_published_values() -> None:
    assert wilson_interval(8, 10) == [0.4902, 0.9433]
    assert wilson_interval(1, 10) == [0.0179, 0.4042]
    assert wilson_interval(0, 5) == [0.0, 0.4345]  # upper bound z²/(n + z²)
    assert wilson_interval(5, 5) == [0.5655, 1.0]  # lower bound n/(n + z²)
    assert wilson_interval(0, 0) is None
    assert share(8, 10) == {"n": 8, "of": 10, "share": 0.8, "ci95": [0.4902, 0.9433]}
    assert share(0, 0) == {"n": 0, "of": 0, "share": None, "ci95": None}


def test_every_figure() -> None:
    got = figures()
    assert list(got) == list(EXPECTED)
    for key, expected in EXPECTED.items():
        assert got[key] == expected, key
    assert got["missing_facts"][0]["label"]  # the knowledge base labels the field


def test_undecided_is_a_share_of_its_own() -> None:
    """The treatments the plan could not decide on for a missing fact are counted apart:
    not in options, not in avoid, not "not in plan"; with those three they make up every
    patient with a treatment recorded, overall and in each group."""
    got = figures()
    assert got["overall"]["undecided"] == S(5, 24, 0.2083, [0.0924, 0.4047])
    by_site = {row["group"]: row for row in got["by_site"]}
    assert by_site["small_intestine"]["undecided"]["n"] == 3
    assert by_site["pancreas"]["undecided"]["n"] == 2
    for row in [got["overall"], *(r for key, _ in GROUPINGS for r in got[key])]:
        parts = ("in_options", "in_avoid", "undecided", "not_in_plan")
        assert sum(row[k]["n"] for k in parts) == row["actual_recorded"], row
        assert all(row[k]["of"] == row["actual_recorded"] for k in SHARE_KEYS), row
    assert list(got["overall"]) == ["cases", "actual_recorded", *SHARE_KEYS]


def test_figures_are_json_ready_and_in_a_fixed_order() -> None:
    first, second = figures(), figures()
    assert json.dumps(first) == json.dumps(second)
    assert json.loads(json.dumps(first)) == first
    # The batch order does not change a figure.
    reordered = concordance_figures(reversed(cohort_batches()), errors=2, run=RUN)
    assert json.dumps(reordered) == json.dumps(first)


def test_the_plan_column_is_not_needed_and_is_ignored() -> None:
    whole = concordance_figures(cohort_table().to_batches(max_chunksize=4), errors=2, run=RUN)
    assert whole == figures()
    assert "plan" not in SUMMARY_COLUMNS
    assert [*SUMMARY_COLUMNS, "plan"] == PLAN_SCHEMA.names


def test_summary_batches_read_the_parquet_parts(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    table = cohort_table()
    pq.write_table(table.slice(15), plans / "part-00001.parquet")
    pq.write_table(table.slice(0, 15), plans / "part-00000.parquet")
    batches = list(summary_batches(plans, batch_size=4))
    assert all(b.schema.names == SUMMARY_COLUMNS for b in batches)
    assert [r for b in batches for r in b.column("row").to_pylist()] == list(range(1, 31))
    assert concordance_figures(iter(batches), errors=2, run=RUN) == figures()


def test_no_plans() -> None:
    got = concordance_figures(iter([]), errors=4, run={})
    assert got["counts"] == {"cases_in": 4, "plans": 0, "errors": 4, "actual_recorded": 0}
    assert got["overall"] == {"cases": 0, "actual_recorded": 0, **NONE_RECORDED}
    assert got["by_site"] == got["potential_harm"] == got["missing_facts"] == []
    assert got["first_options"] == {"plans_without_options": 0, "options": []}


def test_bad_rows_are_refused() -> None:
    table = cohort_table().select(SUMMARY_COLUMNS)
    with pytest.raises(ValueError, match=r"lack the column.*actual_status"):
        concordance_figures(table.drop_columns(["actual_status"]).to_batches(), errors=0, run={})
    statuses = table["actual_status"].to_pylist()
    for bad in ("given", None):
        statuses[3] = bad
        broken = table.set_column(
            table.schema.get_field_index("actual_status"),
            "actual_status",
            pa.array(statuses, pa.string()),
        )
        with pytest.raises(ValueError, match="is not one of in_preferred"):
            concordance_figures(broken.to_batches(), errors=0, run={})


# --- the report ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_report(figures(), tmp_path_factory.mktemp("report") / "out")


@pytest.fixture(scope="module")
def soup(report: tuple[Path, Path]) -> BeautifulSoup:
    return BeautifulSoup(report[1].read_text(encoding="utf-8"), "html.parser")


def _percent(text: str) -> float | None:
    if text == "–":
        return None
    assert text.endswith(" %"), text
    return round(float(text[:-2]) / 100, 4)


def _interval(text: str) -> list[float] | None:
    if text == "–":
        return None
    m = re.fullmatch(r"(\d+\.\d\d)–(\d+\.\d\d) %", text)
    assert m, text
    return [round(float(m[1]) / 100, 4), round(float(m[2]) / 100, 4)]


def _cell(row: Tag, key: str) -> str:
    cell = row.find("td", attrs={"data-key": key})
    assert isinstance(cell, Tag), key
    return cell.get_text(strip=True)


def _share_rows(soup: BeautifulSoup, table_id: str) -> list[dict[str, Any]]:
    """The rows of a shares table, read back into the JSON's shape."""
    table = soup.find("table", id=table_id)
    assert isinstance(table, Tag), table_id
    out = []
    for tr in table.select("tbody tr"):
        header = tr.find("th")
        assert isinstance(header, Tag)
        row: dict[str, Any] = {
            "group": header.get_text(strip=True),
            "cases": int(_cell(tr, "cases")),
            "actual_recorded": int(_cell(tr, "actual_recorded")),
        }
        for key in SHARE_KEYS:
            row[key] = {
                "n": int(_cell(tr, f"{key}.n")),
                "of": row["actual_recorded"],
                "share": _percent(_cell(tr, f"{key}.share")),
                "ci95": _interval(_cell(tr, f"{key}.ci95")),
            }
        out.append(row)
    return out


def test_report_files(report: tuple[Path, Path]) -> None:
    json_path, html_path = report
    assert (json_path.name, html_path.name) == ("concordance.json", "concordance.html")
    text = json_path.read_text(encoding="utf-8")
    assert text == json.dumps(EXPECTED, indent=2, ensure_ascii=False) + "\n"
    assert sorted(p.name for p in json_path.parent.iterdir()) == [
        "concordance.html",
        "concordance.json",
    ]  # no temporary file left behind


def test_html_tables_hold_the_numbers_of_the_json(soup: BeautifulSoup) -> None:
    overall = _share_rows(soup, "overall-table")
    assert overall == [{"group": "All patients", **EXPECTED["overall"]}]
    for key in ("by_site", "by_grade", "by_extent", "by_line_of_therapy"):
        assert _share_rows(soup, f"{key}-table") == EXPECTED[key], key
    counts = soup.find("table", id="counts-table")
    assert isinstance(counts, Tag)
    assert {k: int(_cell(counts, k)) for k in EXPECTED["counts"]} == EXPECTED["counts"]
    missing = soup.find("table", id="missing_facts-table")
    assert isinstance(missing, Tag)
    assert [
        {
            "field": tr["data-field"],
            "label": tr.th.get_text(strip=True) if tr.th else None,
            "cases_missing": int(_cell(tr, "cases_missing")),
            "cases_blocked": int(_cell(tr, "cases_blocked")),
        }
        for tr in missing.select("tbody tr")
    ] == [{**m, "label": m["label"] or m["field"]} for m in EXPECTED["missing_facts"]]
    first = soup.find("table", id="first_options-table")
    assert isinstance(first, Tag)
    assert [
        {
            "option": tr["data-option"],
            "plans": int(_cell(tr, "plans")),
            "share": _percent(_cell(tr, "share")),
        }
        for tr in first.select("tbody tr")
    ] == EXPECTED["first_options"]["options"]
    without = soup.find(id="plans-without-options")
    assert without is not None and without.get_text() == "5"


def test_html_shows_the_undecided_share(soup: BeautifulSoup) -> None:
    for key in ("overall", "by_site", "by_grade", "by_extent", "by_line_of_therapy"):
        table = soup.find("table", id=f"{key}-table")
        assert isinstance(table, Tag), key
        groups = [th.get_text(strip=True) for th in table.select('thead th[scope="colgroup"]')]
        assert groups == [
            "In options",
            "In preferred",
            "In avoid",
            "Undecided (missing facts)",
            "Not in plan",
        ], key
        assert len(table.select("thead tr")[1].find_all("th")) == 3 * len(groups)
        for tr in table.select("tbody tr"):
            assert len(tr.find_all("td")) == 2 + 3 * len(groups)
    brief = soup.find(id="summary-list")
    assert isinstance(brief, Tag)
    lines = [" ".join(li.get_text().split()) for li in brief.find_all("li")]
    assert lines[1:4] == [
        "Of the 24 patients with a treatment recorded, the treatment given was among netnav's"
        " options for 58.3 % (14) and among the preferred options for 45.8 % (11).",
        "3 patients (12.5 %) received a treatment on the plan's avoid list (potential harm;"
        " listed below with the reason).",
        "For 5 (20.8 %) the plan could not decide on the treatment given because a fact was"
        " missing (see Missing facts).",
    ]
    link = brief.find("a")
    assert isinstance(link, Tag) and link["href"] == "#missing_facts"
    how = soup.find("section", attrs={"aria-labelledby": "how-to-read"})
    assert isinstance(how, Tag)
    text = " ".join(how.get_text().split())
    assert "Undecided (missing facts) means" in text
    assert "In options, in avoid, undecided and not in plan add up to all patients" in text


def test_html_has_the_plots_and_reads_on_its_own(soup: BeautifulSoup) -> None:
    svgs = soup.find_all("svg")
    assert len(svgs) >= 5
    for svg in svgs:
        holder = svg.parent
        assert isinstance(holder, Tag) and holder.get("role") == "img" and holder["aria-label"]
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "an id is used twice"
    # Every plot is followed by its table.
    for key in ("overall", "by_site", "by_grade", "by_extent", "by_line_of_therapy"):
        section = soup.find("section", attrs={"aria-labelledby": key})
        assert isinstance(section, Tag)
        assert section.find("svg") is not None and section.find("table") is not None, key
    missing = soup.find("section", attrs={"aria-labelledby": "missing_facts"})
    assert isinstance(missing, Tag) and missing.find("svg") is not None
    text = soup.get_text(" ", strip=True)
    assert "How to read this" in text
    assert "not a judgement on individual care" in text
    for value in RUN.values():
        assert str(value) in text
    # Self-contained: no script, no external resource, CSS inline.
    assert soup.find("script") is None
    assert soup.find("link") is None
    html = str(soup)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)
    assert "@import" not in html
    assert not re.search(r"url\((?!#)", html)  # only references within the page
    referenced = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', html))
    assert {a or b for a, b in referenced} <= set(ids)


def test_html_escapes_the_data(report: tuple[Path, Path], soup: BeautifulSoup) -> None:
    raw = report[1].read_text(encoding="utf-8")
    assert "<script" not in raw and "<b>NET" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    table = soup.find("table", id="potential_harm-table")
    assert isinstance(table, Tag)
    cells = [
        [c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
        for tr in table.select("tbody tr")
    ]
    assert cells == [
        ["9", "C009", "everolimus", "2025-03-09", "Not before surgery."],
        ["14", "–", "prrt", "2025-03-14", "Low SSTR uptake."],
        ["15", SCRIPT_ID, "sunitinib", "2025-03-15", "<b>NET</b>"],
    ]
    count = soup.find(id="harm-count")
    assert count is not None and count.get_text() == "3"
    assert soup.find(id="harm-more") is None


def test_hostile_group_names_are_escaped_in_the_plots() -> None:
    rows = cohort_rows()
    for r in rows[:10]:
        r["site"] = "<img src=x onerror=alert(1)>"
    got = concordance_figures(
        pa.Table.from_pylist(rows, schema=PLAN_SCHEMA).to_batches(), errors=0, run={}
    )
    html = render_html(got)
    assert "<img" not in html
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("img") is None
    assert any("<img src=x" in t.get_text() for t in soup.select("svg text"))


def test_report_is_byte_identical_on_rerun(report: tuple[Path, Path], tmp_path: Path) -> None:
    again = write_report(figures(), tmp_path)
    for first, second in zip(report, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    # Written over itself: the same bytes again.
    third = write_report(figures(), tmp_path)
    assert [p.read_bytes() for p in third] == [p.read_bytes() for p in again]


def test_report_leaves_pyplot_alone() -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    render_html(figures())
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def _many_harms(n: int) -> Iterator[pa.RecordBatch]:
    rows = [
        _row(i, "in_avoid", site="pancreas", actual_avoid_reason=f"reason {i}")
        for i in range(n, 0, -1)
    ]
    yield from pa.Table.from_pylist(rows, schema=PLAN_SCHEMA).to_batches(max_chunksize=300)


def test_potential_harm_is_capped_in_the_html_only(tmp_path: Path) -> None:
    n = HARM_ROWS_SHOWN + 7
    got = concordance_figures(_many_harms(n), errors=0, run={})
    assert [h["row"] for h in got["potential_harm"]] == list(range(1, n + 1))
    json_path, html_path = write_report(got, tmp_path)
    assert len(json.loads(json_path.read_text(encoding="utf-8"))["potential_harm"]) == n
    soup = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser")
    rows = soup.select("#potential_harm-table tbody tr")
    assert len(rows) == HARM_ROWS_SHOWN
    assert rows[-1].th is not None and rows[-1].th.get_text() == str(HARM_ROWS_SHOWN)
    more = soup.find(id="harm-more")
    assert more is not None
    assert more.get_text(" ", strip=True) == "7 more cases are listed in concordance.json."
    count = soup.find(id="harm-count")
    assert count is not None and count.get_text() == str(n)


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    got = concordance_figures(iter([]), errors=0, run={})
    _json, html_path = write_report(got, tmp_path / "new" / "folder")
    soup = BeautifulSoup(html_path.read_text(encoding="utf-8"), "html.parser")
    assert len(soup.find_all("svg")) == 5  # no missing-facts plot
    assert "No missing fact blocked a decision." in soup.get_text()
    assert _share_rows(soup, "overall-table")[0]["in_options"]["share"] is None


# --- in a browser ------------------------------------------------------------------------


def test_report_in_chromium(report: tuple[Path, Path], chromium_path: str) -> None:
    """The plots are drawn and visible; a screenshot is kept for review."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, args=chromium_launch_args(), headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "request",
                lambda r: (
                    errors.append(f"request {r.url}") if not r.url.startswith("file:") else None
                ),
            )
            page.goto(report[1].as_uri())
            plots = page.locator("figure svg")
            assert plots.count() >= 5
            for i in range(plots.count()):
                plot = plots.nth(i)
                plot.scroll_into_view_if_needed()
                assert plot.is_visible(), f"plot {i}"
                box = plot.bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 50, (i, box)
                assert plot.locator("rect, path").count() > 0
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            data = shot.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = struct.unpack(">II", data[16:24])
            assert width >= 1000 and height >= 2000, (width, height)
            assert not errors, errors
        finally:
            browser.close()
