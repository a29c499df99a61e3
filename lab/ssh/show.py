"""What show/display commands print, per platform, from the plan and the current configuration. Pure."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable

from collectors.platforms import cli_of
from lab.city import DevicePlan, InterfacePlan
from lab.ssh.config import Config, body_of, hostname, render, software_version
from lab.ssh.state import DeviceMemory

Renderer = Callable[[DevicePlan, DeviceMemory, int], str]


def _digest(text: str, n: int) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest().upper()[:n]


def serial(plan: DevicePlan) -> str:
    if plan.platform == "cisco_ios":
        return "FOC" + _digest(plan.name, 8)
    if plan.platform == "huawei_vrp":
        return "2102" + _digest(plan.name, 16)
    return _digest(plan.name, 14)


def _ports(plan: DevicePlan) -> list[InterfacePlan]:
    return [i for i in plan.interfaces if i.if_type != 24]


def _shut(config: Config, iface: InterfacePlan) -> bool:
    return "shutdown" in body_of(config, f"interface {iface.name}")


def _up(config: Config, iface: InterfacePlan) -> bool:
    return iface.oper_up and not _shut(config, iface)


def _description(config: Config, iface: InterfacePlan) -> str:
    for line in body_of(config, f"interface {iface.name}"):
        if line.startswith("description "):
            return line[len("description "):]
    return ""


def _v6(config: Config, iface: InterfacePlan) -> list[str]:
    body = body_of(config, f"interface {iface.name}")
    addrs = [b.split()[2] for b in body if b.startswith("ipv6 address ") and len(b.split()) > 2]
    if addrs or "ipv6 enable" in body:
        return [link_local(iface.mac), *addrs]
    return []


def link_local(mac: str) -> str:
    octets = [int(x, 16) for x in (mac or "02:00:00:00:00:01").split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def _neighbours(plan: DevicePlan, config: Config) -> list[tuple[InterfacePlan, str, str]]:
    """One neighbour per up port: (port, IPv4 address, neighbour MAC as 12 hex digits)."""
    net = int(_digest(plan.name, 2), 16)
    found = []
    for n, iface in enumerate(_ports(plan)):
        if _up(config, iface):
            found.append((iface, f"10.{net}.{n + 1}.2", "5a" + _digest(f"{plan.name}:{iface.name}", 10).lower()))
    return found


def _uptime(seconds: int, weeks: bool) -> str:
    days, rest = divmod(seconds, 86400)
    parts = []
    if weeks:
        parts.append(f"{days // 7} week{'s' * (days // 7 != 1)}")
        days %= 7
    parts += [f"{days} day{'s' * (days != 1)}", f"{rest // 3600} hour{'s' * (rest // 3600 != 1)}",
              f"{rest % 3600 // 60} minute{'s' * (rest % 3600 // 60 != 1)}"]
    return ", ".join(parts)


def _dotted(mac12: str, sep: str) -> str:
    return sep.join(mac12[i:i + 4] for i in (0, 4, 8))


# --- Huawei VRP -------------------------------------------------------------------------------------------------

def vrp_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    vrp = plan.sys_descr.split("Version ", 1)[1].split(" ", 1)[0]
    product = plan.sys_descr.split("(", 2)[-1].split(")", 1)[0]
    return (f"Huawei Versatile Routing Platform Software\nVRP (R) software, Version {vrp} ({product})\n"
            f"Copyright (C) 2012-2020 Huawei Technologies Co., Ltd.\n"
            f"HUAWEI {plan.model} uptime is {_uptime(uptime, False)}\n\n"
            f"MPU 1(Master) : uptime is {_uptime(uptime, False)}\n  Board serial number : {serial(plan)}\n")


def vrp_interface_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["PHY: Physical", "*down: administratively down", "(l): loopback", "(s): spoofing",
           "(b): BFD down", "(e): ETHOAM down", "(d): Dampening Suppressed",
           "InUti/OutUti: input utility/output utility",
           "Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors"]
    for iface in plan.interfaces:
        phy = "*down" if _shut(memory.running, iface) else "up" if iface.oper_up else "down"
        proto = "up" if phy == "up" else "down"
        uti = f"{min(99.0, iface.rates.get('in_octets', 0) * 800 / max(iface.speed_mbps, 1) / 1e6):.2f}%"
        out.append(f"{iface.name:<27} {phy:<5} {proto:<9} {uti:>6} {uti:>6} {0:>10} {0:>10}")
    return "\n".join(out) + "\n"


def vrp_ipv6_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["*down: administratively down", "(l): loopback", "(s): spoofing",
           "Interface                         Physical              Protocol"]
    for iface in _ports(plan):
        addrs = _v6(memory.running, iface)
        if addrs:
            state = "up" if _up(memory.running, iface) else "down"
            out.append(f"{iface.name:<33} {state:<21} {state}")
            out += [f"[IPv6 Address] {a.upper()}" for a in addrs]
    return "\n".join(out) + "\n"


def vrp_arp(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    rows = _neighbours(plan, memory.running)
    out = ["IP ADDRESS      MAC ADDRESS     EXPIRE(M) TYPE        INTERFACE      VPN-INSTANCE",
           "                                          VLAN/CEVLAN PVC",
           "------------------------------------------------------------------------------"]
    out += [f"{ip:<15} {_dotted(mac, '-'):<15} {20:<9} D-0         {iface.name}" for iface, ip, mac in rows]
    out += ["------------------------------------------------------------------------------",
            f"Total:{len(rows)}         Dynamic:{len(rows)}       Static:0     Interface:0"]
    return "\n".join(out) + "\n"


def vrp_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = []
    rows = [r for r in _neighbours(plan, memory.running) if _v6(memory.running, r[0])]
    for iface, _, mac in rows:
        out += ["-" * 80, f"IPv6 Address : {link_local('02:' + ':'.join(mac[i:i + 2] for i in range(2, 12, 2)))}",
                f"Link-layer   : {_dotted(mac, '-')}                     State : STALE",
                f"Interface    : {iface.name:<30}   Age   : 3", "VLAN         : -                  CEVLAN: -",
                "VPN name     :                    Is Router  : TRUE", "Secure FLAG  : UN-SECURE"]
    out += ["-" * 80, f"Total: {len(rows)}    Dynamic: {len(rows)}    Static: 0"]
    return "\n".join(out) + "\n"


def _dbm(plan: DevicePlan, iface: InterfacePlan, which: str) -> float:
    return -2.0 - int(_digest(f"{plan.name}:{iface.name}:{which}", 2), 16) / 64


def vrp_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = []
    for iface in _ports(plan):
        if iface.speed_mbps < 1000 or not iface.oper_up:
            continue
        kind = "10GBASE_SR" if iface.speed_mbps >= 10000 else "1000_BASE_LX_SFP"
        out += [f"{iface.name} transceiver information:", "-" * 70, "Common information:",
                f"  Transceiver Type              :{kind}", "  Connector Type                :LC",
                "  Wavelength(nm)                :1310", f"  Vendor Serial Number          :{serial(plan)[:12]}",
                "-" * 70, "Diagnostic information:", "  Temperature(\u00b0C)               :35.00",
                f"  RX Power(dBM)                 :{_dbm(plan, iface, 'rx'):.2f}",
                f"  TX Power(dBM)                 :{_dbm(plan, iface, 'tx'):.2f}", ""]
    return "\n".join(out) + "\n"


# --- H3C Comware ------------------------------------------------------------------------------------------------

def comware_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    return (f"{plan.sys_descr.splitlines()[0].replace(chr(13), '')}\n"
            f"Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.\n"
            f"H3C {plan.model} uptime is {_uptime(uptime, True)}\nLast reboot reason : Cold reboot\n\n"
            f"Boot image: flash:/{plan.model.lower()}-cmw710-boot.bin\nDEVICE_SERIAL_NUMBER : {serial(plan)}\n")


def comware_interface_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["Brief information on interfaces in route mode:", "Link: ADM - administratively down; Stby - standby",
           "Protocol: (s) - spoofing", "Interface            Link Protocol Primary IP      Description"]
    for iface in _ports(plan):
        link = "ADM" if _shut(memory.running, iface) else "UP" if iface.oper_up else "DOWN"
        proto = "UP" if link == "UP" else "DOWN"
        out.append(f"{iface.name:<20} {link:<4} {proto:<8} {'--':<15} {_description(memory.running, iface)[:27]}")
    return "\n".join(out) + "\n\n"


def comware_ipv6_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["*down: administratively down", "(s): spoofing",
           "Interface                                Physical Protocol IPv6 Address"]
    for iface in _ports(plan):
        addrs = _v6(memory.running, iface)
        if addrs:
            state = "up" if _up(memory.running, iface) else "down"
            out.append(f"{iface.name:<40} {state:<8} {state:<8} {addrs[-1]}")
    return "\n".join(out) + "\n"


def comware_arp(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    rows = _neighbours(plan, memory.running)
    out = ["  Type: S-Static   D-Dynamic   O-Openflow   R-Rule   M-Multiport  I-Invalid",
           "IP address      MAC address    VLAN/VSI name Interface                Aging Type"]
    out += [f"{ip:<15} {_dotted(mac, '-'):<14} N/A           {iface.name:<24} 1183  D" for iface, ip, mac in rows]
    return "\n".join(out) + "\n"


def comware_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    rows = [r for r in _neighbours(plan, memory.running) if _v6(memory.running, r[0])]
    out = ["Type: S-Static    D-Dynamic    O-Openflow     R-Rule    IS-Invalid static",
           "IPv6 address                            Link layer     VID  Interface/Link ID  State T  Aging"]
    for iface, _, mac in rows:
        ll = link_local("02:" + ":".join(mac[i:i + 2] for i in range(2, 12, 2)))
        out.append(f"{ll:<39} {_dotted(mac, '-'):<14} N/A  {iface.name:<18} STALE D  235")
    return "\n".join(out) + "\n"


def comware_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = []
    for iface in _ports(plan):
        if iface.speed_mbps >= 1000 and iface.oper_up:
            out += [f"{iface.name} transceiver diagnostic information:", "  Current diagnostic parameters:",
                    "    Temp.(\u00b0C) Voltage(V)  Bias(mA)  RX power(dBm)  TX power(dBm)",
                    f"    35         3.30        6.50      {_dbm(plan, iface, 'rx'):<14.2f} "
                    f"{_dbm(plan, iface, 'tx'):.2f}", ""]
    return "\n".join(out) + "\n"


# --- Cisco IOS and Ruijie RGOS (close enough in layout) ---------------------------------------------------------

def ios_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    name = hostname(plan.platform, memory.running)
    if plan.platform == "ruijie_os":
        return (f"System description      : {plan.sys_descr}\nSystem uptime           : {_uptime(uptime, False)}\n"
                f"System hardware version : 1.00\nSystem software version : {software_version(plan)}\n"
                f"System serial number    : {serial(plan)}\n")
    image = "C2960X-UNIVERSALK9-M" if "C2960X" in plan.model else "X86_64_LINUX_IOSD-UNIVERSALK9-M"
    version = software_version(plan)
    return (f"Cisco IOS Software, {plan.model} Software ({image}), Version {version}, RELEASE SOFTWARE (fc2)\n"
            "Technical Support: http://www.cisco.com/techsupport\n"
            "Copyright (c) 1986-2020 by Cisco Systems, Inc.\n\nROM: Bootstrap program is IOS-XE ROMMON\n\n"
            f"{name} uptime is {_uptime(uptime, True)}\n"
            "System returned to ROM by power-on\n"
            f'System image file is "flash:{image.lower()}.{version}.bin"\n\n'
            f"cisco {plan.model} (MPC8544) processor (revision A0) with 524288K bytes of memory.\n"
            f"Processor board ID {serial(plan)}\n\nConfiguration register is 0x2102\n")


def ios_ip_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["Interface                  IP-Address      OK? Method Status                Protocol"]
    for iface in _ports(plan):
        body = body_of(memory.running, f"interface {iface.name}")
        ip = next((b.split()[2] for b in body if b.startswith("ip address ") and len(b.split()) > 2), "unassigned")
        status = "administratively down" if _shut(memory.running, iface) else "up" if iface.oper_up else "down"
        name = iface.name.replace(" ", "")
        out.append(f"{name:<26} {ip:<15} YES {'manual' if ip != 'unassigned' else 'unset':<6} {status:<21} "
                   f"{'up' if status == 'up' else 'down'}")
    return "\n".join(out) + "\n"


def ios_status(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["", "Port      Name               Status       Vlan       Duplex  Speed Type"]
    for iface in _ports(plan):
        status = "disabled" if _shut(memory.running, iface) else "connected" if iface.oper_up else "notconnect"
        short = iface.name.replace("GigabitEthernet", "Gi").replace("TenGi", "Te").replace(" ", "")
        name = _description(memory.running, iface)[:18] or " "
        speed = "a-10G" if iface.speed_mbps >= 10000 else f"a-{iface.speed_mbps}"
        out.append(f"{short:<9} {name:<18} {status:<12} {1:<10} a-full  {speed:<5} 10/100/1000BaseTX")
    return "\n".join(out) + "\n"


def ios_ipv6_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = []
    for iface in _ports(plan):
        admin = "administratively down" if _shut(memory.running, iface) else "up" if iface.oper_up else "down"
        out.append(f"{iface.name.replace(' ', ''):<23}[{admin}/{'up' if admin == 'up' else 'down'}]")
        addrs = _v6(memory.running, iface)
        out += [f"    {a.split('/')[0].upper()}" for a in addrs] or ["    unassigned"]
    return "\n".join(out) + "\n"


def ios_arp(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["Protocol  Address          Age (min)  Hardware Addr   Type   Interface"]
    for iface, ip, mac in _neighbours(plan, memory.running):
        out.append(f"Internet  {ip:<16} {3:>10}  {_dotted(mac, '.'):<15} ARPA   {iface.name.replace(' ', '')}")
    return "\n".join(out) + "\n"


def ios_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["IPv6 Address                              Age Link-layer Addr State Interface"]
    for iface, _, mac in _neighbours(plan, memory.running):
        if _v6(memory.running, iface):
            ll = link_local("02:" + ":".join(mac[i:i + 2] for i in range(2, 12, 2))).upper()
            out.append(f"{ll:<41} {0:>3} {_dotted(mac, '.'):<15} STALE {iface.name.replace(' ', '')}")
    return "\n".join(out) + "\n"


def ios_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["                                            Optical   Optical",
           "           Temperature  Voltage  Current   Tx Power  Rx Power",
           "Port       (Celsius)    (Volts)  (mA)      (dBm)     (dBm)",
           "---------  -----------  -------  --------  --------  --------"]
    for iface in _ports(plan):
        if iface.speed_mbps >= 1000 and iface.oper_up:
            short = iface.name.replace("GigabitEthernet", "Gi").replace(" ", "")
            out.append(f"{short:<9}  {35.1:>11}  {3.30:>7.2f}  {6.5:>8}  {_dbm(plan, iface, 'tx'):>8.1f}  "
                       f"{_dbm(plan, iface, 'rx'):>8.1f}")
    return "\n".join(out) + "\n"


def running(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    return render(plan, memory.running, memory.updated_at)


def saved(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    return render(plan, memory.startup, memory.updated_at)


def _configs(platform: str) -> dict[str, Renderer]:
    cli = cli_of(platform)
    return {cli.config_command: running, cli.startup_command: saved}


SHOWS: dict[str, dict[str, Renderer]] = {
    "huawei_vrp": {
        "display version": vrp_version, "display interface brief": vrp_interface_brief,
        "display ipv6 interface brief": vrp_ipv6_brief, "display arp": vrp_arp, "display arp all": vrp_arp,
        "display ipv6 neighbors": vrp_ipv6_neighbors, "display transceiver verbose": vrp_transceiver,
        **_configs("huawei_vrp"),
    },
    "hp_comware": {
        "display version": comware_version, "display interface brief": comware_interface_brief,
        "display ipv6 interface brief": comware_ipv6_brief, "display arp": comware_arp,
        "display ipv6 neighbors": comware_ipv6_neighbors, "display ipv6 neighbors all": comware_ipv6_neighbors,
        "display transceiver interface": comware_transceiver, **_configs("hp_comware"),
    },
}
SHOWS["cisco_ios"] = SHOWS["ruijie_os"] = {
    "show version": ios_version, "show ip interface brief": ios_ip_brief, "show interfaces status": ios_status,
    "show ipv6 interface brief": ios_ipv6_brief, "show arp": ios_arp, "show ipv6 neighbors": ios_ipv6_neighbors,
    "show interfaces transceiver": ios_transceiver, **_configs("cisco_ios"),
}
