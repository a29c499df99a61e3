"""What the collection's three action plugins share: the host's access from its variables and the session's
timeouts. The work itself is yiwang's (`yiwang.push`), run here in the controller: no module is shipped to any
host, so a device costs one SSH session and no Python subprocess."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from yiwang.push.access import CREDENTIAL, KNOWN_HOSTS, PLATFORM, AccessError, access_of
    from yiwang.push.tasks import settings_for
except ImportError as exc:  # the controller's Python lacks yiwang (or hier_config)
    YIWANG_MISSING: ImportError | None = exc
else:
    YIWANG_MISSING = None

COMMON_SPEC: dict[str, Any] = {
    "timeout": {"type": "float", "default": 30.0},
    "connect_timeout": {"type": "float", "default": 10.0},
}
HOST_VARS = ("ansible_host", "ansible_port", "inventory_hostname")


class YiwangAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # ansible-core >= 2.16: no connection plugin is even set up

    def access(self, task_vars: dict[str, Any]) -> Any:
        if YIWANG_MISSING is not None:
            raise AnsibleActionFail(f"yiwang is not importable by the controller's Python: {YIWANG_MISSING}; run "
                                    "Ansible from yiwang's environment")
        names = (*HOST_VARS, PLATFORM, CREDENTIAL, KNOWN_HOSTS)
        # Inventory values may be templates; only the variables the plugins read are rendered.
        hostvars = {name: self._templar.template(task_vars[name]) for name in names if name in task_vars}
        try:
            return access_of(str(hostvars["inventory_hostname"]), hostvars)
        except AccessError as exc:
            raise AnsibleActionFail(str(exc)) from None

    def session_settings(self, access: Any, args: dict[str, Any]) -> Any:
        return settings_for(access, float(args["timeout"]), float(args["connect_timeout"]))

    def validated(self, spec: dict[str, Any], **rules: Any) -> dict[str, Any]:
        validation, args = self.validate_argument_spec(argument_spec={**spec, **COMMON_SPEC}, **rules)
        return dict(args)
