"""The thin I/O shell: asyncssh listeners, one per device address, feeding typed lines to `cli.handle`.

Run: python -m lab.ssh.server --plan-seed 2026 --profile small --port 22022 --state-dir DIR \\
         --username lab --password-file FILE [--devices a,b | --per-platform 1] [--lab-root LABDIR]
It writes DIR/ready.json once every listener is up, and polls DIR/faults.json every second. With --lab-root (the
lab's own folder, when `lab up` starts it) a device that loses its management address also stops answering SNMP
and ping: the lab's firewall chain when iptables works, else its SNMP data file is parked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
from asyncssh.connection import SSHConnection

from collectors.platforms import SSH_PLATFORMS
from lab.city import DevicePlan, generate_city
from lab.ssh.cli import CLOSED, CliState, handle, key, login, prompt, reject
from lab.ssh.config import Config, initial_config, parse, render
from lab.ssh.faults import FAULTS_FILE, Faults, garble, mangled, read_faults, rejected_text, split_for_drop
from lab.ssh.state import DeviceMemory, Registry

READY_FILE = "ready.json"
LOST_FILE = "lost.json"  # devices cut off by lose-management (lab.faults waits on it when clearing)
APPLIED_FILE = "faults.applied"  # the modification time of the fault file last applied, for writers to wait on
CONFIG_MODES = ("config", "interface")


@dataclass(slots=True)
class Device:
    plan: DevicePlan
    addresses: tuple[str, ...]
    memory: DeviceMemory
    key: asyncssh.SSHKey
    faults: Faults = Faults()
    listeners: list[asyncssh.SSHAcceptor] = field(default_factory=list)
    used_rejects: frozenset[str] = frozenset()  # once-only `reject` texts that have fired
    lost: str = ""  # the lose-management fault that cut the device off
    lost_from: Config = ()  # the running configuration before the change that cut it off
    dropped: bool = False  # a once-only drop-mid-change has fired
    sessions: set[SSHConnection] = field(default_factory=set)  # the SSH connections open now


def split_lines(pending: str, data: str) -> tuple[list[str], str]:
    """Complete lines typed so far and the unfinished rest; CR, LF and CRLF all end a line."""
    text = (pending + data).replace("\r\n", "\n").replace("\r", "\n")
    *lines, rest = text.split("\n")
    return lines, rest


def next_input(buffer: str, paused: bool) -> tuple[str | None, str]:
    """What the CLI takes next from the typed-ahead buffer: a key while the pager waits (CRLF is one Enter),
    else a complete line; None when the buffer holds neither yet."""
    if paused:
        if not buffer:
            return None, buffer
        rest = buffer[2:] if buffer.startswith("\r\n") else buffer[1:]
        return buffer[0], rest
    lines, rest = split_lines("", buffer)
    if not lines:
        return None, buffer
    end = min(i for i in (buffer.find("\r"), buffer.find("\n")) if i >= 0)
    return lines[0], buffer[end + (2 if buffer.startswith("\r\n", end) else 1):]


class _Auth(asyncssh.SSHServer):
    def __init__(self, lab: Lab, device: Device) -> None:
        self._lab, self._device = lab, device

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if self._device.faults.auth_fail:
            return False
        user, secret = self._lab.credentials
        return hmac.compare_digest(username, user) and hmac.compare_digest(password.encode(), secret.encode())


class Lab:
    """Many SSH devices in one event loop; `start()`, then `close()`."""

    def __init__(self, devices: Iterable[DevicePlan], port: int, state_dir: Path, credentials: tuple[str, str],
                 host_addresses: Mapping[str, tuple[str, ...]] | None = None, lab_root: Path | None = None,
                 community: str | None = None) -> None:
        """`community`: the lab's SNMP community, named in the configuration of the devices that keep one."""
        self.port, self.state_dir, self.credentials, self.lab_root = port, state_dir, credentials, lab_root
        self.devices: dict[str, Device] = {}
        self.registry = Registry()
        now = datetime.now(UTC)
        (state_dir / "keys").mkdir(parents=True, exist_ok=True)
        for plan in devices:
            addresses = (host_addresses or {}).get(plan.name) or tuple(a for a in (plan.address, plan.address6) if a)
            cfg = state_dir / f"{plan.name}.cfg"
            config = parse(cfg.read_text()) if cfg.exists() else initial_config(plan, community)
            memory = DeviceMemory(config, config, now, now)
            self.devices[plan.name] = Device(plan, addresses, memory, self._key(plan.name))
            self.registry.update(plan, config)
        self._poller: asyncio.Task[None] | None = None

    def _key(self, name: str, rotate: bool = False) -> asyncssh.SSHKey:
        path = self.state_dir / "keys" / f"{name}.key"
        if path.exists() and not rotate:
            return asyncssh.read_private_key(str(path))
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(path))
        return key

    async def start(self) -> None:
        await asyncio.gather(*(self._listen(d) for d in self.devices.values()))
        self._poller = asyncio.create_task(self._poll())

    async def close(self) -> None:
        if self._poller:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for device in self.devices.values():
            await self._unlisten(device)

    async def rotate_host_key(self, name: str) -> None:
        device = self.devices[name]
        device.key = self._key(name, rotate=True)
        await self._unlisten(device)
        await self._listen(device)

    def apply_faults(self, faults: Mapping[str, Faults]) -> list[str]:
        """Set every device's faults; returns the devices whose host key must be rotated."""
        rotate = []
        for name, device in self.devices.items():
            new = faults.get(name, Faults(key_generation=device.faults.key_generation))
            if new.key_generation > device.faults.key_generation:
                rotate.append(name)
            device.faults = replace(new, key_generation=max(new.key_generation, device.faults.key_generation))
            device.used_rejects &= frozenset(new.reject)
            device.dropped = device.dropped and bool(new.drop_after)
        return rotate

    async def _poll(self) -> None:
        while True:
            try:
                seen = (self.state_dir / FAULTS_FILE).stat().st_mtime_ns
            except OSError:
                seen = 0
            for name in self.apply_faults(read_faults(self.state_dir)):
                await self.rotate_host_key(name)
            (self.state_dir / APPLIED_FILE).write_text(str(seen))
            for device in self.devices.values():
                if device.lost and device.faults.lose_management != device.lost:
                    await self._restore_management(device)
            await asyncio.sleep(1.0)

    async def _lose_management(self, device: Device, before: Config) -> None:
        """The classic lock-out after a change: sessions already open go on (unless the fault says the change cut
        them too), nothing new gets in, until the configuration is put back as it was or the fault is cleared."""
        device.lost, device.lost_from = device.faults.lose_management, before
        if device.faults.lose_open:
            for conn in list(device.sessions):
                conn.abort()
        for listener in device.listeners:
            listener.close()  # asyncssh keeps the open connections; not waiting, they may run for long
        device.listeners.clear()
        if self.lab_root is not None:
            await asyncio.to_thread(_cut_off, self.lab_root, device, self.port)
        self._write_lost()

    async def _restore_management(self, device: Device) -> None:
        fault_id, device.lost = device.lost, ""
        if self.lab_root is not None:
            await asyncio.to_thread(_reconnect, self.lab_root, device, fault_id)
        await self._listen(device)
        self._write_lost()

    def _write_lost(self) -> None:
        tmp = self.state_dir / (LOST_FILE + ".tmp")
        tmp.write_text(json.dumps(sorted(name for name, d in self.devices.items() if d.lost)))
        tmp.replace(self.state_dir / LOST_FILE)

    async def _listen(self, device: Device) -> None:
        for address in device.addresses:
            device.listeners.append(await asyncssh.create_server(
                lambda d=device: _Auth(self, d), address, self.port, server_host_keys=[device.key],
                process_factory=lambda p, d=device: self._session(d, p), line_editor=False,
                encoding="utf-8", keepalive_interval=0, reuse_address=True))

    async def _unlisten(self, device: Device) -> None:
        for listener in device.listeners:
            listener.close()
            await listener.wait_closed()
        device.listeners.clear()

    async def _session(self, device: Device, process: asyncssh.SSHServerProcess[str]) -> None:
        state, text = login(device.plan, device.memory, datetime.now(UTC), self.registry)
        configured = 0  # configuration lines typed in this session, for `drop_after`
        conn = process.channel.get_connection()
        device.sessions.add(conn)
        try:
            await self._write(device, process, text, command=False)
            buffer = ""
            while state.mode != CLOSED:
                data = await process.stdin.read(4096)
                if not data:
                    break
                buffer += data
                while state.mode != CLOSED:
                    typed, buffer = next_input(buffer, bool(state.paused))
                    if typed is None:
                        break
                    if state.mode in CONFIG_MODES and not state.paused and not state.pending and typed.strip():
                        configured += 1
                        if device.faults.drop_after and configured >= device.faults.drop_after \
                                and (device.faults.drop_always or not device.dropped):
                            device.dropped = True  # a blip, once, unless the fault drops every session
                            await self._line(device, process, state, typed, silent=True)
                            conn.abort()
                            return
                    state = await self._line(device, process, state, typed)
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            return
        finally:
            device.sessions.discard(conn)
        process.exit(0)

    async def _line(self, device: Device, process: asyncssh.SSHServerProcess[str], state: CliState,
                    line: str, silent: bool = False) -> CliState:
        # The memory is shared by all sessions of the device; take the latest before deciding.
        state = replace(state, memory=device.memory)
        refused = rejected_text(device.faults, device.used_rejects, line) \
            if state.mode in CONFIG_MODES and not state.paused and not state.pending else None
        if refused is not None:
            if refused in device.faults.reject:
                device.used_rejects |= {refused}
            typed = line.strip()
            new, text = state, typed + "\n" + reject(state, typed, max(typed.find(refused), 0)) + prompt(state)
        else:
            new, text = key(state, line) if state.paused else handle(state, line, datetime.now(UTC))
        if not state.paused and " ".join(line.split()) in device.faults.mangle:
            text = line.strip() + "\n" + mangled(line) + prompt(new)  # the echo and the prompt as usual
        device.memory = new.memory
        if new.memory.running != state.memory.running:
            self.registry.update(device.plan, new.memory.running)
            if device.faults.lose_management and not device.lost:
                await self._lose_management(device, state.memory.running)
            elif device.lost and same_config(new.memory.running, device.lost_from):
                # As on a real device: the management address works again once the change that cut it is undone.
                await self._restore_management(device)
        if new.memory.startup is not state.memory.startup:
            path = self.state_dir / f"{device.plan.name}.cfg"
            path.write_text(render(device.plan, new.memory.startup, new.memory.updated_at))
        if not silent:
            await self._write(device, process, text, command=True)
        return new

    async def _write(self, device: Device, process: asyncssh.SSHServerProcess[str], text: str,
                     command: bool) -> None:
        faults = device.faults
        if command and faults.garbage:
            text = garble(text)
        cut = split_for_drop(text) if command and faults.drop else None
        chunks = (cut or text).split("\n")
        if faults.delay_s:
            for i, chunk in enumerate(chunks):
                process.stdout.write(chunk + ("\r\n" if i < len(chunks) - 1 else ""))
                await process.stdout.drain()
                await asyncio.sleep(faults.delay_s)
        else:
            process.stdout.write("\r\n".join(chunks))
            await process.stdout.drain()
        if cut is not None:
            process.channel.get_connection().abort()
            raise ConnectionError("session dropped by fault")


def same_config(one: Config, other: Config) -> bool:
    """The same sections holding the same lines, whatever order a rollback typed them in."""
    return sorted((head, sorted(body)) for head, body in one) == sorted((head, sorted(body)) for head, body in other)


def _cut_off(lab_root: Path, device: Device, port: int) -> None:
    from lab import faults, firewall  # the lab's own machinery, only when `lab up` started this server
    from lab.state import LabPaths

    paths = LabPaths(lab_root)
    if firewall.available()[0]:
        firewall.Firewall(paths.tag).block_management(device.lost, device.addresses, port)
    else:
        faults.park(paths, device.plan)


def _reconnect(lab_root: Path, device: Device, fault_id: str) -> None:
    from lab import faults, firewall
    from lab.state import LabPaths

    paths = LabPaths(lab_root)
    if firewall.available()[0]:
        firewall.Firewall(paths.tag).unblock(fault_id)
    with contextlib.suppress(OSError):  # `lab clear` may have moved it back already
        faults.unpark(paths, device.plan)


async def serve(devices: Iterable[DevicePlan], port: int, state_dir: Path, credentials: tuple[str, str],
                host_addresses: Mapping[str, tuple[str, ...]] | None = None, lab_root: Path | None = None,
                community: str | None = None) -> Lab:
    lab = Lab(devices, port, state_dir, credentials, host_addresses, lab_root, community)
    await lab.start()
    return lab


def pick(devices: Iterable[DevicePlan], names: list[str], per_platform: int) -> list[DevicePlan]:
    chosen = [d for d in devices if d.platform in SSH_PLATFORMS]
    if names:
        return [d for d in chosen if d.name in names]
    if per_platform:
        counts: dict[str, int] = {}
        picked = []
        for d in chosen:
            if d.address6 and not d.address:
                picked.append(d)
            elif counts.get(d.platform, 0) < per_platform:
                counts[d.platform] = counts.get(d.platform, 0) + 1
                picked.append(d)
        return picked
    return chosen


async def _main(args: argparse.Namespace, password: str, community: str | None) -> None:
    plan = generate_city(args.plan_seed, args.profile)
    devices = pick(plan.devices, [n for n in args.devices.split(",") if n], args.per_platform)
    if args.limit:
        devices = devices[: args.limit]
    state_dir = Path(args.state_dir)
    lab_root = Path(args.lab_root) if args.lab_root else None
    lab = await serve(devices, args.port, state_dir, (args.username, password), lab_root=lab_root, community=community)
    addresses = {name: list(d.addresses) for name, d in lab.devices.items()}
    ready = {"pid": os.getpid(), "port": args.port, "devices": addresses}
    # Written whole, then renamed: whoever waits for the file must never read it half-written.
    partial = state_dir / (READY_FILE + ".part")
    partial.write_text(json.dumps(ready))
    partial.replace(state_dir / READY_FILE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await lab.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.ssh.server")
    parser.add_argument("--plan-seed", type=int, default=2026)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--username", default="lab")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--devices", default="", help="comma-separated device names")
    parser.add_argument("--per-platform", type=int, default=0, help="first N devices of each platform (+ IPv6 one)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many devices")
    parser.add_argument("--lab-root", default="", help="the lab's folder, for cutting a device off SNMP and ping")
    parser.add_argument("--community-file", default="",
                        help="the lab's SNMP community, for the devices whose configuration keeps one")
    args = parser.parse_args(argv)
    community = Path(args.community_file).read_text().strip() if args.community_file else None
    asyncio.run(_main(args, Path(args.password_file).read_text().strip(), community))


if __name__ == "__main__":
    main()
