"""The protocol core of the lab's responder: one request datagram and a device's data in, the answer out.

Pure apart from the clock it is handed. SNMPv2c GetRequest, GetNextRequest and GetBulkRequest as RFC 3416 says
(noSuchObject / noSuchInstance / endOfMibView, non-repeaters and max-repetitions, a bulk answer cut to fit the
message size, tooBig when a Get or GetNext answer cannot fit), SNMPv1 with its noSuchName and without Counter64
(RFC 2576 4.1.2.1), a read-only agent's answer to SetRequest. What a real agent ignores is ignored, and counted:
a wrong community, a malformed datagram, SNMPv3 (unless a USM user is configured: lab.agent_v3), or a PDU an
agent does not answer.
"""

from __future__ import annotations

import hmac
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from collectors.snmp import ber
from lab.mib import Cell, Mib, key_of

if TYPE_CHECKING:
    from lab.agent_v3 import UsmAgent

# The largest UDP payload over IPv4; net-snmp's agent cuts bulk answers to its maximum message size likewise.
MAX_MESSAGE = 65507

TOO_BIG, NO_SUCH_NAME, NO_ACCESS = 1, 2, 6
VERSION_3 = 3
_MIN_VARBIND = 7  # SEQUENCE, OID and value headers and a one-octet OID


@dataclass(slots=True)
class AgentStats:
    answered: int = 0
    varbinds: int = 0
    bad_community: int = 0
    malformed: int = 0
    unsupported: int = 0  # SNMPv3, traps, responses, GetBulk in SNMPv1
    silent: int = 0  # requests to a device whose data is absent (parked by a fault)
    too_big: int = 0

    def line(self) -> str:
        return " ".join(f"{name}={getattr(self, name)}" for name in self.__slots__)  # type: ignore[attr-defined]


def exception(raw: bytes, tag: int) -> bytes:
    """A VarBind with noSuchObject, noSuchInstance, endOfMibView or NULL."""
    return ber.encode_tlv(ber.SEQUENCE, ber.encode_tlv(ber.OBJECT_IDENTIFIER, raw) + bytes((tag, 0)))


def message_version(data: bytes) -> int | None:
    """The version field, read without decoding the rest (None when the datagram does not start like SNMP)."""
    if len(data) < 5 or data[0] != ber.SEQUENCE:
        return None
    first = data[1]
    pos = 2 + (first & 0x7F if first & 0x80 else 0)
    if data[pos : pos + 2] != b"\x02\x01" or len(data) < pos + 3:
        return None
    return data[pos + 2]


class Agent:
    def __init__(self, community: bytes, max_size: int = MAX_MESSAGE, usm: UsmAgent | None = None) -> None:
        self.community = community
        self.max_size = max_size
        self.stats = AgentStats()
        self.usm = usm  # SNMPv3 (lab.agent_v3), when the lab runs with a USM user

    def answer(self, mib: Mib | None, data: bytes, now: float, engine_id: bytes = b"") -> bytes | None:
        """The response datagram, or None when the request gets no answer. ``engine_id``: the device's SNMPv3
        engine ID (lab.agent_v3.engine_id_of its address), used when the agent has a USM user."""
        stats = self.stats
        if mib is None:
            stats.silent += 1
            return None
        version = message_version(data)
        if version not in (ber.VERSION_1, ber.VERSION_2C):
            if version is None:
                stats.malformed += 1
            elif version == VERSION_3 and self.usm is not None:
                return self.usm.answer(self, mib, data, now, engine_id)
            else:
                stats.unsupported += 1
            return None
        try:
            request = ber.decode_request(data, version, _REQUESTS)
        except ber.BerError as exc:
            # A message of another kind (a trap sent to the agent port) is not malformed, just not ours.
            if str(exc).startswith("expected GetRequest"):
                stats.unsupported += 1
            else:
                stats.malformed += 1
            return None
        if not hmac.compare_digest(request.community, self.community):
            stats.bad_community += 1
            return None
        if request.pdu_type == ber.GET_BULK_REQUEST and version == ber.VERSION_1:
            stats.unsupported += 1
            return None
        status, index, parts = self.respond(mib, request, now, self._budget(request))
        if status == 0:
            stats.varbinds += len(parts)
        answer = ber.encode_message(request.community, ber.RESPONSE, request.request_id, status, index,
                                    ber.encode_varbind_list(parts), version)
        if len(answer) > self.max_size:
            stats.too_big += 1
            return None
        stats.answered += 1
        return answer

    def respond(self, mib: Mib, request: ber.Response, now: float, budget: int) -> tuple[int, int, list[bytes]]:
        """(error-status, error-index, encoded varbinds) for a decoded request, the varbinds within ``budget``
        bytes: the PDU's answer whichever message (v1, v2c, v3) carries it."""
        pdu = request.pdu_type
        if pdu == ber.GET_BULK_REQUEST:
            return self._bulk(mib, request, now, budget)  # (cut to fit already)
        if pdu == ber.GET_REQUEST:
            status, index, parts = self._get(mib, request, now)
        elif pdu == ber.GET_NEXT_REQUEST:
            status, index, parts = self._next(mib, request, now)
        else:  # SetRequest: every object here is read-only
            v1 = request.version == ber.VERSION_1
            return (NO_SUCH_NAME if v1 else NO_ACCESS), 1, _echo(request)
        if status == 0 and sum(map(len, parts)) > budget:
            self.stats.too_big += 1
            return TOO_BIG, 0, _echo(request) if request.version == ber.VERSION_1 else []
        return status, index, parts

    def _budget(self, request: ber.Response) -> int:
        # Message, version, community, PDU, request-id, error fields and list headers: at most 33 bytes besides
        # the community (lengths of up to 3 octets each), so the answer is close to, never above, the limit.
        return self.max_size - 33 - len(request.community)

    def _get(self, mib: Mib, request: ber.Response, now: float) -> tuple[int, int, list[bytes]]:
        parts = []
        cells, tags = mib.cells, mib.tags
        v1 = request.version == ber.VERSION_1
        for position, (raw, _, _) in enumerate(request.varbinds, 1):
            key = key_of(raw)
            i = mib.find(key)
            if i >= 0 and not (v1 and tags[i] == ber.COUNTER64):
                cell = cells[i]
                parts.append(cell if cell.__class__ is bytes else cell.encode(now))  # type: ignore[union-attr]
            elif v1:
                return NO_SUCH_NAME, position, _echo(request)
            else:
                missing = ber.NO_SUCH_INSTANCE if mib.shape.object_type_of(key) else ber.NO_SUCH_OBJECT
                parts.append(exception(raw, missing))
        return 0, 0, parts

    def _next(self, mib: Mib, request: ber.Response, now: float) -> tuple[int, int, list[bytes]]:
        parts = []
        cells, tags, keys = mib.cells, mib.tags, mib.shape.keys
        v1 = request.version == ber.VERSION_1
        for position, (raw, _, _) in enumerate(request.varbinds, 1):
            i = bisect_right(keys, key_of(raw))
            if v1:
                while i < len(cells) and tags[i] == ber.COUNTER64:
                    i += 1
                if i >= len(cells):
                    return NO_SUCH_NAME, position, _echo(request)
            if i < len(cells):
                cell = cells[i]
                parts.append(cell if cell.__class__ is bytes else cell.encode(now))  # type: ignore[union-attr]
            else:
                parts.append(exception(raw, ber.END_OF_MIB_VIEW))
        return 0, 0, parts

    def _bulk(self, mib: Mib, request: ber.Response, now: float, budget: int) -> tuple[int, int, list[bytes]]:
        """RFC 3416 4.2.3, cut after the first row in which every repeater has reached the end, or where the
        next varbind would not fit."""
        varbinds = request.varbinds
        non_repeaters = min(max(request.error_status, 0), len(varbinds))
        repetitions = max(request.error_index, 0)
        cells, keys, oids = mib.cells, mib.shape.keys, mib.shape.oids
        n = len(cells)
        parts: list[bytes] = []
        size = 0
        for raw, _, _ in varbinds[:non_repeaters]:
            i = bisect_right(keys, key_of(raw))
            cell = cells[i] if i < n else exception(raw, ber.END_OF_MIB_VIEW)
            part = cell if cell.__class__ is bytes else cell.encode(now)  # type: ignore[union-attr]
            size += len(part)
            if size > budget:
                return (0, 0, parts) if parts else (TOO_BIG, 0, [])
            parts.append(part)
        repeaters = varbinds[non_repeaters:]
        if not repeaters or not repetitions:
            return 0, 0, parts
        starts = [bisect_right(keys, key_of(raw)) for raw, _, _ in repeaters]
        # Rows up to the first in which every repeater has reached the end (that row included), and no more than
        # could fit, so that a request with thousands of repeaters costs no more than one full answer.
        rows = min(repetitions, max(n - min(starts), 0) + 1, (budget - size) // (_MIN_VARBIND * len(starts)) + 1)
        columns = []
        for start, (raw, _, _) in zip(starts, repeaters, strict=True):
            column: list[bytes | Cell] = list(cells[start : start + rows])
            if len(column) < rows:
                # Past the end, a repeater repeats endOfMibView under the last name it reached.
                column += [exception(oids[-1] if start < n else raw, ber.END_OF_MIB_VIEW)] * (rows - len(column))
            columns.append(column)
        body = [cell if cell.__class__ is bytes else cell.encode(now)  # type: ignore[union-attr]
                for row in zip(*columns, strict=True) for cell in row]
        if size + sum(map(len, body)) > budget:
            fits = bisect_right(list(accumulate(map(len, body), initial=size)), budget) - 1
            if not parts and not fits:
                return TOO_BIG, 0, []
            body = body[:fits]
        parts += body
        return 0, 0, parts


_REQUESTS = (ber.GET_REQUEST, ber.GET_NEXT_REQUEST, ber.GET_BULK_REQUEST, ber.SET_REQUEST)


def _echo(request: ber.Response) -> list[bytes]:
    """The request's own varbinds, for error answers that must repeat them."""
    return [ber.encode_varbind(raw, tag, value) for raw, tag, value in request.varbinds]
