"""The security sections of a simulated device's configuration: what its `lab.hardening` level implies, per platform,
in the platform's own syntax. Pure: `security_sections(plan, community)`; the order they print in is
`lab.ssh.config`'s (`_GLOBAL_ORDER`), as for lines typed later.

Each rule of /work/shared/compliance/mlps-l3-rules.md that the device breaks is broken one of the ways real devices
break it (a variant drawn from the device name): telnet left on globally, or in one VTY block only; a local account
first in the login list; a log "server" that is only `info-center loghost source`; `sntp server` for `ntp server` on
RGOS; a v2c community, or a v3 group without privacy. A rule it keeps is kept the way the vendor's hardening guide
writes it. Every secret is fake: hashes and cipher texts of the right shape made from a digest of the device name.
The log, NTP, TACACS+ and NMS servers are in the city's own management range (127.16.0.0/16, the data centre and the
city core), and so is the management ACL.

The SNMP community, where a device keeps one, is the lab's real community (`community`, the secret the inventory
polls with and the agents answer), so a configuration never names a community the device does not answer. Without
it (an SSH lab alone, in tests) a device that breaks `snmp-v3-priv-only` does so with a v3 group lacking privacy.
Every device also holds the v3 user the inventory polls with under `--snmp v3` (`lab.export.V3_USER`, SHA/AES-128,
group with privacy); under v2c the lab's agents keep answering the community on a device whose configuration no longer
names one, as the lab did before configurations had SNMP sections.

Syntax and order, from the vendors' guides and real configurations found through the search tool:
- Huawei VRP: S-series "Configuration Guide - Security, Local attack defense / AAA" (`aaa`, `authentication-scheme`,
  `authentication-mode hwtacacs local`, `local-user U password irreversible-cipher`, `local-aaa-user password policy
  administrator` / `password expire`, `local-aaa-user wrong-password retry-interval retry-time block-time`), "Basic
  Configuration - user interfaces" (`user-interface vty 0 4`, `authentication-mode aaa`, `protocol inbound ssh`,
  `idle-timeout 5 0`, `acl 2000 inbound`), "Device Management - SNMP" (`snmp-agent sys-info version v3`,
  `snmp-agent group v3 G privacy`, `snmp-agent target-host trap address udp-domain A params securityname U v3
  privacy`, `snmp-agent trap enable`); the order of a real CE6880 `display current-configuration`
  (tests/compliance/cases/huawei_vrp/real-ce6880: `hwtacacs server template` and `aaa` before the interfaces,
  `snmp-agent`, `stelnet server enable`, `user-interface` last).
- H3C Comware 7: "Security Configuration Guide - Password control" (`password-control enable|length|aging|
  login-attempt N exceed lock-time M`), "Login management" (`line vty 0 63`, `authentication-mode scheme`,
  `protocol inbound ssh`, `idle-timeout`, `acl 2000 inbound`), "AAA" (`hwtacacs scheme`, `domain system`,
  `authentication login hwtacacs-scheme S local`, `local-user U class manage`, `password hash $h$6$…`); the order of
  a real MER5200 configuration (tests/compliance/cases/hp_comware/real-mer5200).
- Cisco IOS: "Cisco Guide to Harden Cisco IOS Devices" (`service password-encryption`, `enable secret`,
  `security passwords min-length`, `login block-for`, `aaa new-model`, `aaa authentication login default group`,
  `ip ssh version 2`, `no ip http server`, `logging host`, `snmp-server group G v3 priv`, `line vty 0 4` with
  `access-class 10 in`, `exec-timeout`, `transport input ssh`, `ntp server`); the order of `show running-config`
  (NAPALM's CSR1 capture, tests/compliance/cases/cisco_ios/real-napalm-csr1).
- Ruijie RGOS: "RGOS Configuration Guide - Password policy" (`password policy min-size|life-cycle|strong`), "Login
  management" (`enable service ssh-server`, `enable service telnet-server`, `enable service web-server`),
  "Syslog" (`logging server A`), and the order of a real S2628G `sh run` (tests/compliance/cases/ruijie_os/
  real-s2628g: `hostname`, `aaa`, `username`, `ip ssh version 2`, `logging server`, `enable secret`,
  `enable service`, interfaces, then `snmp-server`, `line`, `ntp`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from lab.city import DevicePlan
from lab.export import V3_USER

Section = tuple[str, tuple[str, ...]]
T = TypeVar("T")

LOGHOST, NTP, NTP2, TACACS, NMS = "127.16.0.20", "127.16.0.30", "127.16.0.31", "127.16.0.40", "127.16.0.50"
MGMT_WILDCARD = ("127.16.0.0", "0.0.255.255")  # the city's data centre and core: where operators log in from
ACCOUNT = "netops"  # the named operator account a hardened device keeps
DEFAULT_ACCOUNTS = {"huawei_vrp": ("admin", "huawei"), "hp_comware": ("admin", "h3c"), "cisco_ios": ("admin", "cisco"),
                    "ruijie_os": ("admin", "ruijie")}
NMS_GROUP, LEGACY_GROUP = "yiwang-nms", "legacy-nms"
TACACS_NAME = "yiwang-tac"
_PUNCT = "!*+-.:;<=>?@[]^_{|}~,()"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def fake(seed: str, alphabet: str, length: int) -> str:
    """A string of the right shape for a cipher text or a hash, from a digest: no secret behind it."""
    out, counter = "", 0
    while len(out) < length:
        digest = hashlib.blake2b(f"{seed}:{counter}".encode(), digest_size=64).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return out[:length]


class _Draw:
    """The device's hardening and a deterministic choice among the ways a rule is broken."""

    def __init__(self, plan: DevicePlan) -> None:
        self.plan = plan
        self.rng = random.Random(f"{plan.name}:secure")

    def bad(self, rule: str) -> bool:
        return plan_breaks(self.plan, rule)

    def pick(self, options: Sequence[T]) -> T:
        return self.rng.choice(list(options))

    def secret(self, purpose: str, alphabet: str, length: int) -> str:
        return fake(f"{self.plan.name}:{purpose}", alphabet, length)


def plan_breaks(plan: DevicePlan, rule: str) -> bool:
    return plan.hardening.breaks(rule)


def _one(*lines: str) -> list[Section]:
    return [(line, ()) for line in lines]


def security_sections(plan: DevicePlan, community: str | None = None) -> list[Section]:
    """The sections to add to the device's hostname and interfaces, in the order the device prints them."""
    build: dict[str, Callable[[_Draw, str | None], list[Section]]] = {
        "huawei_vrp": _vrp, "hp_comware": _comware, "cisco_ios": _ios, "ruijie_os": _rgos}
    if plan.platform not in build:
        return []
    return build[plan.platform](_Draw(plan), community)


# --- Huawei VRP ----------------------------------------------------------------------------------------------------

def _vrp_irreversible(d: _Draw, user: str) -> str:
    return f"$1c${d.secret(user + ':salt', _B64[:62] + _PUNCT, 10)}${d.secret(user, _B64[:62] + _PUNCT, 44)}$"


def _vrp_cipher(d: _Draw, purpose: str) -> str:
    return f"%^%#{d.secret(purpose, _B64[:62] + _PUNCT, 40)}%^%#"


def _vrp(d: _Draw, community: str | None) -> list[Section]:
    out: list[Section] = []
    telnet = d.pick(("server", "vty", "split", "server")) if d.bad("remote-mgmt-encrypted") else ""
    if telnet == "server":
        out += _one("telnet server enable")
    if d.bad("insecure-services-off"):
        out += _one(*d.pick((("ftp server enable",), ("http server enable",), ("ftp server enable",
                                                                                "http server enable"))))
    first_port = d.plan.interfaces[0].name if d.plan.interfaces else "Vlanif1"
    if not d.bad("syslog-server"):
        out += _one("info-center loghost source " + first_port, f"info-center loghost {LOGHOST}")
    elif d.pick((True, False)):
        out += _one("info-center loghost source " + first_port)  # where logs leave from: no server
    central = "" if not d.bad("central-aaa") else d.pick(("local", "local-first"))
    if central != "local":
        out.append(("hwtacacs-server template " + TACACS_NAME, (
            f"hwtacacs-server authentication {TACACS} 49", f"hwtacacs-server authorization {TACACS} 49",
            f"hwtacacs-server accounting {TACACS} 49",
            f"hwtacacs-server shared-key cipher {_vrp_cipher(d, 'tacacs-key')}")))
    if not d.bad("mgmt-acl") or d.pick((True, False)):
        out.append(("acl number 2000", (f"rule 5 permit source {' '.join(MGMT_WILDCARD)}", "rule 10 deny")))
    out.append(("aaa", _vrp_aaa(d, central)))
    out += _vrp_snmp(d, community)
    out += _one("stelnet server enable", f"ssh user {ACCOUNT} authentication-type password",
                f"ssh user {ACCOUNT} service-type stelnet")
    if not d.bad("ntp-server"):
        out += _one(f"ntp-service unicast-server {NTP}", f"ntp-service unicast-server {NTP2}")
    out += _terminals(d, "vrp", telnet)
    return out


def _vrp_aaa(d: _Draw, central: str) -> tuple[str, ...]:
    mode = {"": "hwtacacs local", "local": "local", "local-first": "local hwtacacs"}[central]
    body = ["authentication-scheme default", f" authentication-mode {mode}", "authorization-scheme default",
            "accounting-scheme default"]
    if not d.bad("login-lockout"):
        body.append("local-aaa-user wrong-password retry-interval 5 retry-time 5 block-time 10")
    elif d.pick((True, False)):
        body.append("local-aaa-user wrong-password retry-interval 5 retry-time 10 block-time 5")
    if not d.bad("pw-policy"):
        body += ["local-aaa-user password policy administrator", " password history record number 5",
                 " password expire 90"]
    elif d.pick((True, False)):
        body += ["local-aaa-user password policy administrator", f" password expire {d.pick((0, 180))}"]
    body += ["domain default", "domain default_admin"]
    if central != "local":
        body.append(f" hwtacacs-server {TACACS_NAME}")
    users = [ACCOUNT] + ([d.pick(DEFAULT_ACCOUNTS["huawei_vrp"])] if d.bad("no-default-account") else [])
    for user in users:
        if d.bad("pw-irreversible"):
            body.append(f"local-user {user} password cipher {_vrp_cipher(d, user)}")
        else:
            body.append(f"local-user {user} password irreversible-cipher {_vrp_irreversible(d, user)}")
        body += [f"local-user {user} privilege level 15", f"local-user {user} service-type ssh terminal"]
    return tuple(body)


def _vrp_snmp(d: _Draw, community: str | None) -> list[Section]:
    """Comware prints the same `snmp-agent` lines (its usm-user line differs)."""
    comware = d.plan.platform == "hp_comware"
    mac = (d.plan.interfaces[0].mac if d.plan.interfaces else "").replace(":", "").upper() or "025900000000"
    weak = d.pick(("community", "group")) if d.bad("snmp-v3-priv-only") else ""
    if weak == "community" and community is None:
        weak = "group"
    lines = ["snmp-agent"] if comware else ["snmp-agent", f"snmp-agent local-engineid 800007DB03{mac}"]
    if weak == "community":
        lines.append(f"snmp-agent community read {community}")
    lines.append("snmp-agent sys-info version " + ("v2c v3" if weak == "community" else "v3"))
    lines.append(f"snmp-agent group v3 {NMS_GROUP} privacy")
    if weak == "group":
        lines.append(f"snmp-agent group v3 {LEGACY_GROUP} authentication")
    missing = d.pick(("host", "enable")) if d.bad("snmp-traps-to-nms") else ""
    if missing != "host":
        lines.append(f"snmp-agent target-host trap address udp-domain {NMS} params securityname {V3_USER} v3 "
                     "privacy")
    if comware:
        lines.append(f"snmp-agent usm-user v3 {V3_USER} {NMS_GROUP} cipher authentication-mode sha "
                     f"$c$3${d.secret('v3-auth', _B64, 44)} privacy-mode aes128 $c$3${d.secret('v3-priv', _B64, 44)}")
    else:
        lines += [f"snmp-agent usm-user v3 {V3_USER} group {NMS_GROUP}",
                  f"snmp-agent usm-user v3 {V3_USER} authentication-mode sha cipher {_vrp_cipher(d, 'v3-auth')}",
                  f"snmp-agent usm-user v3 {V3_USER} privacy-mode aes128 cipher {_vrp_cipher(d, 'v3-priv')}"]
    if missing != "enable":
        lines.append("snmp-agent trap enable")
    return _one(*lines)


# --- H3C Comware 7 -------------------------------------------------------------------------------------------------

def _comware_cipher(d: _Draw, purpose: str) -> str:
    return f"$c$3${d.secret(purpose, _B64, 44)}"


def _comware_hash(d: _Draw, user: str) -> str:
    return f"$h$6${d.secret(user + ':salt', _B64, 16)}${d.secret(user, _B64, 86)}=="


def _comware(d: _Draw, community: str | None) -> list[Section]:
    out: list[Section] = []
    telnet = d.pick(("server", "vty", "server")) if d.bad("remote-mgmt-encrypted") else ""
    if telnet == "server":
        out += _one("telnet server enable")
    if not d.bad("pw-policy"):
        out += _one("password-control enable", "password-control length 10", "password-control aging 90")
    else:
        out += _one(*d.pick((("password-control enable", "password-control length 6", "password-control aging 90"),
                             ("password-control enable", "password-control length 10",
                              "password-control aging 180"), ())))
    if not d.bad("login-lockout"):
        out += _one("password-control login-attempt 3 exceed lock-time 10")
    elif d.pick((True, False)):
        out += _one("password-control login-attempt 10 exceed lock-time 5")
    if not d.bad("syslog-server"):
        out += _one(f"info-center loghost {LOGHOST}")
    if not d.bad("ntp-server"):
        out += _one("ntp-service enable", f"ntp-service unicast-server {NTP}", f"ntp-service unicast-server {NTP2}")
    out += _one("ssh server enable")
    if d.bad("insecure-services-off"):
        out += _one(*d.pick((("ftp server enable",), ("ip http enable",), ("ftp server enable", "ip http enable"))))
    if not d.bad("mgmt-acl") or d.pick((True, False)):
        out.append(("acl basic 2000", (f"rule 5 permit source {' '.join(MGMT_WILDCARD)}", "rule 10 deny")))
    out += _vrp_snmp(d, community)
    out += _terminals(d, "comware", telnet)
    central = "" if not d.bad("central-aaa") else d.pick(("local", "local-first", "undefined"))
    if central in ("", "local-first"):
        out.append((f"hwtacacs scheme {TACACS_NAME}", (
            f"primary authentication {TACACS}", f"primary authorization {TACACS}", f"primary accounting {TACACS}",
            f"key authentication cipher {_comware_cipher(d, 'tacacs-auth')}",
            f"key authorization cipher {_comware_cipher(d, 'tacacs-author')}", "user-name-format without-domain")))
    login = {"": f"hwtacacs-scheme {TACACS_NAME} local", "local": "local",
             "local-first": f"local hwtacacs-scheme {TACACS_NAME}",
             "undefined": f"hwtacacs-scheme {TACACS_NAME} local"}[central]
    out.append(("domain system", (f"authentication login {login}", f"authorization login {login}")))
    users = [ACCOUNT] + ([d.pick(DEFAULT_ACCOUNTS["hp_comware"])] if d.bad("no-default-account") else [])
    for user in users:
        password = (f"password cipher {_comware_cipher(d, user)}" if d.bad("pw-irreversible")
                    else f"password hash {_comware_hash(d, user)}")
        out.append((f"local-user {user} class manage", (
            password, "service-type ssh terminal", "authorization-attribute user-role network-admin")))
    return out


# --- terminal lines (all four) -------------------------------------------------------------------------------------

def _terminals(d: _Draw, family: str, telnet: str) -> list[Section]:
    """Console and VTY blocks. `telnet`: "" (SSH only), "server" (the global switch), "vty" (every VTY block takes
    telnet), "split" (the second VTY block only)."""
    idle = d.pick(("vty", "con")) if d.bad("idle-timeout") else ""
    bad_idle = d.pick(("0 0", "30 0", "60 0"))
    acl = not d.bad("mgmt-acl")
    if family == "vrp":
        con = ["authentication-mode aaa", f"idle-timeout {bad_idle if idle == 'con' else '5 0'}"]
        blocks: list[tuple[str, list[str]]] = [("user-interface con 0", con)]
        for i, head in enumerate(("user-interface vty 0 4", "user-interface vty 16 20")):
            body = (["acl 2000 inbound"] if acl else []) + ["authentication-mode aaa", "user privilege level 15"]
            body.append(f"idle-timeout {bad_idle if idle == 'vty' else '10 0'}")
            weak = telnet == "vty" or (telnet == "split" and i == 1)
            body.append("protocol inbound " + (d.pick(("telnet", "all")) if weak else "ssh"))
            blocks.append((head, body))
        return [(h, tuple(b)) for h, b in blocks]
    if family == "comware":
        vty = ["authentication-mode scheme"] + (["acl 2000 inbound"] if acl else [])
        vty += ["protocol inbound " + (d.pick(("telnet", "all")) if telnet == "vty" else "ssh"),
                f"idle-timeout {bad_idle if idle == 'vty' else '10 0'}"]
        return [("line con 0", ("authentication-mode scheme", f"idle-timeout {bad_idle if idle == 'con' else '5 0'}")),
                ("line vty 0 63", tuple(vty))]
    # IOS and RGOS
    lines: list[Section] = [("line con 0", (f"exec-timeout {bad_idle if idle == 'con' else '5 0'}",
                                             "logging synchronous"))]
    last = "15" if d.plan.platform == "cisco_ios" else "35"
    for i, head in enumerate(("line vty 0 4", f"line vty 5 {last}")):
        body = ([f"access-class {'10' if d.plan.platform == 'cisco_ios' else 'YIWANG-MGMT'} in"] if acl else [])
        body.append(f"exec-timeout {bad_idle if idle == 'vty' else '10 0'}")
        if d.bad("pw-irreversible") and d.plan.platform == "cisco_ios" and i == 0:
            body.append(f"password 7 {_type7(d, 'vty')}")
        weak = telnet == "vty" or (telnet == "split" and i == 1)
        if not (weak and d.pick(("missing", "named")) == "missing"):
            body.append("transport input " + (d.pick(("telnet ssh", "all", "telnet")) if weak else "ssh"))
        lines.append((head, tuple(body)))
    return lines


# --- Cisco IOS -----------------------------------------------------------------------------------------------------

def _type7(d: _Draw, purpose: str) -> str:
    """Cisco's type 7: two decimal digits (the key offset, 00-15), then hex pairs."""
    return f"{int(d.secret(purpose + ':offset', '0123456789', 2)) % 16:02d}" + d.secret(purpose, "0123456789ABCDEF", 18)


def _md5(d: _Draw, purpose: str) -> str:
    return f"$1${d.secret(purpose + ':salt', _B64[:62] + './', 4)}${d.secret(purpose, _B64[:62] + './', 22)}"


def _scrypt(d: _Draw, purpose: str) -> str:
    return f"$9${d.secret(purpose + ':salt', _B64[:62] + './', 14)}${d.secret(purpose, _B64[:62] + './', 43)}"


def _ios(d: _Draw, community: str | None) -> list[Section]:
    out: list[Section] = _one("service timestamps debug datetime msec", "service timestamps log datetime msec",
                              "service password-encryption")
    if not d.bad("pw-policy"):
        out += _one("security passwords min-length 10")
    elif d.pick((True, False)):
        out += _one("security passwords min-length 6")
    out += _one("logging buffered 64000")  # the local buffer: not a log server
    weak_password = d.bad("pw-irreversible")
    out += _one(f"enable password 7 {_type7(d, 'enable')}" if weak_password and d.pick((True, False))
                else f"enable secret 9 {_scrypt(d, 'enable')}")
    central = "" if not d.bad("central-aaa") else d.pick(("none", "local-first"))
    if central != "none":
        out += _one("aaa new-model")
        out.append((f"aaa group server tacacs+ {TACACS_NAME.upper()}", (f"server name {TACACS_NAME.upper()}-1",)))
        login = (f"group {TACACS_NAME.upper()} local" if central == "" else f"local group {TACACS_NAME.upper()}")
        out += _one(f"aaa authentication login default {login}", f"aaa authorization exec default {login}")
        if not d.bad("login-lockout"):
            out += _one("aaa local authentication attempts max-fail 5")
        out += _one("aaa session-id common")
    if not d.bad("login-lockout") and central == "none":
        out += _one("login block-for 300 attempts 5 within 120")
    elif d.bad("login-lockout") and d.pick((True, False)):
        out += _one("login block-for 60 attempts 10 within 60")
    out += _one("ip domain name egov.hg.local")
    users = [ACCOUNT] + ([d.pick(DEFAULT_ACCOUNTS["cisco_ios"])] if d.bad("no-default-account") else [])
    for user in users:
        if weak_password:
            out += _one(f"username {user} privilege 15 password 7 {_type7(d, user)}")
        else:
            out += _one(f"username {user} privilege 15 secret 9 {_scrypt(d, user)}")
    ssh = "1" if d.bad("remote-mgmt-encrypted") and d.pick((True, False, False)) else "2"
    out += _one(f"ip ssh version {ssh}")
    out += _one("ip forward-protocol nd")
    out += _one("ip http server" if d.bad("insecure-services-off") else "no ip http server",
                "no ip http secure-server" if d.bad("insecure-services-off") else "ip http secure-server")
    if not d.bad("syslog-server"):
        out += _one(f"logging host {LOGHOST}")
    out += _one(f"access-list 10 permit {' '.join(MGMT_WILDCARD)}")
    out += _ios_snmp(d, community, "RO")
    if central != "none":
        out.append((f"tacacs server {TACACS_NAME.upper()}-1", (f"address ipv4 {TACACS}",
                                                                f"key 7 {_type7(d, 'tacacs')}")))
    telnet = d.pick(("vty", "split")) if d.bad("remote-mgmt-encrypted") and ssh == "2" else ""
    out += _terminals(d, "ios", telnet)
    if not d.bad("ntp-server"):
        out += _one(f"ntp server {NTP}", f"ntp server {NTP2}")
    return out


def _ios_snmp(d: _Draw, community: str | None, access: str) -> list[Section]:
    weak = d.pick(("community", "group")) if d.bad("snmp-v3-priv-only") else ""
    if weak == "community" and community is None:
        weak = "group"
    lines = []
    if weak == "community":
        lines.append(f"snmp-server community {community} {access} 10" if access == "RO"
                     else f"snmp-server community {community} ro")
    lines.append(f"snmp-server group {NMS_GROUP} v3 priv")
    if weak == "group":
        lines.append(f"snmp-server group {LEGACY_GROUP} v3 auth")
    missing = d.pick(("host", "enable")) if d.bad("snmp-traps-to-nms") else ""
    if missing != "enable":
        lines.append("snmp-server enable traps snmp linkdown linkup coldstart" if d.plan.platform == "cisco_ios"
                     else "snmp-server enable traps")
    if missing != "host":
        lines.append(f"snmp-server host {NMS} version 3 priv {V3_USER}" if d.plan.platform == "cisco_ios"
                     else f"snmp-server host {NMS} traps version 3 priv {V3_USER}")
    return _one(*lines)


# --- Ruijie RGOS ---------------------------------------------------------------------------------------------------

def _rgos(d: _Draw, community: str | None) -> list[Section]:
    out: list[Section] = []
    if not d.bad("pw-policy"):
        out += _one("password policy min-size 8", "password policy life-cycle 90", "password policy strong")
    elif d.pick((True, False)):
        out += _one("password policy min-size 6", "password policy life-cycle 180")
    if not d.bad("ntp-server"):
        pass  # RGOS prints `ntp server` at the end
    elif d.pick((True, False)):
        out += _one(f"sntp server {NTP}", "sntp enable")  # SNTP, not NTP
    central = "" if not d.bad("central-aaa") else d.pick(("none", "local-first"))
    if central != "none":
        login = "group tacacs+ local" if central == "" else "local group tacacs+"
        out += _one("aaa new-model", f"aaa authentication login default {login}")
    weak_password = d.bad("pw-irreversible")
    users = [ACCOUNT] + ([d.pick(DEFAULT_ACCOUNTS["ruijie_os"])] if d.bad("no-default-account") else [])
    for user in users:
        if weak_password:
            out += _one(f"username {user} password 7 {_type7(d, user)}", f"username {user} privilege 15")
        else:
            out += _one(f"username {user} privilege 15 secret 5 {_md5(d, user)}")
    out += _one("service password-encryption", "ip ssh version 2")
    if central != "none":
        out += _one(f"tacacs-server host {TACACS} key 7 {_type7(d, 'tacacs')}")
    if not d.bad("syslog-server"):
        out += _one(f"logging server {LOGHOST}")
    out += _one(f"enable secret 5 {_md5(d, 'enable')}")
    telnet = d.pick(("server", "vty", "split")) if d.bad("remote-mgmt-encrypted") else ""
    out += _one("enable service ssh-server")
    if telnet == "server":
        out += _one("enable service telnet-server")
    if d.bad("insecure-services-off"):
        out += _one("enable service web-server")
    else:
        out += _one("enable service web-server https")
    out.append(("ip access-list standard YIWANG-MGMT", (f"10 permit {' '.join(MGMT_WILDCARD)}",)))
    out += _ios_snmp(d, community, "ro")
    out += _terminals(d, "ios", telnet if telnet != "server" else "")
    if not d.bad("ntp-server"):
        out += _one(f"ntp server {NTP}", f"ntp server {NTP2}")
    return out
