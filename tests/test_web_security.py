"""Security of the web app: bearer tokens off loopback, refusing to serve an open API,
security headers, CSRF on the HTML forms (not on /v1), escaping of case data in pages, and
logs that never hold case data."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
from bs4 import BeautifulSoup

import netnav.web.service
from netnav.web.config import ServerConfig, ServerConfigError
from netnav.web.problems import PROBLEM_TYPES
from tests.web_support import (
    JSON,
    PROBLEM_JSON,
    WebApp,
    example_bytes,
    example_case,
    make_web,
    other_knowledge,
    post_json,
    saved_plan_id,
    sqlite_url,
    web_fixture,  # noqa: F401
)

TOKEN = "tok-" + "a" * 28
OTHER_TOKEN = "tok-" + "b" * 28
ROOT = Path(__file__).resolve().parents[1]


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["title"] == PROBLEM_TYPES[slug].title
    assert body["status"] == status
    assert body["detail"]
    return body


def saved_id(web: WebApp, doc: Any | None = None) -> str:
    return saved_plan_id(web.client, doc or example_case())


# --- bearer tokens ----------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Any:
    url = sqlite_url(tmp_path)
    config = ServerConfig(url, api_tokens=(TOKEN, OTHER_TOKEN), require_api_token=True)
    with make_web(url, config=config) as web:
        yield web


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token-123456789",
        f"Bearer {TOKEN}x",
    ],
    ids=["none", "basic", "token-scheme", "bearer-empty", "bearer-space", "wrong", "longer"],
)
def test_api_without_a_valid_bearer_token_is_401(
    guarded: WebApp, authorization: str | None
) -> None:
    headers = {**JSON, **({"Authorization": authorization} if authorization else {})}

    for response in (
        guarded.client.post("/v1/plans", content=example_bytes(), headers=headers),
        guarded.client.get("/v1/plans", headers=headers),
        guarded.client.get(f"/v1/plans/{'0' * 32}", headers=headers),
    ):
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == 'Bearer realm="netnav"'
        assert body["detail"] == (
            "send Authorization: Bearer <token> with one of the server's API tokens"
        )
    assert guarded.store.search()[1] == 0


@pytest.mark.parametrize("token", [TOKEN, OTHER_TOKEN])
def test_api_with_a_right_token_works(guarded: WebApp, token: str) -> None:
    for scheme in ("Bearer", "bearer"):
        headers = {**JSON, "Authorization": f"{scheme} {token}"}
        response = guarded.client.post("/v1/plans", content=example_bytes(), headers=headers)
        assert response.status_code == 201, response.text
        listed = guarded.client.get("/v1/plans", headers=headers)
        assert listed.status_code == 200


def test_tokens_are_not_required_on_loopback(web: WebApp) -> None:
    assert web.client.get("/v1/plans").status_code == 200


# --- refusing an open API ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.org"])
def test_from_env_refuses_off_loopback_without_tokens(host: str) -> None:
    with pytest.raises(ServerConfigError) as caught:
        ServerConfig.from_env(host, {})
    message = str(caught.value)
    assert f"refusing to serve on {host}" in message
    assert "NETNAV_API_TOKENS" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_from_env_accepts_loopback_without_tokens(host: str) -> None:
    config = ServerConfig.from_env(host, {"NETNAV_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert config.require_api_token is False
    assert config.api_tokens == ()
    assert config.database_url == "sqlite:////tmp/x.db"


def test_from_env_off_loopback_with_tokens_requires_them() -> None:
    config = ServerConfig.from_env("0.0.0.0", {"NETNAV_API_TOKENS": f" {TOKEN} ,{OTHER_TOKEN},"})
    assert config.require_api_token is True
    assert config.api_tokens == (TOKEN, OTHER_TOKEN)
    assert config.secret_key not in repr(config)


def test_from_env_refuses_short_tokens() -> None:
    with pytest.raises(
        ServerConfigError, match="NETNAV_API_TOKENS: every token must be at least 16"
    ):
        ServerConfig.from_env("0.0.0.0", {"NETNAV_API_TOKENS": "short"})


def test_serve_off_loopback_without_tokens_exits_2_before_starting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETNAV_API", "NETNAV_DATA"))}
    env["NETNAV_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run(
        [sys.executable, "-m", "netnav", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "refusing to serve on 0.0.0.0" in proc.stderr
    assert "NETNAV_API_TOKENS" in proc.stderr
    assert "Uvicorn running" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    # Refused before the plan store was even opened.
    assert not (tmp_path / "data").exists()


# --- security headers -------------------------------------------------------------------


def test_security_headers_on_pages_and_api(web: WebApp) -> None:
    plan_id = saved_id(web)
    answers = {
        "home": web.client.get("/"),
        "list page": web.client.get("/plans"),
        "plan page": web.client.get(f"/plans/{plan_id}"),
        "missing page": web.client.get("/plans/" + "0" * 32),
        "api list": web.client.get("/v1/plans"),
        "api plan": web.client.get(f"/v1/plans/{plan_id}"),
        "api problem": web.client.get("/v1/plans/nothing"),
        "health": web.client.get("/healthz"),
    }
    for name, response in answers.items():
        csp = [d.strip() for d in response.headers["content-security-policy"].split(";")]
        assert "script-src 'none'" in csp, name
        assert "frame-ancestors 'none'" in csp, name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["x-frame-options"] == "DENY", name
        assert response.headers["referrer-policy"] == "no-referrer", name
        assert response.headers["cache-control"] == "no-store", name


def test_security_headers_on_413_and_401(web: WebApp, guarded: WebApp) -> None:
    big = web.client.post("/v1/plans", content=b"x" * 1_100_000, headers=JSON)
    assert big.status_code == 413
    unauthorized = guarded.client.get("/v1/plans")
    assert unauthorized.status_code == 401
    for response in (big, unauthorized):
        assert "script-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


# --- CSRF -------------------------------------------------------------------------------


def _form_fields(html: str) -> tuple[str, list[tuple[str, str]]]:
    """The csrftoken and the name/value pairs a browser would send for the case form."""
    soup = BeautifulSoup(html, "html.parser")
    # The first URL-encoded form holding a token (the case form, or a plan page's re-plan
    # form), not the multipart Bundle upload.
    form = next(
        f
        for f in soup.find_all("form", attrs={"method": "post"})
        if f.get("enctype") != "multipart/form-data"
        and f.find("input", attrs={"name": "csrftoken"})
    )
    token_input = form.find("input", attrs={"name": "csrftoken"})
    assert token_input is not None
    token = str(token_input["value"])
    assert token
    fields: list[tuple[str, str]] = []
    for el in form.find_all(["input", "select", "textarea"]):
        name = el.get("name")
        if not name or el.get("disabled") is not None:
            continue
        if el.name == "select":
            chosen = el.find("option", selected=True) or el.find("option")
            fields.append((str(name), str(chosen.get("value", chosen.text)) if chosen else ""))
        elif el.name == "textarea":
            fields.append((str(name), el.text))
        elif el.get("type") in ("checkbox", "radio"):
            if el.get("checked") is not None:
                fields.append((str(name), str(el.get("value", "on"))))
        elif el.get("type") not in ("submit", "button", "reset", "file"):
            fields.append((str(name), str(el.get("value", ""))))
    return token, fields


@pytest.fixture
def form_page(web: WebApp) -> tuple[str, list[tuple[str, str]]]:
    """GET the case form loaded with a bundled example: its token, fields and the cookie."""
    response = web.client.get(
        "/plans/new", params={"example": "small-intestine-multifocal-g1-liver-metastases"}
    )
    assert response.status_code == 200, response.text
    assert web.client.cookies.get("csrftoken")
    return _form_fields(response.text)


def test_form_post_without_token_is_403_and_saves_nothing(web: WebApp) -> None:
    response = web.client.post(
        "/plans",
        data={"id": "CSRF-1"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 403
    assert "The form has expired" in response.text
    assert web.store.search()[1] == 0


def test_form_post_with_cookie_but_wrong_token_is_403(
    web: WebApp, form_page: tuple[str, list[tuple[str, str]]]
) -> None:
    token, fields = form_page
    forged = [(k, v) for k, v in fields if k != "csrftoken"] + [("csrftoken", token[::-1])]

    response = web.client.post("/plans", data=dict(forged))

    assert response.status_code == 403
    assert web.store.search()[1] == 0


def test_form_post_with_cookie_and_matching_token_is_planned(
    web: WebApp, form_page: tuple[str, list[tuple[str, str]]]
) -> None:
    _, fields = form_page

    response = web.client.post(
        "/plans", content=_urlencode(fields), headers=_FORM, follow_redirects=False
    )

    assert response.status_code != 403
    assert response.status_code == 303, response.text
    plans, total = web.store.search()
    assert total == 1
    assert response.headers["location"] == f"/plans/{plans[0].id}"


def test_form_post_token_without_cookie_is_403(
    web: WebApp, form_page: tuple[str, list[tuple[str, str]]]
) -> None:
    _, fields = form_page
    web.client.cookies.clear()

    response = web.client.post("/plans", content=_urlencode(fields), headers=_FORM)

    assert response.status_code == 403


def test_rerun_form_without_token_is_403(web: WebApp) -> None:
    plan_id = saved_id(web)

    response = web.client.post("/plans/rerun", data={"plan_id": plan_id}, follow_redirects=False)

    assert response.status_code == 403
    assert web.store.search()[1] == 1


def test_rerun_form_with_the_plan_pages_token_reruns(web: WebApp) -> None:
    plan_id = saved_id(web)
    with make_web("unused://", knowledge=other_knowledge(), store=web.store) as later:
        page = later.client.get(f"/plans/{plan_id}")
        token, fields = _form_fields(page.text)
        assert dict(fields) == {"csrftoken": token, "plan_id": plan_id}

        response = later.client.post(
            "/plans/rerun", content=_urlencode(fields), headers=_FORM, follow_redirects=False
        )

        assert response.status_code == 303
        [new] = later.store.reruns_of(plan_id)
        assert response.headers["location"] == f"/plans/{new.id}"


def test_api_posts_are_not_csrf_checked(web: WebApp) -> None:
    # A browser-like client holding the CSRF cookie, sending no token: the API answers.
    web.client.get("/plans/new")
    assert web.client.cookies.get("csrftoken")
    plan_id = saved_id(web)

    assert web.client.post(f"/v1/plans/{plan_id}/rerun").status_code == 200
    explained = post_json(
        web.client, "/v1/explain", {"case": example_case(), "option": "everolimus"}
    )
    assert explained.status_code == 200


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _urlencode(fields: list[tuple[str, str]]) -> bytes:
    """A form body as a browser sends it (repeated names kept, in order)."""
    return urlencode(fields).encode()


# --- escaping ---------------------------------------------------------------------------

SCRIPT_ID = "<script>alert(1)</script>"


def test_case_id_with_markup_is_escaped_in_pages(web: WebApp) -> None:
    plan_id = saved_id(web, example_case(SCRIPT_ID))

    for url in ("/plans", f"/plans?q={SCRIPT_ID}", f"/plans/{plan_id}"):
        response = web.client.get(url)
        assert response.status_code == 200, url
        soup = BeautifulSoup(response.text, "html.parser")
        assert soup.find_all("script") == [], url
        assert SCRIPT_ID not in response.text, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text, url
        assert SCRIPT_ID in soup.get_text(), url


# --- logs -------------------------------------------------------------------------------


# The test client's own logger (it logs the URLs the test requests): not the server's log.
CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore")


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record the server side logged (any logger), with any exception text."""
    return "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.name.split(".")[0] not in CLIENT_LOGGERS
    )


def test_logs_hold_the_plan_id_but_no_case_data(
    web: WebApp, caplog: pytest.LogCaptureFixture
) -> None:
    doc = example_case("CASE-ID-7f3a9c")
    doc["treatments"][0]["details"] = "FREE-TEXT-Whipple-d81c2e"
    caplog.set_level(logging.DEBUG)

    plan_id = saved_id(web, doc)
    web.client.get(f"/v1/plans/{plan_id}")
    web.client.get("/v1/plans", params={"case_id": "CASE-ID-7f3a9c"})
    web.client.get(f"/plans/{plan_id}")
    web.client.get("/plans", params={"q": "CASE-ID-7f3a9c"})

    text = _log_text(caplog)
    assert [r for r in caplog.records if r.name == "netnav.web"], "no access log"
    assert plan_id in text
    assert "CASE-ID-7f3a9c" not in text
    assert "FREE-TEXT-Whipple-d81c2e" not in text
    assert "7f3a9c" not in text


def test_a_crash_in_planning_is_a_500_problem_that_logs_no_case_text(
    web: WebApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object, **_kwargs: object) -> dict[str, Any]:
        raise ValueError("SECRET-CASE-TEXT")

    monkeypatch.setattr(netnav.web.service, "recommend", crash)
    caplog.set_level(logging.DEBUG)

    response = post_json(web.client, "/v1/plans", example_case("CRASH-CASE"))

    body = assert_problem(response, 500, "internal-error")
    assert body["detail"] == "netnav failed; nothing was saved"
    assert "SECRET-CASE-TEXT" not in response.text
    assert web.store.search()[1] == 0
    text = _log_text(caplog)
    assert "ValueError" in text
    assert "SECRET-CASE-TEXT" not in text
    assert "CRASH-CASE" not in text
    assert all(r.exc_info is None for r in caplog.records)


def test_a_crash_on_a_page_is_a_500_page(
    web: WebApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object, **_kwargs: object) -> dict[str, Any]:
        raise ValueError("SECRET-CASE-TEXT")

    plan_id = saved_id(web)
    monkeypatch.setattr(netnav.web.service, "recommend", crash)
    caplog.set_level(logging.DEBUG)
    with make_web("unused://", knowledge=other_knowledge(), store=web.store) as later:
        page = later.client.get(f"/plans/{plan_id}")
        _, fields = _form_fields(page.text)
        response = later.client.post("/plans/rerun", content=_urlencode(fields), headers=_FORM)

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "nothing was saved" in response.text
    assert "SECRET-CASE-TEXT" not in response.text + _log_text(caplog)
    assert web.store.search()[1] == 1
