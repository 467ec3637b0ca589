"""The ``netnav`` command line (Typer).

Exit codes: 0 success; 1 ``knowledge check`` found a problem; 2 bad input (the message names
the field path, the value and what is allowed; nothing is written). Local variables never
appear in an error (they could hold patient data).
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

# netnav uses no pydantic plugins; skipping their discovery (an entry-point scan of every
# installed package) saves about a tenth of the command's start-up time.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer

from netnav import __version__
from netnav.cohort.cli import cohort_app
from netnav.errors import NetnavError
from netnav.fhir.cli import import_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="netnav",
    help="NET Navigator: explained, evidence-cited management plans for neuroendocrine "
    "neoplasms. Decision support for clinicians; not a prescription.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
knowledge_app = typer.Typer(help="Inspect and check the knowledge base.", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(cohort_app, name="cohort")
app.add_typer(import_app, name="import")


def _print_version(value: bool) -> None:
    if value:
        from netnav.knowledge.load import default_knowledge

        kb = default_knowledge()
        typer.echo(
            f"netnav {__version__}; knowledge {kb.version} "
            f"(reviewed {kb.manifest.last_reviewed}; brief revision {kb.manifest.brief_revision})"
        )
        raise typer.Exit()


@app.callback()
def _main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the netnav and knowledge-base versions and exit.",
        ),
    ] = False,
) -> None:
    """NET Navigator: explained, evidence-cited management plans for neuroendocrine
    neoplasms. Decision support for clinicians; not a prescription."""


class PlanFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"


class SchemaName(StrEnum):
    case = "case"
    plan = "plan"


CaseArg = Annotated[
    str,
    typer.Argument(
        help="Case file in the netnav-case/1 format (JSON), or - for standard input. "
        "A document wrapping the case under a 'case' key (examples, vignettes) is accepted.",
        metavar="CASE.json",
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"netnav: {message}", err=True)
    return typer.Exit(code)


def _load_case(path: str) -> Any:
    from netnav.case import load_case_file

    return load_case_file(path)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    # Write to a temporary file first so that a failure never leaves a partial plan.
    tmp = out.with_name(out.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        raise _fail(f"cannot write --out {str(out)!r}: {reason}") from None


@app.command()
def recommend(
    case: CaseArg,
    fmt: Annotated[
        PlanFormat,
        typer.Option("--format", "-f", help="text (clinician summary), markdown or json"),
    ] = PlanFormat.text,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout")
    ] = None,
) -> None:
    """Plan one case: ranked options with reasons and evidence, what to avoid, what is missing."""
    from netnav.api import recommend as make
    from netnav.plan import plan_json
    from netnav.render.text import render_markdown, render_text

    plan = make(_load_case(case))
    if fmt is PlanFormat.json:
        _write(plan_json(plan), out)
    elif fmt is PlanFormat.markdown:
        _write(render_markdown(plan), out)
    else:
        _write(render_text(plan), out)


@app.command()
def explain(
    case: CaseArg,
    option: Annotated[str, typer.Argument(help="Option id of the vocabulary, e.g. everolimus")],
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f")] = ExplainFormat.text,
) -> None:
    """Why an option is or is not in the plan: the verdict tree of rules and checks."""
    from netnav.api import explain as why
    from netnav.render.text import render_explanation

    result = why(_load_case(case), option)
    if fmt is ExplainFormat.json:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_explanation(result))


@app.command()
def validate(case: CaseArg) -> None:
    """Check a case file against the case format; report every problem at once."""
    loaded = _load_case(case)
    typer.echo(f"valid netnav-case/1 document (case {loaded.id or 'without id'})")


@app.command()
def schema(name: Annotated[SchemaName, typer.Argument(help="case or plan")]) -> None:
    """Print the JSON Schema of the case format or of the plan format."""
    from importlib import resources

    base = resources.files("netnav")
    source = (
        base / "case" / "case.schema.json" if name is SchemaName.case else base / "plan.schema.json"
    )
    text = source.read_text("utf-8")
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


class GuideFormat(StrEnum):
    html = "html"
    pdf = "pdf"
    both = "both"


class GuideAudience(StrEnum):
    patient = "patient"
    clinician = "clinician"


def _guide_date(value: str | None) -> str:
    """The date printed on a guide: ``--date`` as given (checked), else today."""
    import datetime as dt

    if value is None:
        return dt.date.today().isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise _fail(f"--date: {value!r} is not a date; expected YYYY-MM-DD") from None


@app.command()
def guide(
    case: CaseArg,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder to write the guide into (created if needed)"),
    ],
    fmt: Annotated[
        GuideFormat, typer.Option("--format", "-f", help="html, pdf or both")
    ] = GuideFormat.both,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Language of the patient guide (en). Default: the case's preferred "
            "language when available, else en.",
        ),
    ] = None,
    audience: Annotated[
        GuideAudience,
        typer.Option(
            "--audience",
            help="patient (plain-language guide) or clinician (one-page tumour-board summary)",
        ),
    ] = GuideAudience.patient,
    settings_file: Annotated[
        Path | None,
        typer.Option(
            "--settings",
            help="Clinic settings (TOML, a [clinic] table with name, phone, web, email, "
            "address, prepared_by). Default: $NETNAV_SETTINGS or "
            "~/.config/netnav/settings.toml.",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Date printed on the guide, YYYY-MM-DD (default: today)"),
    ] = None,
) -> None:
    """Write the patient's plain-language guide (or the clinician one-pager) as HTML and PDF."""
    from netnav.guide.settings import default_settings_path, load_settings
    from netnav.guide.texts import available_languages
    from netnav.guide.write import write_guide

    prepared_on = _guide_date(date)
    settings = load_settings(settings_file or default_settings_path())
    loaded = _load_case(case)
    if loaded.as_of is not None and prepared_on < loaded.as_of:
        raise _fail(
            f"--date {prepared_on} is before the case's as_of {loaded.as_of}; "
            "a guide cannot be prepared before the information it is written from"
        )
    if language is None:
        wanted = loaded.preferences.language if loaded.preferences else None
        language = "en"
        if wanted is not None and wanted in available_languages():
            language = wanted
        elif wanted is not None:
            typer.echo(
                f"netnav: the case prefers language {wanted!r}, which is not available yet; "
                "writing the guide in English",
                err=True,
            )
    written = write_guide(
        loaded,
        out,
        audience=audience.value,
        output=fmt.value,
        language=language,
        settings=settings,
        prepared_on=prepared_on,
    )
    what = "patient guide" if audience is GuideAudience.patient else "clinician one-pager"
    for path in written:
        typer.echo(f"wrote {what}: {path}")


@knowledge_app.command("check")
def knowledge_check() -> None:
    """Load and cross-check the knowledge base; report counts or the first problem."""
    from netnav.guide.texts import available_languages, load_texts
    from netnav.knowledge.load import load_knowledge

    kb = load_knowledge()
    typer.echo(
        f"knowledge {kb.version}: ok — {len(kb.therapies)} therapies, {len(kb.evidence)} "
        f"evidence entries, {len(kb.rules)} rules, {len(kb.checks)} checks, "
        f"{len(kb.definitions)} definitions, {len(kb.surveillance)} schedules"
    )
    for language in available_languages():
        texts = load_texts(language, kb)
        typer.echo(
            f"patient texts {language}: ok — {len(texts.options)} options, "
            f"{len(texts.rules)} rules, {len(texts.avoid)} avoid reasons, "
            f"{len(texts.guide.glossary)} glossary terms"
        )


@knowledge_app.command("coverage")
def knowledge_coverage() -> None:
    """Every rule id of the clinical brief and the knowledge-base entries implementing it.

    Exits 1 when a rule of the brief has no implementing entry."""
    from netnav.knowledge.coverage import coverage
    from netnav.knowledge.load import default_knowledge

    rows = coverage(default_knowledge())
    missing = [r.rule.id for r in rows if not r.covered]
    for r in rows:
        mark = "ok " if r.covered else "MISSING"
        entries = ", ".join(r.entries) if r.entries else "-"
        typer.echo(f"{mark:7} {r.rule.id:8} {r.rule.title[:60]:60}  {entries}")
    typer.echo(
        f"\n{len(rows) - len(missing)} of {len(rows)} rules of the brief implemented"
        + (f"; missing: {', '.join(missing)}" if missing else "")
    )
    if missing:
        raise typer.Exit(1)


@knowledge_app.command("list")
def knowledge_list(
    kind: Annotated[
        str, typer.Argument(help="rules, checks, therapies, evidence, definitions or criteria")
    ] = "rules",
) -> None:
    """List the entries of one kind with their ids."""
    from netnav.engine.criteria import REGISTRY
    from netnav.knowledge.load import default_knowledge

    kb = default_knowledge()
    rows: list[str]
    if kind == "rules":
        rows = [f"{r.spec.id:28} {r.spec.brief_rule:18} {r.spec.title}" for r in kb.rules]
    elif kind == "checks":
        rows = [f"{c.spec.id:36} {c.spec.effect:8} {', '.join(c.spec.options)}" for c in kb.checks]
    elif kind == "therapies":
        rows = [f"{t.id:30} {t.name}" for t in kb.therapies.values()]
    elif kind == "evidence":
        rows = [f"{e.id:30} {e.status.value:10} {e.title}" for e in kb.evidence.values()]
    elif kind == "definitions":
        rows = [f"{n:28} {d.description}" for n, (d, _) in kb.definitions.items()]
    elif kind == "criteria":
        rows = [f"{n:30} {c.doc}" for n, c in sorted(REGISTRY.items())]
    else:
        raise _fail(
            f"unknown kind {kind!r}; allowed: rules, checks, therapies, evidence, "
            "definitions, criteria"
        )
    typer.echo("\n".join(rows))


@knowledge_app.command("show")
def knowledge_show(
    ident: Annotated[
        str, typer.Argument(help="Id of a rule, check, therapy, evidence or definition")
    ],
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f")] = ExplainFormat.text,
) -> None:
    """Show one entry of the knowledge base as YAML-like JSON."""
    from netnav.knowledge.load import default_knowledge

    kb = default_knowledge()
    found: dict[str, Any] | None = None
    ids = [r.spec.id for r in kb.rules] + [c.spec.id for c in kb.checks]
    ids += list(kb.therapies) + list(kb.evidence) + list(kb.definitions)
    exact = {i.lower(): i for i in ids}
    ident = exact.get(ident.lower(), ident)  # ids are matched without regard to case
    for r in kb.rules:
        if r.spec.id == ident:
            found = {"rule": r.spec.model_dump(mode="json", exclude_defaults=True), "file": r.file}
    for c in kb.checks:
        if c.spec.id == ident:
            found = {"check": c.spec.model_dump(mode="json", exclude_defaults=True)}
    if ident in kb.therapies:
        found = {"therapy": kb.therapies[ident].model_dump(mode="json")}
    if ident in kb.evidence:
        found = {"evidence": kb.evidence[ident].model_dump(mode="json")}
    if ident in kb.definitions:
        found = {"definition": kb.definitions[ident][0].model_dump(mode="json")}
    if found is None:
        raise _fail(f"no knowledge entry with id {ident!r}; see `netnav knowledge list`")
    if fmt is ExplainFormat.json:
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return
    from netnav.render.knowledge import render_entry

    sys.stdout.write(render_entry(found, kb))


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(help="Address to listen on. Anything but loopback needs NETNAV_API_TOKENS."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the plan store (default: NETNAV_DATABASE_URL, else "
            "sqlite:///~/.local/share/netnav/netnav.db)",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Worker processes")] = 1,
) -> None:
    """Run the web application and the /v1 JSON API (FastAPI on uvicorn).

    Pages: / (start), /plans/new (case form), /plans (saved plans); API documentation at
    /docs. Every plan is saved with its case, knowledge version and time.
    """
    import logging

    import uvicorn

    from netnav.web.config import ServerConfig

    env = dict(os.environ)
    if database_url:
        env["NETNAV_DATABASE_URL"] = database_url
    config = ServerConfig.from_env(host, env)  # refuses an open API off loopback
    if workers > 1 and not env.get("NETNAV_SECRET_KEY"):
        raise _fail("--workers above 1 needs NETNAV_SECRET_KEY (shared by the workers' forms)")
    from netnav.web.store import PlanStore

    PlanStore(config.database_url).close()  # migrate once, and fail here if unreachable
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from sqlalchemy.engine import make_url

    shown = make_url(config.database_url).render_as_string(hide_password=True)
    typer.echo(f"netnav: plans are saved in {shown}", err=True)
    if config.require_api_token:
        typer.echo(
            "netnav: the JSON API needs a bearer token; the pages have no log-in of their own: "
            "serve them only behind your organisation's sign-on (reverse proxy)",
            err=True,
        )
    if not config.cds.auth_required:
        typer.echo(
            "netnav: CDS Hooks client JWTs are NOT checked (NETNAV_CDS_AUTH=off): development only",
            err=True,
        )
    elif not config.cds.issuers:
        typer.echo(
            "netnav: no CDS Hooks client is trusted yet (NETNAV_CDS_ISSUERS): /cds-services "
            "calls get 401 until one is configured (docs/cds-hooks.md)",
            err=True,
        )
    typer.echo(f"netnav: open http://{host if ':' not in host else f'[{host}]'}:{port}/", err=True)
    os.environ["NETNAV_DATABASE_URL"] = config.database_url
    os.environ["NETNAV_SECRET_KEY"] = config.secret_key
    os.environ["NETNAV_SERVE_HOST"] = host
    uvicorn.run(
        "netnav.web.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # netnav logs routes and plan ids itself; never query strings
        log_level="info",
        proxy_headers=False,
        server_header=False,
        # Longer than clients keep idle connections (httpx and browsers: 5-60 s), so the
        # server does not close a connection a client is about to reuse (a lost request).
        timeout_keep_alive=75,
    )


@app.command()
def version() -> None:
    """Print the netnav and knowledge-base versions."""
    _print_version(True)


def main() -> None:
    """Entry point: run the CLI, turning netnav's errors into exit code 2 on stderr."""
    try:
        app()
    except NetnavError as exc:
        typer.echo(f"netnav: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        raise SystemExit(0) from None
    except Exception as exc:
        typer.echo(
            f"netnav: internal error ({type(exc).__name__}); please report it with the "
            "command you ran (the case data are not shown here)",
            err=True,
        )
        raise SystemExit(70) from None


if __name__ == "__main__":  # pragma: no cover
    main()
