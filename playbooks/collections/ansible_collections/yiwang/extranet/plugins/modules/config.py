# The work is done by the action plugin of the same name (plugins/action/config.py), in the controller; this file
# holds the documentation that ansible-doc renders.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: config
short_description: Lay configuration lines over a Huawei VRP, H3C Comware, Cisco IOS or Ruijie device's configuration
description:
  - >-
    Reads the device's running configuration over SSH and computes with hier_config what the device lacks of the
    given lines (the remediation) and what puts it back (the rollback). Only the remediation is typed.
  - >-
    Lines are laid over the running configuration the way the device takes them, so a setting that has one value
    per section (a description, the primary address, the sysname) is replaced rather than added, and a second run
    with the same lines types nothing (C(changed=false)).
  - >-
    The remediation is typed in configuration mode one line at a time, and the device's answer to each line is
    read. On the first line the device refuses (VRP C(Error:), Comware C(% Unrecognized command)/C(% Wrong
    parameter), IOS and RGOS C(% Invalid input), anyone's C(% Incomplete command)/C(% Ambiguous command)), typing
    stops, the lines already taken are undone from the same session (saved again with I(save)), and the task fails
    with the refused line and the device's words (C(fault=rejected)).
  - >-
    When the device closes the session while the lines go in, a new session (else the one kept by
    I(keep_rollback_session)) reads what got in, types what puts the running configuration read before the change
    back, saves once it is as before (with I(save)), and a new session confirms it. The task fails with
    C(fault=dropped) and C(rolled_back) saying whether the device is as before.
  - >-
    With I(keep_rollback_session), a second session is opened before anything is typed, and after the lines a new
    session must open before the change is saved: a change that cuts the device off its management address (the
    classic lock-out) is undone through the session opened before, saved, and confirmed by a new session once the
    address answers again (C(fault=management-lost)). This is what Junos C(commit confirmed) and IOS C(configure
    replace ... time) do on the device; here it costs two more SSH logins per changed device.
  - >-
    Runs in the controller (an action plugin, no module is shipped); use C(connection: local) and
    C(gather_facts: false). The host's C(yiwang_platform), C(ansible_host), C(ansible_port), C(yiwang_known_hosts)
    and C(yiwang_credential) come from C(yiwang inventory ansible). The credential variable is a reference
    (C({user: NAME, password: {file: PATH}})); the plugin reads the secret itself, so it is never an Ansible
    variable, extra variable, environment variable, event or artifact.
  - >-
    The device's host key is checked against the key yiwang pinned for it; a changed key fails the task.
version_added: "0.1.0"
author:
  - yiwang contributors
options:
  lines:
    description:
      - >-
        Configuration lines as the device prints them in its running configuration. Indentation nests a line
        under the previous less indented one, so the C(commands) or C(rollback) of an earlier result can be given
        back as they are.
      - >-
        Mutually exclusive with I(src).
    type: list
    elements: str
    aliases: [commands]
  src:
    description:
      - >-
        A Jinja2 template (looked up in C(templates/) like the template module's) rendered with the host's
        variables; its lines are used as I(lines).
    type: path
  parents:
    description:
      - >-
        The sections the lines belong to, outermost first (for example C(interface GigabitEthernet0/0/1)).
    type: list
    elements: str
    default: []
  save:
    description:
      - >-
        After a change that the device took whole, save the configuration with the platform's save command
        (C(save) answered C(y) on VRP, C(save force) on Comware, C(write memory) on IOS, C(write) on RGOS).
    type: bool
    default: false
  keep_rollback_session:
    description:
      - >-
        Open a second session before typing, kept idle as the way back, and check after typing that a new session
        still opens; if none does, undo the change through the second session. Only when lines are to be typed
        (not in check mode, not when nothing is missing).
      - >-
        When not given, it follows I(save): a change that is to be saved is first checked not to lock the device
        out.
    type: bool
extends_documentation_fragment:
  - yiwang.extranet.session
attributes:
  check_mode:
    support: full
    description: Reads the running configuration and returns the remediation, the rollback and the diff; nothing
      is typed.
  diff_mode:
    support: full
    description: The running configuration before and after, as hier_config reads it, secret values hidden.
notes:
  - >-
    Lines that carry a secret (a password, a community) are returned in C(commands) and C(rollback); give such a
    task C(no_log: true).
  - >-
    Needs yiwang and hier_config 3.7 in the controller's Python.
seealso:
  - module: yiwang.extranet.command
  - module: yiwang.extranet.facts
"""

EXAMPLES = r"""
- name: Dual-stack the uplink (check first with --check --diff)
  yiwang.extranet.config:
    parents: ["interface {{ uplink }}"]
    lines:
      - ipv6 enable
      - ipv6 address {{ uplink_address6 }}
  register: uplink

- name: The same from a template of the platform, saved when it took
  yiwang.extranet.config:
    src: "ipv6_{{ yiwang_platform }}.j2"
    save: true

- name: A change that may cut the management address (an ACL on the VTY lines), with a session kept to undo it
  yiwang.extranet.config:
    src: "mgmt_acl_{{ yiwang_platform }}.j2"
    keep_rollback_session: true

- name: Put the uplink back as it was
  yiwang.extranet.config:
    lines: "{{ uplink.rollback }}"
  when: uplink is changed
"""

RETURN = r"""
commands:
  description: The remediation, indented as a configuration (two spaces per level); what was typed (or, in check
    mode, would be), each section left with C(quit)/C(exit) when typed.
  returned: always
  type: list
  elements: str
  sample: ["interface GigabitEthernet0/0/1", "  ipv6 enable", "  ipv6 address 2001:db8::1/64"]
rollback:
  description: What puts the configuration back as it was before this task, same form; give it back as I(lines).
  returned: always
  type: list
  elements: str
  sample: ["interface GigabitEthernet0/0/1", "  undo ipv6 address 2001:db8::1/64", "  undo ipv6 enable"]
saved:
  description: Whether the configuration was saved.
  returned: always
  type: bool
converged:
  description: Whether the running configuration read after the change holds every line (false means the next run
    types them again).
  returned: when lines were typed
  type: bool
diff:
  description: The running configuration before and after.
  returned: with --diff
  type: dict
fault:
  description: What went wrong once lines were being typed; C(rejected) (a refused line), C(dropped) (the session
    closed mid-change), C(management-lost) (no new session opened after the change), or the reason of a session
    that failed after the lines went in (C(timeout), C(parse)).
  returned: failed after a line was typed
  type: str
rejected_line:
  description: The line the device refused.
  returned: failed on a refused line
  type: str
device_error:
  description: The device's words about it (at most 300 characters).
  returned: failed on a refused line
  type: str
rolled_back:
  description: Whether what got in was undone and the configuration is as before (and, but for a refused line, a
    new session opens and reads it so); false means the device is for a person.
  returned: failed after a line was typed
  type: bool
rollback_sent:
  description: The lines typed to undo what got in.
  returned: failed after a line was typed
  type: list
  elements: str
left_over:
  description: What still differs from before after the rollback (empty when it worked or when no session could
    read it).
  returned: failed after a line was typed
  type: list
  elements: str
reason:
  description: Why the session failed (auth, timeout, dropped, hostkey-changed, parse, unreachable, plan), or
    why the session kept for the way back could not be opened.
  returned: failed before a line was typed
  type: str
"""


def main() -> None:
    raise SystemExit("yiwang.extranet.config runs as an action plugin in the controller; it is never executed "
                     "on a host")


if __name__ == "__main__":
    main()
