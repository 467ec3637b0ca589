"""The external services the web tests rely on actually work here: a PostgreSQL database
(tests/services.py starts a private cluster) and Debian's chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine, text

from tests.services import (
    POSTGRES_MISSING,
    REQUIRE_ENV,
    chromium_launch_args,
    find_postgres_bindir,
    unavailable,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>netnav service check</title>"
    b"</head><body style='background:#fff'><h1 style='color:#000;font-size:48px'>"
    b"Neuroendocrine \xc2\xb5g \xc3\x97 2</h1></body></html>"
)


def test_postgres_round_trip(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            version = conn.execute(text("select version()")).scalar_one()
            assert version.startswith("PostgreSQL ")
            # A temporary table: other tests share this database.
            conn.execute(text("create temporary table probe (id serial primary key, name text)"))
            conn.execute(
                text("insert into probe (name) values (:a), (:b)"), {"a": "ileum", "b": "µg"}
            )
            rows = conn.execute(text("select id, name from probe order by id")).all()
        assert [tuple(r) for r in rows] == [(1, "ileum"), (2, "µg")]
    finally:
        engine.dispose()


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def local_page() -> Iterator[str]:
    """A tiny page served on 127.0.0.1 (like the web app will be) for the browser."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chromium_renders_page(chromium_path: str, local_page: str, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, args=chromium_launch_args(), headless=True
        )
        try:
            page = browser.new_page()
            page.goto(local_page)
            assert page.title() == "netnav service check"
            assert page.inner_text("h1") == "Neuroendocrine µg × 2"
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == PNG_SIGNATURE
    # The heading was drawn (a usable font): black pixels on the white page.
    with Image.open(shot) as image:
        # One band ("L"): (min, max).
        darkest, lightest = cast(tuple[int, int], image.convert("L").getextrema())
    assert darkest < 64 and lightest > 192


def test_chromium_data_url(chromium_path: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, args=chromium_launch_args(), headless=True
        )
        try:
            page = browser.new_page()
            page.goto("data:text/html,<title>netnav data url</title><p>ok</p>")
            assert page.title() == "netnav data url"
        finally:
            browser.close()


def test_newest_postgres_bindir_is_chosen(tmp_path: Path) -> None:
    assert find_postgres_bindir(tmp_path) is None
    for version in ("9", "15", "16", "notaversion"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (bindir / tool).write_text("#!/bin/sh\n")
            (bindir / tool).chmod(0o755)
    assert find_postgres_bindir(tmp_path) == tmp_path / "16" / "bin"


def test_missing_service_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="install-test-deps"):
        unavailable(POSTGRES_MISSING)
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="install-test-deps"):
        unavailable(POSTGRES_MISSING)
