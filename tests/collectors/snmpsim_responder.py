"""snmpsim serving the recordings in `recordings/` on 127.0.0.1, one community per file, for integration tests.

    responder = start_responder(tmp_dir)    # returns once every recording answers
    ...                                     # responder.port, responder.communities
    responder.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.snmp import ber

RECORDINGS = Path(__file__).parent / "recordings"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@dataclass
class Responder:
    process: subprocess.Popen[bytes]
    port: int
    started: float  # time.time() just before the process started: the `numeric` counters' time base, +- start-up
    log: Path

    @property
    def communities(self) -> list[str]:
        return sorted(p.stem for p in RECORDINGS.glob("*.snmprec"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, community: str) -> bool:
    """One GET on the wire without the project's client, so a broken client cannot hide a working agent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(ber.encode_get(community.encode(), 7, [SYS_UPTIME]), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return False
    return ber.decode_response(data).request_id == 7


def start_responder(tmp_dir: Path, wait: float = 60.0, extra: Sequence[str] = ()) -> Responder:
    """snmpsim-command-responder from this Python's environment; as root it needs SNMPSIM_ALLOW_ROOT.
    `extra`: more options, e.g. an SNMPv3 engine and user (`--v3-engine-id auto --v3-user ...`)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port = free_udp_port()
    log = tmp_dir / "snmpsim.log"
    # An engine's options end with its endpoint: the extra (SNMPv3) ones go before it.
    command = [str(Path(sys.executable).with_name("snmpsim-command-responder")), f"--data-dir={RECORDINGS}",
               f"--cache-dir={tmp_dir / 'cache'}", "--log-level=error", f"--logging-method=file:{log}", *extra,
               f"--agent-udpv4-endpoint=127.0.0.1:{port}"]
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    started = time.time()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, env=env)
    responder = Responder(process, port, started, log)
    waiting = set(responder.communities)
    deadline = time.monotonic() + wait
    while waiting:
        if process.poll() is not None:
            raise RuntimeError(f"snmpsim exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            responder.stop()
            raise RuntimeError(f"snmpsim did not answer for {sorted(waiting)} within {wait} s: {_tail(log)}")
        waiting = {c for c in waiting if not _answers(port, c)}
    return responder


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"
