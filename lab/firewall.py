"""The lab's own iptables chain, used to make devices unreachable (SNMP and ICMP) without touching the agents.

The chain hangs off INPUT, not OUTPUT: a DROP in OUTPUT makes the sender's sendto() fail with EPERM at once,
which a poller sees as a local error; dropped in INPUT, the request just goes unanswered, as with a dead link.
Every rule carries a comment with the lab's tag and the fault id, so two labs on one host never remove each
other's rules, and the chain itself is deleted only once it is empty.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable

from lab.state import LabError

CHAIN = "YIWANG-LAB"
HOOK = "INPUT"
TOOLS = {4: ("iptables", "iptables-restore"), 6: ("ip6tables", "ip6tables-restore")}


def available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "not root"
    for tool, restore in TOOLS.values():
        if not shutil.which(tool) or not shutil.which(restore):
            return False, f"{tool}/{restore} not installed"
        probe = subprocess.run([tool, "-w", "5", "-S", HOOK], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            return False, f"{tool} does not work here: {probe.stderr.strip()}"
    return True, ""


class Firewall:
    def __init__(self, lab_tag: str) -> None:
        self.lab_tag = lab_tag

    def comment(self, fault_id: str) -> str:
        return f"yiwang-lab:{self.lab_tag}:{fault_id}"

    def block(self, fault_id: str, addresses: Iterable[str], port: int) -> int:
        """DROP everything to each IPv4 address; for IPv6 (only ::1 in the lab, shared with the rest of the
        host) just the agent's UDP port and ICMPv6 echo. Returns the number of rules added."""
        rules: dict[int, list[str]] = {4: [], 6: []}
        tag = f'-m comment --comment "{self.comment(fault_id)}"'
        for address in addresses:
            if ":" in address:
                rules[6].append(f"-A {CHAIN} -d {address}/128 -p udp --dport {port} {tag} -j DROP")
                rules[6].append(f"-A {CHAIN} -d {address}/128 -p ipv6-icmp --icmpv6-type echo-request {tag} -j DROP")
            else:
                rules[4].append(f"-A {CHAIN} -d {address}/32 {tag} -j DROP")
        for family, lines in rules.items():
            if lines:
                self._ensure_chain(family)
                self._restore(family, lines)
        return sum(len(lines) for lines in rules.values())

    def block_management(self, fault_id: str, addresses: Iterable[str], port: int) -> int:
        """A device that lost its management address: SNMP (UDP `port`) and ping go unanswered and a new SSH
        connection (a SYN to TCP `port`) times out, while a TCP session already established keeps working."""
        rules: dict[int, list[str]] = {4: [], 6: []}
        tag = f'-m comment --comment "{self.comment(fault_id)}"'
        for address in addresses:
            family, icmp = (6, "-p ipv6-icmp --icmpv6-type echo-request") if ":" in address else \
                (4, "-p icmp --icmp-type echo-request")
            host = f"{address}/{128 if family == 6 else 32}"
            rules[family] += [f"-A {CHAIN} -d {host} -p udp --dport {port} {tag} -j DROP",
                              f"-A {CHAIN} -d {host} {icmp} {tag} -j DROP",
                              f"-A {CHAIN} -d {host} -p tcp --dport {port} --syn {tag} -j DROP"]
        for family, lines in rules.items():
            if lines:
                self._ensure_chain(family)
                self._restore(family, lines)
        return sum(len(lines) for lines in rules.values())

    def unblock(self, fault_id: str | None = None) -> int:
        """Remove one fault's rules, or all of this lab's; drop the chain when nothing is left in it."""
        marker = self.comment(fault_id) if fault_id else f"yiwang-lab:{self.lab_tag}:"
        removed = 0
        for family, (tool, _) in TOOLS.items():
            if not shutil.which(tool):
                continue
            lines = self._rules(tool)
            if lines is None:
                continue
            ours = [line for line in lines if marker in line]
            if ours:
                self._restore(family, ["-D" + line[2:] for line in ours])
                removed += len(ours)
            if len(lines) == len(ours):
                self._drop_chain(tool)
        return removed

    def rules(self) -> list[str]:
        marker = f"yiwang-lab:{self.lab_tag}:"
        return [line for tool, _ in TOOLS.values() if shutil.which(tool) for line in self._rules(tool) or []
                if marker in line]

    @staticmethod
    def _rules(tool: str) -> list[str] | None:
        listing = subprocess.run([tool, "-w", "5", "-S", CHAIN], capture_output=True, text=True, check=False)
        if listing.returncode != 0:
            return None  # no chain
        return [line for line in listing.stdout.splitlines() if line.startswith(f"-A {CHAIN} ")]

    @staticmethod
    def _ensure_chain(family: int) -> None:
        tool = TOOLS[family][0]
        if subprocess.run([tool, "-w", "5", "-S", CHAIN], capture_output=True, check=False).returncode != 0:
            _run([tool, "-w", "5", "-N", CHAIN])
        if subprocess.run([tool, "-w", "5", "-C", HOOK, "-j", CHAIN], capture_output=True,
                          check=False).returncode != 0:
            _run([tool, "-w", "5", "-I", HOOK, "1", "-j", CHAIN])

    @staticmethod
    def _drop_chain(tool: str) -> None:
        while subprocess.run([tool, "-w", "5", "-C", HOOK, "-j", CHAIN], capture_output=True,
                             check=False).returncode == 0:
            _run([tool, "-w", "5", "-D", HOOK, "-j", CHAIN])
        subprocess.run([tool, "-w", "5", "-X", CHAIN], capture_output=True, check=False)

    @staticmethod
    def _restore(family: int, lines: list[str]) -> None:
        # One iptables-restore call for hundreds of rules: per-rule iptables calls take ~10 ms each.
        script = "*filter\n" + "\n".join(lines) + "\nCOMMIT\n"
        _run([TOOLS[family][1], "-w", "5", "--noflush"], stdin=script)


def _run(args: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{' '.join(args[:2])}... failed: {done.stderr.strip() or done.stdout.strip()}")
