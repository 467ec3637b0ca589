"""The patient guide as a person sees it: sections, this patient's facts, plain language,
accessibility, escaping and no external requests (issue 5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netnav.api import plan_result
from netnav.guide.content import build_patient_guide
from netnav.guide.facts import guide_facts, matches
from netnav.guide.settings import ClinicSettings
from netnav.guide.texts import patient_texts
from netnav.guide.write import render_guide
from netnav.plan import plan_document
from tests.guide_support import CASE_FILES, DATE, rendered, section_prose
from tests.helpers import advanced_sstr_positive_si_net, case_with, kb
from tests.readability import GRADE_LIMIT, fk_grade

PROSE_SECTIONS = (
    "about",
    "tumour",
    "options",
    "timeline",
    "urgent",
    "followup",
    "missing",
    "avoid",
    "next_steps",
    "waiting",
    "questions",
    "trials",
    "specialist",
)
IDS = [p.stem for p in CASE_FILES]


def _guide(case):  # type: ignore[no-untyped-def]
    knowledge = kb()
    result = plan_result(case, knowledge)
    plan = plan_document(result, knowledge)
    texts = patient_texts("en", knowledge)
    return build_patient_guide(case, result, plan, texts, ClinicSettings(), DATE), plan


def _text(section) -> str:  # type: ignore[no-untyped-def]
    """The paragraphs of a section as one string (segments joined as the reader sees them)."""
    assert section is not None
    return " ".join("".join(seg.text for seg in p) for b in section.blocks for p in b.paragraphs)


# --- every bundled case ---------------------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_every_case_renders_with_every_placeholder_filled(path: Path) -> None:
    r = rendered(path)
    assert r.files.guide is not None
    assert r.files.guide.skipped == ()
    text = r.soup.get_text(" ")
    assert not re.search(r"\{[a-z0-9_]+\}", text), "unfilled placeholder in the guide"
    # A term the text already explains in brackets gets no second explanation.
    assert not re.search(r"</span>\s*\(", r.html)
    assert r.soup.find("section", id="tumour") is not None
    assert r.soup.find("section", id="questions") is not None


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_every_prose_section_reads_at_or_below_grade_8(path: Path) -> None:
    soup = rendered(path).soup
    grades = {s: fk_grade(section_prose(soup, s)) for s in PROSE_SECTIONS if section_prose(soup, s)}
    over = {s: round(g, 1) for s, g in grades.items() if g > GRADE_LIMIT}
    assert not over, f"sections above grade {GRADE_LIMIT}: {over}"


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_options_appear_best_first_with_how_given_and_why(path: Path) -> None:
    r = rendered(path)
    plan = plan_document(plan_result(r.case, kb()), kb())
    texts = patient_texts("en", kb())
    blocks = r.soup.select("section#options .option")
    assert [b["id"] for b in blocks] == [f"option-{o['id']}" for o in plan["options"]]
    for block, option in zip(blocks, plan["options"], strict=True):
        po = texts.options[option["id"]]
        assert block.h3.get_text(strip=True) == po.name
        for meaning in block.select("span.meaning"):
            meaning.decompose()  # a glossary explanation may sit inside the sentence
        body = " ".join(block.get_text(" ", strip=True).split())
        assert " ".join(po.how_given.split())[:40] in body
        assert "Why this may suit you" in body


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_avoided_and_next_options_are_named(path: Path) -> None:
    r = rendered(path)
    plan = plan_document(plan_result(r.case, kb()), kb())
    texts = patient_texts("en", kb())
    avoid = r.soup.find("section", id="avoid")
    if plan["avoid"]:
        headings = [h.get_text(strip=True) for h in avoid.find_all("h3")]
        assert headings == [texts.options[a["id"]].name for a in plan["avoid"]]
        # Each avoided option is explained by what put it there (rule, check, refusal).
        shown = " ".join(section_prose(r.soup, "avoid").split())
        for term in texts.guide.glossary:
            shown = shown.replace(f" ({term.meaning})", "")
        for item in plan_result(r.case, kb()).avoid:
            for source in item.sources:
                if source in ("preferences", "toxicity"):
                    continue
                why = texts.why_not(source, item.id)
                assert why is not None, (source, item.id)
                assert " ".join(why.split())[:50] in shown
    else:
        assert avoid is None
    nxt = r.soup.find("section", id="next_steps")
    if plan["at_progression"]:
        items = [li.get_text(" ", strip=True) for li in nxt.find_all("li")]
        assert items == [texts.options[o].name for o in plan["at_progression"]]
    else:
        assert nxt is None


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_accessibility_basics(path: Path) -> None:
    soup = rendered(path).soup
    assert soup.html["lang"] == "en"
    assert len(soup.find_all("h1")) == 1
    for landmark in ("header", "nav", "main", "footer"):
        assert soup.find(landmark) is not None, landmark
    for section in soup.select("main section"):
        heading = soup.find(id=section["aria-labelledby"])
        assert heading is not None and heading.name == "h2"
    for svg in soup.find_all("svg"):
        assert svg.get("role") == "img"
        title = svg.find("title")
        assert title is not None and len(title.get_text(strip=True)) > 20
    # Heading levels never skip (h2 -> h4 without h3 is allowed only inside an option block).
    assert "@media print" in soup.style.get_text()


@pytest.mark.parametrize("path", CASE_FILES, ids=IDS)
def test_guide_is_self_contained(path: Path) -> None:
    html = rendered(path).html
    soup = rendered(path).soup
    assert not soup.find_all(["script", "link", "img", "iframe", "object"])
    # url(#id) inside the SVG points into the page itself; anything else would be a request.
    assert not re.search(r"url\((?!#)", html) and "@import" not in html
    assert not soup.find_all(src=True)
    for tag in soup.find_all(["use", "image"]):
        ref = tag.get("xlink:href") or tag.get("href") or ""
        assert ref.startswith("#"), tag


# --- this patient's facts -------------------------------------------------------------------


def test_tumour_section_explains_this_patients_values() -> None:
    case = case_with(
        site="pancreas",
        ki67=12,
        size_mm=23,
        differentiation="well",
        metastases=["liver", "bone"],
        functional_syndrome="none",
        sstr_imaging={"modality": "ga68_dotatate_pet", "krenning_min": 3, "krenning_max": 4},
    )
    guide, _ = _guide(case)
    text = _text(guide.section("tumour"))
    assert "pancreas" in text
    assert "Your Ki-67 result is 12%" in text
    assert "grade 2" in text
    assert "about 2.3 cm" in text
    assert "liver and bones" in text
    assert "non-functioning" in text
    assert "takes up the tracer" in text


def test_unknown_receptor_scan_is_said_and_asked_never_read_as_negative() -> None:
    case = case_with(site="small_intestine", ki67=2, differentiation="well", metastases=["liver"])
    guide, _ = _guide(case)
    tumour = _text(guide.section("tumour"))
    assert "receptor scan result is not recorded" in tumour
    assert "less likely to help" not in tumour
    questions = [
        "".join(s.text for s in item)
        for b in guide.section("questions").blocks  # type: ignore[union-attr]
        for _, items in b.lists
        for item in items
    ]
    assert "Does my tumour show up on the receptor scan? Should I have one?" in questions


def test_nec_guide_says_fast_growing_and_omits_receptor_question() -> None:
    case = case_with(site="colon", ki67=70, differentiation="poor", metastases=["liver"])
    guide, _ = _guide(case)
    tumour = _text(guide.section("tumour"))
    assert "neuroendocrine carcinoma" in tumour
    assert "grow and spread quickly" in tumour
    assert "Most tumours like this grow slowly" not in tumour
    q = guide.section("questions")
    assert q is not None
    joined = " ".join(s.text for b in q.blocks for _, items in b.lists for i in items for s in i)
    assert "receptor scan" not in joined
    assert "How soon should my treatment start?" in joined


def test_follow_up_follows_the_plans_schedule() -> None:
    """Watchful waiting only when the plan watches a tumour still in place; otherwise the
    check-ups section; both carry the plan's own schedule in the patient's words."""
    texts = patient_texts("en", kb())
    seen = {"waiting": 0, "followup": 0}
    for path in CASE_FILES:
        r = rendered(path)
        plan = plan_document(plan_result(r.case, kb()), kb())
        schedule = plan["surveillance"]
        removed = r.case.tumor.primary_removed is True and plan["derived"]["extent"]["value"] in (
            "localized",
            "locoregional",
        )
        watches = not removed and (
            "active_surveillance" in {o["id"] for o in plan["options"]}
            or bool((schedule or {}).get("watchful_waiting"))
        )
        waiting = r.soup.find("section", id="waiting")
        followup = r.soup.find("section", id="followup")
        assert (waiting is not None) == watches, path.name
        assert (followup is not None) == (not watches and schedule is not None), path.name
        shown = waiting or followup
        if shown is not None:
            seen[shown["id"]] += 1
        if schedule is not None:
            assert shown is not None
            text = " ".join(section_prose(r.soup, shown["id"]).split())
            for term in texts.guide.glossary:
                text = text.replace(f" ({term.meaning})", "")
            assert " ".join(texts.surveillance[schedule["id"]].text.split())[:60] in text
    assert seen["waiting"] >= 3 and seen["followup"] >= 3


def test_declined_option_is_explained_as_the_patients_choice() -> None:
    case = advanced_sstr_positive_si_net(preferences={"declines": ["everolimus"]})
    guide, plan = _guide(case)
    assert "everolimus" in {a["id"] for a in plan["avoid"]}
    avoid = guide.section("avoid")
    assert avoid is not None
    block = next(
        b for b in avoid.blocks if b.heading == patient_texts("en", kb()).options["everolimus"].name
    )
    assert "your choice" in "".join(s.text for s in block.paragraphs[0])


def test_medical_terms_are_explained_at_first_use_only() -> None:
    case = case_with(site="small_intestine", ki67=2, differentiation="well", metastases=["liver"])
    r = render_guide(case, output="html", prepared_on=DATE)
    html = next(iter(r.files.values())).decode()
    terms = re.findall(r"<dfn>([^<]+)</dfn> <span class=\"meaning\">\(([^)]+)\)</span>", html)
    assert terms, "no term explained"
    firsts = [t.lower() for t, _ in terms]
    assert len(firsts) == len(set(firsts))
    glossary = {g.term.lower(): g.meaning for g in patient_texts("en", kb()).guide.glossary}
    for term, meaning in terms:
        assert any(meaning == m for m in glossary.values()), term


def test_guide_states_who_what_when() -> None:
    case = case_with(
        site="small_intestine",
        ki67=2,
        differentiation="well",
        metastases=["liver"],
        id="C-7",
        as_of="2026-10-01",
    )
    clinic = ClinicSettings(
        name="Harbour NET Clinic",
        phone="+44 20 7946 0000",
        web="https://example.org/net",
        prepared_by="Dr B. Okafor",
    )
    from netnav.guide.settings import Settings

    r = render_guide(
        case, output="html", prepared_on="2026-11-02", settings=Settings(clinic=clinic)
    )
    soup = __import__("bs4").BeautifulSoup(next(iter(r.files.values())), "html.parser")
    footer = soup.footer.get_text(" ", strip=True)
    assert "Dr B. Okafor" in footer and "Harbour NET Clinic" in footer
    assert "2026-11-02" in footer and "2026-10-01" in footer
    assert f"knowledge base {kb().version}" in footer
    contact = soup.select_one("dl.contact").get_text(" ", strip=True)
    assert "+44 20 7946 0000" in contact and "https://example.org/net" in contact
    assert (
        soup.select_one(".disclaimer")
        .get_text(strip=True)
        .startswith("This guide supports your care team")
    )


def test_default_settings_name_no_clinic_and_say_how_to_find_the_number() -> None:
    case = case_with(site="small_intestine", ki67=2, differentiation="well", metastases=["liver"])
    r = render_guide(case, output="html", prepared_on=DATE)
    html = next(iter(r.files.values())).decode()
    assert "Ask your care team for the best number to call" in html
    assert "tel:" not in html


# --- hostile text ----------------------------------------------------------------------------


def test_hostile_text_in_free_fields_comes_out_escaped() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case = case_with(
        site="small_intestine",
        ki67=2,
        differentiation="well",
        metastases=["liver"],
        id=evil,
        treatments=[
            {"therapy": "octreotide_lar", "start": "2025-01", "ongoing": True, "details": evil}
        ],
    )
    clinic = ClinicSettings(
        name='Clinic <b onmouseover="x">', prepared_by="</footer><script>x</script>"
    )
    from netnav.guide.settings import Settings

    for audience in ("patient", "clinician"):
        r = render_guide(
            case,
            audience=audience,
            output="html",
            prepared_on=DATE,
            settings=Settings(clinic=clinic),
        )  # type: ignore[arg-type]
        name, data = next(iter(r.files.items()))
        html = data.decode()
        assert "<script" not in html and "<img" not in html and "<b " not in html
        assert "&lt;script&gt;" in html
        assert "/" not in name and "<" not in name


# --- facts and conditions ---------------------------------------------------------------------


def test_condition_matching_scalar_set_and_unknown() -> None:
    facts = {
        "grade": "unknown",
        "options": frozenset({"lanreotide"}),
        "ki67_known": False,
        "line_of_therapy": 1,
    }
    assert matches({"grade": ["unknown"]}, facts)
    assert not matches({"grade": ["g1"]}, facts)
    assert matches({"options": ["lanreotide", "everolimus"]}, facts)
    assert not matches({"options": ["everolimus"]}, facts)
    assert matches({"ki67_known": [False]}, facts)
    assert not matches({"ki67_known": [0]}, facts)  # a boolean is never a number
    assert matches({"line_of_therapy": [1]}, facts)
    assert matches({}, facts)


def test_unknown_facts_are_the_word_unknown_never_false() -> None:
    case = case_with(site="small_intestine", ki67=2, differentiation="well")
    knowledge = kb()
    result = plan_result(case, knowledge)
    plan = plan_document(result, knowledge)
    g = guide_facts(case, result, plan, {}, "clinic")
    for name in (
        "syndrome",
        "syndrome_controlled",
        "primary_removed",
        "disease_course",
        "wants_trial_information",
    ):
        assert g.values[name] == "unknown", name


# --- properties over random cases ------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.test_properties import Sample, planned  # noqa: E402


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(planned())
def test_guide_says_exactly_what_the_plan_says(sample: Sample) -> None:
    """Safety: the guide presents the plan's options in its order, never an avoided one as
    an option, names every avoided option, and leaves no placeholder or passage unfilled."""
    r = render_guide(sample.case, output="html", prepared_on=DATE)
    assert r.guide is not None and r.guide.skipped == ()
    html = next(iter(r.files.values())).decode()
    soup = __import__("bs4").BeautifulSoup(html, "html.parser")
    anchors = [b["id"] for b in soup.select("section#options .option")]
    assert anchors == [f"option-{o['id']}" for o in sample.plan["options"]]
    avoided = {a["id"] for a in sample.plan["avoid"]}
    assert not avoided & {a.removeprefix("option-") for a in anchors}
    texts = patient_texts("en", kb())
    avoid_headings = [h.get_text(strip=True) for h in soup.select("section#avoid h3")]
    assert avoid_headings == [texts.options[a["id"]].name for a in sample.plan["avoid"]]
    assert not re.search(r"\{[a-z0-9_]+\}", soup.get_text(" "))
    for section_id in PROSE_SECTIONS:
        prose = section_prose(soup, section_id)
        if prose:
            assert fk_grade(prose) <= GRADE_LIMIT, section_id
