from __future__ import annotations

import asyncio
import shutil
import socket

import pytest

from collectors.model import Sample, make_tags
from collectors.traps import SecurityEvent, TrapListen, TrapReceiver, V3User, decode
from lab.peers import free_port

SNMPTRAP = shutil.which("snmptrap")
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
ENGINE_ID = "8000000001020304"


def test_decode_table() -> None:
    devices = {"10.0.0.1": "core-1"}
    link_down = [("1.3.6.1.2.1.1.3.0", 5), ("1.3.6.1.6.3.1.1.4.1.0", LINK_DOWN), ("1.3.6.1.2.1.2.2.1.1.3", 3),
                 ("1.3.6.1.2.1.2.2.1.8.3", 2)]
    out = decode("10.0.0.1", link_down, devices, 7)
    assert out.samples == [
        Sample("trap", make_tags(device="core-1", trap="linkDown", if_index="3"), {"received": 1.0}, 7),
        Sample("interface", make_tags(device="core-1", if_index="3"), {"oper_status": 2.0}, 7)]
    cold = decode("10.9.9.9", [("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.1")], devices, 7)
    assert cold.samples == [
        Sample("trap", make_tags(device="unknown:10.9.9.9", trap="coldStart"), {"received": 1.0}, 7)]
    auth = decode("10.0.0.1", [("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.5")], devices, 7)
    assert auth.events == [SecurityEvent("authenticationFailure", "core-1", "10.0.0.1", 7)]


async def _send(args: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(SNMPTRAP or "snmptrap", *args, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, (out + err).decode()


async def _wait(samples: list[Sample], count: int) -> None:
    for _ in range(100):
        if len(samples) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"got {samples}")


@pytest.mark.skipif(SNMPTRAP is None, reason="net-snmp snmptrap not installed")
async def test_v2c_and_v3_traps_from_net_snmp() -> None:
    port = free_port(socket.SOCK_DGRAM)
    samples: list[Sample] = []
    events: list[SecurityEvent] = []
    listen = TrapListen(port=port, communities=("s3cret-traps",),
                        users=(V3User("trapper", "authpass123", "privpass123", ENGINE_ID),))
    receiver = TrapReceiver(listen, {"127.0.0.1": "core-1"}, events.append)

    async def listen() -> None:
        async for result in receiver.results():
            assert result.partial and result.collector == "trap" and result.device == "core-1"
            samples.extend(result.samples)

    listening = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.2)
        target = f"127.0.0.1:{port}"
        await _send(["-v", "2c", "-c", "s3cret-traps", target, "", LINK_DOWN,
                     "1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.8.3", "i", "2"])
        await _wait(samples, 2)
        await _send(["-v", "3", "-u", "trapper", "-l", "authPriv", "-a", "SHA", "-A", "authpass123", "-x", "AES",
                     "-X", "privpass123", "-e", f"0x{ENGINE_ID}", target, "", "1.3.6.1.6.3.1.1.5.4",
                     "1.3.6.1.2.1.2.2.1.1.3", "i", "3"])
        await _wait(samples, 4)
        await _send(["-v", "2c", "-c", "s3cret-traps", target, "", "1.3.6.1.6.3.1.1.5.5"])
        await _wait(samples, 5)
        await _send(["-v", "2c", "-c", "wrong-community", target, "", "1.3.6.1.6.3.1.1.5.1"])
        await asyncio.sleep(0.3)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    assert receiver._process is None and receiver._sock is None  # closed once nobody listens
    assert [(s.measurement, s.tag("trap"), s.tag("if_index"), dict(s.fields)) for s in samples] == [
        ("trap", "linkDown", "3", {"received": 1.0}),
        ("interface", "", "3", {"oper_status": 2.0}),
        ("trap", "linkUp", "3", {"received": 1.0}),
        ("interface", "", "3", {"oper_status": 1.0}),
        ("trap", "authenticationFailure", "", {"received": 1.0}),
    ]
    assert {s.tag("device") for s in samples} == {"core-1"}
    assert [(e.kind, e.device) for e in events] == [("authenticationFailure", "core-1")]
