"""Request limits, security headers, bearer tokens and the access log of the web app.

* :class:`BodyLimitMiddleware`: bodies over the limit get 413 before the app reads them
  (by ``Content-Length``, or while streaming when it is absent or wrong).
* :class:`SecurityHeadersMiddleware`: CSP without any script (``script-src 'none'``),
  ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, no referrer.
* :class:`AccessLogMiddleware`: one log line per request with the method, the route (not the
  query string, which may hold a case id), status and time; never a body. It also answers
  an unexpected exception with 500 itself, logging only the exception's type.
* :func:`bearer_token_guard`: the ``/v1`` dependency that checks ``Authorization: Bearer``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netnav.web.problems import problem_response
from netnav.web.store import PLAN_ID

# The media type of FHIR JSON (HL7 FHIR R4, http://hl7.org/fhir/R4/http.html#mime-type).
FHIR_MEDIA_TYPE: Final = "application/fhir+json"

__all__ = [
    "FHIR_MEDIA_TYPE",
    "AccessLogMiddleware",
    "BodyLimitMiddleware",
    "CrashGuardMiddleware",
    "SecurityHeadersMiddleware",
    "TokenRequired",
    "bearer_token_guard",
]

log = logging.getLogger("netnav.web")

# Pages: styles from our own stylesheet only, no scripts at all, forms post to us only.
PAGE_CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; script-src 'none'"
)
# The patient guide is one self-contained document with its own <style> and inline SVG; it
# carries no script, and none may run.
GUIDE_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; script-src 'none'"
)


class _ResponseWatch:
    """A ``send`` that remembers whether the response has started and with what status
    (500 until it starts: what the client gets if the app fails first)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = int(message["status"])
        await self.send(message)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 (problem details) to a request body over ``limit`` bytes.

    FHIR bodies (``application/fhir+json``, ``fhir_paths`` such as the form's Bundle upload,
    and every request under ``/cds-services``) may be up to ``fhir_limit`` bytes: they carry a
    patient's record, not one case.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        fhir_limit: int | None = None,
        fhir_paths: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.fhir_limit = limit if fhir_limit is None else max(limit, fhir_limit)
        self.fhir_paths = frozenset(fhir_paths)

    def _limit_for(self, scope: Scope) -> int:
        media = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        path: str = scope.get("path", "")
        if (
            media == FHIR_MEDIA_TYPE
            or path in self.fhir_paths
            or path == "/cds-services"
            or path.startswith("/cds-services/")
        ):
            return self.fhir_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server itself refuses a malformed length
            if too_large:
                await self._refuse(scope, receive, send, limit)
                return
        received = 0
        watch = _ResponseWatch(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, watch)
        except _BodyTooLarge:
            if watch.started:  # pragma: no cover - the app answered before reading the body
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            "body-too-large",
            f"the request body is over {limit:,} bytes; nothing was read or saved",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add the security headers to every response (CSP chosen by the page kind)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                csp = PAGE_CSP
                if path.endswith("/guide") or path.endswith("/guide.html"):
                    csp = GUIDE_CSP
                extra = {
                    b"content-security-policy": csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                }
                for name, value in extra.items():
                    if name not in names:
                        headers.append((name, value))
                if b"cache-control" not in names:
                    # Plans are patient data: no shared caches, no back-forward copies.
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


# Path segments of netnav's own URLs; anything else in a logged path is replaced by "…", so a
# case id put in a URL by mistake never reaches the log. Plan ids (32 hex digits) are kept.
_URL_WORDS: Final = frozenset(
    {
        "v1", "plans", "new", "rerun", "explain", "guide", "guide.pdf", "clinician.pdf",
        "plan.json", "case.json", "edit", "knowledge", "rules", "schema", "case", "healthz",
        "docs", "openapi.json", "static", "netnav.css", "problems", "favicon.ico",
        "cds-services", "netnav-plan", "feedback",
    }
)  # fmt: skip


def loggable_path(path: str) -> str:
    """``path`` with every segment that is not a netnav URL word or a plan id as ``…``."""
    parts = [
        p if (p in _URL_WORDS or PLAN_ID.fullmatch(p) or p == "") else "…"
        for p in path.split("/")[:12]
    ]
    return "/".join(parts)


class AccessLogMiddleware:
    """Log ``METHOD path status ms [plan=id]`` per request: the path reduced to netnav's own
    words and plan ids (:func:`loggable_path`); never a query string, body or token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        watch = _ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        finally:
            plan_id = scope.get("state", {}).get("plan_id")
            log.info(
                "%s %s %d %.1f ms%s",
                str(scope.get("method", ""))[:10],
                loggable_path(str(scope.get("path", ""))),
                watch.status,
                (time.perf_counter() - start) * 1000,
                f" plan={plan_id}" if plan_id else "",
            )


class CrashGuardMiddleware:
    """Answer an unexpected exception with 500 here, inside the security headers, and do not
    re-raise it: the server would log the traceback, whose message can quote the case. Only
    the exception's type is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = _ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.error("internal error %s", type(exc).__name__)
            if watch.started:  # pragma: no cover - a response under way; the server closes it
                raise
            await _internal_error(scope, receive, send)


async def _internal_error(scope: Scope, receive: Receive, send: Send) -> None:
    path = str(scope.get("path", ""))
    if path.startswith(("/v1", "/cds-services")) or path == "/healthz":
        response: Any = problem_response("internal-error", "netnav failed; nothing was saved")
    else:
        from starlette.responses import HTMLResponse

        from netnav.web.pages import render_error_page

        response = HTMLResponse(
            render_error_page(
                500, "Something went wrong", "netnav failed on this request; nothing was saved."
            ),
            status_code=500,
        )
    await response(scope, receive, send)


class TokenRequired(Exception):
    """Raised by :func:`bearer_token_guard`; answered with 401 problem details."""


def bearer_token_guard(
    tokens: tuple[str, ...], required: bool
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency: when ``required``, the request must carry one of ``tokens``.

    Tokens are compared in constant time; a wrong or missing token raises
    :class:`TokenRequired` (401 with ``WWW-Authenticate: Bearer``).
    """
    encoded = tuple(t.encode() for t in tokens)

    async def guard(request: Request) -> None:
        if not required:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise TokenRequired
        candidate = given.strip().encode()
        # Compare with every token (no early exit) so timing says nothing about which matched.
        matched = False
        for token in encoded:
            matched |= secrets.compare_digest(candidate, token)
        if not matched:
            raise TokenRequired

    return guard


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def mark_plan(request: Request, plan_id: str) -> None:
    """Record the plan id of a request for the access log."""
    state: MutableMapping[str, Any] = request.scope.setdefault("state", {})
    state["plan_id"] = plan_id
