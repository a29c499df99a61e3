# The work is done by the action plugin of the same name (plugins/action/facts.py), in the controller; this file
# holds the documentation that ansible-doc renders.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: facts
short_description: A Huawei VRP, H3C Comware, Cisco IOS or Ruijie device's facts through yiwang's SSH readers
description:
  - >-
    Reads the device's version, interfaces and IPv6 interfaces in one SSH session with the readers yiwang's SSH
    collector uses, and sets them as host facts.
  - >-
    Runs in the controller (an action plugin); the host's access and credential reference are read as for
    M(yiwang.extranet.config).
version_added: "0.1.0"
author:
  - yiwang contributors
extends_documentation_fragment:
  - yiwang.extranet.session
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
seealso:
  - module: yiwang.extranet.command
"""

EXAMPLES = r"""
- name: What the device is
  yiwang.extranet.facts:

- name: Show its software
  ansible.builtin.debug:
    msg: "{{ yiwang_facts.software }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts.
  returned: success
  type: complex
  contains:
    yiwang_platform:
      description: The platform, as in the inventory.
      type: str
    yiwang_facts:
      description: Vendor, model, software version and uptime as yiwang reads them from the version command.
      type: dict
    yiwang_interfaces:
      description: Each interface's name, administrative and operational state and addresses.
      type: list
      elements: dict
    yiwang_ipv6_up:
      description: The interfaces whose IPv6 protocol is up.
      type: list
      elements: str
parse_failures:
  description: "{kind: why} for each fact whose reader could not read the output."
  returned: success
  type: dict
"""


def main() -> None:
    raise SystemExit("yiwang.extranet.facts runs as an action plugin in the controller; it is never executed "
                     "on a host")


if __name__ == "__main__":
    main()
