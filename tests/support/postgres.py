"""A throwaway PostgreSQL server for tests: `initdb` into a temporary folder, `pg_ctl start` on a
Unix socket only (no TCP port, nothing reachable from outside), one database per test.

PostgreSQL refuses to run as root; as root (CI) the server runs as the `postgres` system user
through `runuser`. `find_pg_bin()` looks on PATH and in Debian's /usr/lib/postgresql/*/bin.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOW_TO = (
    "PostgreSQL tests need the server binaries (initdb, pg_ctl) and psycopg: "
    "`apt-get install postgresql` and `pip install -e '.[postgres]'` (`.ci/run` does both), "
    "or leave them out with `pytest -m 'not postgres'`."
)


def find_pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server(root: Path) -> Iterator[str]:
    """Start a server with its data and socket under `root`; yields the socket folder."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError(HOW_TO)
    root.mkdir(parents=True, exist_ok=True)
    data, sock = root / "data", root / "sock"
    sock.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        root.chmod(0o755)
        for parent in root.parents:  # the server user must be able to reach its folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)

    def run(program: str, *args: str) -> None:
        subprocess.run(_as_server_user([str(pg_bin / program), *args]), check=True, capture_output=True,
                       text=True, timeout=120)

    run("initdb", "-D", str(data), "-A", "trust", "-U", "resto", "--no-sync", "-E", "UTF8")
    options = f"-k {sock} -c listen_addresses='' -c fsync=off -c max_connections=50"
    run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    try:
        yield str(sock)
    finally:
        subprocess.run(_as_server_user([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)


def create_database(sock: str, name: str) -> str:
    """A new empty database on the server; returns its SQLAlchemy URL (psycopg 3 driver)."""
    import psycopg

    with psycopg.connect(host=sock, user="resto", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://resto@/{name}?host={sock}"
