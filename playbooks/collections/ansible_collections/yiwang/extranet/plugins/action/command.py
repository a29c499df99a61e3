"""yiwang.extranet.command: show commands, read with yiwang's parsers where it has one (see
plugins/modules/command.py)."""

from __future__ import annotations

from typing import Any

from ansible_collections.yiwang.extranet.plugins.plugin_utils.base import YiwangAction

SPEC: dict[str, Any] = {"commands": {"type": "list", "elements": "str", "required": True}}


class ActionModule(YiwangAction):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self.validated(SPEC)
        access = self.access(task_vars or {})
        from yiwang.push.tasks import run_commands

        result.update(run_commands(access, args["commands"], self.session_settings(access, args)))
        return result
