"""Record what Debian's net-snmp tools send and what snmpd answers, as v3 case folders (run by hand).

    PYTHONPATH=. python tests/snmp_wire/capture_v3.py

For each case, a UDP relay on 127.0.0.1 sits between ``snmpget``/``snmpbulkget`` and the test snmpd
(tests/snmp_wire/v3agent.py) and writes every datagram in order to ``v3cases/<case>/datagrams.txt``
("> hex" client to agent, "< hex" agent to client); ``case.json`` holds the user, protocols, pass phrases,
the command line and the tool's own printed reading of the reply (net-snmp's decoding, the expected values).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from lab.snmpd import stop_snmpd
from tests.snmp_wire import v3agent
from tests.snmp_wire.v3agent import PASS_AUTH, PASS_PRIV, USERS

HERE = Path(__file__).parent / "v3cases"
CASES = [  # (case name, user name, tool, OIDs)
    ("netsnmp_get_sha_aes", "u-sha-aes", "snmpget", ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0"]),
    ("netsnmp_bulk_sha_aes", "u-sha-aes", "snmpbulkget", ["1.3.6.1.2.1.2.2.1.2"]),
    ("netsnmp_get_sha256_aes256", "u-sha256-aes256", "snmpget", ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]),
    ("netsnmp_bulk_sha512_aes256", "u-sha512-aes256", "snmpbulkget", ["1.3.6.1.2.1.2.2.1.2"]),
    ("netsnmp_get_sha384_aes256c", "u-sha384-aes256c", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("netsnmp_get_md5_aes256c", "u-md5-aes256c", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("netsnmp_get_sha_aes192", "u-sha-aes192", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("netsnmp_get_md5_des", "u-md5-des", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("netsnmp_get_sha256_authnopriv", "u-sha256-nopriv", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("netsnmp_wrong_auth_pass", "u-sha-aes", "snmpget", ["1.3.6.1.2.1.1.1.0"]),
    ("pysnmp_get_sha_aes", "u-sha-aes", "pysnmp", ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]),
    ("pysnmp_get_sha256_aes256", "u-sha256-aes256", "pysnmp", ["1.3.6.1.2.1.1.1.0"]),
    ("pysnmp_get_md5_aes256c", "u-md5-aes256c", "pysnmp", ["1.3.6.1.2.1.1.1.0"]),
]


def run_pysnmp(port: int, user: object, oids: list[str]) -> list[str]:
    """The project's pysnmp reference session (pysnmp 7) as the client; returns net-snmp-style lines."""
    import asyncio

    from collectors.snmp.pysnmp_session import PysnmpEngine
    from collectors.snmp.session import Target, V3Credentials

    async def go() -> dict[str, object]:
        engine = PysnmpEngine()
        try:
            creds = V3Credentials(user.name, user.auth, PASS_AUTH, user.priv, PASS_PRIV)  # type: ignore[attr-defined]
            return await engine.session(Target("127.0.0.1", port, timeout=2, retries=0), creds).get(oids)
        finally:
            await engine.close()

    got = asyncio.run(go())
    return [f'.{oid} = STRING: "{value.decode()}"' for oid, value in got.items() if isinstance(value, bytes)]


def relay(agent_port: int, log: list[tuple[str, bytes]], stop: threading.Event) -> int:
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.connect(("127.0.0.1", agent_port))
    client: list[tuple[str, int]] = []

    def run() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([front, back], [], [], 0.1)
            for sock in ready:
                if sock is front:
                    data, addr = front.recvfrom(65535)
                    client[:] = [addr]
                    log.append((">", data))
                    back.send(data)
                else:
                    data = back.recv(65535)
                    log.append(("<", data))
                    front.sendto(data, client[0])
        front.close()
        back.close()

    threading.Thread(target=run, daemon=True).start()
    return int(front.getsockname()[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = v3agent.start(Path(tmp))
        try:
            for name, user_name, tool, oids in CASES:
                user = next(u for u in USERS if u.name == user_name)
                auth_pass = "wrong-pass-0000" if "wrong_auth" in name else PASS_AUTH
                level = "authPriv" if user.netsnmp_priv else "authNoPriv"
                args = [tool, "-v3", "-l", level, "-u", user.name, "-a", user.netsnmp_auth, "-A", auth_pass]
                if user.netsnmp_priv:
                    args += ["-x", user.netsnmp_priv, "-X", PASS_PRIV]
                if tool == "snmpbulkget":
                    args += ["-Cn0", "-Cr10"]
                log: list[tuple[str, bytes]] = []
                stop = threading.Event()
                front = relay(port, log, stop)
                env = {**os.environ, "MIBS": "", "SNMPCONFPATH": tmp, "HOME": tmp}
                if tool == "pysnmp":
                    args = ["pysnmp_session.PysnmpEngine", user.auth, user.priv]
                    done = subprocess.CompletedProcess(args, 0, "\n".join(run_pysnmp(front, user, oids)), "")
                else:
                    done = subprocess.run([*args, "-On", "-r0", "-t2", f"127.0.0.1:{front}", *oids],
                                          capture_output=True, text=True, env=env)
                stop.set()
                folder = HERE / name
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "datagrams.txt").write_text("".join(f"{d} {b.hex()}\n" for d, b in log))
                shown = [a if a not in (PASS_AUTH, PASS_PRIV, auth_pass) else "<pass>" for a in args]
                (folder / "case.json").write_text(json.dumps({
                    "user": user.name, "auth": user.auth, "priv": user.priv, "auth_pass": auth_pass,
                    "priv_pass": PASS_PRIV if user.netsnmp_priv else "",
                    "command": " ".join([*shown, "-On", "AGENT", *oids]),
                    "tool_stdout": done.stdout.splitlines(), "tool_stderr": done.stderr.splitlines(),
                }, indent=2) + "\n")
                print(name, len(log), "datagrams;", done.stdout.strip()[:80], done.stderr.strip()[:80])
        finally:
            stop_snmpd(proc)


if __name__ == "__main__":
    main()
