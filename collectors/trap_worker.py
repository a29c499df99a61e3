"""The trap intake process: reads the UDP socket, throttles each source, decodes, and sends batches to the parent.

Runs in its own process (multiprocessing spawn) so that a flood costs this process's CPU, not the monitor's event
loop. The socket is bound by the parent and handed over, so a restarted worker keeps the same port and the kernel
buffers what arrives in between. A bucket check comes before any decoding: a throttled datagram costs a recvfrom
and a dict lookup.

Messages to the parent: ("batch", results, events) with PollResults (trap results and `trap_intake` counts) and
SecurityEvents.
"""

from __future__ import annotations

import logging
import queue
import signal
import socket
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from collectors.base import PollResult
from collectors.model import Sample, make_tags, now_ns
from collectors.snmp import ber, usm
from collectors.trap_intake import (
    INFORM,
    Buckets,
    Counts,
    Credentials,
    Notification,
    Rejected,
    V3Keys,
    inform_response,
    parse,
)
from collectors.traps import SecurityEvent, TrapListen, decode

log = logging.getLogger(__name__)

BATCH = 500  # most items per pipe message
FLUSH_S = 0.02  # the longest a decoded trap waits for its batch to fill
STATS_S = 1.0  # how often changed per-source counts go to the parent
INTAKE = "trap-intake"  # the collector name of the per-source counts


def credentials(listen: TrapListen) -> Credentials:
    users = []
    for user in listen.users:
        if not user.engine_id:
            # A trap is authenticated with keys localised to its sender's engine: without it nothing verifies.
            log.warning("v3 trap user %s has no engine_id: its traps cannot be authenticated", user.name)
            continue
        keys = usm.user_keys(bytes.fromhex(user.engine_id), user.auth, user.auth_key.encode(), user.priv,
                             user.priv_key.encode())
        users.append(V3Keys(user.name.encode(), keys))
    return Credentials(frozenset(c.encode() for c in listen.communities), tuple(users))


def main(sock: socket.socket, conn: Connection, listen: TrapListen, devices: Mapping[str, str]) -> None:
    """The process entry point: runs until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    creds = credentials(listen)
    buckets = Buckets(listen.rate_per_s, listen.burst)
    counts = Counts(listen.flood_window_s)
    out: queue.Queue[tuple[str, Any]] = queue.Queue(listen.queue_limit)
    threading.Thread(target=_send, args=(conn, out), daemon=True, name="trap-batches").start()
    threading.Thread(target=_watch_parent, args=(conn,), daemon=True, name="trap-parent").start()
    sock.settimeout(STATS_S)
    next_stats = time.monotonic() + STATS_S
    while True:
        try:
            data, address = sock.recvfrom(65535)
        except TimeoutError:
            data = b""
        except OSError as exc:  # the socket is gone: nothing more to read, the parent will see us exit
            log.error("trap socket: %s", exc)
            return
        now = time.monotonic()
        if now >= next_stats:
            next_stats = now + STATS_S
            _stats(counts, devices, out)
        if not data:
            continue
        source = _address(address[0])
        counts.of(source).received += 1
        if not buckets.allow(source, now):
            if counts.throttled(source, now):
                event = SecurityEvent("trap-flood", devices.get(source, f"unknown:{source}"), source, now_ns())
                _put(out, ("event", event), counts, source)
            continue
        try:
            note = parse(data, creds, now)
        except ber.BerError as exc:
            counts.count(source, "rejected" if isinstance(exc, Rejected) else "malformed")
            continue
        if note.pdu_type == INFORM:
            _answer(sock, note, address)
        try:
            decoded = decode(source, note.varbinds, devices, now_ns(), note.security_name)
        except Exception:  # noqa: BLE001 - a trap we cannot read must not end the intake of every other
            counts.count(source, "malformed")
            continue
        device = decoded.samples[0].tag("device")
        _put(out, ("result", PollResult(device, "trap", decoded.samples, True, partial=True)), counts, source)
        for event in decoded.events:
            _put(out, ("event", event), counts, source)


def _address(host: str) -> str:
    # An IPv4 sender on a dual-stack socket reads as ::ffff:a.b.c.d; the inventory knows a.b.c.d.
    return host[7:] if host.startswith("::ffff:") and "." in host else host


def _answer(sock: socket.socket, note: Notification, address: Any) -> None:
    try:
        sock.sendto(inform_response(note), address)
    except (OSError, ValueError) as exc:
        log.warning("inform response to %s: %s", address[0], exc)


def _put(out: queue.Queue[tuple[str, Any]], item: tuple[str, Any], counts: Counts, source: str) -> None:
    try:
        out.put_nowait(item)
    except queue.Full:  # the parent is not keeping up: lose this one, and say whose it was
        counts.count(source, "dropped")


def _stats(counts: Counts, devices: Mapping[str, str], out: queue.Queue[tuple[str, Any]]) -> None:
    changed = counts.take_changed()
    if not changed:
        return
    time_ns = now_ns()
    per_device: dict[str, list[Sample]] = {}
    for source, c in changed.items():
        device = devices.get(source, f"unknown:{source}")
        fields = {"received": float(c.received), "dropped": float(c.dropped), "malformed": float(c.malformed),
                  "rejected": float(c.rejected)}
        per_device.setdefault(device, []).append(
            Sample("trap_intake", make_tags(device=device, source=source), fields, time_ns))
    for device, samples in per_device.items():
        # A device's samples replace its previous ones: send all of its noteworthy sources, not only the changed.
        sources = {s.tag("source") for s in samples}
        for source, c in counts.sources.items():
            if source not in sources and c.noteworthy() and devices.get(source, f"unknown:{source}") == device:
                samples.append(Sample("trap_intake", make_tags(device=device, source=source),
                                      {"received": float(c.received), "dropped": float(c.dropped),
                                       "malformed": float(c.malformed), "rejected": float(c.rejected)}, time_ns))
        try:
            out.put_nowait(("result", PollResult(device, INTAKE, samples, True)))
        except queue.Full:
            counts.changed.update(s.tag("source") for s in samples)  # counts are cumulative: send them next time


def _send(conn: Connection, out: queue.Queue[tuple[str, Any]]) -> None:
    while True:
        batch = [out.get()]
        deadline = time.monotonic() + FLUSH_S
        while len(batch) < BATCH:
            wait = deadline - time.monotonic()
            try:
                batch.append(out.get(timeout=wait) if wait > 0 else out.get_nowait())
            except queue.Empty:
                break
        results = [item for kind, item in batch if kind == "result"]
        events = [item for kind, item in batch if kind == "event"]
        try:
            conn.send(("batch", results, events))
        except OSError:
            return


def _watch_parent(conn: Connection) -> None:
    # The parent closes its end (or dies): end this process rather than read a socket nobody listens to.
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        pass
    import os  # noqa: PLC0415

    os._exit(0)
