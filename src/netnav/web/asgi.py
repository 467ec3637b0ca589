"""The ASGI application for uvicorn (``netnav serve``; ``uvicorn netnav.web.asgi:app``).

Settings come from the environment (see :mod:`netnav.web.config`); ``NETNAV_SERVE_HOST`` is
the address the server is bound to, so the bearer-token rule applies to plain ``uvicorn``
runs too.
"""

from __future__ import annotations

import gc
import os

from netnav.api import recommend
from netnav.case.load import case_from_mapping
from netnav.knowledge.load import default_knowledge
from netnav.web.app import create_app
from netnav.web.config import ServerConfig
from netnav.web.pages import bundled_examples

app = create_app(ServerConfig.from_env(os.environ.get("NETNAV_SERVE_HOST", "127.0.0.1")))


def _settle_heap() -> None:
    """Plan one bundled case (lazy caches get built), then freeze the heap.

    The knowledge base and caches are ~130,000 long-lived objects; without ``gc.freeze`` every
    full collection re-scans them, pausing the server 75–240 ms every couple of seconds under
    load (measured at 50 plans/s: p99 256 ms before, 28 ms after).
    """
    example = bundled_examples()[0]
    recommend(case_from_mapping(example.case), default_knowledge())
    gc.collect()
    gc.freeze()


_settle_heap()
