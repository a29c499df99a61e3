"""What a change really needs typed on a device, and what puts the device back. Pure.

The wanted lines are laid over the running configuration the way the device would take them (hier_config's
`future`), so the remediation holds only what the device lacks and a second run with the same lines is empty; the
rollback is the way from that future back to the running configuration.

Drivers: hier_config 3's own for VRP and IOS, with the rules our lines need (one description, one primary address,
one sysname per section replace each other, so a changed value is a single line each way). Comware is VRP's CLI
family on the wire (`#` separators, `undo`, `quit`): HP_COMWARE5 plus those rules. RGOS has IOS's configuration
grammar (`configure terminal`, `no`, `exit`, `!`, two-level sections), so Ruijie takes the IOS driver; its
interface names hold a space, which hier_config keeps as text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hier_config import HConfig, get_hconfig
from hier_config.child import HConfigChild
from hier_config.models import IdempotentCommandsRule, MatchRule, PerLineSubRule
from hier_config.platforms.cisco_ios.driver import HConfigDriverCiscoIOS
from hier_config.platforms.driver_base import HConfigDriverBase, HConfigDriverRules
from hier_config.platforms.hp_comware5.driver import HConfigDriverHPComware5
from hier_config.platforms.huawei_vrp.driver import HConfigDriverHuaweiVrp

from collectors.platforms import cli_of

INDENT = "  "  # how hier_config prints one level; `lines` may use any consistent indentation

# Settings of which a section holds one: the new value replaces the old, so it is one line to type and one back.
_VRP_SINGLE = ("sysname ", "description ", "ip address ", "ipv6 address auto link-local", "qos lr ",
               "bandwidth ", "mtu ", "ospfv3 ")


def _single_rules(prefixes: Sequence[str]) -> list[IdempotentCommandsRule]:
    rules = [IdempotentCommandsRule(match_rules=(MatchRule(startswith="sysname "),)),
             IdempotentCommandsRule(match_rules=(MatchRule(startswith="hostname "),))]
    for prefix in prefixes:
        # `ip address A M sub` is a second address, not a new value of the first. The group is the rule's key:
        # lines whose keys are equal replace each other.
        pattern = r"^(ip address) \S+ \S+$" if prefix == "ip address " else "^(" + re.escape(prefix.strip()) + ")"
        rules.append(IdempotentCommandsRule(match_rules=(MatchRule(startswith="interface "),
                                                         MatchRule(re_search=pattern))))
    return rules


# What the rendered configuration holds that is not configuration: comments and separators, the closing line.
_VRP_NOISE = [PerLineSubRule(search=r"^\s*[#!].*", replace=""), PerLineSubRule(search=r"^return$", replace="")]


class VrpDriver(HConfigDriverHuaweiVrp):
    @staticmethod
    def _instantiate_rules() -> HConfigDriverRules:
        rules = HConfigDriverHuaweiVrp._instantiate_rules()
        rules.per_line_sub.extend(_VRP_NOISE)
        rules.idempotent_commands.extend(_single_rules(_VRP_SINGLE))
        return rules


class ComwareDriver(HConfigDriverHPComware5):
    """HP_COMWARE5 with what Comware 7 prints and types: `#` lines are separators, `quit` leaves a section, and
    `undo description` takes no value (as on VRP)."""

    def swap_negation(self, child: HConfigChild) -> HConfigChild:
        if child.text.startswith("description "):
            child.text = "undo description"
            return child
        return super().swap_negation(child)

    def sectional_exit(self, config: HConfigChild) -> str | None:
        found = super().sectional_exit(config)
        return "quit" if found == "exit" else found

    @staticmethod
    def _instantiate_rules() -> HConfigDriverRules:
        rules = HConfigDriverHPComware5._instantiate_rules()
        rules.per_line_sub.extend([*_VRP_NOISE, PerLineSubRule(search=r"^version .*", replace="")])
        rules.idempotent_commands.extend(_single_rules(_VRP_SINGLE))
        return rules


class IosDriver(HConfigDriverCiscoIOS):
    @staticmethod
    def _instantiate_rules() -> HConfigDriverRules:
        rules = HConfigDriverCiscoIOS._instantiate_rules()
        rules.idempotent_commands.extend(_single_rules(("bandwidth ", "mtu ", "ipv6 address autoconfig")))
        return rules


DRIVERS: dict[str, type[HConfigDriverBase]] = {
    "huawei_vrp": VrpDriver, "hp_comware": ComwareDriver, "cisco_ios": IosDriver, "ruijie_os": IosDriver,
}

# What a CLI prints after a line it did not take: VRP `Error: …`, Comware ` % Unrecognized …`, IOS and RGOS
# `% Invalid input …`, and everyone's incomplete, ambiguous and wrong-parameter forms.
REJECTED = re.compile(r"^\s*(Error:.*|%\s*(?:Unrecognized|Wrong parameter|Incomplete|Ambiguous|Invalid|Too many "
                      r"parameters|Unknown command).*)$", re.IGNORECASE | re.MULTILINE)
# Lines whose value is a secret; shown in a diff with the value hidden.
SECRET_LINE = re.compile(r"^(\s*\S.*?\b(?:password|cipher|community|secret|key-string|authentication-key|"
                         r"pre-shared-key|simple)\s+)(\S.*)$", re.IGNORECASE)


class PlanError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ConfigPlan:
    commands: tuple[str, ...]  # the remediation, indented as a configuration (INDENT per level)
    rollback: tuple[str, ...]  # what puts the device back as it was, same form
    before: str  # the running configuration as hier_config reads it
    after: str  # the configuration the device will have once the commands are in

    @property
    def changed(self) -> bool:
        return bool(self.commands)


def driver_for(platform: str) -> HConfigDriverBase:
    try:
        return DRIVERS[platform]()
    except KeyError:
        raise PlanError(f"no configuration driver for platform {platform!r}; known: {', '.join(DRIVERS)}") from None


def read_config(platform: str, text: str) -> HConfig:
    """A running configuration or a snippet of one, as printed by the device (or indented alike)."""
    lines = text.replace("\r\n", "\n").split("\n")
    # IOS and RGOS start `show running-config` with a header that is not configuration.
    kept = [line.rstrip() for line in lines
            if not re.match(r"^(Building configuration|Current configuration\s*:)", line)]
    return get_hconfig(driver_for(platform), "\n".join(kept))


def snippet(lines: Sequence[str], parents: Sequence[str] = ()) -> str:
    """`lines` beneath `parents` (each parent a level deeper), as configuration text."""
    if any("\n" in line for line in (*lines, *parents)):
        raise PlanError("a line holds a line break; give each line as its own item")
    head = [INDENT * depth + parent.strip() for depth, parent in enumerate(parents)]
    pad = INDENT * len(parents)
    body = [pad + line.rstrip() for line in lines if line.strip()]
    return "\n".join(head + body)


def dump(config: HConfig) -> tuple[str, ...]:
    return tuple(config.dump_simple())


FREE_TEXT = frozenset({"description", "alias", "remark", "banner", "header"})  # printed as typed


def as_printed(line: str) -> str:
    """A line with its IPv6 addresses and prefixes written as the four platforms print them in their
    configuration (compressed, upper case: `2001:DB8::1/64`); otherwise a change typed as `2001:db8::1/64` would
    never match what the device shows, and would be typed again on every run."""
    def one(token: str) -> str:
        if ":" not in token or not re.fullmatch(r"[0-9A-Fa-f:.]+(/\d{1,3})?", token):
            return token
        try:
            if "/" in token:
                found = ipaddress.IPv6Interface(token)
                return f"{str(found.ip).upper()}/{found.network.prefixlen}"
            return str(ipaddress.IPv6Address(token)).upper()
        except ValueError:
            return token

    indent = line[: len(line) - len(line.lstrip())]
    words = line.split()
    if not words or words[0] in FREE_TEXT:
        return line
    return indent + " ".join(one(token) for token in words)


def plan_change(platform: str, running: str, lines: Sequence[str], parents: Sequence[str] = ()) -> ConfigPlan:
    """The remediation and rollback of laying `lines` (beneath `parents`) over the `running` configuration."""
    current = read_config(platform, running)
    wanted = read_config(platform, snippet([as_printed(line) for line in lines], [as_printed(p) for p in parents]))
    future = _without_idle_negations(current, current.future(wanted))
    return ConfigPlan(dump(current.config_to_get_to(future).set_order_weight()),
                      dump(future.config_to_get_to(current).set_order_weight()),
                      _text(dump(current)), _text(_in_running_order(future, current)))


def _without_idle_negations(current: HConfig, future: HConfig) -> HConfig:
    """A negation of something the device does not have (`undo shutdown` on a port that is up) changes nothing
    and is not printed back: kept, it would be typed on every run and its rollback would be the opposite
    (`shutdown`). Negations the running configuration prints itself stay, and so do those in a section the device
    does not have yet (its defaults there are unknown; the rollback removes the section whole)."""
    prefix = future.driver.negation_prefix

    def has(path: Sequence[str]) -> bool:
        return not path or current.get_child_deep(tuple(MatchRule(equals=text) for text in path)) is not None

    idle = [child for child in future.all_children()
            if child.text.startswith(prefix) and not has(list(child.path())) and has(list(child.path())[:-1])]
    for child in idle:
        child.delete()
    return future


def way_back(platform: str, now: str, before: str) -> tuple[str, ...]:
    """What takes a device whose configuration is `now` back to `before` (both as printed by the device)."""
    return dump(read_config(platform, now).config_to_get_to(read_config(platform, before)).set_order_weight())


def typed(platform: str, config_lines: Sequence[str]) -> tuple[str, ...]:
    """Indented configuration lines as typed in configuration mode: a line followed by deeper ones enters its
    section, which is left with the platform's exit (`quit` on VRP and Comware, `exit` on IOS and RGOS) before the
    next line of a shallower level. The last section is left by the caller (`return`/`end` leave them all)."""
    leave = "quit" if cli_of(platform).family == "vrp" else "exit"
    levels = [(len(line) - len(line.lstrip(" "))) // len(INDENT) for line in config_lines]
    out: list[str] = []
    inside = 0  # sections entered
    for index, line in enumerate(config_lines):
        out.extend([leave] * max(inside - levels[index], 0))
        inside = min(inside, levels[index])
        out.append(line.strip())
        if index + 1 < len(levels) and levels[index + 1] > levels[index]:
            inside = levels[index] + 1
    return tuple(out)


def rejection(output: str) -> str | None:
    """The device's own words when it refused a line, else None."""
    found = REJECTED.search(output)
    return found.group(1).strip() if found else None


def hide_secrets(text: str) -> str:
    return "\n".join(SECRET_LINE.sub(r"\1<hidden>", line) for line in text.split("\n"))


def _text(lines: Sequence[str]) -> str:
    return hide_secrets("\n".join(lines)) + "\n"


def _in_running_order(future: HConfig | HConfigChild, current: HConfig | HConfigChild | None,
                      depth: int = 0) -> list[str]:
    """The future configuration's lines with what it shares with the running one where the device prints it and
    the new lines after, so a diff shows the change where it is (hier_config puts the laid lines first)."""
    place = {child.text: index for index, child in enumerate(current.children)} if current is not None else {}
    ordered = sorted(enumerate(future.children), key=lambda pair: (place.get(pair[1].text, len(place)), pair[0]))
    lines: list[str] = []
    for _, child in ordered:
        lines.append(INDENT * depth + child.text)
        twin = current.get_child(equals=child.text) if current is not None else None
        lines.extend(_in_running_order(child, twin, depth + 1))
    return lines
