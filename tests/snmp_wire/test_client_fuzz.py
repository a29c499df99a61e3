"""Mutated answers over a real UDP socket: every request they answer ends as `malformed`, nothing escapes the loop."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from collectors.snmp import ber
from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import MalformedResponse, Target, V2cCredentials

from .fake_agent import fake_agent
from .test_ber import _mutate

COMMUNITY = b"fuzz"
REQUESTS = 5_000
CONCURRENT = 1  # one at a time: each mutated datagram meets its waiting request, so the client decodes every one
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


def _undecodable(rng: random.Random, seeds: list[bytes], request_id: int) -> bytes:
    """A mutation of a real answer that the decoder rejects and that still names this request, or no request."""
    while True:
        good = ber.encode_message(COMMUNITY, ber.RESPONSE, request_id, 0, 0, rng.choice(seeds))
        data = _mutate(rng, good)
        try:
            ber.decode_response(data)
        except ber.BerError as exc:
            if exc.community in (None, COMMUNITY) and exc.request_id in (None, request_id):
                return data
            # a foreign community or request-id rightly fails nothing: such answers are left to the timer


async def test_mutated_answers_end_as_malformed_and_nothing_escapes() -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    rng = random.Random(90210)
    seeds = _seeds()
    assert len(seeds) > 40

    def reply(data: bytes) -> list[bytes]:
        return [_undecodable(rng, seeds, ber.decode_request(data).request_id)]

    outcomes: dict[str, int] = {}
    try:
        async with FastV2cEngine() as engine, fake_agent(reply) as agent:
            session = engine.session(Target("127.0.0.1", agent.port, timeout=10, retries=0), V2cCredentials("fuzz"))

            async def one() -> None:
                try:
                    await session.get(["1.3.6.1.2.1.1.5.0"])
                    reason = "answered"
                except MalformedResponse as exc:
                    reason = exc.reason
                except Exception as exc:  # noqa: BLE001 - any other outcome is counted and fails below
                    reason = f"{type(exc).__name__}: {exc}"
                outcomes[reason] = outcomes.get(reason, 0) + 1

            for _ in range(REQUESTS // CONCURRENT):
                await asyncio.wait_for(asyncio.gather(*(one() for _ in range(CONCURRENT))), 60)
            stats = engine.stats
    finally:
        loop.set_exception_handler(previous)
    assert escaped == []
    assert outcomes == {"malformed": REQUESTS}
    assert stats.timeouts == 0 and stats.malformed == REQUESTS and stats.unmatched == 0
