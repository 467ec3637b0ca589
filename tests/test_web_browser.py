"""A clinician's path through the web app in a real browser (Playwright, Debian's chromium).

The real server runs in uvicorn on loopback (tests/web_server.py) with a fresh SQLite store.
The tests use the pages as a person does: labels they can read, options they can see, links
and buttons they can click; no form field is reached by its name.

* A case is typed into the form (vignette V12: stage IV small-intestine NET with an
  obstructing mesenteric mass and controlled carcinoid syndrome) and sent; the plan page's
  first option is the first option of ``netnav.api.recommend`` for the case made of exactly
  what was typed, and the saved case is that document. "Why not …?" of an avoided option
  shows its verdict tree with the status "avoid"; back on the plan, the patient guide opens.
* Each published case of the form's picker is loaded, sent, and gives the same plan as
  ``POST /v1/plans`` of that case.
* A Ki-67 of 140 %: chromium's own check stops the form; with that check off, the server
  refuses the case with an error next to the field and every typed value kept.

Every page must load without a console error or an uncaught page error (CSP violations are
reported there). Screenshots of the form, the plan page and the why-not page are kept in
test-artifacts/web/ (for review; ignored by git).
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import expect, sync_playwright

from netnav.api import explain, recommend
from netnav.case.load import case_from_mapping
from netnav.web.pages import bundled_examples
from tests.services import chromium_launch_args
from tests.web_server import running_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "web"
STEP_TIMEOUT_MS = 15_000
PLAN_URL = re.compile(r"/plans/([0-9a-f]{32})$")
EXAMPLE_FOR_PHONE = ROOT / "tests" / "data" / "clinical" / "pa04_insulinoma_test_worsened.json"

# What the clinician types for vignette V12 (tests/data/vignettes), as the case document
# those answers mean. The form is filled from the same values below, by the labels shown.
TYPED_CASE: dict[str, Any] = {
    "format": "netnav-case/1",
    "id": "V12",
    "as_of": "2026-06-10",
    "patient": {"age_years": 60, "sex": "female", "ecog": 1},
    "tumor": {
        "primary_site": "small_intestine",
        "differentiation": "well",
        "ki67_percent": 2,
        "reported_grade": "g1",
        "size_mm": 19,
        "nodes": "n2",
        "metastases": ["liver"],
        "liver_tumor_burden_percent": 15,
        "resectability": "unresectable",
        "primary_removed": False,
        "disease_course": "stable",
        "months_observed": 8,
        "bulky_or_symptomatic": True,
        "functional_syndrome": "carcinoid_syndrome",
        "syndrome_controlled": True,
        "bowel_movements_per_day": 2,
        "carcinoid_heart_disease": "none",
        "symptoms": ["bowel_obstruction", "mesenteric_ischemia", "flushing"],
        "sstr_imaging": {
            "modality": "ga68_dotatate_pet",
            "krenning_min": 4,
            "krenning_max": 4,
            "all_lesions_positive": True,
        },
    },
    "treatments": [
        {"therapy": "lanreotide", "start": "2025-10", "ongoing": True, "best_response": "sd"}
    ],
}


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("web-browser") / "plans.db"
    with running_server(f"sqlite:///{db}") as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, args=chromium_launch_args(), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class ConsoleLog:
    """Console errors and uncaught page errors of one page, with the URL they came from.

    ``allow(status, path)`` accepts the one console error chromium logs for a page that was
    answered with that status on purpose ("Failed to load resource: … status of 422").
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[tuple[int, str]] = []

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type in ("error", "assert"):
                where = message.location.get("url") or page.url
                self.errors.append(f"console {message.type} ({where}): {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror on {page.url}: {exc}"))

    def allow(self, status: int, path: str) -> None:
        self.allowed.append((status, path))

    def _expected(self, error: str) -> bool:
        return any(
            error.startswith("console error (")
            and error.split(" ", 3)[2].rstrip("):").endswith(path)
            and f"the server responded with a status of {status} " in error
            for status, path in self.allowed
        )

    def check(self) -> None:
        unexpected = [e for e in self.errors if not self._expected(e)]
        assert not unexpected, "\n".join(unexpected)


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Any, base_url: str, console: ConsoleLog) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; no console error may occur."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    console.attach(page)
    try:
        yield page
        console.check()
    finally:
        context.close()


@pytest.fixture(scope="module")
def api(base_url: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=base_url, timeout=STEP_TIMEOUT_MS / 1000, trust_env=False) as c:
        yield c


# --- helpers -----------------------------------------------------------------------------


def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG in test-artifacts/web/; checked to be a real, non-trivial picture."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600, f"{path}: {width}×{height}"
    assert len(data) > 20_000, f"{path}: only {len(data)} bytes"
    return path


def plan_id_of(page: Any) -> str:
    match = PLAN_URL.search(page.url)
    assert match, f"not a plan page: {page.url}"
    return match.group(1)


def choose(scope: Any, label: str, option: str) -> None:
    """Pick the answer ``option`` (the words shown) in the list labelled ``label``."""
    scope.get_by_label(label, exact=True).select_option(label=option)


def type_in(scope: Any, label: str, text: str) -> None:
    box = scope.get_by_label(label, exact=True)
    box.click()
    box.press_sequentially(text)


def tick(page: Any, group: str, *labels: str) -> None:
    """Tick the boxes ``labels`` of the tick-box group whose heading is ``group``."""
    boxes = page.get_by_role("group", name=group, exact=True)
    for label in labels:
        boxes.get_by_label(label, exact=True).check()


def type_v12(page: Any, *, ki67: str = "2") -> None:
    """Fill the form with TYPED_CASE as a clinician would (the only Ki-67 typed: ``ki67``)."""
    type_in(page, "Case reference", "V12")
    page.get_by_label("Date of this assessment", exact=True).fill("2026-06-10")
    type_in(page, "Age", "60")
    choose(page, "Sex", "Female")
    type_in(page, "ECOG performance status", "1")

    choose(page, "Primary site", "Small intestine (jejunum, ileum)")
    choose(page, "Differentiation", "Well differentiated (NET)")
    # The current Ki-67 comes before the "Earlier Ki-67 values" rows, which ask the same.
    ki67_box = page.get_by_label("Ki-67 index", exact=True).first
    assert ki67_box.get_attribute("name") == "tumor.ki67_percent"
    ki67_box.click()
    ki67_box.press_sequentially(ki67)
    choose(page, "Grade on the pathology report", "G1")
    type_in(page, "Size of the largest primary lesion", "19")

    choose(page, "Lymph nodes", "N2")
    tick(page, "Distant metastases", "Liver")
    type_in(page, "Liver tumour burden", "15")
    choose(page, "Resectability of all known disease", "Unresectable")
    choose(page, "Primary already removed", "No")
    choose(page, "Course of the disease now", "Stable")
    type_in(page, "Months the course was observed", "8")
    choose(page, "Bulky or symptomatic tumour", "Yes")

    choose(page, "Hormone (functional) syndrome", "Carcinoid syndrome")
    choose(page, "Syndrome controlled on current treatment", "Yes")
    type_in(page, "Bowel movements", "2")
    choose(page, "Carcinoid heart disease", "None")
    tick(page, "Symptoms now", "Bowel obstruction", "Mesenteric ischaemia", "Flushing")

    choose(page, "Somatostatin-receptor imaging", "⁶⁸Ga-DOTATATE PET")
    type_in(page, "Krenning score (lowest lesion)", "4")
    type_in(page, "Krenning score (highest lesion)", "4")
    choose(page, "Every known lesion takes up the tracer", "Yes")

    row = page.get_by_role("group", name="Treatment 1", exact=True)
    choose(row, "Treatment", "Lanreotide (long-acting lanreotide)")
    type_in(row, "Started", "2025-10")
    choose(row, "Still ongoing", "Yes")
    choose(row, "Best response", "Stable disease")


def first_option_name(page: Any) -> str:
    """The name of the first option on the plan page (without its rank and tier)."""
    heading = page.locator("ol.options > li").first.get_by_role("heading", level=3)
    text: str = heading.inner_text()
    rank: str = heading.locator(".rank").inner_text()
    tier: str = heading.locator(".tier").inner_text()
    return text.strip().removeprefix(rank).removesuffix(tier).strip()


def send_form(page: Any) -> None:
    page.get_by_role("button", name="Make the plan").click()


# --- tests -------------------------------------------------------------------------------


def test_clinician_types_a_case_reads_the_plan_why_not_and_guide(
    page: Any, api: httpx2.Client
) -> None:
    expected = recommend(case_from_mapping(TYPED_CASE))
    assert expected["avoid"], "the typed case must have an option to avoid"
    avoided = expected["avoid"][0]

    page.goto("/plans/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("New case")
    type_v12(page)
    screenshot(page, "form.png")
    send_form(page)

    page.wait_for_url(PLAN_URL)
    plan_id = plan_id_of(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan for case V12")
    assert first_option_name(page) == expected["options"][0]["name"]
    saved = api.get(f"/v1/plans/{plan_id}").json()
    assert saved["case"] == TYPED_CASE  # the form made exactly the case that was typed
    assert saved["plan"] == json.loads(json.dumps(expected))
    screenshot(page, "plan-page.png")

    # Why not the avoided option?
    plan_url = page.url
    page.get_by_role("link", name=f"Why not {avoided['name']}?", exact=True).click()
    page.wait_for_url(f"**/plans/{plan_id}/explain?option={avoided['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{avoided['name']}: why or why not")
    summary = page.locator("p.summary")
    expect(summary).to_have_class(re.compile(r"\bstatus-avoid\b"))
    expect(summary.locator("strong")).to_have_text("Avoid.")
    assert explain(case_from_mapping(TYPED_CASE), avoided["id"])["status"] == "avoid"
    expect(page.get_by_role("heading", name="What decides it for this case")).to_be_visible()
    expect(page.locator("ul.tree li.verdict").first).to_be_visible()
    screenshot(page, "why-not.png")

    # Back to the plan, then the patient guide.
    page.go_back()
    page.wait_for_url(plan_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan for case V12")
    page.get_by_role("link", name="Patient guide", exact=True).click()
    page.wait_for_url(f"**/plans/{plan_id}/guide")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your guide to your neuroendocrine tumour"
    )
    expect(page.get_by_role("heading", name="Your options", exact=True)).to_be_visible()
    expect(
        page.get_by_role("heading", name="Treatments that are not right for you now")
    ).to_be_visible()


@pytest.mark.parametrize("example", bundled_examples(), ids=lambda e: e.slug)
def test_loading_a_published_case_gives_the_api_plan(
    page: Any, api: httpx2.Client, example: Any
) -> None:
    page.goto("/plans/new")
    page.get_by_label("Load a published case", exact=True).select_option(value=example.slug)
    page.get_by_role("button", name="Load", exact=True).click()
    page.wait_for_url(f"**/plans/new?example={example.slug}")
    expect(page.get_by_role("status")).to_contain_text(f"Loaded {example.case_id}")
    expect(page.get_by_label("Primary site", exact=True)).to_have_value(
        example.case["tumor"]["primary_site"]
    )
    send_form(page)
    page.wait_for_url(PLAN_URL)
    from_form = api.get(f"/v1/plans/{plan_id_of(page)}").json()

    response = api.post("/v1/plans", json=dict(example.case))
    assert response.status_code == 201, response.text
    from_api = api.get(response.json()["url"]).json()
    assert from_form["plan"] == from_api["plan"]
    assert from_form["case"] == from_api["case"] == example.case
    assert first_option_name(page) == from_api["plan"]["options"][0]["name"]


def test_invalid_ki67_is_shown_next_to_the_field_and_other_answers_are_kept(
    page: Any, console: ConsoleLog
) -> None:
    console.allow(422, "/plans")  # the refused form is answered 422 on purpose
    page.goto("/plans/new")
    type_v12(page, ki67="140")
    ki67 = page.locator("#f-tumor-ki67_percent")

    # Number boxes are text boxes (a browser's number box silently drops "2,5"): the server
    # refuses the value and says why, beside the field.
    with page.expect_response(lambda r: r.url.endswith("/plans")) as answer:
        send_form(page)
    assert answer.value.status == 422
    page.wait_for_load_state()

    field = page.locator(".field", has=page.locator("#f-tumor-ki67_percent"))
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    error = field.locator(".field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("100")
    expect(ki67).to_have_attribute("aria-invalid", "true")
    expect(ki67).to_have_attribute("aria-describedby", re.compile(r"f-tumor-ki67_percent-error"))
    expect(ki67).to_have_value("140")
    expect(page.get_by_role("alert")).to_contain_text("Ki-67 index")
    screenshot(page, "form-error.png")

    # Everything else is as typed.
    expect(page.get_by_label("Case reference", exact=True)).to_have_value("V12")
    expect(page.get_by_label("Date of this assessment", exact=True)).to_have_value("2026-06-10")
    expect(page.get_by_label("Age", exact=True)).to_have_value("60")
    expect(page.get_by_label("Sex", exact=True)).to_have_value("female")
    expect(page.get_by_label("Primary site", exact=True)).to_have_value("small_intestine")
    expect(page.get_by_label("Size of the largest primary lesion", exact=True)).to_have_value("19")
    expect(page.get_by_label("Lymph nodes", exact=True)).to_have_value("n2")
    metastases = page.get_by_role("group", name="Distant metastases", exact=True)
    expect(metastases.get_by_label("Liver", exact=True)).to_be_checked()
    expect(metastases.get_by_label("Bone", exact=True)).not_to_be_checked()
    symptoms = page.get_by_role("group", name="Symptoms now", exact=True)
    for label in ("Bowel obstruction", "Mesenteric ischaemia", "Flushing"):
        expect(symptoms.get_by_label(label, exact=True)).to_be_checked()
    expect(symptoms.get_by_label("Diarrhoea", exact=True)).not_to_be_checked()
    expect(page.get_by_label("Hormone (functional) syndrome", exact=True)).to_have_value(
        "carcinoid_syndrome"
    )
    row = page.get_by_role("group", name="Treatment 1", exact=True)
    expect(row.get_by_label("Treatment", exact=True)).to_have_value("lanreotide")
    expect(row.get_by_label("Started", exact=True)).to_have_value("2025-10")
    expect(row.get_by_label("Still ongoing", exact=True)).to_have_value("yes")
    expect(row.get_by_label("Best response", exact=True)).to_have_value("sd")


def test_decimal_comma_is_refused_beside_the_field_never_misread(
    page: Any, console: ConsoleLog
) -> None:
    console.allow(422, "/plans")
    page.goto("/plans/new")
    type_v12(page, ki67="2,5")
    with page.expect_response(lambda r: r.url.endswith("/plans")) as answer:
        send_form(page)
    assert answer.value.status == 422  # never saved as 25 (G3) or 2.5 by guess
    page.wait_for_load_state()
    ki67 = page.locator("#f-tumor-ki67_percent")
    expect(ki67).to_have_value("2,5")
    field = page.locator(".field", has=ki67)
    expect(field.locator(".field-error")).to_contain_text("write decimals with a point: 2.5")


def test_pages_fit_a_phone_screen(page: Any, api: httpx2.Client) -> None:
    """At 390 px (a phone) no page scrolls sideways."""
    case = json.loads(EXAMPLE_FOR_PHONE.read_text("utf-8"))
    plan_id = api.post("/v1/plans", json=case.get("case", case)).json()["id"]
    plan = api.get(f"/v1/plans/{plan_id}").json()["plan"]
    option = (plan["avoid"] or plan["options"])[0]["id"]
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (
        "/",
        "/plans/new",
        f"/plans/{plan_id}",
        f"/plans/{plan_id}/explain?option={option}",
        "/plans",
        "/docs",
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide"
