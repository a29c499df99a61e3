"""yiwang.extranet.rollout: one device's part of a change job in one session (see plugins/modules/rollout.py)."""

from __future__ import annotations

from typing import Any

from ansible_collections.yiwang.extranet.plugins.plugin_utils.base import YiwangAction

SPEC: dict[str, Any] = {
    "lines": {"type": "list", "elements": "str"},
    "src": {"type": "path"},
    "up": {"type": "list", "elements": "str", "required": True},
    "ipv6_interface": {"type": "str"},
    "ipv6_address": {"type": "str"},
    "ping6": {"type": "str"},
    "save": {"type": "bool", "default": True},
}


class ActionModule(YiwangAction):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validated(SPEC, mutually_exclusive=[("lines", "src")], required_one_of=[("lines", "src")],
                              required_by={"ipv6_address": ("ipv6_interface",)})
        lines = args["lines"] if args["lines"] is not None else self.render(args["src"], task_vars).splitlines()
        access = self.access(task_vars)
        from yiwang.push.rollout import Expect, rollout

        address = args["ipv6_address"].split("/")[0] if args["ipv6_address"] else None
        expect = Expect(tuple(name for name in args["up"] if name), args["ipv6_interface"] or None, address,
                        args["ping6"] or None)
        done = rollout(access, lines, expect, check_mode=bool(self._task.check_mode), save=args["save"],
                       settings=self.session_settings(access, args))
        result.update(done.as_result())
        return result
