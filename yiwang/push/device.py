"""What the plugins do in one open netmiko session (`collectors.ssh.session.session`): show, read the running
configuration, type configuration lines one at a time watching each answer, save. Blocking I/O; the decisions
are in `plan`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import paramiko
from netmiko import ReadTimeout

from collectors.platforms import cli_of
from collectors.ssh.session import SshError
from yiwang.archive.fetch import check_complete
from yiwang.archive.normalize import normalize
from yiwang.push.plan import rejection

# The prompt after a configuration line: `[name]`/`[name-Gi0/0/1]` (VRP, Comware), `name(config-if)#` (IOS, RGOS).
CONFIG_PROMPT = {"vrp": r"\]\s*$", "ios": r"\)#\s*$"}
EXEC_PROMPT = {"vrp": r">\s*$", "ios": r"#\s*$"}
QUESTION = r"\[Y/N\]:?\s*$"
MAX_ERROR = 300  # a device's error text is untrusted: one clipped line of it is enough to act on
T = TypeVar("T")


@dataclass(slots=True)
class Typed:
    """How far a list of configuration lines got."""

    taken: list[str] = field(default_factory=list)  # lines the device answered without an error
    rejected: str | None = None  # the line it refused
    error: str = ""  # the device's words about it
    dropped: str = ""  # why the session ended while typing (the line after `taken` may or may not have got in)


class Device:
    """One open session. Every failure of its socket comes out as SshError, from here rather than from the
    `session` it was opened by: a change holds two sessions at once, and each must be told apart."""

    def __init__(self, conn: Any, platform: str, read_timeout: float) -> None:
        self.conn = conn
        self.platform = platform
        self.cli = cli_of(platform)
        self.read_timeout = read_timeout
        _fail_fast_when_closed(conn)

    def _io(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ReadTimeout as exc:
            if self.alive():
                raise SshError("timeout", f"no prompt within {self.read_timeout:g}s") from exc
            raise SshError("dropped", "session closed by the device") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SshError("dropped", f"session closed by the device ({type(exc).__name__})") from exc

    def alive(self) -> bool:
        transport = self.conn.remote_conn_pre.get_transport() if self.conn.remote_conn_pre else None
        return bool(transport and transport.is_active())

    def show(self, command: str) -> str:
        return self._io(lambda: str(self.conn.send_command(command, read_timeout=self.read_timeout)))

    def running_config(self) -> str:
        """The whole running configuration; SshError("parse") when it came back cut off."""
        text = normalize(self.platform, self.show(self.cli.config_command))
        check_complete(self.platform, text)
        return text

    def _send(self, line: str, expect: str) -> str:
        return self._io(lambda: str(self.conn.send_command(line, expect_string=expect, read_timeout=self.read_timeout,
                                                           strip_prompt=False, strip_command=True, cmd_verify=True)))

    def type_lines(self, lines: Sequence[str]) -> Typed:
        """Enter configuration mode, type `lines` one by one and stop at the first the device refuses or when
        the session ends; back at the exec prompt afterwards (whose name the lines may have changed) unless the
        session ended."""
        done = Typed()
        prompt = CONFIG_PROMPT[self.cli.family]
        try:
            self._send(self.cli.config_enter, prompt)
            for line in lines:
                answer = self._send(line, prompt)
                words = rejection(answer)
                if words is not None:
                    done.rejected, done.error = line, " ".join(words.split())[:MAX_ERROR]
                    break
                done.taken.append(line)
            self._send(self.cli.config_leave, EXEC_PROMPT[self.cli.family])
            self._io(self.conn.set_base_prompt)
        except SshError as exc:
            if exc.reason != "dropped":
                raise
            done.dropped = str(exc)
        return done

    def save(self) -> str:
        """The platform's save command (collectors.platforms), its question answered yes."""
        command = self.cli.save_command
        if not self.cli.save.get(command):
            return self._send(command, EXEC_PROMPT[self.cli.family])
        asked = self._send(command, QUESTION)
        answer = self._send("y", EXEC_PROMPT[self.cli.family])
        if rejection(asked + answer):
            raise SshError("parse", f"save refused: {rejection(asked + answer)}")
        return asked + answer


def _fail_fast_when_closed(conn: Any) -> None:
    """netmiko reads a closed channel as silence and waits out the whole read timeout; a device that closed the
    session mid-change is told at once instead (EOFError), so the way back starts while it still can."""
    read = conn.read_channel
    channel = conn.remote_conn

    def read_or_eof() -> str:
        data = str(read())
        if not data and channel is not None and (channel.closed or channel.eof_received):
            raise EOFError("the device closed the session")
        return data

    conn.read_channel = read_or_eof
