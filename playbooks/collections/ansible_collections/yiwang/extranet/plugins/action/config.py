"""yiwang.extranet.config: lay configuration lines over a device's running configuration (see the module's
DOCUMENTATION in plugins/modules/config.py)."""

from __future__ import annotations

from typing import Any

from ansible_collections.yiwang.extranet.plugins.plugin_utils.base import YiwangAction

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
        lines = args["lines"] if args["lines"] is not None else self.render(args["src"], task_vars).splitlines()
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
