"""Server settings of ``netnav serve``, read from the environment.

| variable               | meaning                                                      | default |
|------------------------|--------------------------------------------------------------|---------|
| ``NETNAV_DATABASE_URL`` | SQLAlchemy URL of the plan store (SQLite or PostgreSQL)     | ``sqlite:///<data dir>/netnav.db`` |
| ``NETNAV_DATA_DIR``     | folder of the default SQLite file                           | ``~/.local/share/netnav`` |
| ``NETNAV_API_TOKENS``   | comma-separated bearer tokens for ``/v1`` (required off loopback) | none |
| ``NETNAV_SECRET_KEY``   | key that signs CSRF tokens (set it when running several workers) | random per process |
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from netnav.errors import NetnavError
from netnav.web.cds_config import CdsSettings, CdsSettingsError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_FHIR_BODY_BYTES",
    "ServerConfig",
    "ServerConfigError",
    "default_database_url",
    "is_loopback",
]

# The largest request body accepted (413 beyond it): the case format's own 1 MB limit.
MAX_BODY_BYTES: Final = 1_048_576
# FHIR bodies (a patient's Bundle, a CDS Hooks request with its prefetch) carry the whole
# record, not one case: 8 MB. The case made from them still obeys the 1 MB case limit.
MAX_FHIR_BODY_BYTES: Final = 8 * 1_048_576


class ServerConfigError(NetnavError):
    """The server cannot start as configured (the message says what to set)."""


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """``sqlite:///…/netnav.db`` in ``NETNAV_DATA_DIR`` (default ``~/.local/share/netnav``)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("NETNAV_DATA_DIR") or Path.home() / ".local" / "share" / "netnav")
    return f"sqlite:///{data_dir.expanduser() / 'netnav.db'}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    """How the web application runs.

    ``require_api_token`` is set when the server is bound to anything but loopback; the app
    then answers ``/v1`` only to a request bearing one of ``api_tokens``.
    """

    database_url: str
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    require_api_token: bool = False
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    max_body_bytes: int = MAX_BODY_BYTES
    max_fhir_body_bytes: int = MAX_FHIR_BODY_BYTES
    cds: CdsSettings = field(default_factory=CdsSettings)  # /cds-services (cds_config.py)

    @classmethod
    def from_env(
        cls, host: str = "127.0.0.1", env: Mapping[str, str] | None = None
    ) -> ServerConfig:
        """Settings for a server bound to ``host``.

        Raises :class:`ServerConfigError` when ``host`` is not loopback and
        ``NETNAV_API_TOKENS`` holds no token: the API would be open to the network.
        """
        env = os.environ if env is None else env
        tokens = tuple(t.strip() for t in env.get("NETNAV_API_TOKENS", "").split(",") if t.strip())
        short = [t for t in tokens if len(t) < 16]
        if short:
            raise ServerConfigError(
                "NETNAV_API_TOKENS: every token must be at least 16 characters long "
                f"({len(short)} shorter); generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        loopback = is_loopback(host)
        if not loopback and not tokens:
            raise ServerConfigError(
                f"refusing to serve on {host}: the JSON API would be open to the network. "
                "Set NETNAV_API_TOKENS to one or more bearer tokens (comma-separated), "
                "or bind to 127.0.0.1"
            )
        secret = env.get("NETNAV_SECRET_KEY") or secrets.token_urlsafe(32)
        try:
            cds = CdsSettings.from_env(env, loopback=loopback)
        except CdsSettingsError as error:
            raise ServerConfigError(str(error)) from None
        return cls(
            database_url=env.get("NETNAV_DATABASE_URL") or default_database_url(env),
            api_tokens=tokens,
            require_api_token=not loopback,
            secret_key=secret,
            cds=cds,
        )
