"""``netnav guide``: files written, messages, exit codes, nothing partial on error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from netnav.errors import SettingsError
from netnav.guide.settings import load_settings
from tests import test_cli
from tests.test_cli import SENTINEL, V01, base_case, process, write

run_main = test_cli.run_main  # the same in-process main() fixture as the CLI tests

SETTINGS_OK = (
    '[clinic]\nname = "Lakeside NET Unit"\nphone = "+1 555 0100"\nweb = "https://example.org/net"\n'
)


def test_guide_writes_html_and_pdf_and_says_where(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "guides"
    r = run_main("guide", str(V01), "--out", str(out), "--date", "2026-11-29")
    assert r.code == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["V01-guide.html", "V01-guide.pdf"]
    assert f"wrote patient guide: {out / 'V01-guide.html'}" in r.stdout
    assert (out / "V01-guide.pdf").read_bytes().startswith(b"%PDF-")
    assert "2026-11-29" in (out / "V01-guide.html").read_text(encoding="utf-8")


def test_guide_html_only_and_clinician_audience(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_main(
        "guide", str(V01), "-o", str(tmp_path), "--format", "html", "--audience", "clinician"
    )
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["V01-clinician.html"]
    assert "wrote clinician one-pager" in r.stdout
    assert "Tumour-board summary" in (tmp_path / "V01-clinician.html").read_text(encoding="utf-8")


def test_settings_file_shows_the_clinic(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = write(tmp_path, SETTINGS_OK, "settings.toml")
    r = run_main(
        "guide", str(V01), "-o", str(tmp_path / "g"), "-f", "html", "--settings", str(settings)
    )
    assert r.code == 0, r.stderr
    html = (tmp_path / "g" / "V01-guide.html").read_text(encoding="utf-8")
    assert "Lakeside NET Unit" in html and 'href="tel:+15550100"' in html


def test_settings_from_environment(
    run_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings = write(tmp_path, SETTINGS_OK, "s.toml")
    monkeypatch.setenv("NETNAV_SETTINGS", str(settings))
    r = run_main("guide", str(V01), "-o", str(tmp_path / "g"), "-f", "html")
    assert r.code == 0
    assert "Lakeside NET Unit" in (tmp_path / "g" / "V01-guide.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            '[clinic]\nweb = "javascript:alert(1)"\n',
            ["clinic.web", "https://", "javascript:alert(1)"],
        ),
        ('[clinic]\nphone = "call me"\n', ["clinic.phone", "digits"]),
        ('[clinic]\nfax = "1"\n', ["clinic.fax", "unknown key; allowed: name, phone, web"]),
        ("[clinic\n", ["not valid TOML"]),
    ],
)
def test_bad_settings_exit_2_naming_key_and_value(
    run_main, tmp_path: Path, content: str, words: list[str]
) -> None:  # type: ignore[no-untyped-def]
    settings = write(tmp_path, content, "bad.toml")
    out = tmp_path / "g"
    r = run_main("guide", str(V01), "-o", str(out), "--settings", str(settings))
    assert r.code == 2
    for w in words:
        assert w in r.stderr
    assert not out.exists()
    with pytest.raises(SettingsError):
        load_settings(settings)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--language", "fr"], ["language 'fr' is not available", "allowed: en"]),
        (["--date", "29/11/2026"], ["--date", "29/11/2026", "YYYY-MM-DD"]),
        (["--format", "docx"], ["docx"]),
        (["--audience", "family"], ["family"]),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    run_main, tmp_path: Path, args: list[str], words: list[str]
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "g"
    r = run_main("guide", str(V01), "-o", str(out), *args)
    assert r.code == 2
    for w in words:
        assert w in r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_bad_case_writes_nothing_and_does_not_echo_free_text(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = base_case(ki67_percent=-3)
    doc["id"] = SENTINEL
    case = write(tmp_path, doc)
    out = tmp_path / "g"
    r = run_main("guide", str(case), "-o", str(out))
    assert r.code == 2
    assert "tumor.ki67_percent" in r.stderr
    assert SENTINEL not in r.stderr + r.stdout
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_output_is_a_clear_error(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_main("guide", str(V01), "-o", str(blocker / "sub"), "-f", "html")
    assert r.code == 2
    assert "cannot create output folder" in r.stderr


def test_existing_guide_is_replaced_whole(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "V01-guide.html").write_text("old")
    r = run_main("guide", str(V01), "-o", str(tmp_path), "-f", "html")
    assert r.code == 0
    assert (tmp_path / "V01-guide.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_case_language_not_available_falls_back_to_english_with_a_note(
    run_main, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    doc = base_case(ki67_percent=2)
    doc["preferences"] = {"language": "es"}
    r = run_main("guide", str(write(tmp_path, doc)), "-o", str(tmp_path / "g"), "-f", "html")
    assert r.code == 0
    assert "prefers language 'es'" in r.stderr and "English" in r.stderr
    assert '<html lang="en">' in (tmp_path / "g" / "CLI-1-guide.html").read_text(encoding="utf-8")


def test_guide_from_stdin(run_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = base_case(ki67_percent=2)
    r = run_main("guide", "-", "-o", str(tmp_path), "-f", "html", input=json.dumps(doc))
    assert r.code == 0, r.stderr
    assert (tmp_path / "CLI-1-guide.html").exists()


def test_real_process_writes_both(tmp_path: Path) -> None:
    r = process("guide", str(V01), "-o", str(tmp_path), "--date", "2026-11-29")
    assert r.code == 0, r.stderr
    assert os.path.getsize(tmp_path / "V01-guide.pdf") > 10_000
    assert "unknown property" not in r.stderr
