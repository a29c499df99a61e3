"""`python -m yiwang.migrations "what changes"`: writes the next numbered migration, filled with what Alembic finds
between `yiwang.schema` and a scratch SQLite database at the current head. Read it and finish it by hand."""

from __future__ import annotations

import sys
import tempfile

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from yiwang.migrations import config, upgrade


def main(argv: list[str]) -> int:
    message = " ".join(argv).strip()
    if not message:
        print(__doc__, file=sys.stderr)
        return 2
    numbers = [int(s.revision) for s in ScriptDirectory.from_config(config()).walk_revisions()]
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/head.sqlite")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                written = command.revision(config(conn), message, autogenerate=True,
                                           rev_id=f"{max(numbers, default=0) + 1:04d}")
        finally:
            engine.dispose()
    for script in written if isinstance(written, list) else [written]:
        if script is not None:
            print(script.path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
