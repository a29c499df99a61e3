# The work is done by the action plugin of the same name (plugins/action/command.py), in the controller; this file
# holds the documentation that ansible-doc renders.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: command
short_description: Run show commands on a Huawei VRP, H3C Comware, Cisco IOS or Ruijie device
description:
  - >-
    Runs each command in one SSH session and returns its output, and where yiwang reads that command on that
    platform (the commands of its facts: version, interfaces, IPv6 interfaces, ARP, neighbours, optics) the
    parsed value too.
  - >-
    Nothing is changed, so it runs in check mode as well. Use it for show commands only; configuration goes
    through M(yiwang.extranet.config).
  - >-
    Runs in the controller (an action plugin); the host's access and credential reference are read as for
    M(yiwang.extranet.config).
version_added: "0.1.0"
author:
  - yiwang contributors
options:
  commands:
    description: The commands, as typed at the exec prompt (C(display ...) on VRP and Comware, C(show ...)).
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - yiwang.extranet.session
attributes:
  check_mode:
    support: full
    description: Show commands change nothing; they run in check mode too.
  diff_mode:
    support: none
seealso:
  - module: yiwang.extranet.config
  - module: yiwang.extranet.facts
"""

EXAMPLES = r"""
- name: The device's IPv6 interfaces
  yiwang.extranet.command:
    commands:
      - display ipv6 interface brief
  register: v6

- name: The uplink has IPv6 up
  ansible.builtin.assert:
    that: uplink in v6.parsed[0]
"""

RETURN = r"""
stdout:
  description: Each command's output, in order (values of lines that carry a secret hidden).
  returned: success
  type: list
  elements: str
stdout_lines:
  description: The same, split into lines.
  returned: success
  type: list
  elements: list
parsed:
  description: Each command's parsed value, or null where yiwang has no reader for it (or it did not parse).
  returned: success
  type: list
  elements: raw
parse_failures:
  description: "{command: why} for each command whose reader could not read the output."
  returned: success
  type: dict
"""


def main() -> None:
    raise SystemExit("yiwang.extranet.command runs as an action plugin in the controller; it is never executed "
                     "on a host")


if __name__ == "__main__":
    main()
