"""What to type on each platform, keyed by what the output means. Data, not code."""

from __future__ import annotations

PLATFORMS = ("huawei_vrp", "hp_comware", "ruijie_os", "cisco_ios")
KINDS = ("version", "interfaces", "ipv6_interfaces", "arp", "nd", "transceiver")

COMMANDS: dict[str, dict[str, str]] = {
    "huawei_vrp": {
        "version": "display version", "interfaces": "display interface brief",
        "ipv6_interfaces": "display ipv6 interface brief", "arp": "display arp all",
        "nd": "display ipv6 neighbors", "transceiver": "display transceiver verbose",
    },
    "hp_comware": {
        "version": "display version", "interfaces": "display interface brief",
        "ipv6_interfaces": "display ipv6 interface brief", "arp": "display arp",
        "nd": "display ipv6 neighbors all", "transceiver": "display transceiver interface",
    },
}
COMMANDS["cisco_ios"] = COMMANDS["ruijie_os"] = {
    "version": "show version", "interfaces": "show ip interface brief",
    "ipv6_interfaces": "show ipv6 interface brief", "arp": "show arp", "nd": "show ipv6 neighbors",
    "transceiver": "show interfaces transceiver",
}
CONFIG_COMMAND = {"huawei_vrp": "display current-configuration", "hp_comware": "display current-configuration",
                  "cisco_ios": "show running-config", "ruijie_os": "show running-config"}
