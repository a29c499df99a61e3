"""The whole path from inventory to samples against Debian's net-snmp agent: v3 authPriv and v2c, IPv4 and IPv6."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab.snmpd import COMMUNITY, SYS_NAME, V3_AUTH_KEY, V3_PRIV_KEY, V3_USER, start_snmpd, stop_snmpd
from yiwang.assemble import assemble
from yiwang.config import load_settings


@pytest.fixture(scope="module")
def snmpd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_snmpd(tmp_path_factory.mktemp("snmpd-e2e"))
    try:
        yield port
    finally:
        stop_snmpd(proc)


def _inventory(folder: Path, port: int, wrong_priv: bool = False) -> None:
    folder.mkdir()
    secrets = folder / "secrets"
    secrets.mkdir()
    (secrets / "auth").write_text(V3_AUTH_KEY)
    (secrets / "priv").write_text("not-the-key" if wrong_priv else V3_PRIV_KEY)
    (secrets / "community").write_text(COMMUNITY + "\n")
    snmp = {"profiles": ["system", "if-mib", "host-resources"], "port": port}
    (folder / "net.yaml").write_text(yaml.safe_dump({
        "credentials": [
            {"name": "v3", "kind": "snmp_v3", "user": V3_USER, "auth_protocol": "SHA", "priv_protocol": "AES",
             "auth_key": {"file": str(secrets / "auth")}, "priv_key": {"file": str(secrets / "priv")}},
            {"name": "v2c", "kind": "snmp_v2c", "community": {"file": str(secrets / "community")}},
        ],
        "areas": [{"id": "hb", "name": "Hubei", "level": "province"},
                  {"id": "hb.hg", "name": "Huanggang", "level": "city", "parent": "hb"}],
        "devices": [
            {"name": "dc-v3-v4", "platform": "linux", "role": "server", "area": "hb.hg", "address": "127.0.0.1",
             "snmp": {"credential": "v3", **snmp}},
            {"name": "dc-v3-v6", "platform": "linux", "role": "server", "area": "hb.hg", "address6": "::1",
             "snmp": {"credential": "v3", **snmp}},
            {"name": "dc-v2c-v6", "platform": "linux", "role": "server", "area": "hb.hg", "address6": "::1",
             "snmp": {"credential": "v2c", **snmp}},
        ],
    }))


async def _poll(tmp_path: Path, port: int, wrong_priv: bool = False):  # type: ignore[no-untyped-def]
    _inventory(tmp_path / "inventory", port, wrong_priv)
    config = tmp_path / "yiwang.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), "inventory": ["inventory"],
                                      "poll": {"timeout_s": 1, "retries": 0}}))
    assembly = assemble(load_settings(config), workers=1)
    try:
        assert assembly.problems == []
        report = await assembly.monitor.cycle("snmp")
        return report, {d: assembly.latest.device_samples(d) for d in ("dc-v3-v4", "dc-v3-v6", "dc-v2c-v6")}
    finally:
        await assembly.close()


async def test_v3_authpriv_and_v2c_over_ipv4_and_ipv6(tmp_path: Path, snmpd_port: int) -> None:
    report, samples = await _poll(tmp_path, snmpd_port)
    assert report.failed == 0, report.failures
    for device, found in samples.items():
        measurements = {s.measurement for s in found}
        assert {"device", "device_info", "interface", "storage", "poll"} <= measurements, device
        info = next(s for s in found if s.measurement == "device_info")
        assert info.tag("sys_name") == SYS_NAME
        storage = [s for s in found if s.measurement == "storage"]
        assert any(s.fields.get("size_bytes", 0) > 0 for s in storage)


async def test_wrong_v3_key_is_a_failed_poll_not_a_crash(tmp_path: Path, snmpd_port: int) -> None:
    report, samples = await _poll(tmp_path, snmpd_port, wrong_priv=True)
    failures = {f.device: f for f in report.failures}
    assert set(failures) == {"dc-v3-v4", "dc-v3-v6"}
    # snmpd silently drops what it cannot decrypt, as net-snmp's own snmpget also sees
    assert {f.reason for f in failures.values()} == {"timeout"}
    assert "not-the-key" not in failures["dc-v3-v4"].error
    assert [s.fields["up"] for s in samples["dc-v3-v4"] if s.measurement == "poll"] == [0.0]
    assert any(s.measurement == "interface" for s in samples["dc-v2c-v6"])
