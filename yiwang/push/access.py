"""A device as the collection's plugins reach it, from the variables of its Ansible host: where it is and which
credential reference to resolve. The secret is read here, in the plugin's process, and nowhere else: Ansible only
ever holds the reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.platforms import SSH_PLATFORMS
from collectors.ssh.session import DEVICE_NAME, Endpoint, SshLogin
from inventory.model import SecretRef
from inventory.secrets import SecretError, resolve

# The host variables `yiwang inventory ansible` writes (inventory/ansible.py).
PLATFORM, CREDENTIAL, KNOWN_HOSTS = "yiwang_platform", "yiwang_credential", "yiwang_known_hosts"


class AccessError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Access:
    endpoint: Endpoint
    known_hosts: Path  # where the device's host key is pinned: the file yiwang's own sessions pin it in


def secret_ref(value: Any, what: str) -> SecretRef:
    if not isinstance(value, Mapping) or set(value) - {"file", "env"} or len(value) != 1:
        raise AccessError(f"{what} must be a reference {{file: PATH}} or {{env: NAME}}, not a value")
    kind, where = next(iter(value.items()))
    if not isinstance(where, str) or not where:
        raise AccessError(f"{what}.{kind} must be a non-empty string")
    return SecretRef(**{kind: where})


def access_of(host: str, hostvars: Mapping[str, Any]) -> Access:
    """The endpoint of `host` from its variables; AccessError names what is missing, never a secret."""
    if not DEVICE_NAME.match(host):
        raise AccessError(f"host name {host!r} is not a yiwang device name")
    platform = hostvars.get(PLATFORM)
    if platform not in SSH_PLATFORMS:
        raise AccessError(f"{host}: {PLATFORM} is {platform!r}; the collection drives {', '.join(SSH_PLATFORMS)}")
    credential = hostvars.get(CREDENTIAL)
    if not isinstance(credential, Mapping) or not isinstance(credential.get("user"), str):
        raise AccessError(f"{host}: {CREDENTIAL} must be {{user: NAME, password: {{file: PATH}}}} "
                          "(written by `yiwang inventory ansible`)")
    try:
        password = resolve(secret_ref(credential.get("password"), f"{CREDENTIAL}.password"))
        secret = resolve(secret_ref(credential["secret"], f"{CREDENTIAL}.secret")) if "secret" in credential else ""
    except SecretError as exc:
        raise AccessError(f"{host}: {exc}") from None
    address = str(hostvars.get("ansible_host") or host)
    try:
        port = int(hostvars.get("ansible_port") or 22)
    except (TypeError, ValueError):
        raise AccessError(f"{host}: ansible_port {hostvars.get('ansible_port')!r} is not a port") from None
    pinned = hostvars.get(KNOWN_HOSTS)
    if not isinstance(pinned, str) or not pinned:
        raise AccessError(f"{host}: {KNOWN_HOSTS} names no file; a device's host key is always pinned")
    login = SshLogin(credential["user"], password, secret)
    return Access(Endpoint(host, str(platform), address, port, login), Path(pinned))
