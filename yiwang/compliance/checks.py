"""One small pure function per rule of the catalogue that is read from the configuration.

Each takes the parsed configuration and the rule's parameters and returns a `Finding`. Patterns are anchored at the
command's first word (`re.match` on the line without its indentation), so `undo …` / `no …` lines and look-alikes
(`stelnet server enable`, `telnet server-source …`, `http secure-server enable`) never match a command they only
resemble. Registry: `CHECKS`, a plain dict from the name a rule pack gives to the function.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from yiwang.compliance.model import Evidence, Severity
from yiwang.compliance.parse import Config, Line

Params = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Finding:
    status: Literal["pass", "fail", "not-applicable"]
    evidence: tuple[Evidence, ...] = ()
    severity: Severity | None = None  # raises the rule's own severity for this finding
    detail: str = ""


Check = Callable[[Config, Params], Finding]
PASS = Finding("pass")
VRP_LIKE = ("huawei_vrp", "hp_comware")


def _line(line: Line) -> Evidence:
    return Evidence(line=line.number, text=line.text)


# Words after which a configuration line holds a secret, and the words that may stand between them and the secret.
_SECRET_AFTER = frozenset({"password", "secret", "cipher", "irreversible-cipher", "simple", "hash", "community",
                           "key", "shared-key"})
_SECRET_TYPE = frozenset({"cipher", "irreversible-cipher", "simple", "hash", "read", "write", "0", "5", "7", "8", "9"})
MASK = "******"


def _masked(text: str) -> str:
    """The line with each secret (password, hash, community, key) replaced by MASK: evidence ends up in reports, the
    API and the store, where no secret may go, and a hash or a `7` password is as good as the password to a cracker."""
    words = text.split(" ")
    index = 0
    while index < len(words):
        if words[index].lower() in _SECRET_AFTER:
            index += 1
            while index < len(words) and words[index].lower() in _SECRET_TYPE:
                index += 1
            if index < len(words):
                words[index] = MASK
        index += 1
    return " ".join(words)


def _secret_line(line: Line) -> Evidence:
    return Evidence(line=line.number, text=_masked(line.text))


def _missing(header: Line | None = None) -> Evidence:
    return Evidence(missing=header.text if header is not None else None, is_missing=True)


def _failed(lines: Iterable[Line], evidence: Callable[[Line], Evidence] = _line) -> Finding:
    found = sorted(set(lines), key=lambda line: line.number)
    return Finding("fail", tuple(evidence(line) for line in found)) if found else PASS


def _int(params: Params, name: str) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"parameter {name} must be an integer, not {value!r}")
    return value


def _group(pattern: re.Pattern[str], line: Line, group: int = 1) -> str:
    """A group of a line already found by `pattern` ("" where the group did not take part)."""
    found = pattern.match(line.text)
    if found is None:
        raise ValueError(f"line {line.number} does not match {pattern.pattern}")
    return found.group(group) or ""


def _number(pattern: re.Pattern[str], line: Line) -> int:
    return int(_group(pattern, line))


def _is_address(word: str) -> bool:
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


# --- pw-irreversible -------------------------------------------------------------------------------------------

_VRP_LOCAL_REVERSIBLE = re.compile(r"local-user \S+ password (cipher|simple)\b")
_VRP_SUPER = re.compile(r"super password\b.*\b(cipher|simple)\b")
_PASSWORD_SIMPLE = re.compile(r".*\bpassword simple\b")
_COMWARE_PASSWORD = re.compile(r"(?:.*\s)?password (simple|cipher)\b")
# Secrets that must stay reversible, not login passwords: BGP `peer X password cipher …` (a routing-protocol key),
# `ppp chap password …` / `ppp pap local-user U password …` (what the device itself presents to its ISP).
_NOT_LOGIN_SECRET = re.compile(r"(peer|ppp)\s")
_IOS_ENABLE_PASSWORD = re.compile(r"enable password\b")
_IOS_USER_PASSWORD = re.compile(r"username \S+ (?:.*\s)?password\b")
_IOS_LINE = re.compile(r"line\s")
_IOS_LINE_PASSWORD = re.compile(r"password\b")


def pw_irreversible(config: Config, params: Params) -> Finding:
    if config.platform == "huawei_vrp":
        simple = [line for line in config.find(_PASSWORD_SIMPLE) if not _NOT_LOGIN_SECRET.match(line.text)]
        return _failed(config.find(_VRP_LOCAL_REVERSIBLE) + config.find(_VRP_SUPER) + simple, _secret_line)
    if config.platform == "hp_comware":
        return _failed((line for line in config.find(_COMWARE_PASSWORD) + config.find(_VRP_SUPER)
                        if not _NOT_LOGIN_SECRET.match(line.text)), _secret_line)
    bad = [line for line in config.top if _IOS_ENABLE_PASSWORD.match(line.text) or _IOS_USER_PASSWORD.match(line.text)]
    for block in config.blocks(_IOS_LINE):
        bad += [child for child in block.children if _IOS_LINE_PASSWORD.match(child.text)]
    return _failed(bad, _secret_line)


# --- pw-policy -------------------------------------------------------------------------------------------------

_VRP_POLICY = re.compile(r"local-aaa-user password policy administrator$")
_VRP_EXPIRE = re.compile(r"password expire (\d+)$")
_COMWARE_ENABLE = re.compile(r"password-control enable$")
_COMWARE_LENGTH = re.compile(r"password-control length (\d+)$")
_COMWARE_AGING = re.compile(r"password-control aging (\d+)$")
_IOS_MIN_LENGTH = re.compile(r"security passwords min-length (\d+)$")
_RGOS_MIN_SIZE = re.compile(r"password policy min-size (\d+)$")
_RGOS_LIFE = re.compile(r"password policy life-cycle (\d+)$")


def _length_and_age(config: Config, length: re.Pattern[str] | None, age: re.Pattern[str] | None,
                    params: Params) -> list[Evidence]:
    """Evidence against a minimum length and a maximum age in days, top-level."""
    problems: list[Evidence] = []
    if length is not None:
        lines = config.find(length, top_only=True)
        problems += [_line(line) for line in lines if _number(length, line) < _int(params, "min_length")]
        problems += [] if lines else [_missing()]
    if age is not None:
        lines = config.find(age, top_only=True)
        # the catalogue's letter for Comware and Ruijie: N <= 90, so 0 ("never expires") passes here (VRP's cell
        # says N = 0 fails); reported as a catalogue problem in the closing note, not decided here
        problems += [_line(line) for line in lines if _number(age, line) > _int(params, "max_age_days")]
        problems += [] if lines else [_missing()]
    return problems


def pw_policy(config: Config, params: Params) -> Finding:
    problems: list[Evidence] = []
    if config.platform == "huawei_vrp":
        policies = config.find(_VRP_POLICY)
        if not policies:
            return Finding("fail", (_missing(),))
        for policy in policies:
            expires = [child for child in policy.children if _VRP_EXPIRE.match(child.text)]
            if not expires:
                problems.append(_missing(policy))
            problems += [_line(line) for line in expires
                         if not 1 <= _number(_VRP_EXPIRE, line) <= _int(params, "max_age_days")]
    elif config.platform == "hp_comware":
        if not config.find(_COMWARE_ENABLE, top_only=True):
            problems.append(_missing())
        problems += _length_and_age(config, _COMWARE_LENGTH, _COMWARE_AGING, params)
    elif config.platform == "ruijie_os":
        problems += _length_and_age(config, _RGOS_MIN_SIZE, _RGOS_LIFE, params)
    else:
        problems += _length_and_age(config, _IOS_MIN_LENGTH, None, params)
    return Finding("fail", _dedupe(problems)) if problems else PASS


def _dedupe(evidence: list[Evidence]) -> tuple[Evidence, ...]:
    return tuple(dict.fromkeys(evidence))


# --- login-lockout ---------------------------------------------------------------------------------------------

_VRP_RETRY = re.compile(r"local-aaa-user wrong-password retry-interval \d+ retry-time (\d+) block-time (\d+)$")
_COMWARE_ATTEMPT = re.compile(r"password-control login-attempt (\d+) exceed (lock(?:-time (\d+))?)$")
_COMWARE_ANY_ATTEMPT = re.compile(r"password-control login-attempt\b")
_IOS_BLOCK_FOR = re.compile(r"login block-for \d+ attempts (\d+) within \d+$")
_IOS_MAX_FAIL = re.compile(r"aaa local authentication attempts max-fail (\d+)$")


def login_lockout(config: Config, params: Params) -> Finding:
    attempts = _int(params, "max_attempts")
    if config.platform == "ruijie_os":
        return Finding("not-applicable", detail="RGOS is not checked for login lockout (catalogue)")
    if config.platform == "huawei_vrp":
        lines = config.find(_VRP_RETRY)
        good = [line for line in lines if (m := _VRP_RETRY.match(line.text))
                and int(m.group(1)) <= attempts and int(m.group(2)) >= _int(params, "min_block_minutes")]
    elif config.platform == "hp_comware":
        lines = config.find(_COMWARE_ANY_ATTEMPT, top_only=True)
        good = [line for line in lines if (m := _COMWARE_ATTEMPT.match(line.text)) and int(m.group(1)) <= attempts]
    else:
        lines = config.find(_IOS_BLOCK_FOR, top_only=True) + config.find(_IOS_MAX_FAIL, top_only=True)
        good = [line for line in lines
                if _number(_IOS_BLOCK_FOR if _IOS_BLOCK_FOR.match(line.text) else _IOS_MAX_FAIL, line) <= attempts]
    if good:
        return PASS
    return Finding("fail", tuple(_line(line) for line in lines) or (_missing(),))


# --- idle-timeout ----------------------------------------------------------------------------------------------

_VRP_UI = re.compile(r"user-interface (con|console|aux|vty)\b")
_LINE_UI = re.compile(r"line (?:class )?(con|console|aux|vty)\b")
_VRP_IDLE = re.compile(r"idle-timeout (\d+)(?: (\d+))?$")
_IOS_EXEC = re.compile(r"exec-timeout (\d+)(?: (\d+))?$")


def _terminal_blocks(config: Config, vty_only: bool = False) -> list[Line]:
    header = _VRP_UI if config.platform == "huawei_vrp" else _LINE_UI
    blocks = config.blocks(header)
    if vty_only:  # `line class vty` (Comware) holds the class's defaults, not a block of lines
        blocks = [b for b in blocks if (m := header.match(b.text)) and m.group(1) == "vty" and " class " not in b.text]
    return blocks


def idle_timeout(config: Config, params: Params) -> Finding:
    limit = _int(params, "max_minutes")
    pattern = _IOS_EXEC if config.family == "ios" else _VRP_IDLE
    bad: list[Line] = []
    # the platform cells name con/vty for VRP and IOS/Ruijie, con/aux/vty for Comware
    wanted = ("con", "console", "aux", "vty") if config.platform == "hp_comware" else ("con", "console", "vty")
    header = _VRP_UI if config.platform == "huawei_vrp" else _LINE_UI
    for block in _terminal_blocks(config):
        if not ((found := header.match(block.text)) and found.group(1) in wanted):
            continue
        for child in block.children:
            if found := pattern.match(child.text):
                minutes, seconds = int(found.group(1)), int(found.group(2) or 0)
                if (minutes == 0 and seconds == 0) or minutes > limit:
                    bad.append(child)
    return _failed(bad)  # absent passes: every platform's default is 10 minutes


# --- remote-mgmt-encrypted -------------------------------------------------------------------------------------

_TELNET_SERVER = re.compile(r"telnet server enable$")
_VRP_PROTOCOL = re.compile(r"protocol inbound (telnet|all)\b")
_TRANSPORT = re.compile(r"transport input\b(.*)$")
_SSH_V1 = re.compile(r"ip ssh version 1$")
_RGOS_TELNET = re.compile(r"enable service telnet-server$")


def remote_mgmt_encrypted(config: Config, params: Params) -> Finding:
    evidence: list[Evidence] = []
    if config.family == "vrp":
        evidence += [_line(line) for line in config.find(_TELNET_SERVER, top_only=True)]
        for block in _terminal_blocks(config, vty_only=True):
            evidence += [_line(child) for child in block.children if _VRP_PROTOCOL.match(child.text)]
    else:
        for block in _terminal_blocks(config, vty_only=True):
            transports = [child for child in block.children if _TRANSPORT.match(child.text)]
            if not transports:
                evidence.append(_missing(block))
            evidence += [_line(child) for child in transports
                         if {"telnet", "all"} & set(child.text.split()[2:])]
        evidence += [_line(line) for line in config.find(_SSH_V1, top_only=True)]
        if config.platform == "ruijie_os":
            evidence += [_line(line) for line in config.find(_RGOS_TELNET, top_only=True)]
    return Finding("fail", tuple(evidence)) if evidence else PASS


# --- central-aaa -----------------------------------------------------------------------------------------------

_VRP_AAA = re.compile(r"aaa$")
_VRP_SCHEME = re.compile(r"authentication-scheme (\S+)$")
_VRP_MODE = re.compile(r"authentication-mode (\S+)")
_VRP_DOMAIN = re.compile(r"domain \S+$")
# VRP5 boxes print `hwtacacs-server template T`, CloudEngine (VRP8) `hwtacacs server template T`: one command
_VRP_TEMPLATE = {"hwtacacs": re.compile(r"hwtacacs[- ]server template \S+$"),
                 "radius": re.compile(r"radius[- ]server template \S+$")}
_COMWARE_DOMAIN = re.compile(r"domain \S+$")
_COMWARE_LOGIN = re.compile(r"authentication login (\S+)(?: (\S+))?")
_COMWARE_SCHEME = {"hwtacacs-scheme": "hwtacacs scheme {}", "radius-scheme": "radius scheme {}"}
_IOS_NEW_MODEL = re.compile(r"aaa new-model$")
_IOS_LOGIN_DEFAULT = re.compile(r"aaa authentication login default (\S+)(?: (\S+))?")
_IOS_SERVER_GROUP = re.compile(r"aaa group server (?:tacacs\+|radius) (\S+)$")


def central_aaa(config: Config, params: Params) -> Finding:
    if config.platform == "huawei_vrp":
        return _central_vrp(config)
    if config.platform == "hp_comware":
        return _central_comware(config)
    return _central_ios(config)


def _central_vrp(config: Config) -> Finding:
    aaa = config.blocks(_VRP_AAA)
    if not aaa:
        return Finding("fail", (_missing(),))
    # VRP's `default` scheme is used by the `default` and `default_admin` domains without a line saying so.
    used = {"default"}
    for block in aaa:
        for domain in (c for c in block.children if _VRP_DOMAIN.match(c.text)):
            used |= {m.group(1) for c in domain.children if (m := _VRP_SCHEME.match(c.text))}
    local_first: list[Line] = []
    for block in aaa:
        for scheme in (c for c in block.children if _VRP_SCHEME.match(c.text)):
            name = _group(_VRP_SCHEME, scheme)
            for mode in (c for c in scheme.children if _VRP_MODE.match(c.text)):
                first = _group(_VRP_MODE, mode)
                # the catalogue: a server-first scheme and "a hwtacacs-server template or radius-server template"
                if first in _VRP_TEMPLATE and name in used and any(
                        config.find(template, top_only=True) for template in _VRP_TEMPLATE.values()):
                    return PASS
                if name in used:
                    local_first.append(mode)
    return Finding("fail", tuple(_line(line) for line in local_first) or (_missing(aaa[0]),))


def _central_comware(config: Config) -> Finding:
    logins: list[Line] = []
    for domain in config.blocks(_COMWARE_DOMAIN):
        for child in domain.children:
            if found := _COMWARE_LOGIN.match(child.text):
                logins.append(child)
                kind, name = found.group(1), found.group(2)
                if kind in _COMWARE_SCHEME and name is not None and config.find(
                        re.compile(re.escape(_COMWARE_SCHEME[kind].format(name)) + "$"), top_only=True):
                    return PASS
    return Finding("fail", tuple(_line(line) for line in logins) or (_missing(),))


def _central_ios(config: Config) -> Finding:
    if not config.find(_IOS_NEW_MODEL, top_only=True):
        return Finding("fail", (_missing(),))
    groups = {m.group(1) for line in config.top if (m := _IOS_SERVER_GROUP.match(line.text))}
    lists = config.find(_IOS_LOGIN_DEFAULT, top_only=True)
    for line in lists:
        method, group = _group(_IOS_LOGIN_DEFAULT, line), _group(_IOS_LOGIN_DEFAULT, line, 2)
        if method == "group" and (group in ("tacacs+", "radius") or group in groups):
            return PASS
    return Finding("fail", tuple(_line(line) for line in lists) or (_missing(),))


# --- no-default-account ----------------------------------------------------------------------------------------

_LOCAL_USER = re.compile(r"local-user (\S+)")
_USERNAME = re.compile(r"username (\S+)")


def no_default_account(config: Config, params: Params) -> Finding:
    names = {str(n).lower() for n in params["names"]}  # type: ignore[attr-defined]
    pattern = _LOCAL_USER if config.family == "vrp" else _USERNAME
    seen: set[str] = set()
    bad: list[Line] = []
    for line in config.find(pattern, top_only=config.platform != "huawei_vrp"):
        if (found := pattern.match(line.text)) and found.group(1).lower() in names:
            if found.group(1).lower() not in seen:  # one line per account: VRP repeats the name on every setting
                seen.add(found.group(1).lower())
                bad.append(line)
    return _failed(bad, _secret_line)


# --- syslog-server, ntp-server ---------------------------------------------------------------------------------

_LOGHOST = re.compile(r"info-center loghost (.+)$")
_IOS_LOGGING = re.compile(r"logging (?:host )?(.+)$")
_RGOS_LOGGING = re.compile(r"logging server (.+)$")


def _destination(words: list[str]) -> str | None:
    """The address of a log or time server after the command's own words: `ipv6`, `vpn-instance V`, `vrf V`
    may come before it."""
    while words and words[0] in ("ipv6", "vpn-instance", "vrf"):
        words = words[2:] if words[0] != "ipv6" else words[1:]
    return words[0] if words else None


def syslog_server(config: Config, params: Params) -> Finding:
    found: list[Line] = []
    for line in config.top:
        if config.family == "vrp":
            m = _LOGHOST.match(line.text)
            # `info-center loghost source IF` names where logs leave from, not a server
            if m and (target := _destination(m.group(1).split())) is not None and target != "source":
                found.append(line)
        elif config.platform == "ruijie_os":
            if (m := _RGOS_LOGGING.match(line.text)) and _destination(
                    [w for w in m.group(1).split() if w != "oob"]) is not None:
                found.append(line)
        elif m := _IOS_LOGGING.match(line.text):
            target = _destination(m.group(1).split())
            # `logging 10.0.0.1` is a server; `logging buffered`, `logging trap` are other commands
            if target is not None and (line.text.startswith("logging host ") or _is_address(target)):
                found.append(line)
    return PASS if found else Finding("fail", (_missing(),))


_VRP_NTP = re.compile(r"ntp-service (?:ipv6 )?unicast-server \S+")
_IOS_NTP = re.compile(r"ntp server \S+")


def ntp_server(config: Config, params: Params) -> Finding:
    pattern = _VRP_NTP if config.family == "vrp" else _IOS_NTP
    return PASS if config.find(pattern, top_only=True) else Finding("fail", (_missing(),))


# --- insecure-services-off -------------------------------------------------------------------------------------

_INSECURE = {
    "huawei_vrp": (re.compile(r"ftp server enable$"), re.compile(r"http server enable$")),
    "hp_comware": (re.compile(r"ftp server enable$"), re.compile(r"ip http enable$")),
    "cisco_ios": (re.compile(r"ip http server$"),),
    "ruijie_os": (re.compile(r"enable service web-server(?! https$)(?: \S+)?$"),),
}


def insecure_services_off(config: Config, params: Params) -> Finding:
    return _failed(line for p in _INSECURE[config.platform] for line in config.find(p, top_only=True))


# --- mgmt-acl --------------------------------------------------------------------------------------------------

_SSH_SERVER_ACL = re.compile(r"ssh server acl \S+$")
_VTY_ACL = re.compile(r"acl (?:ipv6 )?\S+ inbound$")
_ACCESS_CLASS = re.compile(r"access-class \S+ in\b")


def mgmt_acl(config: Config, params: Params) -> Finding:
    if config.family == "vrp" and config.find(_SSH_SERVER_ACL, top_only=True):
        return PASS
    pattern = _VTY_ACL if config.family == "vrp" else _ACCESS_CLASS
    blocks = _terminal_blocks(config, vty_only=True)
    if not blocks:
        return Finding("fail", (_missing(),))
    bare = [b for b in blocks if not any(pattern.match(child.text) for child in b.children)]
    return Finding("fail", tuple(_missing(b) for b in bare)) if bare else PASS


# --- snmp-v3-priv-only, snmp-traps-to-nms ----------------------------------------------------------------------

_VRP_COMMUNITY = re.compile(r"snmp-agent community\b")
_VRP_GROUP = re.compile(r"snmp-agent group v3 \S+")
_IOS_COMMUNITY = re.compile(r"snmp-server community \S+")
_IOS_GROUP = re.compile(r"snmp-server group \S+ v3 (\S+)")


def snmp_v3_priv_only(config: Config, params: Params) -> Finding:
    if config.family == "vrp":
        communities = config.find(_VRP_COMMUNITY, top_only=True)
        writable = any("write" in line.text.split() for line in communities)
        groups = [line for line in config.find(_VRP_GROUP, top_only=True) if "privacy" not in line.text.split()]
    else:
        communities = config.find(_IOS_COMMUNITY, top_only=True)
        writable = any("rw" in (w.lower() for w in line.text.split()[3:]) for line in communities)
        groups = [line for line in config.find(_IOS_GROUP, top_only=True)
                  if _group(_IOS_GROUP, line) in ("noauth", "auth")]
    finding = _failed([*communities, *groups], _secret_line)
    if finding.status == "fail" and writable:
        return Finding("fail", finding.evidence, severity="critical")
    return finding


_VRP_TRAP_HOST = re.compile(r"snmp-agent target-host trap\b")
_VRP_TRAP_ENABLE = re.compile(r"snmp-agent trap enable\b")
_IOS_TRAP_HOST = re.compile(r"snmp-server host \S+")
_IOS_TRAP_ENABLE = re.compile(r"snmp-server enable traps\b")


def snmp_traps_to_nms(config: Config, params: Params) -> Finding:
    host, enable = (_VRP_TRAP_HOST, _VRP_TRAP_ENABLE) if config.family == "vrp" else (_IOS_TRAP_HOST, _IOS_TRAP_ENABLE)
    if config.find(host, top_only=True) and config.find(enable, top_only=True):
        return PASS
    return Finding("fail", (_missing(),))


CHECKS: dict[str, Check] = {
    "pw_irreversible": pw_irreversible,
    "pw_policy": pw_policy,
    "login_lockout": login_lockout,
    "idle_timeout": idle_timeout,
    "remote_mgmt_encrypted": remote_mgmt_encrypted,
    "central_aaa": central_aaa,
    "no_default_account": no_default_account,
    "syslog_server": syslog_server,
    "ntp_server": ntp_server,
    "insecure_services_off": insecure_services_off,
    "mgmt_acl": mgmt_acl,
    "snmp_v3_priv_only": snmp_v3_priv_only,
    "snmp_traps_to_nms": snmp_traps_to_nms,
}
