"""External services for the tests: a private PostgreSQL cluster and Debian's chromium.

The helpers (`private_postgres`, `find_postgres_bindir`, `find_chromium`,
`chromium_launch_args`) do not need pytest; the fixtures `postgres_url` and
`chromium_path` (session-scoped, registered in tests/conftest.py) wrap them.

When a service is missing the fixtures skip the test with a hint to run
scripts/install-test-deps, except with NETNAV_REQUIRE_SERVICES=1 (CI), where they fail:
CI must never pass by skipping.

PostgreSQL: NETNAV_TEST_POSTGRES_URL, when set, is used as it is. Otherwise a throwaway
cluster is created in a temporary directory with the newest /usr/lib/postgresql/*/bin
(initdb, pg_ctl), started on a free port on 127.0.0.1 with trust authentication and
durability switched off for speed, and stopped and deleted at the end of the session.
The system's own cluster (if any) is neither used nor touched. initdb refuses to run as
root, so as root the cluster belongs to the `postgres` system user (via runuser).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE_ENV = "NETNAV_REQUIRE_SERVICES"
POSTGRES_URL_ENV = "NETNAV_TEST_POSTGRES_URL"
POSTGRES_MISSING = "PostgreSQL not installed: run scripts/install-test-deps"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_MISSING = f"chromium not installed ({CHROMIUM}): run scripts/install-test-deps"
DATABASE = "netnav_test"
DB_USER = "postgres"
START_TIMEOUT_S = 30


class ServiceUnavailable(RuntimeError):
    """A service the tests need is not installed."""


class ServiceError(RuntimeError):
    """A service is installed but could not be started."""


# --- PostgreSQL -------------------------------------------------------------------------


def find_postgres_bindir(root: Path = Path("/usr/lib/postgresql")) -> Path | None:
    """The bin directory of the newest installed PostgreSQL major version, or None."""
    found: list[tuple[int, Path]] = []
    for initdb in root.glob("*/bin/initdb"):
        bindir = initdb.parent
        version = bindir.parent.name
        if version.isdigit() and os.access(initdb, os.X_OK) and (bindir / "pg_ctl").exists():
            found.append((int(version), bindir))
    return max(found)[1] if found else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST ... in the caller's environment must not redirect our commands.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class _Cluster:
    """A throwaway cluster in `base`; commands run as `postgres` when we are root."""

    def __init__(self, bindir: Path, base: Path, as_postgres: bool) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        self.port = 0

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self.prefix, str(self.bindir / tool), *args]
        proc = subprocess.run(
            cmd,
            cwd=self.base,  # the postgres user may not be allowed into the caller's cwd
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
            check=False,
        )
        if check and proc.returncode != 0:
            raise ServiceError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                + self.log_tail()
            )
        return proc

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()[-20:]
        except OSError:
            return ""
        return "\n--- postgres log (last lines) ---\n" + "\n".join(lines)

    def initdb(self) -> None:
        self.run(
            "initdb",
            "-D", str(self.data),
            "-U", DB_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        # A free port can be taken between our check and the server's bind: try a few.
        for attempt in range(3):
            self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories='{self.base}'",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=50",
                    "-c logging_collector=off",
                ]
            )
            proc = self.run(
                "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                "-w", "-t", str(START_TIMEOUT_S), "-o", options,
                check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                break
            if attempt == 2 or "already in use" not in self.log_tail():
                raise ServiceError(
                    f"PostgreSQL did not start within {START_TIMEOUT_S} s on port {self.port} "
                    f"(pg_ctl exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
                    + self.log_tail()
                )
        self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            proc = self.run(
                "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER,
                check=False,
            )  # fmt: skip
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"PostgreSQL on 127.0.0.1:{self.port} not ready after {START_TIMEOUT_S} s"
                    + self.log_tail()
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        proc = self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", check=False)
        if proc.returncode != 0:
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)


@contextlib.contextmanager
def private_postgres(bindir: Path | None = None) -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster and yield its SQLAlchemy URL (database
    `netnav_test`, user `postgres`, trust authentication on 127.0.0.1). The cluster is
    stopped and its directory deleted on exit, whatever happened.

    Raises ServiceUnavailable when PostgreSQL is not installed, ServiceError when it is
    but the cluster cannot be created or started.
    """
    bindir = bindir or find_postgres_bindir()
    if bindir is None:
        raise ServiceUnavailable(POSTGRES_MISSING)
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceUnavailable(
                "running as root but there is no `postgres` system user to own the test "
                "cluster (initdb refuses root): run scripts/install-test-deps"
            ) from None
        if shutil.which("runuser") is None:
            raise ServiceUnavailable("running as root but `runuser` (util-linux) is missing")
    # As root the directory must be reachable by `postgres`: /tmp, not root's own $TMPDIR.
    base = Path(tempfile.mkdtemp(prefix="netnav-pg-", dir="/tmp" if as_root else None))
    cluster = _Cluster(bindir, base, as_postgres=as_root)
    try:
        if as_root:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        cluster.initdb()
        cluster.start()
        cluster.run("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", DB_USER, DATABASE)
        yield f"postgresql+psycopg://{DB_USER}@127.0.0.1:{cluster.port}/{DATABASE}"
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


# --- chromium ----------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Debian's chromium, if installed."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else None


def chromium_launch_args() -> list[str]:
    """Extra chromium flags for Playwright's launch(args=...): headless, possibly as root,
    in a container, with no network beyond what the test serves. (Playwright adds
    --headless itself.) --disable-dev-shm-usage: containers often have a tiny /dev/shm."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]


# --- pytest fixtures ---------------------------------------------------------------------


def services_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(message: str) -> NoReturn:
    """Skip the test, or fail it when NETNAV_REQUIRE_SERVICES=1 (CI)."""
    if services_required():
        pytest.fail(f"{message} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL database for this test session (see module doc)."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url
        return
    if find_postgres_bindir() is None:
        unavailable(POSTGRES_MISSING)
    with private_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium, for Playwright's launch(executable_path=...)."""
    path = find_chromium()
    if path is None:
        unavailable(CHROMIUM_MISSING)
    return path
