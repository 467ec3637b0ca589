"""The HTML pages, in-process: the case form as a browser posts it, the plan page, "why /
why not", the guide, re-planning under newer knowledge, and the list of saved plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup, Tag

from netnav.api import explain, recommend
from netnav.vocabulary import OPTION_IDS
from netnav.web.form import form_values
from netnav.web.pages import bundled_examples
from tests.web_support import (
    WebApp,
    example_case,
    make_web,
    other_knowledge,
    parse_case,
    saved_plan_id,
    sqlite_url,
    web_fixture,  # noqa: F401
)

FORM = {"content-type": "application/x-www-form-urlencoded"}


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def form_fields(page: BeautifulSoup, action: str = "/plans") -> list[tuple[str, str]]:
    """What a browser would post from the form with ``action``: every named control."""
    form = page.find("form", {"action": action, "method": "post"})
    assert isinstance(form, Tag), f"no POST form to {action}"
    out: list[tuple[str, str]] = []
    for el in form.find_all(["input", "select", "textarea"]):
        name = el.get("name")
        if not name:
            continue
        if el.name == "input" and el.get("type") in ("checkbox", "radio"):
            if el.has_attr("checked"):
                out.append((name, el.get("value", "on")))
        elif el.name == "select":
            chosen = el.find("option", selected=True) or el.find("option")
            out.append((name, chosen.get("value", "") if isinstance(chosen, Tag) else ""))
        elif el.name == "textarea":
            out.append((name, el.get_text()))
        else:
            out.append((name, el.get("value", "")))
    return out


def post_form(web: WebApp, fields: list[tuple[str, str]], action: str = "/plans") -> Any:
    return web.client.post(action, content=urlencode(fields), headers=FORM, follow_redirects=False)


def saved_id(response: Any) -> str:
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith("/plans/")
    return str(location.removeprefix("/plans/").split("?")[0])


@pytest.mark.parametrize("example", [e.slug for e in bundled_examples()])
def test_every_bundled_example_loads_and_posts_to_the_plan_of_its_case(
    web: WebApp, example: str
) -> None:
    loaded = next(e for e in bundled_examples() if e.slug == example)
    page = web.client.get("/plans/new", params={"example": example})
    assert page.status_code == 200
    assert f"Loaded {loaded.case_id}" in soup(page.text).get_text(" ")
    plan_id = saved_id(post_form(web, form_fields(soup(page.text))))
    saved = web.store.get(plan_id)
    assert saved is not None
    assert saved.case == {"format": "netnav-case/1", **loaded.case} or saved.case == loaded.case
    assert saved.plan == recommend(parse_case(loaded.case), web.knowledge)


def test_refused_form_shows_the_error_beside_the_field_and_keeps_the_rest(web: WebApp) -> None:
    page = soup(web.client.get("/plans/new", params={"example": bundled_examples()[0].slug}).text)
    fields = [(n, "140" if n == "tumor.ki67_percent" else v) for n, v in form_fields(page)]
    if not any(n == "tumor.ki67_percent" for n, _ in fields):
        fields.append(("tumor.ki67_percent", "140"))
    response = post_form(web, fields)
    assert response.status_code == 422
    refused = soup(response.text)
    box = refused.find(attrs={"name": "tumor.ki67_percent"})
    assert isinstance(box, Tag)
    assert box.get("aria-invalid") == "true"
    assert box.get("value") == "140"  # what was typed is kept
    error = refused.find(id=f"{box['id']}-error")
    assert isinstance(error, Tag)
    assert "at most 100" in error.get_text()
    summary = refused.select_one(".error-summary")
    assert summary is not None and "Ki-67" in summary.get_text()
    site = refused.find(attrs={"name": "tumor.primary_site"})
    assert isinstance(site, Tag)
    chosen = site.find("option", selected=True)
    assert (
        isinstance(chosen, Tag)
        and chosen["value"] == bundled_examples()[0].case["tumor"]["primary_site"]
    )
    assert web.store.search()[1] == 0  # nothing saved


def test_form_post_without_csrf_token_is_refused_and_nothing_saved(web: WebApp) -> None:
    page = soup(web.client.get("/plans/new").text)
    fields = [(n, v) for n, v in form_fields(page) if n != "csrftoken"]
    response = post_form(web, [*fields, ("tumor.primary_site", "pancreas")])
    assert response.status_code == 403
    assert "expired" in response.text
    assert web.store.search()[1] == 0


def test_plan_page_shows_options_avoid_missing_followup_and_progression(web: WebApp) -> None:
    doc = json.loads(Path("tests/data/clinical/pa04_insulinoma_test_worsened.json").read_text())
    case = doc.get("case", doc)
    plan = recommend(parse_case(case), web.knowledge)
    plan_id = saved_plan_id(web.client, case)
    page = soup(web.client.get(f"/plans/{plan_id}").text)
    options = page.select("li.option h3")
    assert [o.get_text(" ", strip=True) for o in options] == [
        f"{o['rank']}. {o['name']} {o['tier']}" for o in plan["options"]
    ]
    for o in plan["options"]:
        block = page.find(id=f"option-{o['id']}")
        assert isinstance(block, Tag)
        text = block.get_text(" ")
        for reason in o["rationale"]:
            assert reason in text
        for ev in o["evidence"]:
            assert ev["status"] in text
        assert block.find("a", href=f"/plans/{plan_id}/explain?option={o['id']}")
    for a in plan["avoid"]:
        block = page.find(id=f"avoid-{a['id']}")
        assert isinstance(block, Tag)
        assert a["reasons"][0] in block.get_text(" ")
        link = block.find("a", href=f"/plans/{plan_id}/explain?option={a['id']}")
        assert isinstance(link, Tag) and link.get_text().startswith("Why not")
    missing = page.select("table.missing tbody tr")
    assert len(missing) == len(plan["missing_information"])
    assert plan["surveillance"]["situation"] in page.get_text(" ")
    progression = page.find(id="progression-h")
    assert isinstance(progression, Tag)
    for name in plan["at_progression_names"]:
        assert name in progression.find_parent("section").get_text(" ")  # type: ignore[union-attr]
    disagreements = page.select(".disagreement")
    assert len(disagreements) == len({d["option"] for d in plan["disagreements"]})
    choices = page.select("#why-option option")
    assert sorted(c["value"] for c in choices) == sorted(OPTION_IDS)


@pytest.mark.parametrize("which", ["options", "avoid"])
def test_why_and_why_not_pages_show_the_verdict_tree(web: WebApp, which: str) -> None:
    doc = json.loads(Path("tests/data/clinical/pa04_insulinoma_test_worsened.json").read_text())
    case = doc.get("case", doc)
    plan = recommend(parse_case(case), web.knowledge)
    option = plan[which][0]["id"]
    expected = explain(parse_case(case), option, web.knowledge)
    plan_id = saved_plan_id(web.client, case)
    response = web.client.get(f"/plans/{plan_id}/explain", params={"option": option})
    assert response.status_code == 200
    page = soup(response.text)
    assert expected["summary"] in page.get_text(" ")
    assert expected["status"] == ("recommended" if which == "options" else "avoid")
    # The branches that decide come first; rules for other situations are folded away.
    deciding = page.select("h2 + p.help + ul.tree > li")
    badges = {li.select_one(".badge").get_text() for li in deciding}  # type: ignore[union-attr]
    assert ("fail" in badges) if which == "avoid" else ({"pass", "warn"} & badges)
    folded = page.select("details.elsewhere ul.tree > li")
    for li in folded:
        assert "not apply" in li.get_text(" ")
    top = {c["criterion"] for c in expected["tree"]["children"]}
    shown = {li.select_one(".criterion").get_text() for li in deciding + folded}  # type: ignore[union-attr]
    assert shown == top


def test_unknown_option_on_the_explain_page_is_404(web: WebApp) -> None:
    plan_id = saved_plan_id(web.client, example_case("P-1"))
    response = web.client.get(f"/plans/{plan_id}/explain", params={"option": "not_an_option"})
    assert response.status_code == 404
    assert "Unknown option" in response.text


def test_guide_pages_render_the_patient_guide_and_pdf(web: WebApp) -> None:
    plan_id = saved_plan_id(web.client, example_case("G-1"))
    html = web.client.get(f"/plans/{plan_id}/guide")
    assert html.status_code == 200
    assert "script-src 'none'" in html.headers["content-security-policy"]
    guide = soup(html.text)
    assert guide.find("h1") is not None
    assert not guide.find("script")
    pdf = web.client.get(f"/plans/{plan_id}/guide.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]


def test_replanning_under_newer_knowledge_saves_a_new_plan_and_lists_changes(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    with make_web(url) as old:
        plan_id = saved_plan_id(old.client, example_case("R-1"))
    with make_web(url, knowledge=other_knowledge("2099.1.0-test")) as new:
        page = soup(new.client.get(f"/plans/{plan_id}").text)
        assert "knowledge in force is 2099.1.0-test" in page.get_text(" ")
        assert new.client.get(f"/plans/{plan_id}/guide").status_code == 409
        fields = form_fields(page, "/plans/rerun")
        assert ("plan_id", plan_id) in fields
        new_id = saved_id(post_form(new, fields, "/plans/rerun"))
        assert new_id != plan_id
        saved = new.store.get(new_id)
        assert saved is not None
        assert saved.previous_plan_id == plan_id
        assert saved.knowledge_version == "2099.1.0-test"
        changed = soup(new.client.get(f"/plans/{new_id}").text)
        section = changed.find(id="changes-h")
        assert isinstance(section, Tag)
        assert "2026" in section.find_parent("section").get_text(" ")  # type: ignore[union-attr]
        # The old plan page now links to the newer plan.
        assert f"/plans/{new_id}" in new.client.get(f"/plans/{plan_id}").text
        # Re-planning the new plan under the same knowledge gives it back, nothing new saved.
        again = post_form(new, form_fields(page, "/plans/rerun"), "/plans/rerun")
        assert again.status_code == 303
        total_before = new.store.search()[1]
        same = new.client.post(
            "/plans/rerun",
            content=urlencode({"csrftoken": dict(fields)["csrftoken"], "plan_id": new_id}),
            headers=FORM,
            follow_redirects=False,
        )
        assert same.headers["location"] == f"/plans/{new_id}?rerun=same"
        assert new.store.search()[1] == total_before


def test_saved_plans_list_newest_first_with_search_and_escaping(web: WebApp) -> None:
    ids = [
        saved_plan_id(web.client, example_case(cid)) for cid in ("A-1", "B-2", "<script>x</script>")
    ]
    page = soup(web.client.get("/plans").text)
    rows = page.select("table.plans tbody tr")
    assert [r.select("td")[1].get_text() for r in rows] == ["<script>x</script>", "B-2", "A-1"]
    assert rows[0].find("a")["href"] == f"/plans/{ids[2]}"  # type: ignore[index]
    assert not page.find("script")
    found = soup(web.client.get("/plans", params={"q": "b-"}).text)
    assert [r.select("td")[1].get_text() for r in found.select("table.plans tbody tr")] == ["B-2"]
    assert "1 plan for case ids containing" in found.get_text(" ")


def test_edit_prefills_the_form_with_the_saved_case(web: WebApp) -> None:
    case = example_case("E-1")
    plan_id = saved_plan_id(web.client, case)
    page = soup(web.client.get(f"/plans/{plan_id}/edit").text)
    posted = dict(form_fields(page))
    for name, value in form_values(case).items():
        if name == "extensions_json":
            assert json.loads(posted[name]) == json.loads(str(value))
        elif isinstance(value, str):
            assert posted.get(name) == value, name


def test_api_docs_page_lists_every_operation_without_script(web: WebApp) -> None:
    schema = web.client.get("/openapi.json").json()
    page = web.client.get("/docs")
    assert page.status_code == 200
    text = soup(page.text).get_text(" ")
    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in text
    assert "/v1/plans" in schema["paths"]
    assert not soup(page.text).find("script")


def test_problem_type_pages_and_unknown_pages(web: WebApp) -> None:
    page = web.client.get("/problems/invalid-case")
    assert page.status_code == 200 and "every problem found" in page.text
    missing = web.client.get("/plans/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and "Plan not found" in missing.text
    assert web.client.get("/no/such/page").status_code == 404


def test_rule_page_shows_the_rule_in_words(web: WebApp) -> None:
    page = web.client.get("/knowledge/rules/si-05")
    assert page.status_code == 200
    text = soup(page.text).get_text(" ")
    assert "Rule SI-05" in text and "progressed on ssa" in text
    assert web.client.get("/knowledge/rules/NO-SUCH-RULE").status_code == 404


def test_every_test_id_has_a_name_in_the_clinics_words() -> None:
    from netnav.vocabulary import TEST_IDS
    from netnav.web.pages import _test_names

    names = _test_names()
    assert sorted(names) == sorted(TEST_IDS)
    assert all(name.strip() and "_" not in name for name in names.values())
