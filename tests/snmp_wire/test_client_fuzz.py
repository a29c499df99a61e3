"""Mutated answers over a real UDP socket: every request they answer ends as `malformed`, nothing escapes the loop."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.snmp import ber
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import SnmpFailure, Target, V2cCredentials

from .fake_agent import fake_agent
from .test_ber import _mutate

COMMUNITY = b"fuzz"
REQUESTS = 30_000
DECODABLE = 3_000
CASES = Path(__file__).parent / "cases"


def _varbind_list(data: bytes) -> bytes:
    """The VarBindList TLV of a well-formed message, to be answered under another request-id."""
    start, end = ber._header(data, 0, len(data), ber.SEQUENCE, "message")
    _, pos = ber._integer(data, start, end, "version")
    _, pos = ber._header(data, pos, end, ber.OCTET_STRING, "community")
    pos, pdu_end = ber._header(data, pos, end, data[pos], "PDU")
    for what in ("request-id", "error-status", "error-index"):
        _, pos = ber._integer(data, pos, pdu_end, what)
    return data[pos:pdu_end]


def _seeds() -> list[bytes]:
    seeds = []
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        expected = json.loads((case / "expected.json").read_text())
        if "error" not in expected:
            seeds.append(_varbind_list(bytes.fromhex((case / "response.hex").read_text().strip())))
    return seeds


def _mutated(rng: random.Random, seeds: list[bytes], request_id: int, decodable: bool) -> bytes:
    """A mutation of a real answer that still names this request (or, undecodable, no request at all):
    one the decoder rejects, or one it reads, which then goes through the client's own checks."""
    while True:
        good = ber.encode_message(COMMUNITY, ber.RESPONSE, request_id, 0, 0, rng.choice(seeds))
        data = _mutate(rng, good)
        if not data:
            continue  # asyncio's sendto drops empty datagrams unsent (bad_empty_datagram covers the decoding)
        try:
            got = ber.decode_response(data)
        except ber.BerError as exc:
            if not decodable and exc.community in (None, COMMUNITY) and exc.request_id in (None, request_id):
                return data
            continue  # a foreign community or request-id rightly fails nothing: such answers are left to the timer
        if decodable and got.community == COMMUNITY and got.request_id == request_id:
            return data


async def _poll(reply: Callable[[bytes], list[bytes]], requests: int) -> tuple[dict[str, int], list[Any], Any]:
    """One request at a time, so every mutated datagram meets the request it answers and is decoded."""
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    outcomes: dict[str, int] = {}
    try:
        async with FastV2cEngine() as engine, fake_agent(reply) as agent:
            session = engine.session(Target("127.0.0.1", agent.port, timeout=10, retries=0), V2cCredentials("fuzz"))
            for _ in range(requests):
                try:
                    await session.get(["1.3.6.1.2.1.1.5.0"])
                    reason = "answered"
                except SnmpFailure as exc:
                    reason = exc.reason
                except Exception as exc:  # noqa: BLE001 - any other outcome is counted and fails the test
                    reason = f"{type(exc).__name__}: {exc}"
                outcomes[reason] = outcomes.get(reason, 0) + 1
            stats = engine.stats
    finally:
        loop.set_exception_handler(previous)
    return outcomes, escaped, stats


async def test_undecodable_answers_end_as_malformed_and_nothing_escapes() -> None:
    rng = random.Random(90210)
    seeds = _seeds()
    assert len(seeds) > 40
    outcomes, escaped, stats = await _poll(
        lambda data: [_mutated(rng, seeds, ber.decode_request(data).request_id, False)], REQUESTS)
    assert escaped == []
    assert outcomes == {"malformed": REQUESTS}
    assert stats.timeouts == 0 and stats.malformed == REQUESTS and stats.unmatched == 0


async def test_decodable_mutations_end_as_an_answer_or_a_failure_never_a_timeout() -> None:
    rng = random.Random(4711)
    seeds = _seeds()
    outcomes, escaped, stats = await _poll(
        lambda data: [_mutated(rng, seeds, ber.decode_request(data).request_id, True)], DECODABLE)
    assert escaped == []
    assert set(outcomes) <= {"answered", "malformed", "error-status", "report"}, outcomes
    assert sum(outcomes.values()) == DECODABLE and stats.timeouts == 0


async def test_long_sub_identifier_in_a_report_is_malformed_not_a_timeout() -> None:
    # The case: a Report naming a 2,042-byte sub-identifier raised ValueError inside datagram_received.
    name = ber.encode_tlv(ber.OBJECT_IDENTIFIER, b"\x2b" + b"\xff" * 2041 + b"\x7f")

    def reply(data: bytes) -> list[bytes]:
        varbinds = ber.encode_varbind_list([ber.encode_tlv(ber.SEQUENCE, name + b"\x41\x01\x01")])
        return [ber.encode_message(COMMUNITY, ber.REPORT, ber.decode_request(data).request_id, 0, 0, varbinds)]

    outcomes, escaped, stats = await _poll(reply, 3)
    assert escaped == [] and outcomes == {"malformed": 3} and stats.timeouts == 0
