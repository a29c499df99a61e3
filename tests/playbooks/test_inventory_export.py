"""What `yiwang inventory ansible` gives the collection: platform, address, port, the pinned host-key file and a
credential REFERENCE, never a secret; and how the plugins read it back (yiwang.push.access)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.ansible import to_ansible
from inventory.model import Area, Credential, Device, Inventory, Level, SecretRef
from yiwang.push.access import AccessError, access_of


def small_inventory() -> Inventory:
    inv = Inventory()
    inv.areas["hb"] = Area("hb", "Hubei", Level.PROVINCE)
    inv.credentials["ssh"] = Credential("ssh", "ssh", {"password": SecretRef(file="secrets/ssh.pw")}, {"user": "ops"})
    inv.devices["pe1"] = Device("pe1", "huawei_vrp", "pe", "hb", address="127.30.0.1", ssh_credential="ssh",
                                ssh_port=2222)
    inv.devices["srv"] = Device("srv", "linux", "server", "hb", address="127.30.0.2")
    return inv


def host(exported: dict, name: str) -> dict:
    return exported["all"]["children"]["area_hb"]["hosts"][name]


def test_the_export_carries_a_reference_and_the_pinned_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ssh.pw").write_text("canary-4b1d-not-in-ansible\n")
    exported = to_ansible(small_inventory(), secrets_base=tmp_path,
                          known_hosts=lambda device: tmp_path / "ssh" / "known_hosts" / device)
    pe1 = host(exported, "pe1")
    assert pe1["yiwang_credential"] == {"user": "ops", "password": {"file": str(tmp_path / "secrets" / "ssh.pw")}}
    assert pe1["yiwang_known_hosts"] == str(tmp_path / "ssh" / "known_hosts" / "pe1")
    assert (pe1["ansible_host"], pe1["ansible_port"], pe1["ansible_connection"]) == ("127.30.0.1", 2222, "local")
    assert "canary" not in repr(exported)
    assert "yiwang_credential" not in host(exported, "srv")
    access = access_of("pe1", pe1)
    assert access.endpoint.login.password == "canary-4b1d-not-in-ansible"
    assert "canary" not in repr(access)  # the login's repr hides it
    assert (access.endpoint.host, access.endpoint.port, access.endpoint.platform) == ("127.30.0.1", 2222,
                                                                                      "huawei_vrp")


@pytest.mark.parametrize(("change", "words"), [
    ({"yiwang_platform": "linux"}, "yiwang_platform is 'linux'"),
    ({"yiwang_credential": {"user": "ops", "password": "plain-text"}}, "must be a reference"),
    ({"yiwang_credential": {"user": "ops", "password": {"file": "/nonexistent/pw"}}}, "cannot be read"),
    ({"yiwang_known_hosts": ""}, "a device's host key is always pinned"),
    ({"ansible_port": "ssh"}, "is not a port"),
])
def test_bad_host_variables_are_named_without_the_secret(tmp_path: Path, change: dict, words: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text("canary-77")
    hostvars = {"yiwang_platform": "cisco_ios", "ansible_host": "127.30.0.1", "yiwang_known_hosts": "/k/pe1",
                "yiwang_credential": {"user": "ops", "password": {"file": str(secret)}}, **change}
    with pytest.raises(AccessError, match=words) as raised:
        access_of("pe1", hostvars)
    assert "canary" not in str(raised.value)
    with pytest.raises(AccessError, match="not a yiwang device name"):
        access_of("../etc", {**hostvars, **change})
