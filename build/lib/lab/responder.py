"""snmpsim's command responder, started with two settings its command line does not offer.

Run as a script (`python lab/responder.py <snmpsim options>`); it imports only snmpsim and the standard library.

1. The per-file OID index. snmpsim keeps it in whatever `dbm` Python has; a Python built without gdbm falls back
   to `dbm.dumb`, which opens two files per key written and evaluates a text index on every open. Measured on
   the city: ~80% of start-up CPU and 550 MB of index files. Here the index is a dict saved with marshal.
2. How many data files stay open. snmpsim closes all but the 31 most recently used, so a poller that walks
   600 devices per responder reopens (and re-reads the index of) nearly every file on every request: measured
   1,050 varbinds/s instead of 2,550. The limit is raised as far as the open-file limit allows.
"""

from __future__ import annotations

import marshal
import os
import resource
import sys
from typing import Any

FORMAT = "yiwang-marshal"
MAGIC = b"YWIX1\n"


class MarshalIndex:
    """The slice of the dbm interface snmpsim's RecordIndex uses: open, setitem, getitem, close."""

    def __init__(self, path: str, flag: str) -> None:
        self.path = path
        self.writable = any(f in flag for f in "nwc")
        self.data: dict[bytes, bytes] = {} if "n" in flag else _load(path)

    def __setitem__(self, key: str | bytes, value: str | bytes) -> None:
        self.data[_bytes(key)] = _bytes(value)

    def __getitem__(self, key: str | bytes) -> bytes:
        return self.data[_bytes(key)]

    def close(self) -> None:
        if self.writable:
            tmp = f"{self.path}.tmp"
            with open(tmp, "wb") as handle:
                handle.write(MAGIC + marshal.dumps(self.data))
            os.replace(tmp, self.path)
            self.writable = False


def _bytes(value: str | bytes) -> bytes:
    return value.encode("iso-8859-1") if isinstance(value, str) else value


def _load(path: str) -> dict[bytes, bytes]:
    with open(path, "rb") as handle:
        blob = handle.read()
    if not blob.startswith(MAGIC):
        raise OSError(f"{path} is not a {FORMAT} index")
    # Written by this module into the lab's own cache dir, never taken from elsewhere.
    data: dict[bytes, bytes] = marshal.loads(blob[len(MAGIC):])  # noqa: S302
    return data


class MarshalDbm:
    """Stands in for both the `dbm` and the `whichdb` module that snmpsim's database module imported."""

    @staticmethod
    def open(path: str, flag: str = "r", mode: int = 0o666) -> MarshalIndex:
        return MarshalIndex(path, flag)

    @staticmethod
    def whichdb(path: str) -> str | None:
        try:
            with open(path, "rb") as handle:
                return FORMAT if handle.read(len(MAGIC)) == MAGIC else ""
        except OSError:
            return None


def open_files_budget() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    # Each open data file holds one descriptor; leave room for one socket per endpoint and the rest.
    endpoints = sum(1 for arg in sys.argv if arg.startswith("--agent-udpv"))
    return max(31, soft - endpoints - 256)


def main() -> Any:
    from snmpsim import datafile
    from snmpsim.commands import responder
    from snmpsim.record.search import database

    database.dbm = MarshalDbm  # type: ignore[attr-defined]
    database.whichdb = MarshalDbm  # type: ignore[attr-defined]
    datafile.DataFile.max_queue_entries = open_files_budget()
    return responder.main()


if __name__ == "__main__":
    sys.exit(main())
