"""The lab's SNMP agents: one process answers for many devices, each at its own address, from their data files.

Run as `python -m lab.responder --data-dir DIR --manifest FILE --port N --community-file FILE
[--usm-user-file FILE --boots-file FILE]`. The manifest lists
`address<TAB>device` lines; a device's data is `DIR/<device>.snmprec`. One UDP socket per address: the address a
request arrived on selects the device, so one community serves them all.

The data folder is watched: a fault rewrites, parks or restores a device's file, always by one rename into or out
of the folder, which changes the folder's mtime. Before answering, the responder compares that mtime (one stat,
~1 µs, per wake-up) and reads again the files of its devices whose inode changed, so a fault is in effect from the
next request on. A device whose file is absent is silent, like an unreachable one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.agent import MAX_MESSAGE, Agent
from lab.agent_v3 import UsmAgent, engine_id_of, next_boots, read_usm_user
from lab.mib import Interner, Mib, parse_snmprec
from lab.state import read_manifest

BURST = 64  # datagrams read from one socket per wake-up, so one busy device cannot starve the others
STATS_EVERY = 60.0
RECENT_NS = 1_000_000_000


@dataclass(slots=True, eq=False)
class Device:
    name: str
    address: str
    file: str
    mib: Mib | None = None
    inode: int = 0
    engine_id: bytes = b""  # its SNMPv3 engine ID, from its address


class Responder:
    def __init__(self, agent: Agent, data_dir: Path, devices: Sequence[Device], interner: Interner) -> None:
        self.agent = agent
        self.data_dir = data_dir
        self.devices = list(devices)
        self.interner = interner
        self.sockets: list[socket.socket] = []
        self.send_errors = 0
        self._dir_mtime = -1
        self._recent = False

    def load(self) -> None:
        """Reads every device whose file is new or changed; called at start and when the folder changes."""
        try:
            inodes = {entry.name: entry.inode() for entry in os.scandir(self.data_dir)}
        except OSError:
            inodes = {}
        for device in self.devices:
            inode = inodes.get(device.file)
            if inode is None:
                device.mib, device.inode = None, 0
            elif inode != device.inode:
                self._read(device)

    def _read(self, device: Device) -> None:
        try:
            with open(self.data_dir / device.file, encoding="utf-8") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                text = handle.read()
        except FileNotFoundError:
            device.mib, device.inode = None, 0
            return
        try:
            device.mib = parse_snmprec(text, self.interner)
        except ValueError as exc:
            # The old data stays served; the same file is not tried again until it changes.
            log(f"{device.file}: not loaded: {exc}")
        device.inode = inode

    def check(self, again_if_recent: bool = False) -> None:
        try:
            mtime = os.stat(self.data_dir).st_mtime_ns
        except OSError:
            mtime = -1
        # A second change within the same timestamp tick leaves the mtime as it was: the timer looks again for a
        # while after each change (`again_if_recent`), so such a change is seen within `--reload-interval`.
        if mtime != self._dir_mtime or (again_if_recent and self._recent):
            self._dir_mtime = mtime
            self._recent = time.time_ns() - mtime < RECENT_NS
            self.load()

    def bind(self, loop: asyncio.AbstractEventLoop, port: int) -> None:
        for device in self.devices:
            family = socket.AF_INET6 if ":" in device.address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sockets.append(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setblocking(False)
            try:
                sock.bind((device.address, port))
            except OSError as exc:
                raise OSError(f"cannot bind {device.address} port {port} for {device.name}: {exc.strerror}") from None
            loop.add_reader(sock.fileno(), self._readable, sock, device)

    def _readable(self, sock: socket.socket, device: Device) -> None:
        self.check()
        answer = self.agent.answer
        for _ in range(BURST):
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            response = answer(device.mib, data, time.time(), device.engine_id)
            if response is not None:
                try:
                    sock.sendto(response, peer)
                except OSError:
                    self.send_errors += 1  # a full buffer or a firewall: the client retries, as with any agent

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def log(message: str) -> None:
    sys.stdout.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
    sys.stdout.flush()


def stats_line(agent: Agent) -> str:
    return agent.stats.line() + (f" {agent.usm.stats.line()}" if agent.usm else "")


def raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(f"{needed} sockets need more open files than the hard limit of {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def serve(responder: Responder, port: int, reload_interval: float) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    responder.bind(loop, port)
    log(f"ready: {sum(d.mib is not None for d in responder.devices)} devices on {len(responder.sockets)} "
        f"addresses, port {port}")
    last_stats, last_line = time.monotonic(), ""
    try:
        while not stopped.is_set():
            try:
                await asyncio.wait_for(stopped.wait(), reload_interval)
            except TimeoutError:
                pass
            responder.check(again_if_recent=True)
            if time.monotonic() - last_stats > STATS_EVERY:
                last_stats = time.monotonic()
                line = stats_line(responder.agent)
                if line != last_line:
                    log(f"stats: {line} send_errors={responder.send_errors}")
                    last_line = line
    finally:
        log(f"stopping: {stats_line(responder.agent)} send_errors={responder.send_errors}")
        responder.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--community-file", type=Path, required=True, help="the community; never on the command line")
    parser.add_argument("--usm-user-file", type=Path,
                        help="JSON {name, auth_protocol, auth_password, priv_protocol, priv_password}: answer SNMPv3 "
                             "for this user too")
    parser.add_argument("--boots-file", type=Path,
                        help="SNMPv3 snmpEngineBoots, counted up at each start (default: boots 1)")
    parser.add_argument("--max-message-size", type=int, default=MAX_MESSAGE)
    parser.add_argument("--reload-interval", type=float, default=0.25)
    args = parser.parse_args(argv)
    started = time.monotonic()
    community = args.community_file.read_text(encoding="utf-8").strip().encode("utf-8")
    devices = [Device(name, address, f"{name}.snmprec", engine_id=engine_id_of(address))
               for address, name in read_manifest(args.manifest)]
    usm_agent = None
    if args.usm_user_file:
        boots = next_boots(args.boots_file) if args.boots_file else 1
        usm_agent = UsmAgent(read_usm_user(args.usm_user_file), time.time(), boots)
    agent = Agent(community, args.max_message_size, usm_agent)
    responder = Responder(agent, args.data_dir, devices, Interner(time.time()))
    try:
        raise_open_files(len(devices) + 256)
        responder.check()
        log(f"loaded {sum(d.mib is not None for d in devices)} of {len(devices)} devices in "
            f"{time.monotonic() - started:.1f} s")
        asyncio.run(serve(responder, args.port, args.reload_interval))
    except OSError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
