# The work is done by the action plugin of the same name (plugins/action/rollout.py), in the controller; this file
# holds the documentation that ansible-doc renders.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollout
short_description: One device's part of a change job (pre-check, change, post-check, rollback) in one SSH session
description:
  - >-
    Does on one device what an engineer does at the console for a change of the IPv6 or bandwidth programme, in
    one SSH session: checks that the interfaces in I(up) are up (else C(precheck-failed), nothing typed); lays the
    lines over the running configuration as M(yiwang.extranet.config) does (hier_config remediation, typed line by
    line, a refused line, a dropped session and a lock-out undone there, with a second session kept as the way
    back); saves; then checks again: the interfaces in I(up) still up, the running configuration holding every
    line, with I(ipv6_interface) IPv6 up on it and I(ipv6_address) in the IPv6 brief, with I(ping6) a C(ping
    ipv6) from the device answered.
  - >-
    A device whose check after the change fails is put back at once: the running configuration read before the
    change is restored through the same session (else a new one), saved, a new session confirms the device
    answers with the configuration it had, and the interfaces in I(up) are checked again. The outcome is
    C(rolled-back), or C(needs-person) when any of that fails.
  - >-
    In check mode only the pre-check runs and the lines that would be typed are returned.
  - >-
    The result's C(msg) is the device's outcome, the record yiwang's change jobs keep; the task fails unless the
    outcome is C(ok), so a play run by hand shows which devices were not changed. Values of SNMP community lines
    show as C(<hidden>) in it; nothing else of the configuration is returned, so the task needs no C(no_log).
  - >-
    One session (two while typing) rather than a task per step: each SSH login and each Ansible task costs the
    controller more CPU than the lines themselves, and a city's rollout is thousands of devices.
  - >-
    Runs in the controller (an action plugin, no module is shipped); use C(connection: local) and
    C(gather_facts: false). The host's C(yiwang_platform), C(ansible_host), C(ansible_port), C(yiwang_known_hosts)
    and C(yiwang_credential) come from C(yiwang inventory ansible); the credential is read by the plugin from its
    reference, never an Ansible variable.
version_added: "0.2.0"
author:
  - yiwang contributors
options:
  lines:
    description:
      - >-
        Configuration lines as the device prints them, indented to nest. Mutually exclusive with I(src).
    type: list
    elements: str
  src:
    description:
      - A Jinja2 template (looked up in C(templates/)) rendered with the host's variables; its lines are I(lines).
    type: path
  up:
    description:
      - >-
        Interfaces (as the inventory names them) that must be up before the change and after it. Names the device
        abbreviates in its brief (C(GE0/0/1), C(XGE1/0/1), C(Gi0/1)) are matched. An empty list is refused
        (C(precheck-failed)): a change with nothing to check is not typed.
    type: list
    elements: str
    required: true
  ipv6_interface:
    description:
      - After the change, the IPv6 interface brief must show IPv6 up on this interface.
    type: str
  ipv6_address:
    description:
      - After the change, this address (a prefix length is ignored) must show in the IPv6 interface brief.
      - Requires I(ipv6_interface).
    type: str
  ping6:
    description:
      - After the change, C(ping ipv6) to this address from the device must get a reply (the parent's end of the
        uplink, once the parent is dual-stacked).
    type: str
  save:
    description:
      - Save the configuration after a change the device took whole, and keep a second session as the way back.
    type: bool
    default: true
extends_documentation_fragment:
  - yiwang.extranet.session
attributes:
  check_mode:
    support: full
    description: The pre-check and the lines that would be typed; nothing is typed.
  diff_mode:
    support: none
    description: The lines to type are the outcome's C(commands).
notes:
  - Needs yiwang and hier_config 3.7 in the controller's Python.
seealso:
  - module: yiwang.extranet.config
  - module: yiwang.extranet.facts
"""

EXAMPLES = r"""
- name: yiwang outcome
  yiwang.extranet.rollout:
    src: "ipv6/{{ yiwang_platform }}.j2"
    up: ["{{ yiwang_ipv6.uplink }}"]
    ipv6_interface: "{{ yiwang_ipv6.uplink }}"
    ipv6_address: 2001:db8:100:1::2/64
    ping6: 2001:db8:100:1::1

- name: A bandwidth change, checked on every interface it sets
  yiwang.extranet.rollout:
    src: "bandwidth/{{ yiwang_platform }}.j2"
    up: "{{ yiwang_bandwidth | map(attribute='interface') | list }}"
"""

RETURN = r"""
msg:
  description: The device's outcome.
  returned: always
  type: dict
  contains:
    outcome:
      description: C(ok) (changed and checked, already in place, or in check mode would be typed),
        C(rolled-back), C(needs-person), C(precheck-failed) (nothing typed) or C(failed) (nothing of the change
        left on the device, or nothing typed).
      type: str
    detail:
      description: What happened, for the operator (at most 300 characters).
      type: str
    commands:
      description: The lines typed (or, in check mode, that would be), indented as a configuration.
      type: list
      elements: str
    rollback:
      description: What puts the device back as before the change (after a rollback, the lines the rollback
        typed).
      type: list
      elements: str
  sample:
    outcome: ok
    detail: "changed and checked: 12 lines typed, saved"
    commands: ["ipv6", "interface GigabitEthernet0/0/1", "  ipv6 enable"]
    rollback: ["undo ipv6"]
"""


def main() -> None:
    raise SystemExit("yiwang.extranet.rollout runs as an action plugin in the controller; it is never executed "
                     "on a host")


if __name__ == "__main__":
    main()
