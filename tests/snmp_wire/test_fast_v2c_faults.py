"""FastV2cEngine against scripted agents on loopback: garbage, silence, stale and duplicate answers, tooBig."""

from __future__ import annotations

import asyncio

import pytest

from collectors.snmp import ber
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import (
    MalformedResponse,
    SnmpErrorStatus,
    SnmpFailure,
    SnmpTimeout,
    Target,
    V2cCredentials,
    V3Credentials,
)
from lab.snmpd import Agent

from .fake_agent import fake_agent, table_reply

COMMUNITY = b"fault-community"
CREDS = V2cCredentials(COMMUNITY.decode())
SYS_NAME_OID = "1.3.6.1.2.1.1.5.0"
COLUMN = "1.3.6.1.2.1.2.2.1.2"
TABLE = {f"{COLUMN}.{i}": (ber.OCTET_STRING, f"port{i}".encode()) for i in range(1, 31)}
TABLE["1.3.6.1.2.1.2.2.1.3.1"] = (ber.INTEGER, 6)


def answer(request: bytes, varbinds: list[tuple[str | bytes, int, ber.Value]], **kw: object) -> bytes:
    parsed = ber.decode_request(request)
    community = kw.pop("community", COMMUNITY)
    request_id = kw.pop("request_id", parsed.request_id)
    return ber.encode_response(community, request_id, varbinds, **kw)  # type: ignore[arg-type]


@pytest.mark.integration
async def test_garbage_fails_fast_while_a_good_request_in_the_same_engine_succeeds(
        snmpd_agent: Agent, fast_engine: FastV2cEngine) -> None:
    async with fake_agent(lambda data: [b"\x30\x03\x02\x01"]) as hostile:
        bad = fast_engine.session(Target("127.0.0.1", hostile.port, timeout=30, retries=3), CREDS)
        good = fast_engine.session(snmpd_agent.target(), snmpd_agent.v2c)
        results = await asyncio.wait_for(
            asyncio.gather(bad.get([SYS_NAME_OID]), good.get([SYS_NAME_OID]), return_exceptions=True), 20)
    failure, answered = results
    assert isinstance(failure, MalformedResponse) and failure.reason == "malformed"
    assert f"127.0.0.1:{hostile.port}" in str(failure) and "undecodable response" in str(failure)
    assert "at offset" in str(failure)
    assert len(hostile.received) == 1 and fast_engine.stats.retransmits == 0  # failed on the answer, not a timer
    assert answered == {SYS_NAME_OID: b"yiwang-snmpd"}


async def test_broken_varbinds_fail_only_the_request_they_answer(fast_engine: FastV2cEngine) -> None:
    def reply(data: bytes) -> list[bytes]:
        request = ber.decode_request(data)
        oid = request.varbinds[0][0]
        if ber.oid_to_str(oid) != "1.3.6.1.2.1.1.7.0":
            return [answer(data, [(oid, ber.INTEGER, 1)])]
        # header intact, a value whose length overruns its varbind: the request-id is known, so only this request
        # may fail (a well-framed but unreadable value would be a BadValue in that varbind, see test_odd_varbinds)
        varbind = b"\x30" + bytes([len(oid) + 9, 6, len(oid)]) + oid + b"\x41\x06\x01\x00\x00\x00\x00"
        varbinds = b"\x30" + bytes([len(varbind)]) + varbind
        return [ber.encode_message(COMMUNITY, ber.RESPONSE, request.request_id, 0, 0, varbinds)]

    async with fake_agent(reply) as agent:
        session = fast_engine.session(Target("127.0.0.1", agent.port, timeout=30), CREDS)
        broken, fine = await asyncio.wait_for(asyncio.gather(
            session.get(["1.3.6.1.2.1.1.7.0"]), session.get(["1.3.6.1.2.1.1.3.0"]), return_exceptions=True), 20)
    assert isinstance(broken, MalformedResponse) and "value length 6 does not match its varbind" in str(broken)
    assert fine == {"1.3.6.1.2.1.1.3.0": 1}


async def test_silent_agent_times_out_after_every_retry(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(lambda data: []) as silent:
        target = Target("127.0.0.1", silent.port, timeout=0.2, retries=2)
        with pytest.raises(SnmpTimeout) as caught:
            await fast_engine.session(target, CREDS).walk_columns([COLUMN])
    assert caught.value.reason == "timeout"
    assert f"127.0.0.1:{silent.port}" in str(caught.value) and "3 attempt(s)" in str(caught.value)
    assert len(silent.received) == 3 and len(set(silent.received)) == 1  # the same request, resent
    assert (fast_engine.stats.retransmits, fast_engine.stats.timeouts) == (2, 1)


async def test_stale_duplicate_and_foreign_community_answers_are_ignored(fast_engine: FastV2cEngine) -> None:
    def reply(data: bytes) -> list[bytes]:
        varbinds: list[tuple[str | bytes, int, ber.Value]] = [(SYS_NAME_OID, ber.OCTET_STRING, b"right")]
        request_id = ber.decode_request(data).request_id
        stale = answer(data, [(SYS_NAME_OID, ber.OCTET_STRING, b"stale")], request_id=request_id ^ 1)
        spoofed = answer(data, [(SYS_NAME_OID, ber.OCTET_STRING, b"spoofed")], community=b"other")
        return [stale, spoofed, answer(data, varbinds), answer(data, varbinds)]

    async with fake_agent(reply) as agent:
        session = fast_engine.session(Target("127.0.0.1", agent.port, timeout=5), CREDS)
        assert await session.get([SYS_NAME_OID]) == {SYS_NAME_OID: b"right"}
        assert await session.get([SYS_NAME_OID]) == {SYS_NAME_OID: b"right"}  # the first one's echoes are behind us
    stats = fast_engine.stats
    assert stats.bad_community >= 1 and stats.unmatched >= 2 and stats.retransmits == 0


async def test_answers_only_in_a_foreign_community_time_out(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(lambda data: [answer(data, [], community=b"guess")]) as agent:
        with pytest.raises(SnmpTimeout):
            await fast_engine.session(Target("127.0.0.1", agent.port, timeout=0.2, retries=1), CREDS).get(["1.3.6.1"])
    assert fast_engine.stats.bad_community == 2


async def test_too_big_halves_max_repetitions(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(table_reply(TABLE, COMMUNITY, max_repetitions_limit=4)) as agent:
        walked = await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).walk_columns([COLUMN], 25)
    assert walked == {COLUMN: [(str(i), f"port{i}".encode()) for i in range(1, 31)]}
    asked = [ber.decode_request(d).error_index for d in agent.received]
    assert asked[:4] == [25, 12, 6, 3] and set(asked[3:]) == {3}


async def test_too_big_at_one_repetition_is_an_error_status(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(table_reply(TABLE, COMMUNITY, max_repetitions_limit=0)) as agent:
        with pytest.raises(SnmpErrorStatus) as caught:
            await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).walk_columns([COLUMN], 2)
    assert caught.value.status_name == "tooBig"


async def test_error_status_names_the_status_and_the_varbind(fast_engine: FastV2cEngine) -> None:
    oids = [SYS_NAME_OID, "1.3.6.1.2.1.1.6.0"]
    async with fake_agent(lambda data: [answer(data, [], error_status=5, error_index=2)]) as agent:
        with pytest.raises(SnmpErrorStatus) as caught:
            await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).get(oids)
    failure = caught.value
    assert (failure.reason, failure.status, failure.status_name, failure.index, failure.oid) == (
        "error-status", 5, "genErr", 2, "1.3.6.1.2.1.1.6.0")
    assert "genErr" in str(failure) and "varbind 2 (1.3.6.1.2.1.1.6.0)" in str(failure)


async def test_get_answered_for_another_oid_is_malformed(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(lambda data: [answer(data, [("1.3.6.1.2.1.1.6.0", ber.INTEGER, 1)])]) as agent:
        with pytest.raises(MalformedResponse, match="answered with 1.3.6.1.2.1.1.6.0"):
            await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).get([SYS_NAME_OID])


async def test_looping_agent_is_stopped(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(lambda data: [answer(data, [(f"{COLUMN}.1", ber.INTEGER, 1)])]) as agent:
        with pytest.raises(MalformedResponse) as caught:
            await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).walk_columns([COLUMN])
    assert caught.value.reason == "not-increasing" and len(agent.received) == 2


async def test_report_pdu_is_a_failure(fast_engine: FastV2cEngine) -> None:
    report = [("1.3.6.1.6.3.15.1.1.4.0", ber.COUNTER32, 1)]
    async with fake_agent(lambda data: [answer(data, report, pdu_type=ber.REPORT)]) as agent:
        with pytest.raises(SnmpFailure) as caught:
            await fast_engine.session(Target("127.0.0.1", agent.port), CREDS).get([SYS_NAME_OID])
    assert caught.value.reason == "report" and "1.3.6.1.6.3.15.1.1.4.0" in str(caught.value)


async def test_request_ids_are_random_and_unique(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(table_reply(TABLE, COMMUNITY)) as agent:
        session = fast_engine.session(Target("127.0.0.1", agent.port, timeout=5, retries=2), CREDS)
        results = await asyncio.gather(*(session.get([f"{COLUMN}.{1 + i % 30}"]) for i in range(300)))
    assert all(len(r) == 1 for r in results)
    ids = [ber.decode_request(d).request_id for d in agent.received]
    assert len(ids) == 300 and len(set(ids)) == 300 and fast_engine.stats.retransmits == 0
    assert all(0 < i < 2**31 for i in ids) and max(ids) - min(ids) > 2**24


async def test_ipv6_fake_agent(fast_engine: FastV2cEngine) -> None:
    async with fake_agent(table_reply(TABLE, COMMUNITY), host="::1") as agent:
        walked = await fast_engine.session(Target("::1", agent.port), CREDS).walk_columns([COLUMN], 7)
    assert len(walked[COLUMN]) == 30
    assert "ipv6" in fast_engine.rcvbuf_granted and fast_engine.rcvbuf_granted["ipv6"] > 0


async def test_send_error_fails_at_once_as_unreachable(fast_engine: FastV2cEngine) -> None:
    with pytest.raises(SnmpFailure) as caught:  # port 0 is refused by the kernel (EINVAL): nothing is sent
        await fast_engine.session(Target("127.0.0.1", 0, timeout=30), CREDS).get([SYS_NAME_OID])
    assert caught.value.reason == "unreachable" and fast_engine.stats.send_errors == 1


async def test_closing_the_engine_fails_outstanding_requests() -> None:
    engine = FastV2cEngine()
    async with fake_agent(lambda data: []) as silent:
        request = asyncio.create_task(
            engine.session(Target("127.0.0.1", silent.port, timeout=30), CREDS).get([SYS_NAME_OID]))
        await silent.arrived.wait()
        await engine.close()
        with pytest.raises(SnmpFailure) as caught:
            await request
    assert caught.value.reason == "closed"


def test_secrets_stay_out_of_reprs() -> None:
    v2 = V2cCredentials("s3cret-community")
    v3 = V3Credentials("ops", "SHA", "auth-s3cret", "AES", "priv-s3cret")
    session = FastV2cEngine().session(Target("::1"), v2)
    text = repr(v2) + repr(v3) + repr(session) + str(Target("::1"))
    assert "s3cret" not in text and "ops" in text and "[::1]:161" in text


async def test_other_credentials_are_refused(fast_engine: FastV2cEngine) -> None:
    with pytest.raises(TypeError):
        fast_engine.session(Target("::1"), "community")  # type: ignore[arg-type]
