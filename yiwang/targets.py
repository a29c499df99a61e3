"""Inventory -> poll targets: identity tags with the area path, and resolved credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collectors.base import PollTarget
from collectors.snmp.session import V2cCredentials, V3Credentials
from collectors.ssh.session import SshLogin
from inventory.model import Credential, Device, Inventory
from inventory.secrets import SecretError, resolve_credential


@dataclass(slots=True)
class Targets:
    snmp: list[PollTarget] = field(default_factory=list)
    icmp: list[PollTarget] = field(default_factory=list)
    ssh: list[PollTarget] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def device_tags(inv: Inventory, device: Device) -> tuple[tuple[str, str], ...]:
    tags = {"device": device.name, **inv.path_labels(device.area)}
    return tuple(sorted(tags.items()))


def snmp_credential(credential: Credential, secrets: dict[str, str]) -> V2cCredentials | V3Credentials:
    if credential.kind == "snmp_v2c":
        return V2cCredentials(secrets["community"])
    options = credential.options
    return V3Credentials(
        user=options["user"],
        auth_protocol=options.get("auth_protocol", "SHA"),
        auth_key=secrets.get("auth_key", ""),
        priv_protocol=options.get("priv_protocol", "AES" if "priv_key" in secrets else "NONE"),
        priv_key=secrets.get("priv_key", ""),
        context=options.get("context", ""),
    )


def build_targets(inv: Inventory, secrets_base: Path | None = None) -> Targets:
    """A device whose credential cannot be resolved is reported and left out of SNMP; it is still pinged."""
    out = Targets()
    resolved: dict[str, dict[str, str] | None] = {}

    def secrets_of(credential: Credential) -> dict[str, str] | None:
        """Each credential is resolved once, and a failure reported once."""
        if credential.name not in resolved:
            try:
                resolved[credential.name] = dict(resolve_credential(credential, base=secrets_base))
            except SecretError as exc:
                resolved[credential.name] = None
                out.problems.append(str(exc))
        return resolved[credential.name]

    for device in sorted(inv.devices.values(), key=lambda d: d.name):
        tags = device_tags(inv, device)
        out.icmp.append(PollTarget(device.name, device.host, tags, host6=device.address6))
        if device.ssh_credential is not None:
            ssh_credential = inv.credentials[device.ssh_credential]
            ssh_secrets = secrets_of(ssh_credential)
            if ssh_secrets is None:
                out.problems.append(f"device {device.name!r}: not reached by SSH: credential "
                                    f"{ssh_credential.name!r} cannot be resolved")
            else:
                login = SshLogin(ssh_credential.options.get("user", ""), ssh_secrets.get("password", ""))
                ssh_tags = tuple(sorted((*tags, ("platform", device.platform))))
                out.ssh.append(PollTarget(device.name, device.host, ssh_tags, port=device.ssh_port,
                                          host6=device.address6, credential=login))
        if device.snmp is None:
            continue
        credential = inv.credentials[device.snmp.credential]
        secrets = secrets_of(credential)
        if secrets is None:
            out.problems.append(f"device {device.name!r}: not polled by SNMP: credential {credential.name!r} "
                                "cannot be resolved")
            continue
        out.snmp.append(PollTarget(device.name, device.host, tags, port=device.snmp.port, host6=device.address6,
                                   profiles=device.snmp.profiles,
                                   credential=snmp_credential(credential, secrets)))
    return out
