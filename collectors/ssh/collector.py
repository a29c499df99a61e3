"""SSH collector: facts, interfaces, optics and neighbours per device, one PollResult each, never an exception."""

from __future__ import annotations

import time

from collectors.base import PollResult, PollTarget
from collectors.model import now_ns
from collectors.platforms import KINDS, SSH_PLATFORMS, cli_of
from collectors.ssh.parse import parse_all, to_samples
from collectors.ssh.session import DEVICE_NAME, Endpoint, SessionSettings, SshError, SshLogin, SshRunner


def endpoint_of(target: PollTarget, use_ipv6: bool = False) -> Endpoint:
    """The SSH endpoint of a target: platform from its `platform` tag, login from its credential."""
    platform = dict(target.tags).get("platform", "")
    if platform not in SSH_PLATFORMS:
        raise SshError("invalid-target", f"{target.device}: no SSH platform tag (got {platform!r})")
    if not isinstance(target.credential, SshLogin):
        raise SshError("invalid-target", f"{target.device}: no SSH login in the target")
    if not DEVICE_NAME.match(target.device):
        raise SshError("invalid-target", f"device name {target.device!r} is not safe as a file name")
    host = target.host6 if use_ipv6 and target.host6 else target.host
    return Endpoint(target.device, platform, host, target.port, target.credential)


class SshCollector:
    name = "ssh"

    def __init__(self, runner: SshRunner, use_ipv6: bool = False) -> None:
        self.runner = runner
        self.use_ipv6 = use_ipv6

    async def poll(self, target: PollTarget) -> PollResult:
        start = time.perf_counter()
        try:
            endpoint = endpoint_of(target, self.use_ipv6)
            cli = cli_of(endpoint.platform)
            kinds = [k for k in KINDS if k in cli.show]
            outputs = await self.runner.run(endpoint, [cli.show[k] for k in kinds], cli.fallback)
        except SshError as exc:
            return self._failed(target, exc.reason, str(exc), start)
        report = parse_all(endpoint.platform, dict(zip(kinds, outputs, strict=True)))
        samples = to_samples(report, target.tags, now_ns(), {k: cli.show[k] for k in kinds})
        # The session worked, so the device is up; facts that did not parse are named, and the rest count.
        reason, error = "ok", ""
        if report.failures:
            reason = "parse" if len(report.failures) == len(kinds) else "partial"
            error = f"{target.device}: " + "; ".join(report.failures[k] for k in kinds if k in report.failures)
        return PollResult(target.device, self.name, samples, reason != "parse", reason, error,
                          time.perf_counter() - start)

    def _failed(self, target: PollTarget, reason: str, error: str, start: float) -> PollResult:
        return PollResult(target.device, self.name, [], False, reason, error, time.perf_counter() - start)


def make_ssh_collector(settings: SessionSettings, sessions: int, use_ipv6: bool = False) -> SshCollector:
    """A collector with its own pool of `sessions` netmiko threads; picklable (with functools.partial) as the
    factory of a worker process."""
    return SshCollector(SshRunner(settings, max_workers=sessions), use_ipv6)
