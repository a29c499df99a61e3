"""The lab announces its link faults the way a device does: a linkDown/linkUp trap from the device's own address,
sent with net-snmp's snmptrap (argument lists only, never a shell)."""

from __future__ import annotations

import shutil
import subprocess

from lab.city import DevicePlan
from lab.state import LabError

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_ADMIN = "1.3.6.1.2.1.2.2.1.7"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"


def trap_command(binary: str, destination: str, community: str, device: DevicePlan, interface: str,
                 down: bool) -> list[str]:
    index = device.interface(interface).index
    return [binary, "-v", "2c", "-c", community, f"--clientaddr={device.host}", destination, "",
            LINK_DOWN if down else LINK_UP,
            f"{IF_INDEX}.{index}", "i", str(index),
            f"{IF_ADMIN}.{index}", "i", "1",
            f"{IF_OPER}.{index}", "i", "2" if down else "1"]


def send_link_trap(destination: str, community: str, device: DevicePlan, interface: str, down: bool) -> None:
    binary = shutil.which("snmptrap")
    if binary is None:
        raise LabError("snmptrap is not installed (Debian package 'snmp'); the fault was applied without a trap")
    done = subprocess.run(trap_command(binary, destination, community, device, interface, down),
                          capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise LabError(f"snmptrap to {destination} failed: {done.stderr.strip()[:300]}")
