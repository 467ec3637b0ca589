"""The HTML pages: the case form, the plan with its reasons, "why / why not", the patient
guide, and the list of saved plans.

Server-rendered Jinja2 (autoescaped), no script: every interaction is a link or a form.
Saved plans are shown exactly as saved; the verdict tree and the guide are made under the
knowledge in force, so for a plan of an older knowledge version the page says so and offers
a re-run instead of mixing versions.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, Any, Final

import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from netnav import __version__
from netnav.api import NOT_APPLICABLE, explain
from netnav.case.load import case_from_mapping
from netnav.errors import CaseError
from netnav.fhir import FhirImport, Unmapped
from netnav.guide.settings import Settings, default_settings_path, load_settings
from netnav.vocabulary import OPTION_IDS
from netnav.web.diff import plan_changes
from netnav.web.fhir_cases import FhirInputError, case_from_fhir, read_fhir_json
from netnav.web.form import case_from_form, field_errors, form_layout, form_values
from netnav.web.problems import PROBLEM_TYPES
from netnav.web.security import mark_plan
from netnav.web.service import WebContext, find_plan, plan_and_save, rerun
from netnav.web.store import PAGE_SIZE, SavedPlan

__all__ = [
    "FHIR_UPLOAD_PATH",
    "ExampleCase",
    "bundled_examples",
    "page_router",
    "render_error_page",
]

# The form's "load a FHIR Bundle" post (multipart: the file and the CSRF token).
FHIR_UPLOAD_PATH: Final = "/plans/new/fhir"

DISCLAIMER: Final = (
    "Decision support for clinicians, not a prescription: every plan is for discussion at a "
    "NET-expert multidisciplinary tumour board."
)
STATUS_WORDS: Final = {
    "V": "verified against the primary source",
    "V2": "verified against a secondary source",
    "UNVERIFIED": "not yet verified",
}


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("netnav.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["words"] = lambda v: str(v).replace("_", " ")
    env.filters["fact_value"] = _fact_value
    env.filters["code_spans"] = _code_spans
    env.filters["test_name"] = lambda t: _test_names().get(str(t), str(t).replace("_", " "))
    env.globals["disclaimer"] = DISCLAIMER
    env.globals["netnav_version"] = __version__
    env.globals["status_words"] = STATUS_WORDS
    return env


# How the plan's coded values read on the page (display only; the plan keeps the codes).
_VALUE_WORDS: Final = {
    "g1": "G1",
    "g2": "G2",
    "g3": "G3",
    "net": "NET",
    "nec": "NEC",
    "minen": "MiNEN",
    "goblet_cell_adenocarcinoma": "goblet-cell adenocarcinoma",
}


def _code_spans(text: str) -> Markup:
    """Escape ``text`` and show its `backtick` spans as <code> (the OpenAPI descriptions)."""
    parts = str(text).split("`")
    out = [
        escape(part) if i % 2 == 0 else Markup("<code>") + escape(part) + Markup("</code>")
        for i, part in enumerate(parts)
    ]
    return Markup("").join(out)


@cache
def _test_names() -> dict[str, str]:
    """Test ids in the clinic's words (``web/data/tests.yaml``)."""
    text = resources.files("netnav.web").joinpath("data/tests.yaml").read_text("utf-8")
    names: dict[str, str] = yaml.safe_load(text)
    return names


def _fact_value(value: object) -> str:
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    text = str(value)
    return _VALUE_WORDS.get(text, text.replace("_", " "))


def _render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


def render_error_page(status: int, title: str, text: str) -> str:
    """A plain error page (no request needed, so middleware can use it too)."""
    return _render("error.html.j2", status=status, title=title, text=text)


@dataclass(frozen=True)
class ExampleCase:
    """A bundled real case the form can load: file stem, case id, title, the case."""

    slug: str
    case_id: str
    title: str
    case: Mapping[str, Any]


@cache
def bundled_examples() -> tuple[ExampleCase, ...]:
    """The published, de-identified cases shipped with netnav (``web/data/examples``)."""
    folder = resources.files("netnav.web").joinpath("data/examples")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        doc = json.loads(entry.read_text("utf-8"))
        case = doc.get("case", doc)
        out.append(
            ExampleCase(
                slug=entry.name.removesuffix(".json"),
                case_id=str(case.get("id", "")),
                title=str(doc.get("title", case.get("id", entry.name))),
                case=case,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class FhirLoad:
    """What the form says after a Bundle upload: the file, the fields filled, what was left."""

    filename: str
    fields: int
    unmapped: tuple[Unmapped, ...]
    problems: tuple[str, ...]

    @classmethod
    def loaded(cls, filename: str, imported: FhirImport) -> FhirLoad:
        return cls(filename, len(imported.provenance), imported.unmapped, ())

    @classmethod
    def refused(cls, filename: str, problems: Sequence[str]) -> FhirLoad:
        return cls(filename, 0, (), tuple(problems))


def _csrf(request: Request) -> str:
    getter = request.scope.get("csrftoken")
    return str(getter()) if callable(getter) else ""


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)


def _not_found() -> HTMLResponse:
    return _html(
        render_error_page(404, "Plan not found", "There is no saved plan at this address."), 404
    )


def _option_names(ctx: WebContext) -> list[tuple[str, str]]:
    names = [(oid, ctx.knowledge.therapies[oid].name) for oid in OPTION_IDS]
    return sorted(names, key=lambda p: p[1].lower())


def _csrf_matches(request: Request, posted: object, secret: str) -> bool:
    """The double-submit check asgi-csrf makes (for the multipart post it cannot read):
    the posted token equals the cookie's, and the cookie is signed with ``secret``."""
    cookie = request.cookies.get("csrftoken", "")
    if not isinstance(posted, str) or not cookie or not secrets.compare_digest(posted, cookie):
        return False
    try:
        URLSafeSerializer(secret).loads(cookie, "csrftoken")
    except BadSignature:
        return False
    return True


def page_router(ctx: WebContext, csrf_secret: str = "") -> APIRouter:
    """The HTML routes bound to ``ctx`` (not in the OpenAPI document).

    ``csrf_secret`` signs the form tokens (the app's secret key); the Bundle upload checks it.
    """
    router = APIRouter(include_in_schema=False)
    # The clinic details printed in guides: read once, so a broken settings file stops the
    # server at start (SettingsError names the file and field) instead of failing a request.
    guide_settings = load_settings(default_settings_path())

    def form_page(
        request: Request,
        values: Mapping[str, Any],
        errors: Mapping[str, Sequence[str]],
        *,
        status: int = 200,
        loaded: ExampleCase | None = None,
        fhir: FhirLoad | None = None,
    ) -> HTMLResponse:
        return _html(
            _render(
                "case_form.html.j2",
                groups=form_layout(),
                values=values,
                errors=errors,
                csrf_token=_csrf(request),
                examples=bundled_examples(),
                loaded=loaded,
                fhir=fhir,
                fhir_upload_path=FHIR_UPLOAD_PATH,
                knowledge_version=ctx.knowledge.version,
            ),
            status,
        )

    @router.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return _html(
            _render(
                "home.html.j2",
                examples=bundled_examples(),
                knowledge_version=ctx.knowledge.version,
            )
        )

    @router.get("/plans/new", response_class=HTMLResponse)
    async def new_case(
        request: Request, example: Annotated[str | None, Query(max_length=200)] = None
    ) -> HTMLResponse:
        loaded = None
        values: dict[str, Any] = {}
        if example:
            loaded = next((e for e in bundled_examples() if e.slug == example), None)
            if loaded is None:
                return _html(
                    render_error_page(
                        404, "Example not found", "There is no bundled example of that name."
                    ),
                    404,
                )
            values = dict(form_values(loaded.case))
        return form_page(request, values, {}, loaded=loaded)

    @router.post(FHIR_UPLOAD_PATH, response_class=HTMLResponse)
    async def load_fhir_bundle(request: Request) -> Response:
        """Fill the form from an uploaded FHIR Bundle; the clinician checks it, then plans."""
        async with request.form(max_files=1, max_fields=10) as form:
            token = form.get("csrftoken")
            upload = form.get("bundle")
            has_file = isinstance(upload, StarletteUploadFile) and bool(upload.filename)
            body = await upload.read() if isinstance(upload, StarletteUploadFile) else b""
            name = (upload.filename or "") if isinstance(upload, StarletteUploadFile) else ""
        if not _csrf_matches(request, token, csrf_secret):
            return _html(
                render_error_page(
                    403,
                    "The form has expired",
                    "This page was open too long, or cookies are blocked, so the form could "
                    "not be checked. Nothing was read. Reload the page and load the file again.",
                ),
                403,
            )
        if not has_file:
            return form_page(
                request,
                {},
                {},
                status=422,
                fhir=FhirLoad.refused("", ["Choose a FHIR Bundle file (JSON) to load."]),
            )
        try:
            read = await run_in_threadpool(lambda: case_from_fhir(read_fhir_json(body)))
        except FhirInputError as error:
            if error.kind == "case" and error.document is not None:
                # Show what was read, with the refused fields marked, for the clinician to fix.
                return form_page(
                    request,
                    form_values(error.document),
                    field_errors(error.problems),
                    status=422,
                    fhir=FhirLoad.refused(name, [p.describe() for p in error.problems]),
                )
            return form_page(
                request,
                {},
                {},
                status=422,
                fhir=FhirLoad.refused(name, [p.describe() for p in error.problems]),
            )
        return form_page(
            request, form_values(read.document), {}, fhir=FhirLoad.loaded(name, read.imported)
        )

    @router.post("/plans", response_class=HTMLResponse)
    async def submit_case(request: Request) -> Response:
        form = await request.form()
        document = case_from_form(form)
        try:
            case = case_from_mapping(document)
        except CaseError as error:
            # Re-filled from the document, not the raw post: empty rows were dropped and the
            # rest renumbered, and the problems' paths refer to that numbering.
            return form_page(
                request, form_values(document), field_errors(error.problems), status=422
            )
        saved = await run_in_threadpool(plan_and_save, ctx, case, document)
        mark_plan(request, saved.id)
        return RedirectResponse(f"/plans/{saved.id}", status_code=303)

    @router.get("/plans", response_class=HTMLResponse)
    async def list_plans(
        q: Annotated[str | None, Query(max_length=200)] = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> HTMLResponse:
        query = (q or "").replace("\x00", "").strip() or None
        plans, total = await run_in_threadpool(
            ctx.store.search, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        pages = max(1, -(-total // PAGE_SIZE))
        return _html(
            _render(
                "plan_list.html.j2",
                plans=plans,
                total=total,
                q=query or "",
                page=page,
                pages=pages,
                knowledge_version=ctx.knowledge.version,
            )
        )

    @router.post("/plans/rerun", response_class=HTMLResponse)
    async def rerun_plan(
        request: Request, plan_id: Annotated[str, Form(max_length=64)]
    ) -> Response:
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        try:
            outcome = await run_in_threadpool(rerun, ctx, saved)
        except CaseError as error:
            text = "The saved case is not valid under this netnav version: " + "; ".join(
                p.describe() for p in error.problems[:5]
            )
            return _html(render_error_page(422, "The case cannot be re-planned", text), 422)
        mark_plan(request, outcome.plan.id)
        suffix = "" if outcome.created else "?rerun=same"
        return RedirectResponse(f"/plans/{outcome.plan.id}{suffix}", status_code=303)

    @router.get("/plans/{plan_id}", response_class=HTMLResponse)
    async def show_plan(
        request: Request,
        plan_id: str,
        rerun: Annotated[str | None, Query(max_length=10)] = None,
    ) -> HTMLResponse:
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        mark_plan(request, saved.id)
        previous = (
            await run_in_threadpool(ctx.store.get, saved.previous_plan_id)
            if saved.previous_plan_id
            else None
        )
        changes = plan_changes(previous.plan, saved.plan) if previous else []
        later = await run_in_threadpool(ctx.store.reruns_of, saved.id)
        return _html(
            _render(
                "plan.html.j2",
                saved=saved,
                plan=saved.plan,
                previous=previous,
                changes=changes,
                later=later,
                current=saved.knowledge_version == ctx.knowledge.version,
                knowledge_version=ctx.knowledge.version,
                option_names=_option_names(ctx),
                disagreements=_disagreements(saved.plan),
                csrf_token=_csrf(request),
                rerun_same=rerun == "same",
            )
        )

    @router.get("/plans/{plan_id}/explain", response_class=HTMLResponse)
    async def explain_option(
        request: Request,
        plan_id: str,
        option: Annotated[str, Query(max_length=80)],
    ) -> HTMLResponse:
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        mark_plan(request, saved.id)
        if option not in OPTION_IDS:
            return _html(
                render_error_page(
                    404,
                    "Unknown option",
                    "That option is not in netnav's option vocabulary; choose one from the "
                    "list on the plan page.",
                ),
                404,
            )
        current = saved.knowledge_version == ctx.knowledge.version
        explanation = None
        if current:
            case = case_from_mapping(saved.case)
            explanation = await run_in_threadpool(explain, case, option, ctx.knowledge)
        deciding, elsewhere = _split_tree(explanation["tree"]) if explanation else ([], [])
        return _html(
            _render(
                "explain.html.j2",
                deciding=deciding,
                elsewhere=elsewhere,
                saved=saved,
                option=option,
                option_name=ctx.knowledge.therapies[option].name,
                explanation=explanation,
                current=current,
                knowledge_version=ctx.knowledge.version,
                option_names=_option_names(ctx),
                csrf_token=_csrf(request),
            )
        )

    @router.get("/plans/{plan_id}/guide", response_class=HTMLResponse)
    async def patient_guide(request: Request, plan_id: str) -> Response:
        return await _guide(request, plan_id, "html")

    @router.get("/plans/{plan_id}/guide.pdf")
    async def patient_guide_pdf(request: Request, plan_id: str) -> Response:
        return await _guide(request, plan_id, "pdf")

    @router.get("/plans/{plan_id}/clinician.pdf")
    async def clinician_pdf(request: Request, plan_id: str) -> Response:
        return await _guide(request, plan_id, "pdf", audience="clinician")

    async def _guide(
        request: Request, plan_id: str, output: str, audience: str = "patient"
    ) -> Response:
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        mark_plan(request, saved.id)
        if saved.knowledge_version != ctx.knowledge.version:
            return _html(
                _render(
                    "guide_outdated.html.j2",
                    saved=saved,
                    knowledge_version=ctx.knowledge.version,
                    csrf_token=_csrf(request),
                ),
                409,
            )
        data = await run_in_threadpool(_render_guide, ctx, saved, output, audience, guide_settings)
        if output == "pdf":
            # Named by plan id: a case id may hold a name or letters no HTTP header can carry.
            name = f"{'guide' if audience == 'patient' else 'tumour-board'}-{saved.id}.pdf"
            return Response(
                data,
                media_type="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return HTMLResponse(data.decode("utf-8"))

    @router.get("/plans/{plan_id}/plan.json")
    async def plan_json_download(request: Request, plan_id: str) -> Response:
        return await _download(request, plan_id, "plan")

    @router.get("/plans/{plan_id}/case.json")
    async def case_json_download(request: Request, plan_id: str) -> Response:
        return await _download(request, plan_id, "case")

    async def _download(request: Request, plan_id: str, kind: str) -> Response:
        """The saved plan or case text, byte for byte, as a download named by plan id."""
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        mark_plan(request, saved.id)
        return Response(
            saved.plan_json if kind == "plan" else saved.case_json,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{kind}-{saved.id}.json"'},
        )

    @router.get("/plans/{plan_id}/edit", response_class=HTMLResponse)
    async def edit_case(request: Request, plan_id: str) -> HTMLResponse:
        saved = await run_in_threadpool(find_plan, ctx, plan_id)
        if saved is None:
            return _not_found()
        return form_page(request, form_values(saved.case), {})

    @router.get("/docs", response_class=HTMLResponse)
    async def api_docs(request: Request) -> HTMLResponse:
        # A page made from the OpenAPI document itself: no third-party script (Swagger UI
        # would load one from a CDN, which the pages' CSP forbids).
        schema = request.app.openapi()
        operations = []
        for path, methods in schema.get("paths", {}).items():
            for method, op in methods.items():
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
                ref = str(body.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
                operations.append(
                    {
                        "method": method.upper(),
                        "path": path,
                        "summary": op.get("summary", ""),
                        "description": op.get("description", ""),
                        "body": ref,
                        "parameters": op.get("parameters", []),
                        "responses": [
                            (code, r.get("description", ""))
                            for code, r in sorted(op.get("responses", {}).items())
                        ],
                    }
                )
        return _html(
            _render(
                "api_docs.html.j2",
                info=schema["info"],
                openapi_version=schema.get("openapi", ""),
                operations=operations,
                problem_types=PROBLEM_TYPES,
                knowledge_version=ctx.knowledge.version,
            )
        )

    @router.get("/knowledge/rules/{rule_id}", response_class=HTMLResponse)
    async def knowledge_rule(rule_id: str) -> HTMLResponse:
        from netnav.render.knowledge import render_entry

        wanted = rule_id.lower()
        for r in ctx.knowledge.rules:
            if r.spec.id.lower() == wanted:
                found = {
                    "rule": r.spec.model_dump(mode="json", exclude_defaults=True),
                    "file": r.file,
                }
                return _html(
                    _render(
                        "rule.html.j2",
                        rule=r.spec,
                        text=render_entry(found, ctx.knowledge),
                        knowledge_version=ctx.knowledge.version,
                    )
                )
        return _html(
            render_error_page(404, "Rule not found", "No rule of the knowledge base has this id."),
            404,
        )

    @router.get("/problems/{slug}", response_class=HTMLResponse)
    async def problem_type(slug: str) -> HTMLResponse:
        kind = PROBLEM_TYPES.get(slug)
        if kind is None:
            return _html(
                render_error_page(404, "Unknown problem type", "No such problem type."), 404
            )
        return _html(_render("problem.html.j2", kind=kind))

    return router


def _render_guide(
    ctx: WebContext, saved: SavedPlan, output: str, audience: str, settings: Settings
) -> bytes:
    # Imported here: WeasyPrint and matplotlib are heavy and only the guide needs them.
    from netnav.guide.write import render_guide

    case = case_from_mapping(saved.case)
    files = render_guide(
        case,
        audience="patient" if audience == "patient" else "clinician",
        output="pdf" if output == "pdf" else "html",
        settings=settings,
        prepared_on=saved.created_at.date().isoformat(),
        kb=ctx.knowledge,
    )
    return next(iter(files.files.values()))


def _split_tree(tree: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The verdict tree's branches: those that decide for this case, and the rules and checks
    written for other situations (shown folded, so the deciding reason is not buried)."""
    deciding: list[Any] = []
    elsewhere: list[Any] = []
    for child in tree.get("children", []):
        why = str(child.get("why", ""))
        if why.endswith(NOT_APPLICABLE):
            elsewhere.append(child)
        else:
            deciding.append(child)
    return deciding, elsewhere


def _disagreements(plan: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Guideline disagreements grouped by option, in plan order: (option name, positions)."""
    names = {o["id"]: o.get("name", o["id"]) for o in plan.get("options", [])}
    names.update({a["id"]: a.get("name", a["id"]) for a in plan.get("avoid", [])})
    grouped: dict[str, list[str]] = {}
    for d in plan.get("disagreements", []):
        grouped.setdefault(d.get("option", ""), []).append(d.get("positions", ""))
    return [(names.get(k, k.replace("_", " ")), v) for k, v in grouped.items()]
