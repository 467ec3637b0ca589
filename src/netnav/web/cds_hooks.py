"""The CDS Hooks service of netnav (CDS Hooks 2.0): the plan, as cards, inside the EHR.

* ``GET /cds-services``: discovery (open, as the spec allows): the ``netnav-plan`` service on
  the ``patient-view`` hook with its prefetch templates (:data:`~netnav.web.cds_prefetch.PREFETCH`).
* ``POST /cds-services/netnav-plan``: the hook call. The client's JWT is checked
  (:mod:`~netnav.web.cds_auth`; anything wrong: a bare 401), the prefetch gathered or fetched
  (:mod:`~netnav.web.cds_prefetch`; unobtainable: 412 with an OperationOutcome; read and known
  to be incomplete: one warning card, no plan), checked (``prefetch.patient`` of another
  patient: 422; a deceased patient: one info card), the record imported as a case
  (:func:`netnav.fhir.import_bundle`, ``as_of`` today, ``patient_id`` the context's), planned
  and saved like any plan, and answered with cards (:mod:`~netnav.web.cds_cards`). Every
  answer is JSON, an unexpected error included (a 500 problem).
* ``POST /cds-services/netnav-plan/feedback``: what the clinician did with the cards, stored
  (:mod:`~netnav.web.cds_feedback`).

CORS headers are sent to the origins of ``NETNAV_CDS_CORS_ORIGINS`` only (browser-based
clients such as the CDS Hooks sandbox). None of these routes is in the ``/v1`` OpenAPI document.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from netnav.case.load import case_from_mapping
from netnav.errors import CaseError, CaseProblem
from netnav.fhir import FhirImport, FhirImportError, Unmapped
from netnav.web.cds_auth import CdsJwtVerifier, CdsUnauthorized
from netnav.web.cds_cards import (
    CardContext,
    deceased_card,
    incomplete_card,
    observation_fields,
    plan_cards,
    unplannable_card,
)
from netnav.web.cds_config import CdsSettings
from netnav.web.cds_feedback import FeedbackRequest, FeedbackStore
from netnav.web.cds_prefetch import (
    FHIR_JSON,
    PREFETCH,
    Gathered,
    PrefetchUnavailable,
    collection_bundle,
    gather,
    operation_outcome,
)
from netnav.web.problems import ProblemField, problem_response
from netnav.web.security import mark_plan
from netnav.web.service import WebContext, plan_and_save

__all__ = ["HOOK", "SERVICE_ID", "HookRequest", "cds_router", "discovery_document"]

_Body = TypeVar("_Body", bound=BaseModel)

log = logging.getLogger("netnav.web.cds")

SERVICE_ID: Final = "netnav-plan"
HOOK: Final = "patient-view"
_CORS_MAX_AGE: Final = "600"
_NOT_JSON: Final = object()


class FhirAuthorization(BaseModel):
    """The OAuth 2.0 access token the client grants for its FHIR server."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: str = Field(min_length=1, max_length=16_384, repr=False)
    token_type: Literal["Bearer", "bearer"] = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class HookContext(BaseModel):
    """The ``patient-view`` context: who is looking at whose chart."""

    model_config = ConfigDict(extra="allow", frozen=True)

    userId: str = Field(min_length=1, max_length=500)
    patientId: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9\-.]+$")
    encounterId: str | None = Field(default=None, max_length=200)


class HookRequest(BaseModel):
    """A CDS Hooks request to ``netnav-plan``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    hook: Literal["patient-view"]
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = Field(default=None, max_length=2000)
    fhirAuthorization: FhirAuthorization | None = None
    context: HookContext
    prefetch: dict[str, dict[str, Any] | None] = Field(default_factory=dict)


def discovery_document() -> dict[str, Any]:
    """The ``GET /cds-services`` answer."""
    return {
        "services": [
            {
                "hook": HOOK,
                "id": SERVICE_ID,
                "title": "netnav: neuroendocrine neoplasm management plan",
                "description": "Reads the patient's neuroendocrine neoplasm from the chart "
                "(FHIR R4, mCODE) and returns netnav's ranked, evidence-cited plan: options "
                "with their reasons, what to avoid and the missing information with the test "
                "that settles it. Decision support for clinicians, not a prescription.",
                "prefetch": dict(PREFETCH),
                "usageRequirements": "Read access to the patient's Patient, Condition, "
                "Observation, MedicationRequest, MedicationAdministration, "
                "MedicationStatement, Medication and Procedure resources (prefetch or "
                "fhirAuthorization). A record that cannot be read completely gets a warning "
                "card and no plan. Calls must carry a JWT from an issuer the netnav server "
                "trusts (NETNAV_CDS_ISSUERS).",
            }
        ]
    }


def _fields(error: ValidationError) -> list[ProblemField]:
    out = []
    for err in error.errors()[:20]:
        path = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        out.append(ProblemField(path=path, message=message, detail=f"{path}: {message}"))
    return out


def cds_router(
    ctx: WebContext,
    settings: CdsSettings,
    *,
    clock: Callable[[], datetime],
    verifier: CdsJwtVerifier | None = None,
) -> APIRouter:
    """The ``/cds-services`` routes bound to ``ctx`` and ``settings``.

    ``clock`` gives "now" (UTC): today's date is the ``as_of`` of the imported case.
    """
    # httpx logs every request URL at INFO: a FHIR query names the patient. Keep it out.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    jwt_verifier = verifier or CdsJwtVerifier(settings)
    feedback_store = FeedbackStore(ctx.store.engine, clock=clock)
    router = APIRouter(include_in_schema=False)

    def base_url(request: Request) -> str:
        if settings.base_url:
            return settings.base_url
        return str(request.base_url).rstrip("/")

    def cors(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin", "").rstrip("/")
        if origin and (origin in settings.cors_origins or "*" in settings.cors_origins):
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    def json_response(
        request: Request, body: Any, status: int = 200, media: str | None = None
    ) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=cors(request), media_type=media)

    async def authorize(request: Request, audiences: list[str]) -> dict[str, Any] | Response:
        if not settings.auth_required:
            return {}
        try:
            return await jwt_verifier.verify(request.headers.get("authorization"), audiences)
        except CdsUnauthorized as refused:
            log.warning("cds auth refused: %s", refused.reason)
            return Response(status_code=401, headers=cors(request))

    async def read_json(request: Request) -> Any:
        body = await request.body()
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            return _NOT_JSON

    @router.get("/cds-services")
    async def discovery(request: Request) -> JSONResponse:
        return json_response(request, discovery_document())

    @router.options("/cds-services")
    @router.options("/cds-services/{rest:path}")
    async def preflight(request: Request) -> Response:
        headers = cors(request)
        if headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": _CORS_MAX_AGE,
                }
            )
        return Response(status_code=204, headers=headers)

    async def guarded(
        request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """``handler``'s answer; an unexpected error is a JSON problem (500), never the HTML
        error page the app's crash guard gives outside ``/v1``. Only the error's type is
        logged (its message could quote the record)."""
        try:
            return await handler(request)
        except Exception as exc:
            log.error("cds internal error %s", type(exc).__name__)
            return _with(
                cors(request),
                problem_response("internal-error", "netnav failed; nothing was saved"),
            )

    @router.post(f"/cds-services/{SERVICE_ID}")
    async def patient_view_route(request: Request) -> Response:
        return await guarded(request, patient_view)

    @router.post(f"/cds-services/{SERVICE_ID}/feedback")
    async def feedback_route(request: Request) -> Response:
        return await guarded(request, feedback)

    async def authorized_body(
        request: Request, audiences: list[str], model: type[_Body], what: str
    ) -> tuple[Mapping[str, Any], _Body] | Response:
        """The JWT claims and the body read as ``model``, or the answer refusing them
        (bare 401; 400 when not JSON; 422 naming the fields when not ``what``)."""
        claims = await authorize(request, audiences)
        if isinstance(claims, Response):
            return claims
        document = await read_json(request)
        if document is _NOT_JSON:
            return _with(
                cors(request), problem_response("malformed-request", "the body is not valid JSON")
            )
        try:
            return claims, model.model_validate(document)
        except ValidationError as error:
            fields = _fields(error)
            return _with(
                cors(request),
                problem_response(
                    "invalid-request",
                    f"not a {what}: " + "; ".join(f.detail for f in fields[:3]),
                    errors=fields,
                ),
            )

    async def patient_view(request: Request) -> Response:
        endpoint = f"{base_url(request)}/cds-services/{SERVICE_ID}"
        read = await authorized_body(
            request, [endpoint], HookRequest, "patient-view CDS Hooks request"
        )
        if isinstance(read, Response):
            return read
        _claims, hook = read
        try:
            return await answer(request, hook)
        except Exception as exc:  # never an HTML page to a CDS client (CrashGuard's default)
            log.error("cds internal error %s", type(exc).__name__)
            return _with(
                cors(request),
                problem_response("internal-error", "netnav failed; nothing was saved"),
            )

    async def answer(request: Request, hook: HookRequest) -> Response:
        auth = hook.fhirAuthorization
        patient_id = hook.context.patientId
        try:
            gathered = await gather(
                hook.prefetch,
                patient_id,
                hook.fhirServer,
                auth.access_token if auth else None,
                timeout_s=settings.fetch_timeout_s,
                max_pages=settings.max_pages,
                transport=settings.transport,
            )
        except PrefetchUnavailable as missing:
            return json_response(request, operation_outcome(missing.issues), 412, FHIR_JSON)
        others = other_patients(gathered, patient_id)
        if others:
            return _with(
                cors(request),
                problem_response(
                    "invalid-request",
                    "prefetch.patient is not the patient of context.patientId "
                    f"({len(others)} Patient resource{'s' if len(others) != 1 else ''} with "
                    "another id); no plan was made",
                    errors=[
                        ProblemField(
                            path="prefetch.patient",
                            message="Patient.id differs from context.patientId",
                            detail="prefetch.patient: Patient.id differs from context.patientId",
                        )
                    ],
                ),
            )
        card_ctx = CardContext(
            hook_instance=hook.hookInstance,
            base_url=base_url(request),
            smart_launch_url=settings.smart_launch_url,
        )
        kb = ctx.knowledge
        dead, since = deceased(gathered)
        if dead:
            return json_response(request, {"cards": [deceased_card(since, kb, card_ctx)]})
        if gathered.gaps:
            kinds = sorted({g.key for g in gathered.gaps})
            log.warning("cds prefetch: record incomplete (%s); no plan", ", ".join(kinds))
            return json_response(request, {"cards": [incomplete_card(gathered.gaps, kb, card_ctx)]})
        bundle = collection_bundle(gathered)
        try:
            cards, plan_id = await run_in_threadpool(
                _cards, ctx, bundle, clock().date(), card_ctx, patient_id, gathered.notes
            )
        except SQLAlchemyError:
            return _with(
                cors(request),
                problem_response(
                    "unavailable", "the plan database did not answer; nothing was saved"
                ),
            )
        if plan_id:
            mark_plan(request, plan_id)
        return json_response(request, {"cards": cards})

    async def feedback(request: Request) -> Response:
        endpoint = f"{base_url(request)}/cds-services/{SERVICE_ID}"
        read = await authorized_body(
            request,
            [f"{endpoint}/feedback", endpoint],
            FeedbackRequest,
            "CDS Hooks feedback request",
        )
        if isinstance(read, Response):
            return read
        claims, items = read
        try:
            await run_in_threadpool(
                feedback_store.save,
                SERVICE_ID,
                items,
                client_iss=_text(claims.get("iss")),
                client_sub=_text(claims.get("sub")),
            )
        except SQLAlchemyError:
            return _with(
                cors(request),
                problem_response("unavailable", "the database did not answer; nothing was saved"),
            )
        return Response(status_code=200, headers=cors(request))

    @router.post("/cds-services/{service_id:path}")
    async def unknown_service(request: Request, service_id: str) -> Response:
        return _with(cors(request), problem_response("not-found", "no CDS service has this id"))

    return router


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _with(headers: Mapping[str, str], response: Response) -> Response:
    response.headers.update(headers)
    return response


def other_patients(gathered: Gathered, patient_id: str) -> list[str]:
    """Ids of the ``patient`` key's Patient resources that are not ``context.patientId``."""
    return [
        str(r.get("id"))
        for r in gathered.resources("patient")
        if r.get("resourceType") == "Patient" and r.get("id") != patient_id
    ]


def deceased(gathered: Gathered) -> tuple[bool, str | None]:
    """Whether the Patient resource says the patient died (``deceasedBoolean`` true or a
    ``deceasedDateTime``), and the date-time when given."""
    for r in gathered.resources("patient"):
        if r.get("resourceType") != "Patient":
            continue
        when = r.get("deceasedDateTime")
        if isinstance(when, str) and when.strip():
            return True, when.strip()
        if r.get("deceasedBoolean") is True:
            return True, None
    return False, None


def _import(bundle: dict[str, Any], today: date, patient_id: str) -> FhirImport:
    from netnav.fhir import import_bundle  # read at call time (tests may replace it)

    # Resources about another patient than context.patientId: listed, not used.
    return import_bundle(bundle, as_of=today, patient_id=patient_id)


def _cards(
    ctx: WebContext,
    bundle: dict[str, Any],
    today: date,
    card_ctx: CardContext,
    patient_id: str,
    notes: Sequence[Unmapped] = (),
) -> tuple[list[dict[str, Any]], str | None]:
    """Import, validate, plan and save; the cards and the saved plan's id (None: no plan).

    ``notes``: what the FHIR server said about its searches (listed as not used)."""
    kb = ctx.knowledge
    try:
        imported = _import(bundle, today, patient_id)
    except FhirImportError as error:
        problem = CaseProblem(error.path, error.reason, error.value, error.allowed)
        return [unplannable_card([problem], kb, card_ctx, notes)], None
    except RecursionError:
        problem = CaseProblem("", "the record is nested too deeply to be read")
        return [unplannable_card([problem], kb, card_ctx, notes)], None
    unmapped = [*notes, *imported.unmapped]
    try:
        case = case_from_mapping(imported.case)
    except CaseError as error:
        return [unplannable_card(error.problems, kb, card_ctx, unmapped)], None
    saved = plan_and_save(ctx, case, imported.case)
    plan_ctx = CardContext(
        hook_instance=card_ctx.hook_instance,
        base_url=card_ctx.base_url,
        plan_id=saved.id,
        smart_launch_url=card_ctx.smart_launch_url,
    )
    fields_of = observation_fields(bundle)
    return plan_cards(saved.plan, imported.case, kb, plan_ctx, unmapped, fields_of), saved.id
