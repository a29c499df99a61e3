"""A device's running configuration over SSH, normalized and checked complete where the session ran (an SSH
worker process by default), so that the process committing it only writes files and runs git."""

from __future__ import annotations

import time
from dataclasses import dataclass

from collectors.base import PollResult, PollTarget
from collectors.platforms import cli_of
from collectors.ssh.collector import endpoint_of
from collectors.ssh.session import SessionSettings, SshError, SshRunner
from yiwang.archive.normalize import normalize


@dataclass(slots=True)
class FetchedConfig(PollResult):
    """A successful fetch: the normalized configuration rides along with the usual health fields."""

    text: str = ""


def check_complete(platform: str, text: str) -> None:
    """A cut-off config must never become a version (it would read as a mass deletion)."""
    end = cli_of(platform).config_end
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[-1].strip() != end:
        raise SshError("parse", f"configuration does not end with {end!r}; not archived")


class ConfigFetcher:
    """A per-device collector (see `collectors.base.Collector`) whose result is a FetchedConfig when it worked."""

    name = "config"

    def __init__(self, runner: SshRunner, use_ipv6: bool = False) -> None:
        self.runner = runner
        self.use_ipv6 = use_ipv6

    async def poll(self, target: PollTarget) -> PollResult:
        start = time.perf_counter()
        try:
            endpoint = endpoint_of(target, self.use_ipv6)
            (raw,) = await self.runner.run(endpoint, [cli_of(endpoint.platform).config_command])
            text = normalize(endpoint.platform, raw)
            check_complete(endpoint.platform, text)
        except SshError as exc:
            return PollResult(target.device, self.name, [], False, exc.reason, str(exc), time.perf_counter() - start)
        return FetchedConfig(target.device, self.name, [], True, duration_s=time.perf_counter() - start, text=text)


def make_config_fetcher(settings: SessionSettings, sessions: int, use_ipv6: bool = False) -> ConfigFetcher:
    """A fetcher with its own pool of `sessions` netmiko threads; picklable (with functools.partial) as the
    factory of a worker process."""
    return ConfigFetcher(SshRunner(settings, max_workers=sessions), use_ipv6)
