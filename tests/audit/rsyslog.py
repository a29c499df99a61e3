"""A real syslog receiver for the tests: Debian's rsyslogd on free loopback ports, run as the current user.

It writes one JSON object a line for every message, from the properties rsyslog's RFC 5424 parser filled in
(`protocol-version` is "1" only when that parser took the message), so the tests see what a receiver sees."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from lab.peers import free_port

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
# the key written -> rsyslog's property (and its options)
PROPERTIES = {"version": 'name="protocol-version"', "pri": 'name="pri"', "facility": 'name="syslogfacility"',
              "severity": 'name="syslogseverity"', "timestamp": 'name="timereported" dateFormat="rfc3339"',
              "hostname": 'name="hostname"', "app": 'name="app-name"', "procid": 'name="procid"',
              "msgid": 'name="msgid"', "sd": 'name="structured-data"', "msg": 'name="msg"', "raw": 'name="rawmsg"'}


def _template() -> str:
    """One JSON object a line; format="json" escapes each value for JSON."""
    parts = []
    for i, (key, prop) in enumerate(PROPERTIES.items()):
        lead = "{" if i == 0 else '\\",'
        parts.append(f'constant(value="{lead}\\"{key}\\":\\"") property({prop} format="json")')
    parts.append('constant(value="\\"}\\n")')
    return 'template(name="fields" type="list") {\n  ' + "\n  ".join(parts) + "\n}\n"


class Rsyslog:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.tcp_port = free_port()
        self.output = workdir / "received.jsonl"
        self.conf = workdir / "rsyslog.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self.conf.write_text(
            f'global(workDirectory="{workdir}" maxMessageSize="64k")\n'
            'module(load="imudp")\nmodule(load="imtcp")\n'
            f"{_template()}"
            f'ruleset(name="audit") {{ action(type="omfile" file="{self.output}" template="fields") }}\n'
            f'input(type="imudp" address="127.0.0.1" port="{self.udp_port}" ruleset="audit")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" ruleset="audit")\n')

    def start(self) -> None:
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.workdir / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"rsyslogd exited: {error}")
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("rsyslogd did not listen") from None
                time.sleep(0.05)
        self._wait_udp(deadline)

    def _wait_udp(self, deadline: float) -> None:
        """imudp binds on its own; a probe that comes back through the file shows it listens."""
        probe = f"probe-{time.monotonic_ns()}"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not any(m["msgid"] == probe for m in self.received()):
                if time.monotonic() > deadline:
                    raise TimeoutError("rsyslogd's UDP input did not answer")
                sock.sendto(f"<13>1 - - probe - {probe} - ready".encode(), ("127.0.0.1", self.udp_port))
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def received(self) -> list[dict[str, Any]]:
        try:
            text = self.output.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        complete = text[:text.rfind("\n") + 1]  # rsyslog may be writing the last line right now
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def audit_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.received() if m["app"] != "probe"]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.audit_messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
