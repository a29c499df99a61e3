"""Which configuration lines each simulated platform accepts, in which view, and what the device answers to the
others. Pure: `parse(platform, view, line, interfaces)` -> `Accepted` (the canonical line as the device stores it)
or `Rejected` (where the caret goes and why).

A device does not take anything typed at it: an unknown keyword, a malformed address or a number out of range is
refused with the vendor's own text and a caret under the first token it could not take, and nothing changes.

The syntax, value ranges, views, prompts and error texts are taken from the vendors' references:
- Huawei VRP: S-series/AR "qos lr outbound cir cir-value [ cbs cbs-value ]" (Configuring Outbound Interface-based
  Rate Limiting, S12700 V200R013 / EDOC1100127060); "acl ipv6 [ number ] acl6-number" 2000-2999 basic, view
  `acl6-basic-N`, "rule [ rule-id ] { deny | permit } [ source { source-ipv6-address prefix-length |
  source-ipv6-address/prefix-length | any } ]" (AR500 V200R007 Commands Reference, rule (basic ACL6 view); 3Com/H3C
  MSR ACL reference examples `[Sysname-acl6-basic-2000] rule permit source 2030:5060::9050/64`); "snmp-agent
  acl-ipv6 acl-number" (VRP snmp-agent acl); interface `ipv6 enable`, `ipv6 address auto link-local`,
  `ipv6 address 2001::1 64`, global `ipv6` (published VRP IPv6 lab configurations); `ipv6 route-static 2002:: 16 ...`
  and `ospfv3 1` / `area` (NetEngine configuration examples); OSPF area prompt `[S3-ospf-1-area-0.0.0.0]`.
- H3C Comware 7: "qos lr { inbound | outbound } cir committed-information-rate [ cbs committed-burst-size ]" (HP MSR
  ACL and QoS Command Reference V7); "ospfv3 [ process-id ]", "router-id", interface "ospfv3 process-id area area-id"
  (H3C S5800 / SecPath OSPFv3 configuration); "area area-id" -> `[Sysname-ospfv3-1-area-0.0.0.1]` (H3C S12500
  OSPFv3 command reference); SNMP "acl ipv6 ipv6-acl-number" 2000-2999 (HP FlexFabric 11900 network management
  command reference).
- Cisco IOS: `ipv6 unicast-routing`, interface `ipv6 address X/len`, `ipv6 enable`, `ipv6 route P/len NH`
  (Cisco Networking Academy lab transcripts); "rate-limit {input | output} bps burst-normal burst-max conform-action
  action exceed-action action", bps 8,000-2,000,000,000 in steps of 8 kbps (Cisco IOS 11.1 Committed Access Rate
  feature guide; O'Reilly "Cisco IOS in a Nutshell", rate-limit).
- Ruijie RGOS: the IOS-family commands (`ipv6 address`, `ipv6 enable`, `ipv6 route`, `ipv6 router ospf`). No
  Ruijie reference for interface rate limiting was found in the library; the RSR routers take the IOS CAR form
  (`rate-limit output bps burst-normal burst-max conform-action ... exceed-action ...`), which is what is accepted.
- Error texts: VRP `Error: Unrecognized command found at '^' position.` / `Error: Wrong parameter found at '^'
  position.` / `Error: Incomplete command found at '^' position.`; Comware the same with ` % ` (as the lab already
  printed for unknown commands); IOS and RGOS `% Invalid input detected at '^' marker.` for both and
  `% Incomplete command.` — the caret under the first character of the token that was not taken ("The ^ marker shows
  where in the command the first character of invalid input was detected", Dell/Force10 CLI reference).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from collectors.platforms import cli_of

# Views: what kind of section a configuration line is typed in.
SYSTEM, INTERFACE, OSPFV3, AREA, ACL6, VTY, ROUTER, IPV6_ACL, AAA, LOCAL_USER = (
    "system", "interface", "ospfv3", "ospfv3-area", "acl6", "vty", "router", "ipv6-acl", "aaa", "local-user")
AAA_SCHEME, AAA_POLICY, AAA_DOMAIN = "aaa-scheme", "aaa-password-policy", "aaa-domain"  # views inside VRP's `aaa`
SERVER, DOMAIN = "aaa-server", "domain"  # a TACACS+ server (template, scheme, group); Comware's ISP domain


@dataclass(frozen=True, slots=True)
class Accepted:
    line: str  # canonical, as the running configuration shows it
    enters: str = ""  # the view the line opens ("" = none)
    replaces: str = ""  # overwrite-style: the body/global lines starting with this are replaced
    negated: bool = False
    exact: bool = True  # a negation naming a whole command removes just that line, a partial one all it covers


@dataclass(frozen=True, slots=True)
class Rejected:
    column: int  # offset in the typed line of the first character not taken
    kind: str  # "unrecognized" | "wrong" | "incomplete"


Outcome = Accepted | Rejected


# --- value types: each returns the canonical text, or None when the token is not a valid value --------------------

def _v6(token: str) -> str | None:
    try:
        return str(ipaddress.IPv6Address(token)).upper()
    except ValueError:
        return None


def _v6_with_length(token: str) -> ipaddress.IPv6Interface | None:
    if "/" not in token:
        return None
    try:
        return ipaddress.IPv6Interface(token)
    except ValueError:
        return None


def _v6if(token: str) -> str | None:
    """An interface address with its prefix length: 2001:db8::1/64."""
    found = _v6_with_length(token)
    return None if found is None else f"{str(found.ip).upper()}/{found.network.prefixlen}"


def _v6net(token: str) -> str | None:
    """A prefix: 2001:db8::/32 (host bits may be set, as the devices allow)."""
    found = _v6_with_length(token)
    return None if found is None else f"{str(found.network.network_address).upper()}/{found.network.prefixlen}"


def _v4(token: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(token))
    except ValueError:
        return None


def _mask(token: str) -> str | None:
    """A dotted mask or a length (VRP and Comware take `24`)."""
    if token.isdigit():
        return token if int(token) <= 32 else None
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{token}")
    except ValueError:
        return None
    return token


def _int(low: int, high: int) -> Callable[[str], str | None]:
    def check(token: str) -> str | None:
        return str(int(token)) if token.isdigit() and low <= int(token) <= high else None
    return check


def _area_dotted(token: str) -> str | None:
    """VRP and Comware show an area as dotted decimal whether typed as `0` or `0.0.0.0`."""
    if token.isdigit() and int(token) < 2**32:
        return str(ipaddress.IPv4Address(int(token)))
    return _v4(token)


def _area_ios(token: str) -> str | None:
    return token if (token.isdigit() and int(token) < 2**32) or _v4(token) else None


def _word(token: str) -> str | None:
    return token


def _fake(token: str, alphabet: str, length: int) -> str:
    """What a device stores for a password typed in plain: a one-way hash (or cipher) of the right shape. The lab
    never keeps the typed text; the digest only makes the same password give the same line."""
    digest = hashlib.blake2b(token.encode(), digest_size=64).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest)[:length]


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./"


def _vrp_irreversible(token: str) -> str:
    if token.startswith("$1c$") and token.endswith("$"):
        return token  # a cipher text pasted from another device's configuration
    return f"$1c${_fake('salt:' + token, _B64, 10)}${_fake(token, _B64, 44)}$"


def _comware_hash(token: str) -> str:
    if token.startswith("$h$6$"):
        return token
    return f"$h$6${_fake('salt:' + token, _B64, 16)}${_fake(token, _B64 + _B64, 86)}=="


def _ios_scrypt(token: str) -> str:
    if token.startswith("$9$"):
        return token
    return f"$9${_fake('salt:' + token, _B64, 14)}${_fake(token, _B64, 43)}"


def _rgos_md5(token: str) -> str:
    if token.startswith("$1$"):
        return token
    return f"$1${_fake('salt:' + token, _B64, 4)}${_fake(token, _B64, 22)}"


_AAA_MODES = ("hwtacacs", "radius", "local", "none")


def _choice(*words: str) -> Callable[[str], str | None]:
    def check(token: str) -> str | None:
        return token if token in words else None
    return check


TYPES: dict[str, Callable[[str], str | None]] = {
    "v6": _v6, "v6if": _v6if, "v6net": _v6net, "v4": _v4, "mask": _mask, "word": _word,
    "len": _int(0, 128), "process": _int(1, 65535), "vty": _int(0, 4), "acl6": _int(2000, 2999),
    "kbps": _int(8, 4294967295), "cbs": _int(10000, 4294967295), "bandwidth": _int(1, 10000000),
    "bps": _int(8000, 2000000000), "burst": _int(1000, 512000000), "rule": _int(0, 4294967294),
    "area": _area_dotted, "area_ios": _area_ios, "acl4": _int(2000, 3999), "acl_ios": _int(1, 199),
    "vty_vrp": _int(0, 20), "vty_comware": _int(0, 63), "vty_ios": _int(0, 15), "vty_rgos": _int(0, 35),
    "minutes": _int(0, 35791), "seconds": _int(0, 59), "level": _int(0, 15), "attempts": _int(1, 10),
    "length": _int(0, 32), "days": _int(0, 999), "lock": _int(1, 360), "n": _int(0, 65535),
    "irrev": _vrp_irreversible, "hash6": _comware_hash, "scrypt": _ios_scrypt, "md5": _rgos_md5,
    "inbound": _choice("ssh", "telnet", "all"), "aaamode": _choice(*_AAA_MODES),
    "transport": _choice("ssh", "telnet", "all", "none"), "sshver": _choice("1", "2"),
    "authmode": _choice("aaa", "password", "scheme", "none"),
    "car": lambda t: t if t in ("transmit", "drop", "continue") else None,
}


@dataclass(frozen=True, slots=True)
class Command:
    pattern: tuple[str, ...]  # keywords, `{type}` values, a final `{text}` takes the rest, `{ifname}` an interface
    enters: str = ""
    replaces: str = ""  # overwrite-style command: its keyword prefix
    form: str = ""  # how the device stores it, from the canonical values: "ipv6 address {0}/{1}"


def cmd(pattern: str, enters: str = "", replaces: str = "", form: str = "") -> Command:
    return Command(tuple(pattern.split()), enters, replaces, form)


_VRP_SYSTEM = [
    cmd("sysname {word}", replaces="sysname"), cmd("interface {ifname}", enters=INTERFACE), cmd("ipv6"),
    cmd("ospfv3 {process}", enters=OSPFV3), cmd("ipv6 route-static {v6} {len} {v6}"),
    cmd("ip route-static {v4} {mask} {v4}"), cmd("ntp-service unicast-server {v4}"),
    cmd("ntp-service unicast-server ipv6 {v6}"), cmd("acl ipv6 number {acl6}", enters=ACL6),
    cmd("acl ipv6 {acl6}", enters=ACL6, form="acl ipv6 number {0}"),
    cmd("snmp-agent acl-ipv6 {acl6}", replaces="snmp-agent acl-ipv6"),
    cmd("user-interface vty {vty} {vty}", enters=VTY),
]
_COMWARE_SYSTEM = [
    cmd("sysname {word}", replaces="sysname"), cmd("interface {ifname}", enters=INTERFACE),
    cmd("ospfv3 {process}", enters=OSPFV3), cmd("ipv6 route-static {v6} {len} {v6}"),
    cmd("ip route-static {v4} {mask} {v4}"), cmd("ntp-service unicast-server {v4}"),
    cmd("acl ipv6 basic {acl6}", enters=ACL6), cmd("acl ipv6 number {acl6}", enters=ACL6, form="acl ipv6 basic {0}"),
    cmd("snmp-agent community read {word} acl ipv6 {acl6}"), cmd("line vty {vty} {vty}", enters=VTY),
]
_VRP_INTERFACE = [
    cmd("description {text}", replaces="description"), cmd("shutdown"), cmd("loopback internal"),
    cmd("ip address {v4} {mask}", replaces="ip address"), cmd("ipv6 enable"), cmd("ipv6 address {v6if}"),
    cmd("ipv6 address {v6} {len}", form="ipv6 address {0}/{1}"), cmd("ipv6 address auto link-local"),
    cmd("ospfv3 {process} area {area}", replaces="ospfv3"),
    cmd("qos lr outbound cir {kbps}", replaces="qos lr outbound"),
    cmd("qos lr outbound cir {kbps} cbs {cbs}", replaces="qos lr outbound"),
]
# The security settings of the 等保 rules (lab.ssh.secure writes them; these are the lines that set and fix them).
# VRP: S-series configuration guides (AAA, user interfaces, SNMP, information center); Comware 7: H3C security and
# login-management guides; IOS: "Cisco Guide to Harden Cisco IOS Devices"; RGOS: the RGOS configuration guides.
_VRP_SNMP = [
    cmd("snmp-agent"), cmd("snmp-agent community read {word}"), cmd("snmp-agent community read cipher {word}"),
    cmd("snmp-agent community write {word}"), cmd("snmp-agent community write cipher {word}"),
    cmd("snmp-agent sys-info version {text}", replaces="snmp-agent sys-info version"),
    cmd("snmp-agent group v3 {word} privacy"), cmd("snmp-agent group v3 {word} authentication"),
    cmd("snmp-agent group v3 {word}"),
    cmd("snmp-agent target-host trap address udp-domain {v4} params securityname {word} v3 privacy"),
    cmd("snmp-agent trap enable"),
]
_VRP_SECURITY = [
    cmd("telnet server enable"), cmd("stelnet server enable"), cmd("ftp server enable"),
    cmd("info-center loghost {v4}"), cmd("info-center loghost source {ifname}", replaces="info-center loghost source"),
    cmd("ssh server acl {acl4}", replaces="ssh server acl"), *_VRP_SNMP,
    cmd("hwtacacs-server template {word}", enters=SERVER),
]
_VRP_TERMINALS = [cmd("user-interface con 0", enters=VTY), cmd("user-interface vty {vty_vrp} {vty_vrp}", enters=VTY)]
_VRP_AAA = [
    cmd("authentication-scheme {word}", enters=AAA_SCHEME),
    cmd("local-aaa-user password policy administrator", enters=AAA_POLICY), cmd("domain {word}", enters=AAA_DOMAIN),
    cmd("local-user {word} password irreversible-cipher {irrev}", replaces="local-user {0} password"),
    cmd("local-user {word} password cipher {word}", replaces="local-user {0} password"),
    cmd("local-user {word} privilege level {level}", replaces="local-user {0} privilege level"),
    cmd("local-user {word} service-type {text}", replaces="local-user {0} service-type"),
    cmd("local-aaa-user wrong-password retry-interval {n} retry-time {attempts} block-time {lock}",
        replaces="local-aaa-user wrong-password"),
]
_VRP_SCHEME = [cmd("authentication-mode " + " ".join("{aaamode}" for _ in range(n)), replaces="authentication-mode")
               for n in (1, 2, 3)]
_VRP_POLICY = [cmd("password expire {days}", replaces="password expire"),
               cmd("password history record number {n}", replaces="password history record number")]
_VRP_DOMAIN = [cmd("hwtacacs-server {word}", replaces="hwtacacs-server"),
               cmd("authentication-scheme {word}", replaces="authentication-scheme")]
_VRP_SERVER = [cmd(f"hwtacacs-server {kind} {{v4}} {{n}}", replaces=f"hwtacacs-server {kind}")
               for kind in ("authentication", "authorization", "accounting")]
_VRP_SERVER += [cmd(f"hwtacacs-server {kind} {{v4}}", replaces=f"hwtacacs-server {kind}",
                    form=f"hwtacacs-server {kind} {{0}} 49")
                for kind in ("authentication", "authorization", "accounting")]
_VRP_SERVER += [cmd("hwtacacs-server shared-key cipher {word}", replaces="hwtacacs-server shared-key")]
_COMWARE_SERVER = [cmd(f"primary {kind} {{v4}}", replaces=f"primary {kind}")
                   for kind in ("authentication", "authorization", "accounting")]
_COMWARE_SERVER += [cmd(f"key {kind} cipher {{word}}", replaces=f"key {kind}") for kind in ("authentication",
                                                                                            "authorization")]
_COMWARE_SERVER += [cmd("user-name-format without-domain", replaces="user-name-format")]
_COMWARE_DOMAIN = [cmd("authentication login {text}", replaces="authentication login"),
                   cmd("authorization login {text}", replaces="authorization login")]
_IOS_SERVER = [cmd("server name {word}"), cmd("address ipv4 {v4}", replaces="address ipv4"),
               cmd("key 7 {word}", replaces="key"), cmd("key {word}", replaces="key")]
_TERMINAL = [
    cmd("authentication-mode {authmode}", replaces="authentication-mode"),
    cmd("protocol inbound {inbound}", replaces="protocol inbound"),
    cmd("idle-timeout {minutes} {seconds}", replaces="idle-timeout"),
    cmd("idle-timeout {minutes}", replaces="idle-timeout", form="idle-timeout {0} 0"),
    cmd("acl {acl4} inbound", replaces="acl {0}"), cmd("user privilege level {level}", replaces="user privilege level"),
]
_COMWARE_SECURITY = [
    cmd("telnet server enable"), cmd("ssh server enable"), cmd("ftp server enable"), cmd("ip http enable"),
    cmd("ip https enable"), cmd("info-center loghost {v4}"), cmd("ntp-service enable"),
    cmd("ssh server acl {acl4}", replaces="ssh server acl"), cmd("password-control enable"),
    cmd("password-control length {length}", replaces="password-control length"),
    cmd("password-control aging {days}", replaces="password-control aging"),
    cmd("password-control login-attempt {attempts} exceed lock-time {lock}",
        replaces="password-control login-attempt"),
    cmd("password-control login-attempt {attempts} exceed lock", replaces="password-control login-attempt"),
    *_VRP_SNMP, cmd("local-user {word} class manage", enters=LOCAL_USER),
    cmd("hwtacacs scheme {word}", enters=SERVER), cmd("domain {word}", enters=DOMAIN),
    cmd("line con 0", enters=VTY), cmd("line aux 0", enters=VTY),
    cmd("line vty {vty_comware} {vty_comware}", enters=VTY),
]
_COMWARE_LOCAL_USER = [
    cmd("password hash {hash6}", replaces="password"), cmd("password simple {hash6}", replaces="password",
                                                            form="password hash {0}"),
    cmd("password cipher {word}", replaces="password"), cmd("service-type {text}", replaces="service-type"),
    cmd("authorization-attribute user-role {word}", replaces="authorization-attribute user-role"),
]
_IOS_FAMILY_SECURITY = [
    cmd("aaa new-model"), cmd("aaa authentication login default {text}", replaces="aaa authentication login default"),
    cmd("username {word} privilege {level} secret {scrypt}", replaces="username {0}",
        form="username {0} privilege {1} secret 9 {2}"),
    cmd("username {word} privilege {level} secret 9 {scrypt}", replaces="username {0}"),
    cmd("username {word} secret {scrypt}", replaces="username {0}", form="username {0} secret 9 {1}"),
    cmd("username {word} privilege {level} password {text}", replaces="username {0}"),
    cmd("ip ssh version {sshver}", replaces="ip ssh version"),
    cmd("snmp-server community {word} RO"), cmd("snmp-server community {word} RO {word}"),
    cmd("snmp-server community {word} ro"), cmd("snmp-server group {word} v3 priv"),
    cmd("snmp-server group {word} v3 auth"), cmd("snmp-server group {word} v3 noauth"),
    cmd("snmp-server enable traps"), cmd("snmp-server enable traps {text}"),
    cmd("line con 0", enters=VTY),
]
_IOS_SECURITY = [
    cmd("aaa group server tacacs+ {word}", enters=SERVER), cmd("tacacs server {word}", enters=SERVER),
    cmd("aaa authorization exec default {text}", replaces="aaa authorization exec default"),
    *_IOS_FAMILY_SECURITY, cmd("enable secret {scrypt}", replaces="enable secret", form="enable secret 9 {0}"),
    cmd("enable secret 9 {scrypt}", replaces="enable secret"),
    cmd("enable password {text}", replaces="enable password"),
    cmd("security passwords min-length {length}", replaces="security passwords min-length"),
    cmd("login block-for {n} attempts {attempts} within {n}", replaces="login block-for"),
    cmd("aaa local authentication attempts max-fail {attempts}", replaces="aaa local authentication attempts"),
    cmd("ip http server"), cmd("ip http secure-server"), cmd("logging host {v4}"),
    cmd("logging {v4}", form="logging host {0}"),
    cmd("snmp-server host {v4} version 3 priv {word}"), cmd("line vty {vty_ios} {vty_ios}", enters=VTY),
]
_RGOS_SECURITY = [
    *_IOS_FAMILY_SECURITY, cmd("enable secret {md5}", replaces="enable secret", form="enable secret 5 {0}"),
    cmd("enable secret 5 {md5}", replaces="enable secret"), cmd("enable password {text}", replaces="enable password"),
    cmd("tacacs-server host {v4} key 7 {word}", replaces="tacacs-server host {0}"),
    cmd("tacacs-server host {v4} key {word}", replaces="tacacs-server host {0}"),
    cmd("password policy min-size {length}", replaces="password policy min-size"),
    cmd("password policy life-cycle {days}", replaces="password policy life-cycle"), cmd("password policy strong"),
    cmd("enable service ssh-server"), cmd("enable service telnet-server"), cmd("enable service web-server"),
    cmd("enable service web-server https"), cmd("logging server {v4}"),
    cmd("snmp-server host {v4} traps version 3 priv {word}"), cmd("line vty {vty_rgos} {vty_rgos}", enters=VTY),
]
_IOS_TERMINAL = [
    cmd("exec-timeout {minutes} {seconds}", replaces="exec-timeout"),
    cmd("exec-timeout {minutes}", replaces="exec-timeout", form="exec-timeout {0} 0"),
    cmd("transport input {transport}", replaces="transport input"),
    cmd("transport input {transport} {transport}", replaces="transport input"),
    cmd("access-class {word} in", replaces="access-class"), cmd("logging synchronous"),
    cmd("password 7 {word}", replaces="password"), cmd("password {word}", replaces="password"),
]

_COMWARE_INTERFACE = [c for c in _VRP_INTERFACE if c.pattern[:2] != ("ipv6", "enable")
                      and c.pattern[0] != "loopback"]
_OSPFV3 = [cmd("router-id {v4}", replaces="router-id"), cmd("area {area}", enters=AREA)]
_ACL6 = [cmd(f"rule {{rule}} {action}{source}") for action in ("permit", "deny")
         for source in ("", " source {v6net}", " source any")]
_ACL6 += [cmd(f"rule {action}{source}") for action in ("permit", "deny")
          for source in ("", " source {v6net}", " source any")]
_VTY = [cmd("acl ipv6 {acl6} inbound", replaces="acl ipv6")]

_IOS_GLOBAL = [
    cmd("hostname {word}", replaces="hostname"), cmd("interface {ifname}", enters=INTERFACE),
    cmd("ipv6 router ospf {process}", enters=ROUTER), cmd("ipv6 route {v6net} {v6}"),
    cmd("ip route {v4} {v4} {v4}"), cmd("ntp server {v4}"), cmd("ipv6 access-list {word}", enters=IPV6_ACL),
    cmd("snmp-server community {word} RO ipv6 {word}"), cmd("line vty {vty} {vty}", enters=VTY),
]
_IOS_INTERFACE = [
    cmd("description {text}", replaces="description"), cmd("shutdown"),
    cmd("ip address {v4} {v4}", replaces="ip address"), cmd("ipv6 address {v6if}"), cmd("ipv6 enable"),
    cmd("ipv6 ospf {process} area {area_ios}", replaces="ipv6 ospf"),
    cmd("bandwidth {bandwidth}", replaces="bandwidth"),
    cmd("rate-limit output {bps} {burst} {burst} conform-action {car} exceed-action {car}",
        replaces="rate-limit output"),
]
_IOS_ACL = [cmd(f"{action} ipv6 {src} {dst}") for action in ("permit", "deny")
            for src in ("any", "{v6net}") for dst in ("any", "{v6net}")]
_IOS_ROUTER = [cmd("router-id {v4}", replaces="router-id")]
_IOS_VTY = [cmd("ipv6 access-class {word} in", replaces="ipv6 access-class")]

GRAMMAR: dict[str, dict[str, list[Command]]] = {
    "huawei_vrp": {SYSTEM: [*_VRP_SYSTEM, *_VRP_SECURITY, cmd("http server enable"), cmd("aaa", enters=AAA),
                            *_VRP_TERMINALS],
                   INTERFACE: _VRP_INTERFACE, OSPFV3: _OSPFV3, AREA: [], ACL6: _ACL6, VTY: [*_VTY, *_TERMINAL],
                   AAA: _VRP_AAA, AAA_SCHEME: _VRP_SCHEME, AAA_POLICY: _VRP_POLICY, AAA_DOMAIN: _VRP_DOMAIN,
                   SERVER: _VRP_SERVER},
    "hp_comware": {SYSTEM: [*_COMWARE_SYSTEM, *_COMWARE_SECURITY], INTERFACE: _COMWARE_INTERFACE, OSPFV3: _OSPFV3,
                   AREA: [], ACL6: _ACL6, VTY: [*_VTY, *_TERMINAL], LOCAL_USER: _COMWARE_LOCAL_USER,
                   SERVER: _COMWARE_SERVER, DOMAIN: _COMWARE_DOMAIN},
    "cisco_ios": {SYSTEM: [*_IOS_GLOBAL, cmd("ipv6 unicast-routing"), *_IOS_SECURITY], INTERFACE: _IOS_INTERFACE,
                  ROUTER: _IOS_ROUTER, IPV6_ACL: _IOS_ACL, VTY: [*_IOS_VTY, *_IOS_TERMINAL], SERVER: _IOS_SERVER},
    "ruijie_os": {SYSTEM: [*_IOS_GLOBAL, *_RGOS_SECURITY], INTERFACE: _IOS_INTERFACE, ROUTER: _IOS_ROUTER,
                  IPV6_ACL: _IOS_ACL, VTY: [*_IOS_VTY, *_IOS_TERMINAL]},
}

# Interfaces a device creates on first mention; physical ports are only those it has.
LOGICAL = {
    "huawei_vrp": re.compile(r"^(LoopBack|Vlanif)(\d+)$", re.I),
    "hp_comware": re.compile(r"^(LoopBack|Vlan-interface)(\d+)$", re.I),
    "cisco_ios": re.compile(r"^(Loopback|Vlan)(\d+)$", re.I),
    "ruijie_os": re.compile(r"^(Loopback|VLAN) ?(\d+)$", re.I),
}
_LOGICAL_NAMES = {"huawei_vrp": ("LoopBack", "Vlanif"), "hp_comware": ("LoopBack", "Vlan-interface"),
                  "cisco_ios": ("Loopback", "Vlan"), "ruijie_os": ("Loopback ", "VLAN ")}


def interface_name(platform: str, typed: str, known: Iterable[str]) -> str | None:
    """The interface a typed name means: one the device has (case and spaces ignored, as the CLIs do), or a
    logical one it creates; None when there is no such interface."""
    squeezed = typed.replace(" ", "").lower()
    for name in known:
        if name.replace(" ", "").lower() == squeezed:
            return name
    found = LOGICAL[platform].match(typed.replace(" ", "") if platform != "ruijie_os" else typed)
    if found is None:
        return None
    kind = next(k for k in _LOGICAL_NAMES[platform] if k.strip().lower() == found.group(1).lower())
    return f"{kind}{int(found.group(2))}"


def is_logical(platform: str, name: str) -> bool:
    return LOGICAL[platform].match(name) is not None


def _offsets(line: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]


def _match(platform: str, command: Command, tokens: list[tuple[int, str]], line: str,
           interfaces: Iterable[str]) -> tuple[int, str, list[str], list[str]]:
    """(tokens taken, failure kind or "", canonical values). A failure at a keyword is "unrecognized", at a value
    "wrong"; running out of tokens is "incomplete"; "" with all tokens taken is a whole match."""
    values: list[str] = []
    words: list[str] = []
    for i, part in enumerate(command.pattern):
        if i >= len(tokens):
            return i, "incomplete", words, values
        offset, token = tokens[i]
        if part in ("{text}", "{ifname}"):
            rest = line[offset:].strip()
            if part == "{ifname}":
                name = interface_name(platform, rest, interfaces)
                if name is None:
                    return i, "wrong", words, values
                rest = name
            values.append(rest)
            words.append(rest)
            return len(tokens), "", words, values
        if part.startswith("{"):
            canonical = TYPES[part[1:-1]](token)
            if canonical is None:
                return i, "wrong", words, values
            values.append(canonical)
            words.append(canonical)
        elif token == part:
            words.append(token)
        else:
            return i, "unrecognized", words, values
    if len(tokens) > len(command.pattern):
        return len(command.pattern), "unrecognized", words, values
    if command.form:
        return len(tokens), "", command.form.format(*values).split(" "), values
    return len(tokens), "", words, values


def parse(platform: str, view: str, line: str, interfaces: Iterable[str] = ()) -> Outcome:
    """What the device makes of one line typed in `view`; `interfaces` are the names it knows."""
    line = line.strip()
    tokens = _offsets(line)
    negation = cli_of(platform).negation
    negated = bool(tokens) and tokens[0][1] == negation
    body = tokens[1:] if negated else tokens
    known = list(interfaces)
    best: tuple[int, str] = (-1, "unrecognized")
    for command in GRAMMAR[platform].get(view, []):
        taken, failure, words, values = _match(platform, command, body, line, known)
        if not failure:
            # `replaces` may name the command's own values: `local-user {0} password` is one user's password
            return Accepted(" ".join(words), "" if negated else command.enters, command.replaces.format(*values),
                            negated)
        if negated and failure == "incomplete" and taken > 0:
            # `undo description`, `no ipv6 ospf 1`, `undo local-user admin`: naming the start of a command removes
            # what it covers (all of it, not only the part a value-dependent `replaces` names).
            replaces = "" if "{" in command.replaces else command.replaces
            return Accepted(" ".join(words), "", replaces, True, exact=False)
        if taken > best[0]:
            best = (taken, failure)
    taken, failure = best
    if not body:
        return Rejected(len(line) + 1, "incomplete")
    if failure == "incomplete":
        return Rejected(len(line) + 1, "incomplete")
    return Rejected(body[min(max(taken, 0), len(body) - 1)][0], failure)


def error_text(platform: str, prompt_width: int, rejected: Rejected) -> str:
    """The caret line and the message, as the device prints them after the echoed line."""
    caret = " " * (prompt_width + rejected.column) + "^\n"
    family = cli_of(platform).family
    if family == "ios":
        if rejected.kind == "incomplete":
            return "% Incomplete command.\n\n"
        return caret + "% Invalid input detected at '^' marker.\n\n"
    words = {"unrecognized": "Unrecognized command", "wrong": "Wrong parameter", "incomplete": "Incomplete command"}
    lead = " % " if platform == "hp_comware" else "Error: "
    return caret + f"{lead}{words[rejected.kind]} found at '^' position.\n"


def sub_view_of(sub: str) -> str:
    """The view a line inside a section opens: OSPFv3 `area X`, VRP's `authentication-scheme S`,
    `local-aaa-user password policy administrator`."""
    if sub.startswith("authentication-scheme "):
        return AAA_SCHEME
    if sub.startswith("local-aaa-user password policy"):
        return AAA_POLICY
    if sub.startswith("domain "):
        return AAA_DOMAIN
    return AREA


def view_of(head: str) -> str:
    """The view a configuration section's head opens."""
    for prefix, view in VIEW_HEADS.items():
        if head.startswith(prefix):
            return view
    return INTERFACE


VIEW_HEADS: Mapping[str, str] = {
    "interface ": INTERFACE, "ospfv3 ": OSPFV3, "acl ipv6 ": ACL6, "user-interface ": VTY, "line ": VTY,
    "ipv6 router ospf": ROUTER, "ipv6 access-list": IPV6_ACL, "aaa group server ": SERVER, "aaa": AAA,
    "local-user ": LOCAL_USER, "hwtacacs-server template ": SERVER, "hwtacacs scheme ": SERVER,
    "tacacs server ": SERVER, "domain ": DOMAIN,
}
