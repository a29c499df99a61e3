"""One module per platform: `PARSERS`, the reader of each command kind's output (see collectors.platforms.KINDS)."""
