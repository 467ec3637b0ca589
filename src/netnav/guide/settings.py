"""Clinic settings for the guides: who prepared them and how the patient reaches the team.

Read from a TOML file (``--settings FILE``, else ``$NETNAV_SETTINGS``, else
``~/.config/netnav/settings.toml`` when it exists); with none, neutral defaults that name no
clinic. Example (``examples/settings.toml``)::

    [clinic]
    name = "Northside NET Centre"
    phone = "+44 20 7946 0000"
    web = "https://example.org/net"
    email = "net.team@example.org"
    prepared_by = "Dr A. Rivera, consultant oncologist"

A malformed file raises :class:`netnav.errors.SettingsError` naming the key, the value and
what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from netnav.errors import SettingsError

__all__ = ["ClinicSettings", "Settings", "default_settings_path", "load_settings"]


class ClinicSettings(BaseModel):
    """``[clinic]``: shown on every guide. Empty strings are left out of the guide."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="your care team", min_length=1, max_length=120)
    phone: str = Field(default="", max_length=40)
    web: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=300)
    prepared_by: str = Field(default="your care team", min_length=1, max_length=120)

    @field_validator("web")
    @classmethod
    def _web_is_http(cls, value: str) -> str:
        # Only http(s) with a host: anything else (javascript:, file:) would be a live link.
        if value:
            parsed = urlsplit(value.strip())
            if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
                raise ValueError("must be a web address starting with https:// or http://")
        return value.strip()

    @field_validator("phone")
    @classmethod
    def _phone_chars(cls, value: str) -> str:
        if value and not all(c.isdigit() or c in " +()-." for c in value):
            raise ValueError("may contain only digits, spaces and + ( ) - .")
        return value


class Settings(BaseModel):
    """The whole settings file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clinic: ClinicSettings = ClinicSettings()


def default_settings_path() -> Path | None:
    """``$NETNAV_SETTINGS`` or ``~/.config/netnav/settings.toml`` if that file exists."""
    env = os.environ.get("NETNAV_SETTINGS")
    if env:
        return Path(env)
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidate = home / "netnav" / "settings.toml"
    return candidate if candidate.exists() else None


def load_settings(path: Path | None) -> Settings:
    """Settings from ``path`` (None: the neutral defaults).

    Raises :class:`SettingsError` when the file cannot be read, is not TOML, or a key or
    value is not allowed.
    """
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(str(path), "-", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(str(path), "-", f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(str(path), "-", f"not valid TOML: {exc}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        value = first.get("input")
        shown = repr(value) if not isinstance(value, dict) else "a table"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            section = first["loc"][0] if len(first["loc"]) > 1 else None
            allowed = ClinicSettings.model_fields if section == "clinic" else Settings.model_fields
            reason = f"unknown key; allowed: {', '.join(allowed)}"
        raise SettingsError(str(path), where, f"{reason} (found {shown})") from None
