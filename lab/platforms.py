"""What each simulated model looks like on the wire: sysDescr and sysObjectID, and its ports' names.

What is true of a whole platform (CLI, port naming, SNMP profiles) is in `collectors.platforms`."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.platforms import PLATFORMS


@dataclass(frozen=True, slots=True)
class Model:
    platform: str
    name: str
    sys_object_id: str
    sys_descr: str


# sysObjectIDs sit under each vendor's enterprise arc; the leaf numbers are representative, not a registry.
MODELS: dict[str, Model] = {m.name: m for m in (
    Model("huawei_vrp", "NE40E-X8A", "1.3.6.1.4.1.2011.2.62.2.9",
          "Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 8.180 (NE40E V800R011C10SPC100)"
          "\r\nCopyright (C) 2012-2019 Huawei Technologies Co., Ltd.\r\nHUAWEI NE40E-X8A"),
    Model("huawei_vrp", "NE20E-S2F", "1.3.6.1.4.1.2011.2.62.2.42",
          "Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 8.180 (NE20E V800R010C10SPC500)"
          "\r\nCopyright (C) 2012-2018 Huawei Technologies Co., Ltd.\r\nHUAWEI NE20E-S2F"),
    Model("huawei_vrp", "S5735-L48T4X", "1.3.6.1.4.1.2011.2.23.628",
          "S5735-L48T4X-A1\r\nHuawei Versatile Routing Platform Software\r\nVRP (R) software, Version 5.170 "
          "(S5735 V200R019C10SPC500)\r\nCopyright (C) 2000-2020 HUAWEI TECH Co., Ltd."),
    Model("huawei_vrp", "AR651", "1.3.6.1.4.1.2011.2.224.279",
          "Huawei AR651 Huawei Versatile Routing Platform Software\r\nVRP (R) software, Version 5.170 "
          "(AR650 V300R019C10SPC300)\r\nCopyright (C) 2011-2020 HUAWEI TECH CO., LTD"),
    Model("hp_comware", "SR6608-X", "1.3.6.1.4.1.25506.11.2.162",
          "H3C Comware Platform Software, Software Version 7.1.064, Release 7951P05\r\nH3C SR6608-X\r\n"
          "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved."),
    Model("hp_comware", "S5560X-54C-EI", "1.3.6.1.4.1.25506.11.1.239",
          "H3C Comware Platform Software, Software Version 7.1.070, Release 6615P05\r\nH3C S5560X-54C-EI\r\n"
          "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved."),
    Model("hp_comware", "MSR2600-10-X1", "1.3.6.1.4.1.25506.11.2.321",
          "H3C Comware Platform Software, Software Version 7.1.064, Release 0821P16\r\nH3C MSR2600-10-X1\r\n"
          "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved."),
    Model("ruijie_os", "S5750-24GT4XS-L", "1.3.6.1.4.1.4881.1.1.10.1.292",
          "Ruijie Full Layer 3 Switch(S5750-24GT4XS-L) By Ruijie Networks. Release: RGOS 11.4(1)B12P3"),
    Model("ruijie_os", "RSR20-14F", "1.3.6.1.4.1.4881.1.1.10.1.171",
          "Ruijie General Operating System Software Release Version: RGOS 11.9(4)B1 RSR20-14F By Ruijie Networks"),
    Model("cisco_ios", "ISR4331", "1.3.6.1.4.1.9.1.1861",
          "Cisco IOS Software [Fuji], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 16.9.4, "
          "RELEASE SOFTWARE (fc2)\r\nTechnical Support: http://www.cisco.com/techsupport"),
    Model("cisco_ios", "C2960X-24TS-L", "1.3.6.1.4.1.9.1.1208",
          "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E4, RELEASE SOFTWARE (fc2)"),
    Model("linux", "linux", "1.3.6.1.4.1.8072.3.2.10",
          "Linux {name} 5.10.0-28-amd64 #1 SMP Debian 5.10.209-2 (2024-01-31) x86_64"),
)}

# Which model a platform uses at each role.
ROLE_MODELS: dict[str, dict[str, str]] = {
    "province-uplink": {"huawei_vrp": "NE40E-X8A"},
    "city-core": {"huawei_vrp": "NE40E-X8A"},
    "county-aggregation": {"huawei_vrp": "NE20E-S2F", "hp_comware": "SR6608-X"},
    "township-switch": {"huawei_vrp": "S5735-L48T4X", "hp_comware": "S5560X-54C-EI",
                        "ruijie_os": "S5750-24GT4XS-L", "cisco_ios": "C2960X-24TS-L"},
    "village-access": {"huawei_vrp": "AR651", "hp_comware": "MSR2600-10-X1", "ruijie_os": "RSR20-14F",
                       "cisco_ios": "ISR4331"},
    "server": {"linux": "linux"},
}

PORTS_PER_SLOT = 48


def port_name(platform: str, speed_mbps: int, number: int) -> str:
    """The `number`-th port (1-based) of a speed class, named the way the vendor's CLI names it."""
    known = PLATFORMS.get(platform)
    if known is None:
        raise ValueError(f"unknown platform {platform!r}")
    slot, port = divmod(number - 1, PORTS_PER_SLOT)
    return known.port_names[speed_mbps >= 10000].format(slot=slot + known.first_slot, port=port + 1,
                                                        index=number - 1)


def first_if_index(platform: str) -> int:
    return PLATFORMS[platform].first_if_index
