"""Pager debris as real sessions leave it, generated from a real output: a pager prompt before every line, erased
the way each CLI erases it (cursor moves and spaces on VRP/Comware, backspaces on IOS/RGOS), and `\\r\\r\\n` ends."""

from __future__ import annotations

VRP_PROMPT = "  ---- More ----"
IOS_PROMPT = " --More-- "


def erased_with_spaces(text: str) -> str:
    """VRP/Comware: the prompt, the cursor 42 columns back, 42 spaces over it, back again, then the line."""
    erase = f"{VRP_PROMPT}\x1b[42D{' ' * 42}\x1b[42D"
    return "".join(f"{erase}{line}\n" if i else f"{line}\n" for i, line in enumerate(text.splitlines()))


def erased_with_backspaces(text: str) -> str:
    """IOS/RGOS: the prompt, backspaces to its start, spaces over it, backspaces again, then the line."""
    width = len(IOS_PROMPT)
    erase = f"{IOS_PROMPT}{chr(8) * width}{' ' * width}{chr(8) * width}"
    return "".join(f"{erase}{line}\n" if i else f"{line}\n" for i, line in enumerate(text.splitlines()))


def doubled_carriage_returns(text: str) -> str:
    return "".join(f"{line}\r\r\n" for line in text.splitlines())


VARIANTS = {"spaces": erased_with_spaces, "backspaces": erased_with_backspaces, "crcrlf": doubled_carriage_returns}
