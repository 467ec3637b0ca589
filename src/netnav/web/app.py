"""The netnav web application: HTML pages for clinicians and patients, and the ``/v1`` API.

``create_app(config)`` builds it; ``netnav serve`` runs it on uvicorn. Middleware, outermost
first: access log (route and plan id, never case data), security headers, the 1 MB body limit
(413), CSRF tokens on form posts (double-submit cookie, asgi-csrf).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from netnav import __version__
from netnav.knowledge.load import Knowledge, default_knowledge
from netnav.web.api_v1 import api_router
from netnav.web.cds_hooks import cds_router
from netnav.web.config import ServerConfig
from netnav.web.openapi import component_schemas, problem_responses, ref
from netnav.web.pages import FHIR_UPLOAD_PATH, page_router, render_error_page
from netnav.web.problems import PROBLEM_TYPES, ProblemField, problem_response
from netnav.web.security import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    CrashGuardMiddleware,
    SecurityHeadersMiddleware,
    TokenRequired,
)
from netnav.web.service import WebContext
from netnav.web.store import PlanStore, utc_now

__all__ = ["FORM_PATHS", "create_app"]

log = logging.getLogger("netnav.web")

# Form posts that must carry a CSRF token even when the browser sent no cookie.
FORM_PATHS = frozenset({"/plans", "/plans/rerun"})

API_DESCRIPTION = """\
Plan a neuroendocrine-neoplasm case (netnav-case/1) and get the ranked, explained,
evidence-cited plan (netnav-plan/1). Every plan is saved with its case, the knowledge version
that decided it and the time. Decision support for clinicians, not a prescription.

Errors are RFC 9457 problem details (`application/problem+json`); an invalid case lists every
problem with its field path, the value given and what is allowed. Request bodies are limited
to 1 MB (413). Off loopback, every `/v1` request needs `Authorization: Bearer <token>`.
"""


def _is_api(path: str) -> bool:
    return path.startswith(("/v1/", "/cds-services/")) or path in (
        "/v1",
        "/healthz",
        "/cds-services",
    )


def create_app(
    config: ServerConfig,
    *,
    knowledge: Knowledge | None = None,
    store: PlanStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The ASGI application.

    ``knowledge`` defaults to the packaged knowledge base; ``store`` to a :class:`PlanStore`
    on ``config.database_url`` (migrated to the newest schema on start). Raises
    :class:`~netnav.web.config.ServerConfigError` when the database cannot be opened.
    """
    # WeasyPrint logs each glyph it cannot draw, quoting the text (a case id in a guide), and
    # its progress at INFO: keep both out of the server log.
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    kb = knowledge or default_knowledge()
    plan_store = store or PlanStore(config.database_url, clock=clock)
    ctx = WebContext(kb, plan_store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if store is None:  # a store passed in belongs to the caller
            plan_store.close()

    app = FastAPI(
        title="netnav",
        version=__version__,
        summary="NET Navigator: explained, evidence-cited management plans for "
        "neuroendocrine neoplasms",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs is netnav's own page (no third-party script)
        redoc_url=None,
    )
    app.state.netnav = ctx
    app.include_router(api_router(ctx, config.api_tokens, config.require_api_token))
    app.include_router(page_router(ctx, csrf_secret=config.secret_key))
    app.include_router(cds_router(ctx, config.cds, clock=clock))
    app.mount(
        "/static",
        StaticFiles(packages=[("netnav.web", "static")]),
        name="static",
    )

    @app.get(
        "/healthz",
        summary="Liveness and the versions in force",
        responses={
            200: {
                "description": "Ready",
                "content": {"application/json": {"schema": ref("Health")}},
            },
            503: {
                "description": "The plan store does not answer",
                "content": {"application/json": {"schema": ref("Health")}},
            },
        },
        response_class=JSONResponse,
    )
    async def healthz() -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        db_ok = await run_in_threadpool(plan_store.ping)
        body = {
            "status": "ok" if db_ok else "unavailable",
            "netnav_version": __version__,
            "knowledge_version": kb.version,
            "database": "ok" if db_ok else "unavailable",
        }
        return JSONResponse(body, status_code=200 if db_ok else 503)

    # Load balancers probe with HEAD: same status, no body (not in the OpenAPI document).
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)

    _install_error_handlers(app)
    _install_openapi(app)

    async def csrf_failed(scope: Scope, send: Send, _message_id: Any) -> None:
        html = render_error_page(
            403,
            "The form has expired",
            "This page was open too long, or cookies are blocked, so the form could not be "
            "checked. Nothing was saved. Go back, reload the page and send the form again.",
        )
        response = HTMLResponse(html, status_code=403)

        async def no_body() -> dict[str, Any]:  # the body was read by the CSRF check
            return {"type": "http.request", "body": b"", "more_body": False}

        await response(scope, no_body, send)

    app.add_middleware(
        asgi_csrf,
        signing_secret=config.secret_key,
        always_protect=FORM_PATHS,
        # The Bundle upload is multipart, which asgi-csrf cannot read with the installed
        # python-multipart; its page checks the same double-submit token itself.
        skip_if_scope=lambda scope: _is_api(scope["path"]) or scope["path"] == FHIR_UPLOAD_PATH,
        cookie_samesite="Strict",
        send_csrf_failed=csrf_failed,
    )
    app.add_middleware(RefuseMultipartForms)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=config.max_body_bytes,
        fhir_limit=config.max_fhir_body_bytes,
        fhir_paths=(FHIR_UPLOAD_PATH,),
    )
    app.add_middleware(CrashGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware)
    return app


class RefuseMultipartForms:
    """415 for a multipart post to a form path: netnav's forms post URL-encoded, and the CSRF
    check cannot read multipart bodies with the python-multipart installed (it would fail)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in FORM_PATHS:
            content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
            if content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data":
                response = HTMLResponse(
                    render_error_page(
                        415,
                        "Form sent in an unexpected way",
                        "netnav's forms are sent URL-encoded; this one came as multipart "
                        "data. Nothing was saved. Use the form on the page, or the JSON API.",
                    ),
                    status_code=415,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TokenRequired)
    async def token_required(_request: Request, _exc: TokenRequired) -> Response:
        return problem_response(
            "unauthorized",
            "send Authorization: Bearer <token> with one of the server's API tokens",
            headers={"WWW-Authenticate": 'Bearer realm="netnav"'},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
            path = ".".join(loc)
            fields.append(
                ProblemField(
                    path=path,
                    message=str(err.get("msg", "invalid")),
                    value=None,
                    allowed=_allowed(err),
                    detail=f"{path}: {err.get('msg', 'invalid')}",
                )
            )
        if not _is_api(request.url.path):
            return HTMLResponse(
                render_error_page(422, "That request is not valid", fields[0].detail),
                status_code=422,
            )
        return problem_response(
            "invalid-request", "; ".join(f.detail for f in fields), errors=fields
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path served
            # by several routes (GET and POST /v1/plans) allows all of theirs.
            allow = _allowed_methods(app, request)
            if allow:
                exc.headers = {**(exc.headers or {}), "Allow": allow}
        if _is_api(request.url.path):
            if exc.status_code == 404:
                return problem_response("not-found", "no such resource in this API")
            if exc.status_code == 405:
                return JSONResponse(
                    {
                        "type": "about:blank",
                        "title": "Method not allowed",
                        "status": 405,
                        "detail": "this resource does not accept that method",
                    },
                    status_code=405,
                    media_type="application/problem+json",
                    headers=dict(exc.headers or {}),
                )
        title = {404: "Page not found", 405: "Not allowed"}.get(exc.status_code, "Error")
        text = {
            404: "There is no page or saved plan at this address.",
            405: "This address does not accept that kind of request.",
        }.get(exc.status_code, str(exc.detail))
        return HTMLResponse(
            render_error_page(exc.status_code, title, text),
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(app: FastAPI, request: Request) -> str:
    """The ``Allow`` header of a 405: every method some route on the request's path takes."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        routes = (r for r in app.router.routes if not isinstance(r, Mount))  # static files
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


def _allowed(err: Any) -> str:
    ctx = err.get("ctx") or {}
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in sorted(ctx.items()) if k != "error"]
    return ", ".join(parts)


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,  # the pages' router is excluded from the schema
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(component_schemas())
        # FastAPI's own 422 model does not describe our problem details: replace it.
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.get("responses", {})
                if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                    responses["422"] = problem_responses(422)[422]
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        schema["info"]["x-problem-types"] = {
            slug: {"status": p.status, "title": p.title} for slug, p in PROBLEM_TYPES.items()
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
