"""What the collection's three action plugins share: the host's access from its variables and the session's
timeouts. The work itself is yiwang's (`yiwang.push`), run here in the controller: no module is shipped to any
host, so a device costs one SSH session and no Python subprocess."""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
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
try:
    from ansible.template import trust_as_template  # ansible-core >= 2.19: file text is not a template until trusted
except ImportError:
    trust_as_template = None

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

    def render(self, src: str, task_vars: dict[str, Any]) -> str:
        """The template rendered with the host's variables, as the template module renders it."""
        try:
            path = self._find_needle("templates", src)
            real = self._loader.get_real_file(path)
            with open(real, "rb") as handle:
                text = to_text(handle.read(), errors="surrogate_or_strict")
            searchpath = [*task_vars.get("ansible_search_path", []), self._loader._basedir, os.path.dirname(path)]
            templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
            if trust_as_template is not None:
                return str(templar.template(trust_as_template(text)))
            return str(templar.do_template(text, preserve_trailing_newlines=True, escape_backslashes=False))
        except AnsibleError as exc:
            raise AnsibleActionFail(f"template {src}: {exc}") from None
