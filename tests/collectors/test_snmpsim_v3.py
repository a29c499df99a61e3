"""The fast engine's SNMPv3 against snmpsim (pysnmp's agent side, not net-snmp's): SHA-256/AES-256 and
SHA-512/AES-128, each recording chosen by its SNMPv3 context name, the same values as v2c from the same files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collectors.snmp.fast_v2c import FastV2cEngine
from collectors.snmp.session import SnmpFailure, Target, V2cCredentials, V3Credentials
from tests.collectors.snmpsim_responder import Responder, start_responder

USERS = {
    "strong": V3Credentials("strong", "SHA256", "auctoritas-256", "AES256", "privatus-256"),
    "sha512": V3Credentials("sha512", "SHA512", "auctoritas-512", "AES", "privatus-128"),
}
# snmpsim names pysnmp's protocols: its AES256 is the Reeder extension, which with SHA-256 keys (already 32 bytes
# long) gives the same key as the Blumenthal one.
SNMPSIM_PRIV = {"AES256": "AES256", "AES": "AES128"}
COLUMNS = ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.10"]


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    extra: list[str] = []  # one engine (snmpsim starts the first itself), two users
    for user in USERS.values():
        extra += [f"--v3-user={user.user}", f"--v3-auth-key={user.auth_key}", f"--v3-auth-proto={user.auth_protocol}",
                  f"--v3-priv-key={user.priv_key}", f"--v3-priv-proto={SNMPSIM_PRIV[user.priv_protocol]}"]
    running = start_responder(tmp_path_factory.mktemp("snmpsim-v3"), extra=extra)
    yield running
    running.stop()


@pytest.mark.parametrize("user", sorted(USERS))
async def test_v3_reads_what_v2c_reads(responder: Responder, user: str) -> None:
    target = Target("127.0.0.1", responder.port, timeout=3.0, retries=1)
    recording = "old-switch"
    async with FastV2cEngine() as engine:
        v2c = engine.session(target, V2cCredentials(recording))
        v3 = engine.session(target, V3Credentials(**{**_fields(USERS[user]), "context": recording}))
        scalars = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0"]
        assert await v3.get(scalars) == await v2c.get(scalars)
        walked = await v3.walk_columns(COLUMNS)
        later = await v2c.walk_columns(COLUMNS)
        assert walked[COLUMNS[0]] == later[COLUMNS[0]] and len(walked[COLUMNS[0]]) > 1
        # the recording's octet counters grow with time: the same rows, and the v2c walk (later) no lower
        octets, octets_later = dict(walked[COLUMNS[1]]), dict(later[COLUMNS[1]])
        assert octets.keys() == octets_later.keys()
        assert all(isinstance(v, int) and v <= octets_later[k] for k, v in octets.items())
        assert engine.stats.unauthenticated == 0


async def test_another_context_is_another_device(responder: Responder) -> None:
    target = Target("127.0.0.1", responder.port, timeout=3.0, retries=1)
    async with FastV2cEngine() as engine:
        names = {}
        for recording in ("old-switch", "windows-host"):
            session = engine.session(target, V3Credentials(**{**_fields(USERS["strong"]), "context": recording}))
            names[recording] = (await session.get(["1.3.6.1.2.1.1.1.0"]))["1.3.6.1.2.1.1.1.0"]
        assert names["old-switch"] != names["windows-host"]


async def test_wrong_key_is_an_auth_failure(responder: Responder) -> None:
    target = Target("127.0.0.1", responder.port, timeout=1.0, retries=0)
    wrong = V3Credentials(**{**_fields(USERS["strong"]), "auth_key": "not-the-key-at-all", "context": "old-switch"})
    async with FastV2cEngine() as engine:
        with pytest.raises(SnmpFailure) as failure:
            await engine.session(target, wrong).get(["1.3.6.1.2.1.1.1.0"])
    assert failure.value.reason in ("auth", "timeout")
    assert "not-the-key" not in str(failure.value)


def _fields(credentials: V3Credentials) -> dict[str, str]:
    return {name: getattr(credentials, name) for name in V3Credentials.__dataclass_fields__}
