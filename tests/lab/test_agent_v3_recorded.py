"""The lab agent's v3 side fed net-snmp's and pysnmp's own requests, recorded against Debian snmpd
(tests/snmp_wire/v3cases): it must authenticate and decrypt what those clients sent, and answer as snmpd did —
the same discovery report fields, the same reply values at the same security level, the same wrongDigests report.

The agent is given snmpd's engine ID, boots and time from the recording (the keys are localised to that engine),
and a Mib holding the values snmpd answered with.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from collectors.snmp import ber, usm, v3msg
from lab.agent import Agent
from lab.agent_v3 import UsmAgent, UsmUser
from lab.mib import Interner, parse_snmprec

CASES = sorted(p for p in (Path(__file__).parents[1] / "snmp_wire" / "v3cases").iterdir() if p.is_dir())
RIGHT_AUTH = "auth-pass-1234"  # the agent's; netsnmp_wrong_auth_pass's tool used another
T0 = 1_000_000.0


def snmprec(varbinds: list[tuple[bytes, int, Any]]) -> str:
    lines = []
    for oid, tag, value in varbinds:
        if tag in (ber.NO_SUCH_OBJECT, ber.NO_SUCH_INSTANCE, ber.END_OF_MIB_VIEW):
            continue
        text = f"{tag}x|{value.hex()}" if isinstance(value, bytes) else f"{tag}|{value}"
        lines.append(f"{ber.oid_to_str(oid)}|{text}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_agent_answers_a_recorded_client_as_snmpd_did(case: Path) -> None:
    meta = json.loads((case / "case.json").read_text())
    datagrams = [bytes.fromhex(line[2:]) for line in (case / "datagrams.txt").read_text().splitlines()]
    discovery, snmpd_report, request, snmpd_reply = datagrams
    found = v3msg.decode_message(snmpd_report, None).engine
    user = UsmUser(meta["user"], RIGHT_AUTH, meta["priv_pass"], meta["auth"],
                   meta["priv"] if meta["priv"] != "NONE" else "NONE")
    agent = Agent(b"unused-community", usm=UsmAgent(user, T0, found.boots))
    now = T0 + found.time + 0.5
    keys = usm.user_keys(found.engine_id, meta["auth"], RIGHT_AUTH.encode(), meta["priv"],
                         meta["priv_pass"].encode())
    right = meta["auth_pass"] == RIGHT_AUTH
    served = v3msg.decode_message(snmpd_reply, keys) if right else None
    mib = parse_snmprec(snmprec(served.pdu.varbinds if served else []), Interner(time.time()))

    ours = agent.answer(mib, discovery, now, found.engine_id)
    assert ours is not None
    report = v3msg.decode_message(ours, None)
    theirs = v3msg.decode_message(snmpd_report, None)
    assert report.report is not None and theirs.report is not None
    assert report.report.reason == theirs.report.reason == "unknownEngineIDs"
    assert (report.msg_id, report.engine, report.flags) == (theirs.msg_id, theirs.engine, theirs.flags)

    ours = agent.answer(mib, request, now, found.engine_id)
    assert ours is not None
    if not right:
        reply = v3msg.decode_message(ours, keys)
        expected = v3msg.decode_message(snmpd_reply, keys)
        assert reply.report is not None and expected.report is not None
        assert reply.report.reason == expected.report.reason == "wrongDigests"
        assert not reply.authenticated and reply.msg_id == expected.msg_id
        assert agent.usm is not None and agent.usm.stats.wrong_digests == 1
        return
    assert served is not None
    reply = v3msg.decode_message(ours, keys)
    assert reply.authenticated and reply.report is None
    assert reply.flags == served.flags  # authPriv answered authPriv, authNoPriv authNoPriv
    assert (reply.msg_id, reply.pdu.request_id) == (served.msg_id, served.pdu.request_id)
    assert reply.engine == found and reply.context_engine_id == served.context_engine_id
    assert reply.pdu.varbinds == served.pdu.varbinds
    assert (reply.pdu.error_status, reply.pdu.error_index) == (served.pdu.error_status, served.pdu.error_index)


def _setup() -> tuple[Agent, Any, list[bytes], v3msg.Engine, usm.UserKeys, float]:
    case = next(c for c in CASES if c.name == "netsnmp_get_sha_aes")
    meta = json.loads((case / "case.json").read_text())
    datagrams = [bytes.fromhex(line[2:]) for line in (case / "datagrams.txt").read_text().splitlines()]
    found = v3msg.decode_message(datagrams[1], None).engine
    user = UsmUser(meta["user"], RIGHT_AUTH, meta["priv_pass"], meta["auth"], meta["priv"])
    agent = Agent(b"c", usm=UsmAgent(user, T0, found.boots))
    keys = usm.user_keys(found.engine_id, "SHA", RIGHT_AUTH.encode(), "AES", meta["priv_pass"].encode())
    mib = parse_snmprec(snmprec(v3msg.decode_message(datagrams[3], keys).pdu.varbinds), Interner(time.time()))
    return agent, mib, datagrams, found, keys, T0 + found.time


def test_levels_contexts_and_reportable_flag() -> None:
    agent, mib, _, found, keys, now = _setup()
    sec = v3msg.Security(b"u-sha-aes", keys, found)

    def ask(message: bytes, later: float = 0.0) -> v3msg.V3Message | None:
        answer = agent.answer(mib, message, now + later, found.engine_id)
        return None if answer is None else v3msg.decode_message(answer, keys)

    no_auth = v3msg.encode_get(sec._replace(keys=None), 1, ["1.3.6.1.2.1.1.1.0"])
    got = ask(no_auth)
    assert got is not None and got.report is not None and got.report.reason == "unsupportedSecLevels"
    context = ask(v3msg.encode_get(sec._replace(context_name=b"vlan-10"), 2, ["1.3.6.1.2.1.1.1.0"], salt=5))
    assert context is not None and context.report is not None and context.report.reason == "unknownContexts"
    assert context.authenticated and context.pdu.request_id == 2
    stale = v3msg.encode_get(sec, 3, ["1.3.6.1.2.1.1.1.0"])
    assert ask(stale, later=150.9).report is None  # type: ignore[union-attr]
    late = ask(stale, later=151)
    assert late is not None and late.report is not None and late.report.reason == "notInTimeWindows"
    assert late.authenticated and late.engine == found._replace(time=found.time + 151)
    assert not late.flags & v3msg.FLAG_PRIV
    other = v3msg.encode_get(sec._replace(engine=found._replace(boots=found.boots + 1)), 4, ["1.3.6.1.2.1.1.1.0"])
    assert ask(other).report.reason == "notInTimeWindows"  # type: ignore[union-attr]
    # Not reportable (RFC 3412 7.2.6): no report, whatever the fault.
    pdu = v3msg.encode_pdu(ber.GET_REQUEST, 6, 0, 0, v3msg.request_varbinds(["1.3.6.1.2.1.1.1.0"]))
    silent = v3msg.encode_message(pdu, 6, b"nobody", None, found, reportable=False)
    assert agent.answer(mib, silent, now, found.engine_id) is None
    assert agent.usm is not None and agent.usm.stats.unknown_user_names == 1


def test_mutated_requests_never_raise() -> None:
    """Bit flips, truncations and junk appended to real requests: an answer or None, never an exception."""
    agent, mib, datagrams, found, keys, now = _setup()
    rng = random.Random(2026)
    answered, reasons = 0, set()
    for n in range(30_000):
        data = bytearray(datagrams[2] if n % 3 else datagrams[0])
        kind = n % 4
        if kind == 0:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[rng.randrange(len(data)):]
        elif kind == 2:
            data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            data += rng.randbytes(rng.randrange(1, 9))
        answer = agent.answer(mib, bytes(data), now, found.engine_id)
        if answer is not None:
            answered += 1
            reply = v3msg.decode_message(answer, keys)  # what the agent sends always reads back
            reasons.add(reply.report.reason if reply.report else "response")
    assert agent.stats.malformed > 5000 and answered > 5000
    assert {"unknownEngineIDs", "wrongDigests", "response"} <= reasons
