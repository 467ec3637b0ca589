"""Run the real netnav web app in a uvicorn server on loopback, for browser and load tests.

``running_server(database_url)`` starts ``python -m uvicorn netnav.web.asgi:app`` in a child
process (one worker, 127.0.0.1, a free port), waits until ``/healthz`` answers 200 and yields
the base URL (``http://127.0.0.1:PORT``). On exit the server gets SIGINT (uvicorn's graceful
shutdown: open requests finish, the lifespan closes the plan store), then SIGKILL if it has
not stopped within a few seconds.

A child process rather than a thread: the server's own warnings, log lines and event loop
stay out of the test process (pytest runs with ``filterwarnings = error``), and shutting it
down cannot leave threads or sockets behind. The server's output goes to a log file, whose
tail is quoted when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ["SECRET_KEY", "ServerError", "free_port", "running_server"]

# A fixed CSRF signing key: the tests do not depend on it, but a fixed one makes a failure
# reproducible with the same cookies.
SECRET_KEY: Final = "netnav-test-secret-key-not-for-production-0123456789"
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0


class ServerError(RuntimeError):
    """The server did not start (the message quotes the end of its log)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n--- server log (last lines) ---\n" + "\n".join(text)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
    else:
        proc.wait()


@contextlib.contextmanager
def running_server(
    database_url: str,
    *,
    log_level: str = "warning",
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Serve netnav on 127.0.0.1 with its plans in ``database_url``; yield the base URL.

    ``log_level`` is uvicorn's (``warning`` keeps the access log out of a load test).
    Raises :class:`ServerError` when the server does not answer ``/healthz`` within
    30 seconds (the port is chosen again if it was taken in the meantime).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETNAV_")}
    env.update(
        NETNAV_DATABASE_URL=database_url,
        NETNAV_SECRET_KEY=SECRET_KEY,
        NETNAV_SERVE_HOST="127.0.0.1",
        # The tests' private knowledge cache, when they set one.
        **{k: v for k, v in os.environ.items() if k == "NETNAV_CACHE_DIR"},
        **(extra_env or {}),
    )
    with tempfile.TemporaryDirectory(prefix="netnav-server-log-") as log_dir:
        log = Path(log_dir) / "uvicorn.log"
        for attempt in range(3):
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [
                        sys.executable, "-m", "uvicorn", "netnav.web.asgi:app",
                        "--host", "127.0.0.1", "--port", str(port),
                        "--workers", "1", "--log-level", log_level,
                        "--no-server-header", "--timeout-graceful-shutdown", "5",
                        # Longer than clients keep idle connections (httpx: 5 s), so the
                        # server never closes one a client is about to reuse.
                        "--timeout-keep-alive", "30",
                    ],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            try:
                deadline = time.monotonic() + START_TIMEOUT_S
                while not _healthy(base_url):
                    if proc.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        raise ServerError(
                            f"netnav did not answer {base_url}/healthz within "
                            f"{START_TIMEOUT_S:.0f} s" + _tail(log)
                        )
                    time.sleep(0.05)
                else:
                    yield base_url
                    return
                # The server exited before it was ready.
                taken = "address already in use" in _tail(log).lower()
                if not taken or attempt == 2:
                    raise ServerError(
                        f"netnav server exited with code {proc.returncode} before it was "
                        "ready" + _tail(log)
                    )
            finally:
                _stop(proc)
        raise AssertionError("unreachable")  # pragma: no cover
