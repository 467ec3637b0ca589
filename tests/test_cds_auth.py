"""The CDS client JWT: a negative matrix (every refusal a bare 401, the token never logged),
accepted tokens (RSA, EC, PS; inline keys and an allowlisted ``jku``), the replay cache, the
JWK Set cache and the settings read from the environment."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from netnav.web.cds_auth import CdsJwtVerifier, CdsUnauthorized, JwksCache, ReplayCache
from netnav.web.cds_config import CdsSettings, CdsSettingsError
from netnav.web.config import ServerConfig, ServerConfigError
from tests.cds_support import (
    EHR_ISS,
    EHR_JKU,
    FEEDBACK_URL,
    SERVICE_URL,
    FakeEhr,
    Signer,
    bearer,
    cds_web,
    ec_signer,
    make_token,
    rsa_signer,
    settings_for,
)
from tests.web_server import free_port
from tests.web_support import WebApp, sqlite_url

FEEDBACK = {
    "feedback": [
        {
            "card": "9c7f0b7e-7a6c-5f6e-8f43-1f0c7b2b8a10",
            "outcome": "accepted",
            "outcomeTimestamp": "2026-12-01T10:15:00Z",
        }
    ]
}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return rsa_signer()


@pytest.fixture(scope="module")
def other() -> Signer:
    """A key the service does not know (same kid as ``signer``)."""
    return rsa_signer()


@pytest.fixture(scope="module")
def jku_signer() -> Signer:
    return ec_signer("ehr-jku-1", "ES384")


@pytest.fixture
def ehr(jku_signer: Signer) -> FakeEhr:
    return FakeEhr([], jwks=jku_signer.jwks())


@pytest.fixture
def web(tmp_path: Path, signer: Signer, ehr: FakeEhr) -> Iterator[WebApp]:
    with cds_web(sqlite_url(tmp_path), settings_for(ehr, signer)) as app:
        yield app


def _post(web: WebApp, url: str, headers: dict[str, str]) -> httpx.Response:
    return web.client.post(
        url, content=json.dumps(FEEDBACK), headers={"Content-Type": "application/json", **headers}
    )


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    return jwt.encode(claims, key=None, algorithm="none", headers=header)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": EHR_ISS,
        "aud": SERVICE_URL,
        "exp": now + 300,
        "iat": now,
        "jti": "x1",
        **changes,
    }


def _hs256_with_public_key(signer: Signer) -> str:
    # The classic confusion attack: the RSA public key (PEM) used as an HMAC secret. PyJWT
    # itself refuses to sign with a PEM as HMAC key, so the token is assembled by hand.
    import base64
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
    body = b64(json.dumps(_claims(jti="hs-1")).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


# Each entry: (name, headers for the request) built from the signers.
NEGATIVE: dict[str, Callable[[Signer, Signer], dict[str, str]]] = {
    "no Authorization header": lambda s, o: {},
    "not a bearer scheme": lambda s, o: {"Authorization": f"Basic {make_token(s)}"},
    "bearer without token": lambda s, o: {"Authorization": "Bearer "},
    "malformed token": lambda s, o: bearer("not.a.jwt"),
    "garbage base64": lambda s, o: bearer("eyJhbGciOi.@@@.###"),
    "alg none": lambda s, o: bearer(_unsigned(_claims(), {"kid": s.kid})),
    "HS256 with the public key as secret": lambda s, o: bearer(_hs256_with_public_key(s)),
    "HS256 with a shared secret": lambda s, o: bearer(
        jwt.encode(_claims(), "s" * 32, algorithm="HS256", headers={"kid": s.kid})
    ),
    "signed with another key": lambda s, o: bearer(make_token(s, key=o.private_key)),
    "unknown iss": lambda s, o: bearer(make_token(s, iss="https://evil.example")),
    "iss missing": lambda s, o: bearer(make_token(s, drop=("iss",))),
    "jku not allowlisted": lambda s, o: bearer(
        make_token(s, headers={"jku": "https://evil.example/jwks.json"})
    ),
    "wrong aud": lambda s, o: bearer(make_token(s, aud="https://other.example/cds-services/x")),
    "aud missing": lambda s, o: bearer(make_token(s, drop=("aud",))),
    "expired": lambda s, o: bearer(make_token(s, exp=int(time.time()) - 120)),
    "exp missing": lambda s, o: bearer(make_token(s, drop=("exp",))),
    "exp too far ahead": lambda s, o: bearer(make_token(s, exp=int(time.time()) + 86_400)),
    "iat in the future": lambda s, o: bearer(make_token(s, iat=int(time.time()) + 600)),
    "iat missing": lambda s, o: bearer(make_token(s, drop=("iat",))),
    "jti missing": lambda s, o: bearer(make_token(s, drop=("jti",))),
    "jti empty": lambda s, o: bearer(make_token(s, jti="")),
    "kid unknown": lambda s, o: bearer(make_token(s, headers={"kid": "no-such-key"})),
    "kid missing": lambda s, o: bearer(
        jwt.encode(_claims(jti="nokid"), s.private_key, algorithm=s.alg)
    ),
    "algorithm other than the key's": lambda s, o: bearer(make_token(s, alg="RS256")),
}


@pytest.mark.parametrize("case", sorted(NEGATIVE))
@pytest.mark.parametrize("url", [SERVICE_URL, FEEDBACK_URL], ids=["service", "feedback"])
def test_refused_token_gets_a_bare_401_and_is_not_logged(
    web: WebApp,
    signer: Signer,
    other: Signer,
    case: str,
    url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = NEGATIVE[case](signer, other)
    caplog.set_level(logging.DEBUG)

    response = _post(web, url, headers)

    assert response.status_code == 401, case
    assert response.content == b""  # nothing says why
    assert "www-authenticate" not in response.headers
    token = headers.get("Authorization", "").partition(" ")[2]
    assert any("cds auth refused" in r.getMessage() for r in caplog.records)
    if len(token) > 8:
        assert all(token not in r.getMessage() for r in caplog.records)
        assert all(token[-20:] not in r.getMessage() for r in caplog.records)


def test_the_negative_matrix_has_at_least_twelve_cases() -> None:
    assert len(NEGATIVE) >= 12


def test_replayed_jti_is_refused(web: WebApp, signer: Signer) -> None:
    token = make_token(signer, aud=FEEDBACK_URL)
    assert _post(web, FEEDBACK_URL, bearer(token)).status_code == 200
    again = _post(web, FEEDBACK_URL, bearer(token))
    assert again.status_code == 401
    assert again.content == b""
    # A new token with the same jti is a replay too.
    same_jti = make_token(
        signer, aud=FEEDBACK_URL, jti=jwt.decode(token, options={"verify_signature": False})["jti"]
    )
    assert _post(web, FEEDBACK_URL, bearer(same_jti)).status_code == 401


def test_valid_rsa_token_with_inline_keys_is_accepted(web: WebApp, signer: Signer) -> None:
    assert _post(web, FEEDBACK_URL, bearer(make_token(signer))).status_code == 200  # aud = service


def test_feedback_accepts_its_own_url_as_aud(web: WebApp, signer: Signer) -> None:
    assert _post(web, FEEDBACK_URL, bearer(make_token(signer, aud=FEEDBACK_URL))).status_code == 200


def test_aud_as_a_list_naming_the_service_is_accepted(web: WebApp, signer: Signer) -> None:
    token = make_token(signer, aud=["https://other.example", SERVICE_URL])
    assert _post(web, FEEDBACK_URL, bearer(token)).status_code == 200


def test_ec_token_with_allowlisted_jku_is_accepted_and_the_set_fetched_once(
    web: WebApp, jku_signer: Signer, ehr: FakeEhr
) -> None:
    for _ in range(3):
        token = make_token(jku_signer, headers={"jku": EHR_JKU})
        assert _post(web, FEEDBACK_URL, bearer(token)).status_code == 200
    assert [str(r.url) for r in ehr.requests] == [EHR_JKU]


def test_jku_key_is_not_accepted_without_the_jku_header(web: WebApp, jku_signer: Signer) -> None:
    # The issuer's inline keys do not hold the jku key: without jku the kid is unknown.
    assert _post(web, FEEDBACK_URL, bearer(make_token(jku_signer))).status_code == 401


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256", "PS384", "ES256", "ES512"])
def test_every_allowed_algorithm_is_accepted(tmp_path: Path, alg: str) -> None:
    signer = ec_signer(f"k-{alg}", alg) if alg.startswith("ES") else rsa_signer(f"k-{alg}", alg)
    with cds_web(sqlite_url(tmp_path), settings_for(None, signer)) as web:
        assert _post(web, FEEDBACK_URL, bearer(make_token(signer))).status_code == 200


def test_configured_base_url_is_the_audience(tmp_path: Path, signer: Signer) -> None:
    public = "https://netnav.example.org"
    settings = settings_for(None, signer, base_url=public)
    with cds_web(sqlite_url(tmp_path), settings) as web:
        ok = make_token(signer, aud=f"{public}/cds-services/netnav-plan")
        assert _post(web, FEEDBACK_URL, bearer(ok)).status_code == 200
        assert _post(web, FEEDBACK_URL, bearer(make_token(signer))).status_code == 401


def test_sub_allowlist(tmp_path: Path, signer: Signer) -> None:
    from dataclasses import replace

    settings = settings_for(None, signer)
    issuer = replace(settings.issuers[0], sub=("trusted-client",))
    with cds_web(sqlite_url(tmp_path), replace(settings, issuers=(issuer,))) as web:
        assert (
            _post(web, FEEDBACK_URL, bearer(make_token(signer, sub="trusted-client"))).status_code
            == 200
        )
        assert (
            _post(web, FEEDBACK_URL, bearer(make_token(signer, sub="someone"))).status_code == 401
        )


def test_no_issuers_configured_refuses_everything(tmp_path: Path, signer: Signer) -> None:
    with cds_web(sqlite_url(tmp_path), CdsSettings()) as web:
        assert _post(web, FEEDBACK_URL, bearer(make_token(signer))).status_code == 401
        assert web.client.get("/cds-services").status_code == 200  # discovery stays open


def test_auth_off_is_explicit_and_loopback_only(tmp_path: Path) -> None:
    with cds_web(sqlite_url(tmp_path), CdsSettings(auth_required=False)) as web:
        assert _post(web, FEEDBACK_URL, {}).status_code == 200
    with pytest.raises(CdsSettingsError, match="loopback"):
        CdsSettings.from_env({"NETNAV_CDS_AUTH": "off"}, loopback=False)
    with pytest.raises(ServerConfigError, match="NETNAV_CDS_AUTH"):
        ServerConfig.from_env("0.0.0.0", {"NETNAV_API_TOKENS": "t" * 20, "NETNAV_CDS_AUTH": "off"})


# --- units --------------------------------------------------------------------------------


def test_replay_cache_forgets_expired_entries_and_fails_closed_when_full() -> None:
    cache = ReplayCache(max_entries=2)
    assert cache.claim("i", "a", exp=100, now=50)
    assert not cache.claim("i", "a", exp=100, now=60)
    assert cache.claim("j", "a", exp=100, now=60)  # per issuer
    assert not cache.claim("i", "b", exp=500, now=60)  # full of live entries: refused
    assert cache.claim("i", "b", exp=500, now=200)  # the others expired: purged
    assert len(cache) == 1


def test_jwks_cache_refreshes_an_unknown_kid_at_most_every_30_seconds() -> None:
    calls: list[str] = []
    now = [1000.0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"keys": [{"kid": "a"}]})

    cache = JwksCache(timeout_s=1, transport=httpx.MockTransport(handler), clock=lambda: now[0])

    async def run() -> None:
        await cache.keys(EHR_JKU)
        await cache.keys(EHR_JKU, refresh=True)  # just read: not again
        now[0] += 31
        await cache.keys(EHR_JKU, refresh=True)
        await cache.keys(EHR_JKU)
        now[0] += 301
        await cache.keys(EHR_JKU)

    asyncio.run(run())
    assert len(calls) == 3


def test_jwks_fetch_failure_refuses_the_token(signer: Signer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    settings = settings_for(None, signer, transport=httpx.MockTransport(handler))
    verifier = CdsJwtVerifier(settings)
    token = make_token(signer, headers={"jku": EHR_JKU})
    with pytest.raises(CdsUnauthorized, match="kid"):
        asyncio.run(verifier.verify(f"Bearer {token}", [SERVICE_URL]))


def test_settings_from_env() -> None:
    issuers = [
        {"iss": EHR_ISS, "jku": [EHR_JKU]},
        {
            "iss": "https://sandbox.cds-hooks.org",
            "jku": "https://sandbox.cds-hooks.org/.well-known/jwks.json",
        },
    ]
    settings = CdsSettings.from_env(
        {
            "NETNAV_CDS_ISSUERS": json.dumps(issuers),
            "NETNAV_CDS_BASE_URL": "https://netnav.example.org/",
            "NETNAV_CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org, https://ehr.example",
            "NETNAV_CDS_FETCH_TIMEOUT": "5",
            "NETNAV_CDS_MAX_PAGES": "3",
        }
    )
    assert [i.iss for i in settings.issuers] == [EHR_ISS, "https://sandbox.cds-hooks.org"]
    assert settings.issuers[1].jku == ("https://sandbox.cds-hooks.org/.well-known/jwks.json",)
    assert settings.base_url == "https://netnav.example.org"
    assert settings.cors_origins == ("https://sandbox.cds-hooks.org", "https://ehr.example")
    assert (settings.fetch_timeout_s, settings.max_pages, settings.auth_required) == (5, 3, True)
    assert ServerConfig.from_env(env={"NETNAV_CDS_ISSUERS": json.dumps(issuers)}).cds.issuers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NETNAV_CDS_ISSUERS": "{not json"}, "not valid JSON"),
        ({"NETNAV_CDS_ISSUERS": '{"iss": "x"}'}, "JSON list"),
        ({"NETNAV_CDS_ISSUERS": '[{"iss": "x"}]'}, "give 'jwks'"),
        ({"NETNAV_CDS_ISSUERS": '[{"iss": "x", "jku": ["ftp://x"]}]'}, "not an http"),
        (
            {"NETNAV_CDS_ISSUERS": '[{"iss": "x", "jwks_url": "https://x", "typo": 1}]'},
            "unknown keys",
        ),
        ({"NETNAV_CDS_BASE_URL": "netnav.example.org"}, "NETNAV_CDS_BASE_URL"),
        ({"NETNAV_CDS_MAX_PAGES": "0"}, "NETNAV_CDS_MAX_PAGES"),
        ({"NETNAV_CDS_AUTH": "maybe"}, "NETNAV_CDS_AUTH"),
    ],
)
def test_malformed_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(CdsSettingsError, match=message):
        CdsSettings.from_env(env)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"NETNAV_CDS_AUTH": "off"}, "CDS Hooks client JWTs are NOT checked"),
        ({}, "no CDS Hooks client is trusted yet"),
    ],
    ids=["auth-off", "no-issuers"],
)
def test_serve_says_at_start_how_cds_clients_are_checked(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    """``netnav serve`` tells the operator when CDS calls are unchecked or all refused."""

    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NETNAV_CDS_")},
        "NETNAV_DATA_DIR": str(tmp_path),
        **env,
    }
    command = [sys.executable, "-m", "netnav", "serve", "--port", str(free_port())]
    with subprocess.Popen(
        command, env=environ, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as server:
        assert server.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                line = server.stderr.readline()
                lines.append(line)
                if not line or "netnav: open http" in line:
                    break
        finally:
            server.terminate()
            server.wait(timeout=10)
            server.stderr.close()
    assert any(said in line for line in lines), lines
