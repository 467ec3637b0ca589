"""The CDS Hooks client JWT (CDS Hooks 2.0, "Trusting CDS Clients").

Every call to the service and to its feedback endpoint carries ``Authorization: Bearer <JWT>``
signed by the CDS client (the EHR). :class:`CdsJwtVerifier` accepts a token only when all of
these hold, and otherwise raises :class:`CdsUnauthorized` (the caller answers a bare 401):

* the header names an asymmetric algorithm (RS256/384/512, PS256/384/512, ES256/384/512; never
  ``none`` or HMAC) and a ``kid``;
* ``iss`` is an allowlisted issuer (:class:`~netnav.web.cds_config.CdsIssuer`); a ``jku``
  header is one of that issuer's allowlisted JWK Set URLs (nothing else is ever fetched);
* the signature verifies with the key of that ``kid`` in the issuer's JWK Set (inline, from
  ``jwks_url`` or from the ``jku``; fetched sets are cached and re-read at most every
  :data:`JWKS_REFRESH_S` when a ``kid`` is unknown);
* ``aud`` is the URL of the endpoint called; ``exp`` is present and not past, and at most
  :data:`MAX_LIFETIME_S` ahead; ``iat`` is present and not in the future (:data:`LEEWAY_S`
  either way); ``jti`` is present and was not seen before (a bounded replay cache whose entries
  expire with their token); ``sub`` is allowlisted when the issuer lists client ids.

The reason of a refusal is logged (``netnav.web.cds``), never the token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
import jwt

from netnav.web.cds_config import CdsIssuer, CdsSettings

__all__ = [
    "ALGORITHMS",
    "CdsJwtVerifier",
    "CdsUnauthorized",
    "JwksCache",
    "ReplayCache",
    "bearer_token",
]

log = logging.getLogger("netnav.web.cds")

# Asymmetric JWS algorithms only: "none" and HMAC (HS*) are refused, whatever the key says.
ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_EC_CURVES: Final = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
LEEWAY_S: Final = 30
"""Clock difference tolerated on ``exp`` and ``iat``."""
MAX_LIFETIME_S: Final = 900
"""The furthest ``exp`` may lie ahead (the spec asks clients for 5 minutes at most)."""
JWKS_TTL_S: Final = 300
JWKS_REFRESH_S: Final = 30
MAX_TOKEN_BYTES: Final = 16_384
REPLAY_CACHE_SIZE: Final = 100_000


class CdsUnauthorized(Exception):
    """The request is not from a trusted CDS client; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or raise."""
    if not authorization:
        raise CdsUnauthorized("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise CdsUnauthorized("Authorization is not a bearer token")
    if len(token) > MAX_TOKEN_BYTES:
        raise CdsUnauthorized("token too long")
    return token


class ReplayCache:
    """``jti`` values already accepted, each kept until its token expires.

    Bounded: when full of unexpired entries a new token is refused (fail closed) rather than
    forgetting one that could then be replayed. Per process: several workers each keep their
    own (see docs/cds-hooks.md).
    """

    def __init__(self, max_entries: int = REPLAY_CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def claim(self, iss: str, jti: str, exp: float, now: float) -> bool:
        """Record ``jti`` of ``iss``; False when it was seen before or the cache is full."""
        key = (iss, jti)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen + LEEWAY_S >= now:
                return False
            if len(self._seen) >= self.max_entries:
                self._purge(now)
                if len(self._seen) >= self.max_entries:
                    log.warning("cds auth: replay cache full; refusing new tokens")
                    return False
            self._seen[key] = exp
            return True

    def _purge(self, now: float) -> None:
        expired = [k for k, exp in self._seen.items() if exp + LEEWAY_S < now]
        for k in expired:
            del self._seen[k]

    def __len__(self) -> int:
        return len(self._seen)


@dataclass
class _Fetched:
    keys: list[Mapping[str, Any]]
    at: float


class JwksCache:
    """JWK Sets fetched from allowlisted URLs, cached for :data:`JWKS_TTL_S`."""

    def __init__(
        self,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.transport = transport
        self.clock = clock
        self._sets: dict[str, _Fetched] = {}
        self._lock = asyncio.Lock()

    async def keys(self, url: str, *, refresh: bool = False) -> list[Mapping[str, Any]]:
        """The keys of the JWK Set at ``url``; ``refresh`` re-reads it unless it was read in
        the last :data:`JWKS_REFRESH_S` (an unknown ``kid`` cannot force a fetch per call)."""
        async with self._lock:
            now = self.clock()
            cached = self._sets.get(url)
            if cached is not None:
                age = now - cached.at
                if age < JWKS_TTL_S and not (refresh and age >= JWKS_REFRESH_S):
                    return cached.keys
            try:
                keys = await self._fetch(url)
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("cds auth: JWKS %s not read (%s)", url, type(exc).__name__)
                return cached.keys if cached is not None else []
            self._sets[url] = _Fetched(keys, now)
            return keys

    async def _fetch(self, url: str) -> list[Mapping[str, Any]]:
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout_s, follow_redirects=False
        ) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError("not a JWK Set")
        return [k for k in keys if isinstance(k, dict)]


class CdsJwtVerifier:
    """Checks CDS client JWTs against :class:`~netnav.web.cds_config.CdsSettings`."""

    def __init__(
        self,
        settings: CdsSettings,
        *,
        clock: Callable[[], float] = time.time,
        replay: ReplayCache | None = None,
        jwks: JwksCache | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.replay = replay or ReplayCache()
        self.jwks = jwks or JwksCache(
            timeout_s=settings.fetch_timeout_s, transport=settings.transport
        )

    async def verify(self, authorization: str | None, audiences: Sequence[str]) -> dict[str, Any]:
        """The claims of the request's JWT; raises :class:`CdsUnauthorized`.

        ``audiences``: the URLs the token's ``aud`` may name (the endpoint called).
        """
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise CdsUnauthorized("malformed token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise CdsUnauthorized(f"algorithm {str(alg)[:20]!r} not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise CdsUnauthorized("no kid in the header")
        iss = unverified.get("iss")
        issuer = self.settings.issuer(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise CdsUnauthorized(f"issuer {str(iss)[:100]!r} not allowlisted")
        key = await self._key(issuer, header, kid, alg)
        now = self.clock()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=issuer.iss,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "jti", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise CdsUnauthorized(f"claims or signature refused ({type(exc).__name__})") from None
        except Exception as exc:  # a key of the wrong kind for the algorithm
            raise CdsUnauthorized(f"signature not verified ({type(exc).__name__})") from None
        return self._check_claims(issuer, claims, now)

    def _check_claims(
        self, issuer: CdsIssuer, claims: dict[str, Any], now: float
    ) -> dict[str, Any]:
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not isinstance(exp, int | float) or exp > now + MAX_LIFETIME_S + LEEWAY_S:
            raise CdsUnauthorized("exp too far ahead")
        if not isinstance(iat, int | float) or iat > now + LEEWAY_S:
            raise CdsUnauthorized("iat in the future")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise CdsUnauthorized("jti missing or malformed")
        if issuer.sub and claims.get("sub") not in issuer.sub:
            raise CdsUnauthorized("sub not allowlisted")
        if not self.replay.claim(issuer.iss, jti, float(exp), now):
            raise CdsUnauthorized("jti replayed")
        return claims

    async def _key(self, issuer: CdsIssuer, header: Mapping[str, Any], kid: str, alg: str) -> Any:
        jku = header.get("jku")
        if jku is not None:
            if not isinstance(jku, str) or jku not in issuer.jku:
                raise CdsUnauthorized("jku not allowlisted for the issuer")
            url: str | None = jku
        else:
            url = issuer.jwks_url
        keys: list[Mapping[str, Any]] = []
        if url is None:
            keys = list(issuer.jwks.get("keys", [])) if issuer.jwks else []
        else:
            keys = await self.jwks.keys(url)
            if not any(k.get("kid") == kid for k in keys):
                keys = await self.jwks.keys(url, refresh=True)
        for candidate in keys:
            if candidate.get("kid") == kid:
                return _public_key(candidate, alg)
        raise CdsUnauthorized("kid not in the issuer's keys")


def _public_key(jwk: Mapping[str, Any], alg: str) -> Any:
    """The public key of ``jwk`` for ``alg``; refuses a key of another kind or use."""
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        raise CdsUnauthorized("key not for this algorithm")
    kty = jwk.get("kty")
    if alg.startswith(("RS", "PS")) and kty != "RSA":
        raise CdsUnauthorized("algorithm needs an RSA key")
    if alg.startswith("ES") and (kty != "EC" or jwk.get("crv") != _EC_CURVES[alg]):
        raise CdsUnauthorized("algorithm needs an EC key of its curve")
    if "d" in jwk:  # a private key published by mistake is not used
        raise CdsUnauthorized("private key in the JWK Set")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        raise CdsUnauthorized("key not readable") from None
