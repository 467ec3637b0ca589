"""Settings of the CDS Hooks service (``/cds-services``), read from the environment.

| variable | meaning | default |
|---|---|---|
| ``NETNAV_CDS_ISSUERS`` | JSON list of the CDS clients (EHRs) trusted to call the service: ``[{"iss": …, "jku": [urls], "jwks_url": url, "jwks": {"keys": [...]}, "sub": [client ids]}]`` | none: every call is refused (401) |
| ``NETNAV_CDS_BASE_URL`` | the service's public base URL (``https://netnav.example.org``): the JWT ``aud`` and the absolute links of cards | the request's own base URL |
| ``NETNAV_CDS_SMART_LAUNCH_URL`` | the SMART app launch URL of the cards' ``smart`` link | the saved plan's page |
| ``NETNAV_CDS_CORS_ORIGINS`` | comma-separated browser origins allowed to call (``https://sandbox.cds-hooks.org``) | none |
| ``NETNAV_CDS_FETCH_TIMEOUT`` | seconds per request to the EHR's FHIR server (fetch-on-miss) and to a JWKS URL | ``10`` |
| ``NETNAV_CDS_MAX_PAGES`` | Bundle pages read per prefetch query (``next`` links; ``_count`` 200 a page); reaching it with pages left makes the record incomplete (a warning card, no plan) | ``50`` |
| ``NETNAV_CDS_AUTH`` | ``off`` switches the JWT check off (development only; refused off loopback) | on |

Each issuer needs at least one source of keys: ``jwks`` (a JWK Set given inline), ``jwks_url``
(fetched when a token names no ``jku``) or ``jku`` (the JWK Set URLs a token's ``jku`` header
may name; anything else is refused).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from netnav.errors import NetnavError

__all__ = ["CdsIssuer", "CdsSettings", "CdsSettingsError"]

DEFAULT_TIMEOUT_S: Final = 10.0
DEFAULT_MAX_PAGES: Final = 50


class CdsSettingsError(NetnavError):
    """The CDS Hooks settings cannot be used (the message names the variable)."""


@dataclass(frozen=True)
class CdsIssuer:
    """One trusted CDS client: its ``iss`` and where its public keys are."""

    iss: str
    jku: tuple[str, ...] = ()
    jwks_url: str | None = None
    jwks: Mapping[str, Any] | None = field(default=None, repr=False)
    sub: tuple[str, ...] = ()
    """Allowed ``sub`` (client id) values; empty: any."""

    @classmethod
    def from_json(cls, item: object, where: str = "NETNAV_CDS_ISSUERS") -> CdsIssuer:
        """An issuer from its JSON object; raises :class:`CdsSettingsError` when malformed."""
        if not isinstance(item, dict):
            raise CdsSettingsError(f"{where}: each issuer must be a JSON object")
        unknown = sorted(set(item) - {"iss", "jku", "jwks_url", "jwks", "sub"})
        if unknown:
            raise CdsSettingsError(f"{where}: unknown keys {unknown}")
        iss = item.get("iss")
        if not isinstance(iss, str) or not iss:
            raise CdsSettingsError(f"{where}: every issuer needs an 'iss' string")
        jku = _strings(item.get("jku", []), f"{where}[{iss}].jku")
        sub = _strings(item.get("sub", []), f"{where}[{iss}].sub")
        jwks_url = item.get("jwks_url")
        if jwks_url is not None and not isinstance(jwks_url, str):
            raise CdsSettingsError(f"{where}[{iss}].jwks_url must be a URL string")
        for url in (*jku, *([jwks_url] if jwks_url else [])):
            if not _is_web_url(url):
                raise CdsSettingsError(f"{where}[{iss}]: {url!r} is not an http(s) URL")
        jwks = item.get("jwks")
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise CdsSettingsError(f"{where}[{iss}].jwks must be a JWK Set {{'keys': [...]}}")
        if not (jku or jwks_url or jwks):
            raise CdsSettingsError(f"{where}[{iss}]: give 'jwks', 'jwks_url' or 'jku'")
        return cls(iss=iss, jku=jku, jwks_url=jwks_url, jwks=jwks, sub=sub)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CdsSettingsError(f"{where} must be a string or a list of strings")
    return tuple(value)


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class CdsSettings:
    """How the CDS Hooks service runs (see the module docstring for the variables).

    ``transport`` is for tests only: an ``httpx`` transport (``httpx.MockTransport``) used for
    every outgoing request (fetch-on-miss, JWKS), so no test touches the network.
    """

    issuers: tuple[CdsIssuer, ...] = ()
    base_url: str | None = None
    smart_launch_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    fetch_timeout_s: float = DEFAULT_TIMEOUT_S
    max_pages: int = DEFAULT_MAX_PAGES
    auth_required: bool = True
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, loopback: bool = True
    ) -> CdsSettings:
        """The settings of the environment; raises :class:`CdsSettingsError` when malformed
        or when ``NETNAV_CDS_AUTH=off`` is asked for a server off loopback."""
        env = os.environ if env is None else env
        issuers: tuple[CdsIssuer, ...] = ()
        raw = env.get("NETNAV_CDS_ISSUERS", "").strip()
        if raw:
            try:
                items = json.loads(raw)
            except ValueError:
                raise CdsSettingsError("NETNAV_CDS_ISSUERS is not valid JSON") from None
            if not isinstance(items, list):
                raise CdsSettingsError("NETNAV_CDS_ISSUERS must be a JSON list of issuers")
            issuers = tuple(CdsIssuer.from_json(i) for i in items)
        auth = env.get("NETNAV_CDS_AUTH", "on").strip().lower()
        if auth not in ("on", "off"):
            raise CdsSettingsError("NETNAV_CDS_AUTH must be 'on' or 'off'")
        if auth == "off" and not loopback:
            raise CdsSettingsError(
                "NETNAV_CDS_AUTH=off is for development on loopback only; configure "
                "NETNAV_CDS_ISSUERS instead"
            )
        base_url = env.get("NETNAV_CDS_BASE_URL", "").strip().rstrip("/") or None
        if base_url is not None and not _is_web_url(base_url):
            raise CdsSettingsError("NETNAV_CDS_BASE_URL must be an http(s) URL")
        launch = env.get("NETNAV_CDS_SMART_LAUNCH_URL", "").strip() or None
        if launch is not None and not _is_web_url(launch):
            raise CdsSettingsError("NETNAV_CDS_SMART_LAUNCH_URL must be an http(s) URL")
        origins = tuple(
            o.strip().rstrip("/") for o in env.get("NETNAV_CDS_CORS_ORIGINS", "").split(",")
        )
        return cls(
            issuers=issuers,
            base_url=base_url,
            smart_launch_url=launch,
            cors_origins=tuple(o for o in origins if o),
            fetch_timeout_s=_number(env, "NETNAV_CDS_FETCH_TIMEOUT", DEFAULT_TIMEOUT_S, 0.1, 120),
            max_pages=int(_number(env, "NETNAV_CDS_MAX_PAGES", DEFAULT_MAX_PAGES, 1, 1000)),
            auth_required=auth == "on",
        )

    def issuer(self, iss: str) -> CdsIssuer | None:
        """The allowlisted issuer ``iss``, or None."""
        for issuer in self.issuers:
            if issuer.iss == iss:
                return issuer
        return None


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CdsSettingsError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise CdsSettingsError(f"{name} must be between {low:g} and {high:g}")
    return value
