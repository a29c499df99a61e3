"""A throwaway PostgreSQL cluster for tests: Debian's initdb and pg_ctl in a temporary folder, listening on a unix
socket in that folder only (no TCP port to collide with other test runs), with trust authentication.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (runuser), in a folder that
user owns; otherwise as ourselves."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)


def bin_dir() -> Path | None:
    """The newest installed server's binaries, or None when PostgreSQL is not installed."""
    return next((b for b in PG_BINS if (b / "initdb").exists() and (b / "pg_ctl").exists()), None)


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


@contextmanager
def cluster(bins: Path) -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="yiwang-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120, cwd=root)
        if done.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(args)}: {done.stdout}{done.stderr}{log}")

    try:
        run(str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = (f"-c listen_addresses='' -c unix_socket_directories='{root}' -c fsync=off "
                   "-c shared_buffers=16MB -c max_connections=30")
        run(str(bins / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "-t", "60", "start")
        try:
            yield Cluster(root)
        finally:
            run(str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
