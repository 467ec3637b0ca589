"""The JSON API, ``/v1``: plan a case (saved), read a saved plan, explain an option, read a
rule of the knowledge base and the case format's JSON Schema.

Bodies are read as bytes and parsed by netnav's own case loader, so a refused case gets the
same messages as ``netnav validate`` (RFC 9457 problem details, one entry per problem).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from netnav.api import explain
from netnav.case.load import parse_case_document
from netnav.errors import CaseError, CaseProblem, UnknownOptionError
from netnav.web.fhir_cases import FhirInputError, case_from_fhir, looks_like_fhir, read_fhir_json
from netnav.web.openapi import json_body, problem_responses, ref
from netnav.web.problems import problem_response, problems_from_case
from netnav.web.security import FHIR_MEDIA_TYPE, bearer_token_guard, mark_plan
from netnav.web.service import WebContext, find_plan, plan_and_save, rerun
from netnav.web.store import SavedPlan

__all__ = ["api_router", "saved_plan_json"]

JSON_TYPES = ("application/json",)


class SchemaJSONResponse(JSONResponse):
    """A JSON Schema document (``application/schema+json``)."""

    media_type = "application/schema+json"


def saved_plan_json(
    saved: SavedPlan, *, with_plan: bool = True, with_case: bool = False
) -> dict[str, Any]:
    """The API's view of a saved plan (schemas ``SavedPlan``/``SavedPlanSummary``)."""
    out: dict[str, Any] = {
        "id": saved.id,
        "url": f"/v1/plans/{saved.id}",
        "page": f"/plans/{saved.id}",
        "case_id": saved.case_id,
        "knowledge_version": saved.knowledge_version,
        "netnav_version": saved.netnav_version,
        "created_at": saved.created_at.isoformat(),
        "previous_plan_id": saved.previous_plan_id,
    }
    if with_plan:
        out["plan"] = saved.plan
    if with_case:
        out["case"] = saved.case
    return out


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _unsupported(request: Request, *, fhir: bool = False) -> JSONResponse:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip() or "none"
    return problem_response(
        "unsupported-media-type",
        f"content type {media[:80]!r} is not accepted; send application/json"
        + (" (or a FHIR Bundle as application/fhir+json)" if fhir else ""),
    )


def _fhir_refused(error: FhirInputError) -> JSONResponse:
    """400 for a body that is not JSON, else 422 ``invalid-fhir`` with every problem."""
    errors = problems_from_case(error.problems)
    if error.kind == "malformed":
        return problem_response(
            "malformed-request", "; ".join(e.detail for e in errors), errors=errors
        )
    count = len(errors)
    what = "the case imported from the Bundle" if error.kind == "case" else "the Bundle"
    return problem_response(
        "invalid-fhir",
        f"{count} problem{'s' if count != 1 else ''} with {what}: "
        + "; ".join(e.detail for e in errors[:3])
        + ("; …" if count > 3 else ""),
        errors=errors,
    )


def _case_refused(error: CaseError, body: bytes | str, prefix: str = "") -> JSONResponse:
    """400 when the body is not JSON at all, else 422 with every problem of the case."""
    errors = problems_from_case(error.problems, prefix)
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return problem_response(
            "malformed-request", "; ".join(e.detail for e in errors), errors=errors
        )
    count = len(errors)
    return problem_response(
        "invalid-case",
        f"{count} problem{'s' if count != 1 else ''} with the case: "
        + "; ".join(e.detail for e in errors[:3])
        + ("; …" if count > 3 else ""),
        errors=errors,
    )


def _is_fhir_body(body: bytes) -> bool:
    try:
        return looks_like_fhir(read_fhir_json(body))
    except FhirInputError:
        return False


def _unavailable() -> JSONResponse:
    return problem_response("unavailable", "the plan database did not answer; nothing was saved")


def api_router(ctx: WebContext, tokens: tuple[str, ...], require_token: bool) -> APIRouter:
    """The ``/v1`` routes bound to ``ctx``; every route checks the bearer token if required."""
    router = APIRouter(
        prefix="/v1",
        dependencies=[Depends(bearer_token_guard(tokens, require_token))],
        responses=problem_responses(401),
    )

    @router.post(
        "/plans",
        status_code=201,
        summary="Plan a case and save the plan",
        description="Send a case (netnav-case/1, or a wrapper document with the case under "
        "`case`). The plan is saved with the case, the knowledge version and the time; the "
        "answer carries its id and `Location`.",
        openapi_extra=json_body(
            "Case",
            "the case (netnav-case/1), or a FHIR R4 Bundle (mCODE) as application/fhir+json",
            fhir_schema="FhirBundle",
        ),
        responses={
            201: {
                "description": "The plan, saved (from a Bundle: with the import report)",
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [ref("SavedPlan"), ref("SavedPlanFromFhir")]}
                    }
                },
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            **problem_responses(400, 413, 415, 422, 503),
        },
        response_class=JSONResponse,
    )
    async def create_plan(request: Request) -> JSONResponse:
        if not _is_json(request):
            return _unsupported(request, fhir=True)
        body = await request.body()
        if _media_type(request) == FHIR_MEDIA_TYPE:
            return await _plan_from_fhir(request, body)
        try:
            case, case_doc = parse_case_document(body)
        except CaseError as error:
            # A Bundle sent as plain application/json is read as FHIR too.
            if _is_fhir_body(body):
                return await _plan_from_fhir(request, body)
            return _case_refused(error, body)
        try:
            saved = await run_in_threadpool(plan_and_save, ctx, case, case_doc)
        except SQLAlchemyError:
            return _unavailable()
        mark_plan(request, saved.id)
        return JSONResponse(
            saved_plan_json(saved), status_code=201, headers={"Location": f"/v1/plans/{saved.id}"}
        )

    async def _plan_from_fhir(request: Request, body: bytes) -> JSONResponse:
        try:
            read = await run_in_threadpool(lambda: case_from_fhir(read_fhir_json(body)))
        except FhirInputError as error:
            return _fhir_refused(error)
        try:
            saved = await run_in_threadpool(plan_and_save, ctx, read.case, read.document)
        except SQLAlchemyError:
            return _unavailable()
        mark_plan(request, saved.id)
        answer = saved_plan_json(saved)
        answer["fhir_import"] = read.imported.report()
        return JSONResponse(answer, status_code=201, headers={"Location": f"/v1/plans/{saved.id}"})

    @router.get(
        "/plans",
        summary="Saved plans, newest first",
        responses={
            200: {
                "description": "A page of saved plans (without the plan documents)",
                "content": {"application/json": {"schema": ref("PlanList")}},
            },
            **problem_responses(422, 503),
        },
        response_class=JSONResponse,
    )
    async def list_plans(
        case_id: Annotated[
            str | None, Query(max_length=200, description="keep plans whose case id contains this")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> JSONResponse:
        try:
            plans, total = await run_in_threadpool(
                ctx.store.search,
                case_id.replace("\x00", "") if case_id else None,
                limit=limit,
                offset=offset,
            )
        except SQLAlchemyError:
            return _unavailable()
        return JSONResponse(
            {"total": total, "plans": [saved_plan_json(p, with_plan=False) for p in plans]}
        )

    @router.get(
        "/plans/{plan_id}",
        summary="A saved plan, with its case",
        responses={
            200: {
                "description": "The saved plan exactly as given, with its case",
                "content": {"application/json": {"schema": ref("SavedPlanWithCase")}},
            },
            **problem_responses(404, 503),
        },
        response_class=JSONResponse,
    )
    async def get_plan(plan_id: str, request: Request) -> JSONResponse:
        try:
            saved = await run_in_threadpool(find_plan, ctx, plan_id)
        except SQLAlchemyError:
            return _unavailable()
        if saved is None:
            return problem_response("not-found", "no saved plan has this id")
        mark_plan(request, saved.id)
        return JSONResponse(saved_plan_json(saved, with_case=True))

    @router.post(
        "/plans/{plan_id}/rerun",
        summary="Re-plan a saved case under the knowledge now in force",
        description="Under the same knowledge version the saved plan is returned (200); under "
        "a newer one a new plan is saved that points back to it (201).",
        responses={
            200: {
                "description": "Same knowledge version: the saved plan",
                "content": {"application/json": {"schema": ref("SavedPlan")}},
            },
            201: {
                "description": "A new plan under the current knowledge version",
                "content": {"application/json": {"schema": ref("SavedPlan")}},
            },
            **problem_responses(404, 422, 503),
        },
        response_class=JSONResponse,
    )
    async def rerun_plan(plan_id: str, request: Request) -> JSONResponse:
        try:
            saved = await run_in_threadpool(find_plan, ctx, plan_id)
            if saved is None:
                return problem_response("not-found", "no saved plan has this id")
            outcome = await run_in_threadpool(rerun, ctx, saved)
        except SQLAlchemyError:
            return _unavailable()
        except CaseError as error:
            return problem_response(
                "invalid-case",
                "the saved case is not valid under this netnav version",
                errors=problems_from_case(error.problems),
            )
        mark_plan(request, outcome.plan.id)
        return JSONResponse(
            saved_plan_json(outcome.plan),
            status_code=201 if outcome.created else 200,
            headers={"Location": f"/v1/plans/{outcome.plan.id}"},
        )

    @router.post(
        "/explain",
        summary="Why an option is or is not in the plan: the verdict tree",
        openapi_extra=json_body("ExplainRequest", "a case and an option id"),
        responses={
            200: {
                "description": "The option's status and verdict tree",
                "content": {"application/json": {"schema": ref("Explanation")}},
            },
            **problem_responses(400, 413, 415, 422),
        },
        response_class=JSONResponse,
    )
    async def explain_option(request: Request) -> JSONResponse:
        if not _is_json(request):
            return _unsupported(request)
        body = await request.body()
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return problem_response("malformed-request", f"the body is not valid JSON: {exc}")
        problems: list[Any] = []
        if not isinstance(document, dict):
            return problem_response(
                "invalid-request", 'the body must be a JSON object {"case": {...}, "option": "id"}'
            )
        option = document.get("option")
        if not isinstance(option, str):
            problems.append(("option", "an option id is required", option, "an option id"))
        if not isinstance(document.get("case"), dict):
            problems.append(
                ("case", "the case is required as an object", None, "a netnav-case/1 object")
            )
        extra = sorted(set(document) - {"case", "option"})
        for key in extra:
            problems.append((key, "unknown field", None, "case, option"))
        if problems:
            fields = problems_from_case([CaseProblem(*p) for p in problems])
            return problem_response(
                "invalid-request", "; ".join(f.detail for f in fields), errors=fields
            )
        try:
            # The body has the wrapper shape ({"case": {...}, ...}): the case loader reads it
            # as for POST /v1/plans (repeated keys, non-finite numbers; paths case.…).
            case, _ = parse_case_document(body)
        except CaseError as error:
            return _case_refused(error, body)
        assert isinstance(option, str)  # checked above
        try:
            result = await run_in_threadpool(explain, case, option, ctx.knowledge)
        except UnknownOptionError as error:
            fields = problems_from_case([CaseProblem("option", str(error), option)])
            return problem_response("unknown-option", str(error), errors=fields)
        return JSONResponse(result)

    @router.get(
        "/knowledge/rules/{rule_id}",
        summary="One rule of the knowledge base",
        responses={
            200: {
                "description": "The rule as the knowledge base holds it",
                "content": {"application/json": {"schema": ref("KnowledgeRule")}},
            },
            **problem_responses(404),
        },
        response_class=JSONResponse,
    )
    async def knowledge_rule(rule_id: str) -> JSONResponse:
        wanted = rule_id.lower()
        for r in ctx.knowledge.rules:
            if r.spec.id.lower() == wanted:
                return JSONResponse(
                    {
                        "id": r.spec.id,
                        "knowledge_version": ctx.knowledge.version,
                        "file": r.file,
                        "rule": r.spec.model_dump(mode="json", exclude_defaults=True),
                    }
                )
        return problem_response("not-found", "no rule of the knowledge base has this id")

    @router.get(
        "/schema/case",
        summary="The JSON Schema of the case format (netnav-case/1)",
        responses={200: {"description": "JSON Schema (draft 2020-12)"}},
        response_class=SchemaJSONResponse,
    )
    async def case_schema() -> SchemaJSONResponse:
        from importlib import resources

        text = resources.files("netnav.case").joinpath("case.schema.json").read_text("utf-8")
        return SchemaJSONResponse(json.loads(text))

    return router
