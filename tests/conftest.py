"""Test session set-up: a private knowledge cache, so tests never read or write the user's."""

from __future__ import annotations

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="netnav-test-cache-")
os.environ["NETNAV_CACHE_DIR"] = _CACHE

# Session fixtures for the external services (private PostgreSQL cluster, Debian's chromium).
from tests.services import chromium_path, postgres_url  # noqa: E402, F401
