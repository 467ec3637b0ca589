"""The ASGI application for uvicorn (``netnav serve``; ``uvicorn netnav.web.asgi:app``).

Settings come from the environment (see :mod:`netnav.web.config`); ``NETNAV_SERVE_HOST`` is
the address the server is bound to, so the bearer-token rule applies to plain ``uvicorn``
runs too.
"""

from __future__ import annotations

import os

from netnav.web.app import create_app
from netnav.web.config import ServerConfig

app = create_app(ServerConfig.from_env(os.environ.get("NETNAV_SERVE_HOST", "127.0.0.1")))
