"""Start Debian's real net-snmp agent on loopback for integration tests and benchmarks.

    proc, port = start_snmpd(tmp_dir)        # 127.0.0.1:port and [::1]:port
    ...
    stop_snmpd(proc)

Also runnable by hand: ``python lab/snmpd.py`` prints the port and serves until Ctrl-C.
The agent serves community ``COMMUNITY`` and the v3 authPriv user ``V3_USER`` (SHA/AES), plus a synthetic
table under ``SYNTH_TABLE`` made with ``override`` lines so that walks have fixed, known content.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from collectors.snmp import ber
from collectors.snmp.session import Target, V2cCredentials, V3Credentials

SNMPD = "/usr/sbin/snmpd"
COMMUNITY = "yiwang-ro"
SYS_NAME = "yiwang-snmpd"
V3_USER = "yiwang3"
V3_AUTH_KEY = "auth-secret-123"
V3_PRIV_KEY = "priv-secret-456"



@dataclass(frozen=True)
class Agent:
    """How to reach a started agent: ``Agent(port).target("::1")``, ``.v2c``, ``.v3``."""

    port: int
    v2c: V2cCredentials = field(default_factory=lambda: V2cCredentials(COMMUNITY))
    v3: V3Credentials = field(
        default_factory=lambda: V3Credentials(V3_USER, "SHA", V3_AUTH_KEY, "AES", V3_PRIV_KEY)
    )

    def target(self, host: str = "127.0.0.1", timeout: float = 3.0, retries: int = 2) -> Target:
        return Target(host, self.port, timeout, retries)


SYNTH = "1.3.6.1.4.1.99999"
SYNTH_SCALARS = {  # oid -> (override type, text, expected python value)
    f"{SYNTH}.1.1.0": ("integer", "-5", -5),
    f"{SYNTH}.1.2.0": ("counter", "4294967295", 4294967295),
    f"{SYNTH}.1.3.0": ("unsigned", "123456", 123456),
    f"{SYNTH}.1.4.0": ("object_id", "1.3.6.1.4.1.8072.3.2.10", "1.3.6.1.4.1.8072.3.2.10"),
    f"{SYNTH}.1.5.0": ("octet_str", '""', b""),
    f"{SYNTH}.1.6.0": ("octet_str", '"hello wire"', b"hello wire"),
}
SYNTH_TABLE = f"{SYNTH}.2.1"
# Indexes cover one-arc, multi-byte-arc (>127, >16383) and multi-arc suffixes; column 3 is shorter so columns
# finish at different points of one GETBULK stream.
SYNTH_INDEXES = [*(str(i) for i in range(1, 41)), "127", "128", "200", "16383", "16384", "1.2.3", "300.7.65536"]
SYNTH_COLUMN3_ROWS = 7


def synth_rows() -> dict[str, list[tuple[str, object]]]:
    """What a walk of the synthetic table must return, per column."""
    ordered = sorted(SYNTH_INDEXES, key=lambda s: [int(a) for a in s.split(".")])
    return {
        f"{SYNTH_TABLE}.1": [(i, n * 3 - 100) for n, i in enumerate(ordered)],
        f"{SYNTH_TABLE}.2": [(i, f"row-{i}".encode()) for i in ordered],
        f"{SYNTH_TABLE}.3": [(i, n) for n, i in enumerate(ordered[:SYNTH_COLUMN3_ROWS])],
    }


def _config(port: int, persist: Path) -> str:
    lines = [
        f"[snmp] persistentDir {persist}",
        f"agentAddress udp:127.0.0.1:{port},udp6:[::1]:{port}",
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"rocommunity6 {COMMUNITY} ::1",
        f'createUser {V3_USER} SHA "{V3_AUTH_KEY}" AES "{V3_PRIV_KEY}"',
        f"rouser {V3_USER} priv",
        f"sysName {SYS_NAME}",
        "dontLogTCPWrappersConnects yes",
    ]
    for oid, (kind, text, _) in SYNTH_SCALARS.items():
        lines.append(f"override {oid} {kind} {text}")
    for column, rows in synth_rows().items():
        for index, value in rows:
            if isinstance(value, bytes):
                lines.append(f'override {column}.{index} octet_str "{value.decode()}"')
            else:
                lines.append(f"override {column}.{index} integer {value}")
    return "\n".join(lines) + "\n"


def free_udp_port() -> int:
    """A port free on both 127.0.0.1 and ::1 (the agent binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s4:
            s4.bind(("127.0.0.1", 0))
            port = int(s4.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                    s6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no UDP port free on both 127.0.0.1 and ::1")


def _answers(port: int) -> bool:
    """One sysName GET on the wire, without our client, so a broken client cannot hide a working agent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(ber.encode_get(COMMUNITY.encode(), 1, ["1.3.6.1.2.1.1.5.0"]), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return False
    return ber.decode_response(data).request_id == 1


def start_snmpd(
    tmp_dir: Path | str, port: int | None = None, wait: float = 15.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Run snmpd in the foreground on 127.0.0.1:port and [::1]:port; returns once it answers."""
    if not Path(SNMPD).exists():
        raise RuntimeError(f"{SNMPD} missing: apt-get install snmpd")
    tmp = Path(tmp_dir)
    persist = tmp / "persist"
    shutil.rmtree(persist, ignore_errors=True)  # createUser only takes effect on a fresh persistent store
    persist.mkdir(parents=True)
    port = port or free_udp_port()
    conf = tmp / "snmpd.conf"
    conf.write_text(_config(port, persist))
    log = open(tmp / "snmpd.log", "wb")  # noqa: SIM115 - the child owns it; a pipe nobody drains would block it
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": ""}
    proc = subprocess.Popen(
        [SNMPD, "-f", "-Lo", "-C", "-c", str(conf), "-m", "", "-p", str(tmp / "snmpd.pid")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )
    log.close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"snmpd exited with {proc.returncode}: {(tmp / 'snmpd.log').read_text()}")
        if _answers(port):
            return proc, port
    stop_snmpd(proc)
    raise RuntimeError(f"snmpd did not answer within {wait}s: {(tmp / 'snmpd.log').read_text()}")


def stop_snmpd(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="yiwang-snmpd-") as tmp_dir:
        agent, agent_port = start_snmpd(tmp_dir)
        print(f"snmpd pid {agent.pid} on 127.0.0.1:{agent_port} and [::1]:{agent_port}, community {COMMUNITY}")
        try:
            agent.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop_snmpd(agent)
