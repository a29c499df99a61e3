"""Debian snmpd with one v3 user per protocol combination, and a bare UDP exchange for the v3 codec's tests.

Deliberately not the production client: these tests check the message layer on its own against a real agent.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from collectors.snmp import ber
from lab.snmpd import SNMPD, free_udp_port, stop_snmpd

COMMUNITY = "v3test-ro"
PASS_AUTH = "auth-pass-1234"
PASS_PRIV = "priv-pass-5678"


class User(NamedTuple):
    name: str
    auth: str  # our names (session.V3Credentials)
    priv: str
    netsnmp_auth: str  # net-snmp's createUser / snmpget -a spelling
    netsnmp_priv: str


USERS = [
    User("u-sha-aes", "SHA", "AES", "SHA", "AES"),
    User("u-md5-des", "MD5", "DES", "MD5", "DES"),
    User("u-sha-aes192", "SHA", "AES192", "SHA", "AES-192"),
    User("u-sha-aes256", "SHA", "AES256", "SHA", "AES-256"),
    User("u-sha-aes192c", "SHA", "AES192C", "SHA", "AES-192-C"),
    User("u-md5-aes256c", "MD5", "AES256C", "MD5", "AES-256-C"),
    User("u-sha224-aes", "SHA224", "AES", "SHA-224", "AES"),
    User("u-sha256-aes256", "SHA256", "AES256", "SHA-256", "AES-256"),
    User("u-sha384-aes256c", "SHA384", "AES256C", "SHA-384", "AES-256-C"),
    User("u-sha512-aes256", "SHA512", "AES256", "SHA-512", "AES-256"),
    User("u-sha256-nopriv", "SHA256", "NONE", "SHA-256", ""),
]


def config(port: int, persist: Path) -> str:
    lines = [
        f"[snmp] persistentDir {persist}",
        f"agentAddress udp:127.0.0.1:{port},udp6:[::1]:{port}",
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"rocommunity6 {COMMUNITY} ::1",
        "sysDescr yiwang v3 test agent",
        "dontLogTCPWrappersConnects yes",
    ]
    for u in USERS:
        priv = f' {u.netsnmp_priv} "{PASS_PRIV}"' if u.netsnmp_priv else ""
        lines.append(f'createUser {u.name} {u.netsnmp_auth} "{PASS_AUTH}"{priv}')
        lines.append(f"rouser {u.name} {'priv' if u.netsnmp_priv else 'auth'}")
    return "\n".join(lines) + "\n"


def start(tmp: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``port`` and the same ``tmp`` again restart the agent as a reboot: same engine ID, boots + 1."""
    persist = tmp / "persist"
    persist.mkdir(parents=True, exist_ok=True)
    port = port or free_udp_port()
    conf = tmp / "snmpd.conf"
    conf.write_text(config(port, persist))
    configs = [str(conf)]
    if (persist / "snmpd.conf").exists():  # -C skips the persistent store: name it, or a restart is a new engine
        configs.append(str(persist / "snmpd.conf"))
    log = open(tmp / "snmpd.log", "wb")  # noqa: SIM115 - the child owns it
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "MIBDIRS": ""}
    proc = subprocess.Popen(
        [SNMPD, "-f", "-Lo", "-C", "-c", ",".join(configs), "-m", "", "-p", str(tmp / "snmpd.pid")],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )
    log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"snmpd exited: {(tmp / 'snmpd.log').read_text()}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.2)
            sock.sendto(ber.encode_get(COMMUNITY.encode(), 1, ["1.3.6.1.2.1.1.5.0"]), ("127.0.0.1", port))
            try:
                sock.recv(65535)
                return proc, port
            except TimeoutError:
                continue
    stop_snmpd(proc)
    raise RuntimeError("snmpd did not answer")


async def exchange(host: str, port: int, datagram: bytes, timeout: float = 2.0) -> bytes:
    """One request, one reply, on a fresh socket; TimeoutError when the agent stays silent."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    loop = asyncio.get_running_loop()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((host, port))
        await loop.sock_sendall(sock, datagram)
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), timeout)
