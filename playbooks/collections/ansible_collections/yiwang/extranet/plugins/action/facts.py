"""yiwang.extranet.facts: the device's version, interfaces and IPv6 interfaces through yiwang's SSH readers (see
plugins/modules/facts.py)."""

from __future__ import annotations

from typing import Any

from ansible_collections.yiwang.extranet.plugins.plugin_utils.base import YiwangAction


class ActionModule(YiwangAction):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self.validated({})
        access = self.access(task_vars or {})
        from yiwang.push.tasks import read_facts

        result.update(read_facts(access, self.session_settings(access, args)))
        return result
