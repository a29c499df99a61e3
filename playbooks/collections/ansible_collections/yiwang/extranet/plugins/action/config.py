"""yiwang.extranet.config: lay configuration lines over a device's running configuration (see the module's
DOCUMENTATION in plugins/modules/config.py)."""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.yiwang.extranet.plugins.plugin_utils.base import YiwangAction

try:
    from ansible.template import trust_as_template  # ansible-core >= 2.19: file text is not a template until trusted
except ImportError:
    trust_as_template = None

SPEC: dict[str, Any] = {
    "lines": {"type": "list", "elements": "str", "aliases": ["commands"]},
    "src": {"type": "path"},
    "parents": {"type": "list", "elements": "str", "default": []},
    "save": {"type": "bool", "default": False},
    "keep_rollback_session": {"type": "bool"},
}


class ActionModule(YiwangAction):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validated(SPEC, mutually_exclusive=[("lines", "src")], required_one_of=[("lines", "src")])
        lines = args["lines"] if args["lines"] is not None else self._render(args["src"], task_vars).splitlines()
        access = self.access(task_vars)
        from yiwang.push.change import change_config

        keep = args["keep_rollback_session"]
        done = change_config(access, lines, args["parents"], check=bool(self._task.check_mode),
                             save=args["save"] and not self._task.check_mode,
                             settings=self.session_settings(access, args),
                             keep_rollback_session=args["save"] if keep is None else keep)
        if not self._task.diff:
            done.pop("diff", None)
        result.update(done)
        return result

    def _render(self, src: str, task_vars: dict[str, Any]) -> str:
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
