"""What show/display commands print, per platform, from the plan and the current configuration. Pure."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from datetime import timedelta

from collectors.platforms import cli_of
from lab.city import DevicePlan, InterfacePlan
from lab.ssh.config import Config, body_of, hostname, render, software_version
from lab.ssh.ping import LinkPeer, link_local_of
from lab.ssh.state import DeviceMemory

Renderer = Callable[[DevicePlan, DeviceMemory, int], str]
# The neighbour tables: what the device has learned from the other ends of its links (`ping.link_peers`).
NdRenderer = Callable[[DevicePlan, DeviceMemory, list[LinkPeer]], str]


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
    return str(link_local_of(mac or "02:00:00:00:00:01"))


def _neighbours(plan: DevicePlan, config: Config) -> list[tuple[InterfacePlan, str, str]]:
    """One neighbour per up port: (port, IPv4 address, neighbour MAC as 12 hex digits)."""
    net = int(_digest(plan.name, 2), 16)
    found = []
    for n, iface in enumerate(_ports(plan)):
        if _up(config, iface):
            found.append((iface, f"10.{net}.{n + 1}.2", "5a" + _digest(f"{plan.name}:{iface.name}", 10).lower()))
    return found


def _uptime(seconds: int, weeks: bool, zero_plural: bool = True) -> str:
    """`1 week, 2 days, 3 hours, 12 minutes`; VRP writes `0 hour` (plural from 2), Comware and IOS `0 hours`."""
    days, rest = divmod(seconds, 86400)
    values = []
    if weeks:
        values.append((days // 7, "week"))
        days %= 7
    values += [(days, "day"), (rest // 3600, "hour"), (rest % 3600 // 60, "minute")]
    return ", ".join(f"{n} {unit}{'s' * (n > 1 or (n == 0 and zero_plural))}" for n, unit in values)


def _dhms(seconds: int) -> str:
    """RGOS: `days:hours:minutes:seconds`, no padding."""
    days, rest = divmod(seconds, 86400)
    return f"{days}:{rest // 3600}:{rest % 3600 // 60}:{rest % 60}"


def _dotted(mac12: str, sep: str) -> str:
    return sep.join(mac12[i:i + 4] for i in (0, 4, 8))


# --- Huawei VRP -------------------------------------------------------------------------------------------------

def _vrp8(plan: DevicePlan) -> bool:
    return "Version 8." in plan.sys_descr


def _sys_descr_line(plan: DevicePlan, starts: str) -> str:
    return next((line for line in plan.sys_descr.split("\r\n") if line.startswith(starts)), "")


def vrp_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """VRP5 (S switches, AR routers; weeks counted) and VRP8 (NE routers; days). No chassis serial: `display esn`.

    Layouts: ntc-templates tests/huawei_vrp/display_version (NE40E-X2-M8A VRP8, AR6280 and AR617VW VRP5) and
    the S5735 banner of the VRP5 switch command reference."""
    head = ("Huawei Versatile Routing Platform Software\n" + _sys_descr_line(plan, "VRP (R) software") + "\n"
            + _sys_descr_line(plan, "Copyright") + "\n")
    if _vrp8(plan):
        up = _uptime(uptime, False, zero_plural=False)
        board = _uptime(max(uptime - 120, 0), False, zero_plural=False)
        return (head + f"HUAWEI {plan.model} uptime is {up}\n\n"
                f"{plan.model} version information:\n" + "- " * 32 + "-\n"
                "BKP  version information:\n  PCB         Version : CX68BKP02D REV A\n"
                "  MPU  Slot  Quantity : 2\n  NPU  Slot  Quantity : 2\n  CARD Slot  Quantity : 8\n"
                + "- " * 32 + "-\nMPU version information:\n\n"
                f"MPU (Master) 9 : uptime is {board}\n"
                "  SDRAM Memory Size   : 8192 M bytes\n  FLASH Memory Size   : 32 M bytes\n"
                "  NVRAM Memory Size   : 512 K bytes\n  CFCARD Memory Size  : 2048 M bytes\n"
                "  MPU CR5D0MPUK170 version information:\n  PCB         Version : CX68MPUK1 REV A\n"
                "  EPLD        Version : 111\n  FPGA        Version : 105\n  BootROM     Version : 06.14\n"
                "  BootLoad    Version : 06.14\n")
    up = _uptime(uptime, True, zero_plural=False)
    board = _uptime(max(uptime - 60, 0), True, zero_plural=False)
    if plan.model.startswith("AR"):
        return (head + f"Huawei {plan.model} Router uptime is {up}\n"
                f"MPU 0(Master) : uptime is {board}\nSDRAM Memory Size    : 1024    M bytes\n"
                "Flash 0 Memory Size  : 1024    M bytes\nMPU version information :\n"
                f"1. PCB      Version  : AR-SRU651 VER.C\n2. MAB      Version  : 0\n"
                f"3. Board    Type     : {plan.model}\n4. BootROM  Version  : 1\n")
    return (head + f"HUAWEI {plan.model} Routing Switch uptime is {up}\n\n"
            f"ES5D2T28S005 0(Master) : uptime is {board}\n"
            "DDR             Memory Size : 1024    M bytes\nFLASH Total     Memory Size : 512     M bytes\n"
            "FLASH Available Memory Size : 231     M bytes\nPcb           Version   : VER.A\n"
            "BootROM       Version   : 020a.0001\nBootLoad      Version   : 020a.0001\n"
            "CPLD          Version   : 0106\n"
            f"Software      Version   : VRP (R) Software, Version 5.170 ({software_version(plan)})\n")


def vrp_esn(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """`display esn` as the S-series command reference prints it."""
    return f"ESN of slot 0: {serial(plan)}\n"


def vrp_manufacture_info(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """`display device manufacture-info` (CloudEngine/VRP8 layout): one row per board, the chassis first."""
    rule = "-" * 76
    boards = [("backplane", "--", plan.model, serial(plan))]
    if _vrp8(plan):
        boards += [("1", "--", "CR5D0MPUK170", "0309" + serial(plan)[4:14]),
                   ("9", "--", "CR5DNPU48070", "0305" + serial(plan)[4:14])]
    rows = [f"{slot:<10} {card:<6} {kind:<18} {sn:<24} 2019-06-08" for slot, card, kind, sn in boards]
    head = "Slot       Card   Type               Serial-number            Manu-date"
    return "\n".join([rule, head, rule, *rows]) + "\n"


def _vrp_uti(iface: InterfacePlan) -> str:
    value = min(99.0, iface.rates.get("in_octets", 0) * 800 / max(iface.speed_mbps, 1) / 1e6)
    return f"{value:.2f}%" if round(value, 2) else "0%"


def _loopback(config: Config, iface: InterfacePlan) -> bool:
    return any(b.startswith("loopback ") for b in body_of(config, f"interface {iface.name}"))


def vrp_interface_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """The legend above the table, `*down` (shut), `up(l)` (a port in loopback: `loopback internal`), NULL0 `up(s)`.

    Layout: ntc-templates tests/huawei_vrp/display_interface_brief."""
    out = ["PHY: Physical", "*down: administratively down", "^down: standby", "(l): loopback", "(s): spoofing",
           "(E): E-Trunk down", "(b): BFD down", "(B): Bit-error-detection down", "(e): ETHOAM down",
           "(d): Dampening Suppressed", "InUti/OutUti: input utility/output utility",
           "Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors"]
    for iface in _ports(plan):
        phy = "*down" if _shut(memory.running, iface) else "up" if iface.oper_up else "down"
        proto = "up" if phy == "up" else "down"
        if phy == "up" and _loopback(memory.running, iface):
            phy = "up(l)"
        uti = _vrp_uti(iface)
        out.append(f"{iface.name:<27} {phy:<5} {proto:<9} {uti:>5} {uti:>6} {0:>10} {0:>10}")
    out.append(f"{'NULL0':<27} {'up':<5} {'up(s)':<9} {'0%':>5} {'0%':>6} {0:>10} {0:>10}")
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


def _peer_rows(peers: list[LinkPeer]) -> list[tuple[str, str, str]]:
    """(address, MAC as 12 hex digits, this device's port): each peer by its global and its link-local address,
    as a router learns both (the ping to the global address, the hellos and advertisements from the link-local)."""
    rows = []
    for peer in peers:
        mac = peer.mac.replace(":", "").lower() or "020000000001"
        rows += [(str(peer.address), mac, peer.port), (str(peer.link_local), mac, peer.port)]
    return list(dict.fromkeys(rows))


def vrp_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, peers: list[LinkPeer]) -> str:
    out = []
    rows = _peer_rows(peers)
    for address, mac, port in rows:
        out += ["-" * 80, f"IPv6 Address : {address.upper()}",
                f"Link-layer   : {_dotted(mac, '-')}                     State : STALE",
                f"Interface    : {port:<30}   Age   : 3", "VLAN         : -                  CEVLAN: -",
                "VPN name     :                    Is Router  : TRUE", "Secure FLAG  : UN-SECURE"]
    out += ["-" * 80, f"Total: {len(rows)}    Dynamic: {len(rows)}    Static: 0"]
    return "\n".join(out) + "\n"


def _dbm(plan: DevicePlan, iface: InterfacePlan, which: str) -> float:
    return -2.0 - int(_digest(f"{plan.name}:{iface.name}:{which}", 2), 16) / 64


def _optics(plan: DevicePlan) -> list[InterfacePlan]:
    """Ports with an optical module: gigabit and faster."""
    return [i for i in _ports(plan) if i.speed_mbps >= 1000]


def _module(iface: InterfacePlan) -> tuple[str, int, str]:
    """(transceiver type, wavelength, transfer distance) of the module in a port."""
    if iface.speed_mbps >= 10000:
        return "10GBASE_SR_SFP", 850, "300(50um),33(62.5um)"
    return "1000_BASE_LX_SFP", 1310, "10000(9um)"


def vrp_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int, dbm: str = "dBM") -> str:
    """`display transceiver verbose` (VRP5); VRP8/CloudEngine's `display interface transceiver verbose` is the same
    layout with `(dBm)`. A port whose link is down has no module. Layout: the S-series command reference."""
    rule = "-" * 61
    out = []
    for iface in _optics(plan):
        if not iface.oper_up:
            continue
        kind, wave, distance = _module(iface)
        rx, tx = _dbm(plan, iface, "rx"), _dbm(plan, iface, "tx")
        out += [f"{iface.name} transceiver information:", rule, "Common information:",
                f"  Transceiver Type              :{kind}", "  Connector Type                :LC",
                f"  Wavelength(nm)                :{wave}", f"  Transfer Distance(m)          :{distance}",
                "  Digital Diagnostic Monitoring :YES", "  Vendor Name                   :HUAWEI",
                "  Vendor Part Number            :34060286", "  Ordering Name                 :", rule,
                "Manufacture information:", f"  Manu. Serial Number           :{serial(plan)[4:16]}",
                "  Manufacturing Date            :2019-06-08", "  Vendor Name                   :HUAWEI", rule,
                "Diagnostic information:", "  Temperature(\u00b0C)               :35.00",
                "  Temp High Threshold(\u00b0C)       :90.00", "  Temp Low  Threshold(\u00b0C)       :-5.00",
                "  Voltage(V)                    :3.30", "  Volt High Threshold(V)        :3.60",
                "  Volt Low  Threshold(V)        :3.00", "  Bias Current(mA)              :6.50",
                "  Bias High Threshold(mA)       :15.00", "  Bias Low  Threshold(mA)       :1.00",
                f"  RX Power({dbm})                 :{rx:.2f}",
                f"  RX Power High Threshold({dbm})  :0.50", f"  RX Power Low  Threshold({dbm})  :-20.00",
                f"  TX Power({dbm})                 :{tx:.2f}",
                f"  TX Power High Threshold({dbm})  :0.00", f"  TX Power Low  Threshold({dbm})  :-9.50", rule, ""]
    return "\n".join(out) + "\n"


def vrp8_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    return vrp_transceiver(plan, memory, uptime, dbm="dBm")


# --- H3C Comware ------------------------------------------------------------------------------------------------

def _comware_release(plan: DevicePlan) -> tuple[str, str]:
    found = re.search(r"Version (\S+), Release (\w+)", plan.sys_descr)
    return (found.group(1), found.group(2)) if found else ("7.1.070", "6615P05")


def comware_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """Comware 7 `display version`: no serial (that is `display device manuinfo`).

    Layout: a captured S5560X-54C-EI 7.1.070 Release 6615P05 (public session log, see the lab tests' notes)."""
    version, release = _comware_release(plan)
    image = plan.model.lower().split("-")[0]
    up = _uptime(uptime, True)
    compiled = "  Compiled Feb 08 2022 11:00:00\n"
    return (f"H3C Comware Software, Version {version}, Release {release}\n"
            "Copyright (c) 2004-2022 New H3C Technologies Co., Ltd. All rights reserved.\n"
            f"H3C {plan.model} uptime is {up}\nLast reboot reason : Cold reboot\n\n"
            f"Boot image: flash:/{image}-cmw710-boot-r{release.lower()}.bin\n"
            f"Boot image version: {version}, Release {release}\n{compiled}"
            f"System image: flash:/{image}-cmw710-system-r{release.lower()}.bin\n"
            f"System image version: {version}, Release {release}\n{compiled}"
            "Feature image(s) list:\n"
            f"  flash:/{image}-cmw710-freeradius-r{release.lower()}.bin, version: {version}, Release {release}\n"
            f"  {compiled}\n\n"
            f"Slot 1:\nUptime is {up.replace(', ', ',')}\n{plan.model} with 2 Processors\n"
            f"BOARD TYPE:         {plan.model}\nDRAM:               2048M bytes\nFLASH:              512M bytes\n"
            "PCB 1 Version:      VER.B\nBootrom Version:    119\nCPLD 1 Version:     002\n"
            f"Release Version:    H3C {plan.model}-{release}\nPatch Version  :    None\n"
            "Reboot Cause  :     ColdReboot\n[SubSlot 0] 48GE+4SFP Plus\n")


def _comware_mac(plan: DevicePlan, n: int) -> str:
    digits = f"70ba{(int(_digest(plan.name, 8), 16) + n) & 0xFFFFFFFF:08x}".upper()
    return _dotted(digits, "-")


def comware_manuinfo(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """`display device manuinfo` on a Comware 7 box: the device, then fans and power supplies with serials of
    their own. Layout: ntc-templates tests/hp_comware/display_device_manuinfo (_5930)."""
    chassis = serial(plan)
    return (f" Slot 1 CPU 0:\nDEVICE_NAME          : {plan.model}\nDEVICE_SERIAL_NUMBER : {chassis}\n"
            f"MAC_ADDRESS          : {_comware_mac(plan, 0)}\nMANUFACTURING_DATE   : 2019-03-29\n"
            "VENDOR_NAME          : H3C\n"
            f"Fan 1\nDEVICE_NAME          : LSWM1FANSC\nDEVICE_SERIAL_NUMBER : 210231A{chassis[:13]}\n"
            "MANUFACTURING_DATE   : 2019-03-12\nVENDOR_NAME          : H3C\n"
            f"Power 1\nDEVICE_NAME          : PSR150-A1\nDEVICE_SERIAL_NUMBER : 210231A{chassis[1:14]}\n"
            "MANUFACTURING_DATE   : 2019-03-14\nVENDOR_NAME          : H3C\n")


def _comware_short(name: str) -> str:
    """Comware 7 abbreviates port names in the brief tables: GE1/0/1, XGE1/0/49."""
    return name.replace("Ten-GigabitEthernet", "XGE").replace("GigabitEthernet", "GE")


def _bridged(plan: DevicePlan) -> bool:
    """A layer-2 switch (S5560X …, not the SR routers): its ports are in bridge mode."""
    return plan.model.startswith("S") and not plan.model.startswith("SR")


def comware_interface_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """Route-mode ports have a Protocol column (`UP(s)` spoofing, `--` none); bridge-mode (layer-2) ports have none.

    Layout: ntc-templates tests/hp_comware/display_interface_brief (_release_9119P17, Comware 7)."""
    route = ["Brief information on interfaces in route mode:", "Link: ADM - administratively down; Stby - standby",
             "Protocol: (s) - spoofing", "Interface            Link Protocol Primary IP        Description"]
    bridge = ["Brief information on interfaces in bridge mode:", "Link: ADM - administratively down; Stby - standby",
              "Speed: (a) - auto", "Duplex: (a)/A - auto; H - half; F - full",
              "Type: A - access; T - trunk; H - hybrid",
              "Interface            Link Speed     Duplex Type PVID Description"]
    bridged = _bridged(plan)
    for iface in _ports(plan):
        link = "ADM" if _shut(memory.running, iface) else "UP" if iface.oper_up else "DOWN"
        name = _comware_short(iface.name)
        description = _description(memory.running, iface)
        if bridged:
            speed, duplex = (f"{iface.speed_mbps // 1000}G(a)" if iface.speed_mbps >= 1000
                             else f"{iface.speed_mbps}M(a)", "F(a)") if link == "UP" else ("auto", "A")
            bridge.append(f"{name:<20} {link:<4} {speed:<9} {duplex:<6} A    1    {description}".rstrip())
        else:
            proto = "UP" if link == "UP" else "DOWN"
            route.append(f"{name:<20} {link:<4} {proto:<8} {'--':<17} {description}".rstrip())
    route.append(f"{'NULL0':<20} UP   UP(s)    --")
    return "\n".join(route) + "\n\n" + ("\n".join(bridge) + "\n\n" if bridged else "")


def comware_ipv6_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    out = ["*down: administratively down", "(s): spoofing",
           "Interface                                Physical Protocol IPv6 Address"]
    for iface in _ports(plan):
        addrs = _v6(memory.running, iface)
        if addrs:
            state = "up" if _up(memory.running, iface) else "down"
            shown = addrs[-1] if len(addrs) > 1 else "Unassigned"  # only the link-local address: none global
            out.append(f"{iface.name:<40} {state:<8} {state:<8} {shown}")
    return "\n".join(out) + "\n"


def comware_arp(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    rows = _neighbours(plan, memory.running)
    out = ["  Type: S-Static   D-Dynamic   O-Openflow   R-Rule   M-Multiport  I-Invalid",
           "IP address      MAC address    VLAN/VSI name Interface                Aging Type"]
    out += [f"{ip:<15} {_dotted(mac, '-'):<14} N/A           {iface.name:<24} 1183  D" for iface, ip, mac in rows]
    return "\n".join(out) + "\n"


def comware_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, peers: list[LinkPeer]) -> str:
    out = ["Type: S-Static    D-Dynamic    O-Openflow     R-Rule    IS-Invalid static",
           "IPv6 address                            Link layer     VID  Interface/Link ID  State T  Aging"]
    for address, mac, port in _peer_rows(peers):
        out.append(f"{address:<39} {_dotted(mac, '-'):<14} N/A  {port:<18} STALE D  235")
    return "\n".join(out) + "\n"


def comware_transceiver(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """`display transceiver diagnosis interface`: the readings, then the alarm thresholds; a fibre port whose link
    is down has no module. Layout: the H3C command reference (Comware 7, Fundamentals, transceiver modules)."""
    out = []
    for iface in _optics(plan):
        out.append(f"{iface.name} transceiver diagnostic information:")
        if not iface.oper_up:
            out.append("The transceiver is absent.")
            continue
        rx, tx = _dbm(plan, iface, "rx"), _dbm(plan, iface, "tx")
        out += ["  Current diagnostic parameters:",
                "    Temp.(\u00b0C) Voltage(V)  Bias(mA)  RX power(dBm)  TX power(dBm)",
                f"    35         3.30        6.50      {rx:<14.2f} {tx:.2f}",
                "  Alarm thresholds:",
                "          Temp.(\u00b0C) Voltage(V)  Bias(mA)  RX power(dBm)  TX power(dBm)",
                "    High  80         3.60        15.00     0.00           0.00",
                "    Low   -15        3.00        0.00      -20.00         -9.50"]
    return "\n".join(out) + "\n"


def comware_transceiver_info(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """`display transceiver interface`: what the module is, and no readings."""
    out = []
    for iface in _optics(plan):
        out.append(f"{iface.name} transceiver information:")
        if not iface.oper_up:
            out.append("The transceiver is absent.")
            continue
        kind, wave, distance = _module(iface)
        out += [f"  Transceiver Type              : {kind.replace('_', '-')}", "  Connector Type                : LC",
                f"  Wavelength(nm)                : {wave}", f"  Transfer Distance(m)          : {distance}",
                "  Digital Diagnostic Monitoring : YES", "  Vendor Name                   : H3C"]
    return "\n".join(out) + "\n"


# --- Cisco IOS and Ruijie RGOS (close enough in layout) ---------------------------------------------------------

def ios_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    name = hostname(plan.platform, memory.running)
    if plan.platform == "ruijie_os":
        return rgos_version(plan, memory, uptime)
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


def rgos_version(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """RGOS 11 `show version`: the model inside the description, uptime as days:hours:minutes:seconds.

    Layout: Ruijie's RGOS 11.x configuration guides (`show version` examples of S29/S57 switches and RSR routers)."""
    kind = "Router" if plan.model.startswith("RSR") else "Full Layer 3 Switch"
    prefix = plan.model.split("-")[0]
    started = (memory.started_at - timedelta(seconds=plan.uptime_s)).strftime("%Y-%m-%d %H:%M:%S")
    return (f"System description      : Ruijie {kind}({plan.model}) By Ruijie Networks\n"
            f"System start time       : {started}\n"
            f"System uptime           : {_dhms(uptime)}\n"
            "System hardware version : 1.00\n"
            f"System software version : {prefix}_{software_version(plan)}\n"
            "System patch number     : NA\n"
            f"System serial number    : {serial(plan)}\n"
            "System boot version     : 1.3.13\n")


def rgos_ip_brief(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
    """RGOS 11 `show ip interface brief`: primary and secondary address columns, names with a space.

    Layout: RGOS 11.4 (S5750) output as published in Ruijie's configuration examples; columns at 0/41/62/83/106."""
    out = ["Interface                                IP-Address(Pri)      IP-Address(Sec)      Status"
           "                 Protocol "]
    for iface in _ports(plan):
        body = body_of(memory.running, f"interface {iface.name}")
        found = next((b.split() for b in body if b.startswith("ip address ") and len(b.split()) > 3), None)
        address = "no address"
        if found:
            address = str(ipaddress.IPv4Interface(f"{found[2]}/{found[3]}").with_prefixlen)
        status = "administratively down" if _shut(memory.running, iface) else "up" if iface.oper_up else "down"
        proto = "up" if status == "up" else "down"
        out.append(f"{iface.name:<40} {address:<20} {'no address':<20} {status:<22} {proto:<8}")
    return "\n".join(out) + "\n"


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


def ios_ipv6_neighbors(plan: DevicePlan, memory: DeviceMemory, peers: list[LinkPeer]) -> str:
    out = ["IPv6 Address                              Age Link-layer Addr State Interface"]
    for address, mac, port in _peer_rows(peers):
        out.append(f"{address.upper():<41} {0:>3} {_dotted(mac, '.'):<15} STALE {port.replace(' ', '')}")
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


def _alone(renderer: NdRenderer) -> Renderer:
    """The table of a device that knows no other (the CLI asks `ND_SHOWS` with its network instead)."""
    def render_alone(plan: DevicePlan, memory: DeviceMemory, uptime: int) -> str:
        return renderer(plan, memory, [])
    return render_alone


SHOWS: dict[str, dict[str, Renderer]] = {
    "huawei_vrp": {
        "display version": vrp_version, "display esn": vrp_esn, "display device manufacture-info": vrp_manufacture_info,
        "display interface brief": vrp_interface_brief, "display ipv6 interface brief": vrp_ipv6_brief,
        "display arp": vrp_arp, "display arp all": vrp_arp, "display ipv6 neighbors": _alone(vrp_ipv6_neighbors),
        "display transceiver verbose": vrp_transceiver, "display interface transceiver verbose": vrp8_transceiver,
        **_configs("huawei_vrp"),
    },
    "hp_comware": {
        "display version": comware_version, "display device manuinfo": comware_manuinfo,
        "display interface brief": comware_interface_brief, "display ipv6 interface brief": comware_ipv6_brief,
        "display arp": comware_arp, "display ipv6 neighbors": _alone(comware_ipv6_neighbors),
        "display ipv6 neighbors all": _alone(comware_ipv6_neighbors),
        "display transceiver interface": comware_transceiver_info,
        "display transceiver diagnosis interface": comware_transceiver, **_configs("hp_comware"),
    },
}
_IOS_SHOWS: dict[str, Renderer] = {
    "show version": ios_version, "show ip interface brief": ios_ip_brief, "show interfaces status": ios_status,
    "show ipv6 interface brief": ios_ipv6_brief, "show arp": ios_arp, "show ipv6 neighbors": _alone(ios_ipv6_neighbors),
    "show interfaces transceiver": ios_transceiver, **_configs("cisco_ios"),
}
SHOWS["cisco_ios"] = _IOS_SHOWS
SHOWS["ruijie_os"] = {**_IOS_SHOWS, "show version": rgos_version, "show ip interface brief": rgos_ip_brief}
ND_SHOWS: dict[str, dict[str, NdRenderer]] = {
    "huawei_vrp": {"display ipv6 neighbors": vrp_ipv6_neighbors},
    "hp_comware": {"display ipv6 neighbors": comware_ipv6_neighbors,
                   "display ipv6 neighbors all": comware_ipv6_neighbors},
    "cisco_ios": {"show ipv6 neighbors": ios_ipv6_neighbors},
    "ruijie_os": {"show ipv6 neighbors": ios_ipv6_neighbors},
}
