"""Real v3 exchanges recorded from net-snmp's tools and snmpd (capture_v3.py), read back with the known keys.

Both directions are decoded: the tool's requests (net-snmp's encoder and MAC/cipher) and the agent's replies,
whose values must equal what the tool itself printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from collectors.snmp import ber, usm, v3msg

CASES = sorted(p for p in (Path(__file__).parent / "v3cases").iterdir() if p.is_dir())
REQUESTS = (ber.GET_REQUEST, ber.GET_NEXT_REQUEST, ber.GET_BULK_REQUEST)
_LINE = re.compile(r"^(\.[\d.]+) = (\w+): (.*)$")


def _printed(lines: list[str]) -> list[tuple[str, str, str]]:
    return [m.groups() for m in map(_LINE.match, lines) if m]  # type: ignore[misc]


def _as_printed(tag: int, value: Any, kind: str, text: str) -> bool:
    if kind == "STRING":
        return isinstance(value, bytes) and value.decode() == text.strip('"')
    if kind == "INTEGER":
        return value == int(text)
    if kind == "Timeticks":
        return value == int(text.split(")")[0].strip("("))
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_recorded_exchange(case: Path) -> None:
    meta = json.loads((case / "case.json").read_text())
    datagrams = [(line[0], bytes.fromhex(line[2:])) for line in (case / "datagrams.txt").read_text().splitlines()]
    assert [d for d, _ in datagrams] == [">", "<", ">", "<"]

    discovery = v3msg.decode_message(datagrams[0][1], None, pdu_types=REQUESTS)
    assert discovery.engine.engine_id == b"" and discovery.user == b"" and not discovery.pdu.varbinds
    assert discovery.flags == v3msg.FLAG_REPORTABLE
    report = v3msg.decode_message(datagrams[1][1], None)
    assert report.report is not None and report.report.reason == "unknownEngineIDs"
    assert report.msg_id == discovery.msg_id
    engine_id = report.engine.engine_id

    right = usm.user_keys(engine_id, meta["auth"], b"auth-pass-1234", meta["priv"], meta["priv_pass"].encode())
    if meta["auth_pass"] != "auth-pass-1234":
        with pytest.raises(v3msg.Unauthenticated):
            v3msg.decode_message(datagrams[2][1], right, pdu_types=REQUESTS)
        reply = v3msg.decode_message(datagrams[3][1], right)
        assert reply.report is not None and reply.report.reason == "wrongDigests" and not reply.authenticated
        assert "Authentication failure" in " ".join(meta["tool_stderr"])
        return

    request = v3msg.decode_message(datagrams[2][1], right, pdu_types=REQUESTS)
    assert request.authenticated and request.user == meta["user"].encode()
    assert request.flags & v3msg.FLAG_PRIV == (v3msg.FLAG_PRIV if meta["priv"] != "NONE" else 0)
    oids = meta["command"].split("AGENT ")[1].split()
    assert [ber.oid_to_str(o) for o, _, _ in request.pdu.varbinds] == oids

    reply = v3msg.decode_message(datagrams[3][1], right)
    assert reply.authenticated and reply.report is None and reply.pdu.request_id == request.pdu.request_id
    printed = _printed(meta["tool_stdout"])
    assert len(printed) == len(reply.pdu.varbinds) > 0
    for (oid, tag, value), (p_oid, kind, text) in zip(reply.pdu.varbinds, printed, strict=True):
        assert "." + ber.oid_to_str(oid) == p_oid
        assert _as_printed(tag, value, kind, text), (p_oid, value, text)

    wrong = usm.user_keys(engine_id, meta["auth"], b"another-pass", meta["priv"], meta["priv_pass"].encode())
    with pytest.raises(v3msg.Unauthenticated):
        v3msg.decode_message(datagrams[3][1], wrong)
