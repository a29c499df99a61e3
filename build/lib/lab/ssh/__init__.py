"""SSH side of the lab: stateful vendor CLIs (pure interpreter in `cli`) served over asyncssh (`server`)."""
