"""What yiwang knows about each platform, in one table: how to reach its CLI, what to type, what it answers.

Read by the SSH collector, the configuration archive and the simulated city (`lab/`), so a new platform is one
entry here plus its parsers in `collectors/ssh/parse.py`. Data, not code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

# What the SSH collector asks every device, keyed by what the output means.
# `serial` only where the version command does not print it.
KINDS = ("version", "serial", "interfaces", "ipv6_interfaces", "arp", "nd", "transceiver")


@dataclass(frozen=True, slots=True)
class Cli:
    """A vendor CLI as yiwang drives it over SSH (netmiko) and as the lab plays it."""

    netmiko_type: str
    family: str  # "vrp": system-view, undo, '#' separators (Huawei, H3C) | "ios": configure terminal, no, '!'
    show: Mapping[str, str]  # the facts command of each kind in KINDS that this CLI answers
    templates: str  # the ntc-templates platform whose templates read this CLI's output
    enable: bool  # privileged mode is entered before any show command
    pager_off: tuple[str, ...]  # what netmiko types at login so that output is never paged
    logout: str
    config_command: str  # prints the running configuration
    startup_command: str  # prints the saved configuration
    config_end: str  # the last line of a complete configuration; a config without it was cut off
    config_enter: str
    config_leave: str  # back to the exec prompt from any configuration level
    negation: str
    name_key: str  # the configuration line that sets the prompt's name
    default_name: str
    save_command: str  # what yiwang types to save (netmiko's default for the platform)
    save: Mapping[str, str]  # every command that saves, with the question it asks first ("" = none; answer "y")
    save_done: str
    unknown_command: str  # what the device prints after the caret for a command it does not know
    volatile: tuple[str, ...] = ()  # regexes of configuration lines that change without a configuration change
    # What to type instead when a model refuses a `show` command (another release's spelling), in order.
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    snmp_profiles: tuple[str, ...]  # the profiles in collectors/snmp/profiles its agents answer
    port_names: tuple[str, str]  # format of a port's name, 1G and 10G, from {slot} and {port}
    first_slot: int = 0
    first_if_index: int = 1  # ifIndex of the first physical port
    cli: Cli | None = None  # None: no vendor CLI that yiwang reads (servers)


_VRP = Cli(
    netmiko_type="huawei_vrp", family="vrp", templates="huawei_vrp", enable=False,
    show={"version": "display version", "serial": "display esn", "interfaces": "display interface brief",
          "ipv6_interfaces": "display ipv6 interface brief", "arp": "display arp all",
          "nd": "display ipv6 neighbors", "transceiver": "display transceiver verbose"},
    # VRP prints no serial in `display version`; routers without `display esn` have the manufacture info.
    # CloudEngine (VRP8) reads optics per interface.
    fallback={"display esn": ("display device manufacture-info",),
              "display transceiver verbose": ("display interface transceiver verbose",)},
    pager_off=("screen-length 0 temporary",), logout="quit",
    config_command="display current-configuration", startup_command="display saved-configuration",
    config_end="return", config_enter="system-view", config_leave="return", negation="undo", name_key="sysname",
    default_name="HUAWEI", save_command="save",
    save={"save": "Warning: The current configuration will be written to the device. Continue? [Y/N]:",
          "save force": ""},
    save_done="Now saving the current configuration to the slot 0.\nInfo: Save the configuration successfully.\n",
    unknown_command="Error: Unrecognized command found at '^' position.\n",
)
_COMWARE = replace(
    _VRP, netmiko_type="hp_comware", templates="hp_comware",
    # Comware's serial is in the manufacturing information, its optics' readings in the diagnosis.
    show={**_VRP.show, "serial": "display device manuinfo", "arp": "display arp", "nd": "display ipv6 neighbors all",
          "transceiver": "display transceiver diagnosis interface"},
    fallback={},
    pager_off=("screen-length disable",), default_name="H3C", save_command="save force",
    save={"save": "The current configuration will be written to the device. Are you sure? [Y/N]:", "save force": ""},
    save_done="Validating file. Please wait...\nSaved the current configuration to mainboard device successfully.\n",
    unknown_command=" % Unrecognized command found at '^' position.\n",
)
_IOS = Cli(
    netmiko_type="cisco_ios", family="ios", templates="cisco_ios", enable=True,
    show={"version": "show version", "interfaces": "show ip interface brief",
          "ipv6_interfaces": "show ipv6 interface brief", "arp": "show arp", "nd": "show ipv6 neighbors",
          "transceiver": "show interfaces transceiver"},
    pager_off=("terminal width 511", "terminal length 0"), logout="exit",
    config_command="show running-config", startup_command="show startup-config", config_end="end",
    config_enter="configure terminal", config_leave="end", negation="no", name_key="hostname",
    default_name="Router", save_command="write mem", save={"write": "", "write mem": "", "write memory": ""},
    save_done="Building configuration...\n[OK]\n", unknown_command="% Invalid input detected at '^' marker.\n\n",
    volatile=(r"^!\s*No configuration change since last restart",),
)
# RGOS prints the IOS layouts for interfaces, ARP and ND, so the Cisco templates read them.
_RGOS = replace(_IOS, netmiko_type="ruijie_os", enable=False, pager_off=("terminal width 256", "terminal length 0"),
                default_name="Ruijie", save_command="write", volatile=())

PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("huawei_vrp", ("system", "if-mib", "huawei-entity"),
             ("GigabitEthernet{slot}/0/{port}", "XGigabitEthernet{slot}/0/{port}"), first_if_index=6, cli=_VRP),
    Platform("hp_comware", ("system", "if-mib", "h3c-entity"),
             ("GigabitEthernet{slot}/0/{port}", "Ten-GigabitEthernet{slot}/0/{port}"), first_slot=1, cli=_COMWARE),
    Platform("ruijie_os", ("system", "if-mib"), ("GigabitEthernet {slot}/{port}", "TenGigabitEthernet {slot}/{port}"),
             cli=_RGOS),
    Platform("cisco_ios", ("system", "if-mib"), ("GigabitEthernet{slot}/{port}", "TenGigabitEthernet{slot}/{port}"),
             cli=_IOS),
    Platform("linux", ("system", "if-mib", "host-resources"), ("eth{index}", "eth{index}")),
)}
# Platforms with a CLI that the SSH collector and the archive read.
SSH_PLATFORMS: tuple[str, ...] = tuple(name for name, p in PLATFORMS.items() if p.cli is not None)


class UnknownPlatform(KeyError):
    pass


def cli_of(platform: str) -> Cli:
    """The CLI of an SSH platform; UnknownPlatform for anything else."""
    known = PLATFORMS.get(platform)
    if known is None or known.cli is None:
        raise UnknownPlatform(platform)
    return known.cli
