"""The on-disk outbox: one JSON-lines file per notifier, each line one transition still to deliver.

A line is appended and fsync'd before the first attempt; it is removed (atomic replace, fsync'd) only after the
receiver accepted it. A crash between the two re-sends that one notification: at least once always, exactly once
across ordinary stops; payloads carry a stable `key` so a receiver can drop the duplicate.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerts.state import Transition

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    transition: Transition


def transition_from_dict(data: dict[str, Any]) -> Transition:
    data = dict(data)
    data["affected"] = tuple(data.get("affected", ()))
    return Transition(**data)


class OutboxBusy(RuntimeError):
    pass


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Two processes sending from one outbox would deliver twice; the second one is refused.
        self._lock = open(self.directory / ".lock", "w")  # held for the Outbox's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutboxBusy(f"outbox {self.directory} is in use by another dispatcher") from None

    def close(self) -> None:
        self._lock.close()

    def _file(self, notifier: str) -> Path:
        return self.directory / f"{_UNSAFE.sub('_', notifier)}.jsonl"

    def append(self, notifier: str, entries: list[Entry]) -> None:
        if not entries:
            return
        text = "".join(json.dumps({"id": e.id, "transition": e.transition.to_dict()}, ensure_ascii=False) + "\n"
                       for e in entries)
        with open(self._file(notifier), "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def pending(self, notifier: str) -> list[Entry]:
        path = self._file(notifier)
        if not path.exists():
            return []
        entries: list[Entry] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                record = json.loads(line)
                entries.append(Entry(str(record["id"]), transition_from_dict(record["transition"])))
            except (ValueError, KeyError, TypeError) as exc:
                # A line cut short by a crash mid-append: nothing was acknowledged for it, so nothing is lost.
                log.error("outbox %s line %d unreadable, dropped: %s", path, number, exc)
        return entries

    def remove(self, notifier: str, entry_id: str) -> None:
        path = self._file(notifier)
        keep = [e for e in self.pending(notifier) if e.id != entry_id]
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            for e in keep:
                handle.write(json.dumps({"id": e.id, "transition": e.transition.to_dict()}, ensure_ascii=False))
                handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
