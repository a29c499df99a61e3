"""The thin I/O shell around netmiko: one session, some commands, every failure turned into SshError(reason).

Blocking; `SshRunner.run` puts it on a bounded thread pool so the asyncio loop never waits on a socket. netmiko is
CPU-hungry (paramiko's crypto and its prompt polling hold the GIL), so the service runs the runner in worker
processes (`yiwang.ssh_workers`), never beside the API's event loop.
Host keys are trusted on first use and pinned per device in `<state_dir>/known_hosts/<device>`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
from netmiko import ConnectHandler, NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout

from collectors.platforms import cli_of
from collectors.ssh.text import refused

DEVICE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
REASONS = ("auth", "timeout", "dropped", "hostkey-changed", "parse", "unreachable", "invalid-target")


@dataclass(frozen=True, slots=True)
class SshLogin:
    """What `PollTarget.credential` holds for SSH; the secrets never appear in a repr or a log line."""

    username: str
    password: str = field(repr=False)
    secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Endpoint:
    device: str
    platform: str
    host: str
    port: int
    login: SshLogin


class SshError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_device_name(name: str) -> str:
    if not DEVICE_NAME.match(name):
        raise ValueError(f"device name {name!r} is not safe as a file name")
    return name


@dataclass(frozen=True, slots=True)
class SessionSettings:
    state_dir: Path
    conn_timeout: float = 5.0
    read_timeout: float = 10.0
    tuning: dict[str, Any] = field(default_factory=lambda: {"fast_cli": True, "global_cmd_verify": True})


def known_hosts_path(state_dir: Path, device: str) -> Path:
    return state_dir / "known_hosts" / check_device_name(device)


def fingerprint(key: paramiko.PKey) -> str:
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def _pin(path: Path, endpoint: Endpoint, key: paramiko.PKey) -> None:
    keys = paramiko.HostKeys()
    host = endpoint.host if endpoint.port == 22 else f"[{endpoint.host}]:{endpoint.port}"
    keys.add(host, key.get_name(), key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")  # facts and backups may pin at once
    keys.save(str(tmp))
    tmp.replace(path)


def _connect(endpoint: Endpoint, settings: SessionSettings, pinned: Path | None = None) -> Any:
    pinned = pinned or known_hosts_path(settings.state_dir, endpoint.device)
    try:
        conn: Any = ConnectHandler(
            device_type=cli_of(endpoint.platform).netmiko_type, host=endpoint.host, port=endpoint.port,
            username=endpoint.login.username, password=endpoint.login.password,
            secret=endpoint.login.secret or endpoint.login.password,
            conn_timeout=settings.conn_timeout, auth_timeout=settings.conn_timeout,
            banner_timeout=settings.conn_timeout,
            # An unknown key is accepted once (AutoAdd) and pinned below; a known one that differs raises
            # BadHostKeyException inside paramiko before any policy is asked.
            ssh_strict=False, system_host_keys=False, alt_host_keys=True, alt_key_file=str(pinned),
            **settings.tuning)
    except NetmikoAuthenticationException as exc:
        raise SshError("auth", f"{endpoint.device}: authentication failed as {endpoint.login.username!r}") from exc
    except NetmikoTimeoutException as exc:
        raise _connect_error(endpoint, pinned, exc) from exc
    if not pinned.exists():
        _pin(pinned, endpoint, conn.remote_conn_pre.get_transport().get_remote_server_key())
    return conn


def log_in(endpoint: Endpoint, settings: SessionSettings, pinned: Path | None = None) -> None:
    """A new SSH login and nothing more (no shell, no prompt): whether the device still lets yiwang in, at a
    fraction of a session's cost. The host key must be the pinned one. Raises SshError as `session` does."""
    pinned = pinned or known_hosts_path(settings.state_dir, endpoint.device)
    where = f"{endpoint.device} ({endpoint.host}:{endpoint.port})"
    if not pinned.exists():  # it never pins: a login it makes follows a session that did
        raise SshError("hostkey-unknown", f"{where}: no host key pinned in {pinned}; refused")
    client = paramiko.SSHClient()
    client.load_host_keys(str(pinned))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(endpoint.host, port=endpoint.port, username=endpoint.login.username,
                       password=endpoint.login.password, timeout=settings.conn_timeout,
                       auth_timeout=settings.conn_timeout, banner_timeout=settings.conn_timeout,
                       look_for_keys=False, allow_agent=False)
    except paramiko.BadHostKeyException as exc:
        raise SshError("hostkey-changed", f"{where}: host key changed: pinned {fingerprint(exc.expected_key)}, "
                                          f"offered {fingerprint(exc.key)}; refused") from exc
    except paramiko.AuthenticationException as exc:
        raise SshError("auth", f"{endpoint.device}: authentication failed as {endpoint.login.username!r}") from exc
    except TimeoutError as exc:
        raise SshError("timeout", f"{where}: connect timed out ({type(exc).__name__}: {exc})") from exc
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SshError("unreachable", f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()


def _connect_error(endpoint: Endpoint, pinned: Path, exc: NetmikoTimeoutException) -> SshError:
    cause = exc.__context__
    where = f"{endpoint.device} ({endpoint.host}:{endpoint.port})"
    if isinstance(cause, paramiko.BadHostKeyException):
        return SshError("hostkey-changed", f"{where}: host key changed: pinned {fingerprint(cause.expected_key)}, "
                                           f"offered {fingerprint(cause.key)}; refused. If the change is known, "
                                           f"remove {pinned}")
    if isinstance(cause, socket.timeout | TimeoutError):
        return SshError("timeout", f"{where}: connect timed out ({type(cause).__name__}: {cause})")
    if isinstance(cause, OSError):
        return SshError("unreachable", f"{where}: {cause}")
    return SshError("timeout", f"{where}: {str(exc).strip()}")


def _alive(conn: Any) -> bool:
    transport = conn.remote_conn_pre.get_transport() if conn.remote_conn_pre else None
    return bool(transport and transport.is_active())


@contextmanager
def session(endpoint: Endpoint, settings: SessionSettings, pinned: Path | None = None) -> Iterator[Any]:
    """One netmiko session, privileged where the CLI has privileges, its host key pinned (in `pinned`, else the
    device's file under the state dir); any failure inside comes out as SshError, and the session is closed."""
    conn = _connect(endpoint, settings, pinned)
    try:
        if cli_of(endpoint.platform).enable:
            conn.enable()
        yield conn
    except ReadTimeout as exc:
        # netmiko reports a dropped session and a slow one alike; the transport tells them apart.
        if _alive(conn):
            raise SshError("timeout", f"{endpoint.device}: no prompt within {settings.read_timeout:g}s") from exc
        raise SshError("dropped", f"{endpoint.device}: session closed by the device mid-output") from exc
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise SshError("dropped", f"{endpoint.device}: {type(exc).__name__}: {exc}") from exc
    finally:
        _close(endpoint, conn)


def fetch(endpoint: Endpoint, commands: Sequence[str], settings: SessionSettings,
          fallback: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Run `commands` in one session; a command the device refuses is tried again as each of its `fallback`
    spellings in turn, and the last answer is kept. Raises SshError only."""
    with session(endpoint, settings) as conn:
        out = []
        for command in commands:
            answer = str(conn.send_command(command, read_timeout=settings.read_timeout))
            for other in (fallback or {}).get(command, ()):
                if refused(answer) is None:
                    break
                answer = str(conn.send_command(other, read_timeout=settings.read_timeout))
            out.append(answer)
        return out


def _close(endpoint: Endpoint, conn: Any) -> None:
    # netmiko's disconnect() first probes for config mode and waits ~2 s on VRP and RGOS; a read-only session
    # has nothing to leave, so say goodbye and close the transport.
    try:
        conn.write_channel(cli_of(endpoint.platform).logout + conn.RETURN)
        conn.paramiko_cleanup()
    except Exception:  # noqa: S110 - the session may already be gone; closing is best effort
        pass


class SshRunner:
    """A bounded pool of netmiko sessions (threads of this process)."""

    def __init__(self, settings: SessionSettings, max_workers: int = 8) -> None:
        self.settings = settings
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ssh")

    async def run(self, endpoint: Endpoint, commands: Sequence[str],
                  fallback: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        check_device_name(endpoint.device)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fetch, endpoint, list(commands), self.settings, fallback)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
