"""Fixes from trying to break the web app: odd text in case ids, multipart posts, paths that
are not netnav's, crashes, double re-plans, HEAD probes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netnav.web.service
from netnav.web.security import loggable_path
from tests.web_support import (
    PROBLEM_JSON,
    WebApp,
    example_case,
    make_web,
    other_knowledge,
    post_json,
    saved_plan_id,
    sqlite_url,
    web_fixture,  # noqa: F401
)


@pytest.mark.parametrize("case_id", ["Łukasz-01", "Ωμέγα", "患者12", "Ş-İ"])
def test_pdf_downloads_are_named_by_plan_id_whatever_the_case_id(web: WebApp, case_id: str) -> None:
    plan_id = saved_plan_id(web.client, example_case(case_id))
    for url, stem in ((f"/plans/{plan_id}/guide.pdf", "guide"),
                      (f"/plans/{plan_id}/clinician.pdf", "tumour-board")):  # fmt: skip
        pdf = web.client.get(url)
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-disposition"] == f'attachment; filename="{stem}-{plan_id}.pdf"'


@pytest.mark.parametrize("raw", ['"EX\\ud800"', '"EX\\u0000"'])
def test_nul_or_lone_surrogate_in_the_case_is_422_never_500(web: WebApp, raw: str) -> None:
    text = json.dumps(example_case("PLACEHOLDER")).replace('"PLACEHOLDER"', raw)
    response = web.client.post(
        "/v1/plans", content=text.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    [error] = response.json()["errors"]
    assert error["path"] == "id"
    assert "NUL character or an unpaired surrogate" in error["message"]
    assert web.store.search()[1] == 0


def test_cli_refuses_a_lone_surrogate_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(example_case("PLACEHOLDER")).replace('"PLACEHOLDER"', '"x\\udc00"'))
    run = subprocess.run(
        [sys.executable, "-m", "netnav", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "id: the text holds a NUL character or an unpaired surrogate" in run.stderr


def test_nul_in_queries_and_ids_is_answered_not_crashed(web: WebApp) -> None:
    assert web.client.get("/v1/plans", params={"case_id": "a\x00"}).status_code == 200
    assert web.client.get("/v1/plans/a%00b").status_code == 404
    assert web.client.get("/plans", params={"q": "a\x00"}).status_code == 200
    assert web.client.get("/plans/a%00b").status_code == 404


def test_multipart_posts_to_forms_are_415(web: WebApp) -> None:
    response = web.client.post("/plans", files={"csrftoken": (None, "x")})
    assert response.status_code == 415
    assert "URL-encoded" in response.text
    assert web.store.search()[1] == 0


def test_logged_paths_keep_only_netnav_words_and_plan_ids() -> None:
    plan_id = "0" * 32
    assert loggable_path(f"/plans/{plan_id}/guide.pdf") == f"/plans/{plan_id}/guide.pdf"
    assert loggable_path("/v1/plans/EX27-Jane-Doe") == "/v1/plans/…"
    assert loggable_path("/knowledge/rules/SI-05") == "/knowledge/rules/…"
    assert len(loggable_path("/x" * 10_000)) < 40


def test_a_case_id_in_a_url_never_reaches_the_log(
    web: WebApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web.client.get("/v1/plans/EX27-Jane-Doe-1970")
    web.client.get("/plans/EX27-Jane-Doe-1970/guide")
    # The test client's own log (httpx2) names the URL it called; the server's must not.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("netnav"))
    assert "Jane" not in text
    assert "GET /v1/plans/… 404" in text


def test_a_500_carries_the_security_headers(web: WebApp, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object, **_kwargs: object) -> dict[str, Any]:
        raise ValueError("boom")

    monkeypatch.setattr(netnav.web.service, "recommend", crash)
    response = post_json(web.client, "/v1/plans", example_case("CRASH"))
    assert response.status_code == 500
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_replanning_twice_under_the_same_new_knowledge_gives_one_new_plan(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    with make_web(url) as old:
        plan_id = saved_plan_id(old.client, example_case("TWICE"))
    with make_web(url, knowledge=other_knowledge()) as new:
        first = new.client.post(f"/v1/plans/{plan_id}/rerun")
        second = new.client.post(f"/v1/plans/{plan_id}/rerun")
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]
        assert new.store.search()[1] == 2


def test_head_on_healthz_for_load_balancers(web: WebApp) -> None:
    response = web.client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""


def test_explain_refuses_repeated_keys_in_the_case_like_post_plans(web: WebApp) -> None:
    body = json.dumps({"case": example_case("DUP"), "option": "everolimus"})
    body = body.replace('"age_years": 46', '"age_years": 200, "age_years": 46')
    response = web.client.post(
        "/v1/explain", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["path"] == "case.patient.age_years"
    assert "given 2 times" in error["message"]
