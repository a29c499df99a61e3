"""Up, idempotent up, down: and after down, nothing of the lab is left running or in the firewall."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from lab import LabError, lab_down, lab_fault, lab_inventory_dir, lab_status, lab_up
from lab.agents import start_snmpd_agents, stop_snmpd_agents
from lab.firewall import CHAIN, Firewall
from lab.probe import SYS_NAME, Target, snmp_get
from lab.state import LabPaths

from .conftest import SEED

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab binds loopback addresses and manages iptables: needs root"),
]


def test_up_again_is_idempotent_and_down_leaves_nothing(tmp_path: Path) -> None:
    port = random.randint(20000, 29999)
    # Started from a process that exits at once, as the CLI does: the agents must outlive it.
    script = (f"from pathlib import Path; from lab import lab_up; "
              f"lab_up(Path({str(tmp_path)!r}), 'small', {SEED}, port={port})")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    try:
        status = lab_status(tmp_path)
        pids = [p.pid for p in status.processes]
        # the small lab's one SNMP responder and the SSH devices' server
        assert status.up and sorted(p.name for p in status.processes) == ["snmp", "ssh"]
        again = lab_up(tmp_path, "small", SEED, port=port)
        assert again.already_up and [p.pid for p in again.processes] == pids
        with pytest.raises(LabError, match="already up"):
            lab_up(tmp_path, "city", SEED, port=port)
        assert (lab_inventory_dir(tmp_path) / "devices.yaml").exists()
        lab_fault(tmp_path, "unreachable", "hb.hg.huangzhou.t03")
        lab_fault(tmp_path, "link-down", "hg-core-01", "XGigabitEthernet0/0/1")
        assert lab_status(tmp_path).firewall_rules > 0
    finally:
        down = lab_down(tmp_path)
    assert not down.up and down.faults == () and down.firewall_rules == 0
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids)
    assert Firewall(LabPaths.of(tmp_path).tag).rules() == []
    if shutil.which("iptables"):
        listing = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=False).stdout
        # The chain goes with the last rule, unless another lab on this host still has rules in it.
        assert f"yiwang-lab:{LabPaths.of(tmp_path).tag}" not in listing
        if CHAIN in listing:
            assert "yiwang-lab:" in subprocess.run(["iptables", "-S", CHAIN], capture_output=True, text=True,
                                                   check=False).stdout
    with pytest.raises(LabError, match="not up"):
        lab_fault(tmp_path, "unreachable", "hg-core-01")
    assert not lab_down(tmp_path).up  # safe to repeat


def test_snmpd_agents_for_benchmarks(tmp_path: Path) -> None:
    if not Path("/usr/sbin/snmpd").exists():
        pytest.skip("Debian snmpd is not installed")
    port = random.randint(20000, 29999)
    addresses = ["127.30.0.1", "127.30.0.2", "127.30.0.3", "::1"]
    agents = start_snmpd_agents(addresses, "bench", tmp_path, port=port, processes=2)
    try:
        assert sorted(a for agent in agents for a in agent.addresses) == sorted(addresses)
        for address in addresses:
            assert snmp_get(Target(address, port, "bench"), [SYS_NAME])[SYS_NAME]
        assert all(agent.psutil_process.cpu_times().user >= 0 for agent in agents)
    finally:
        stop_snmpd_agents(agents)
    assert all(agent.process.poll() is not None for agent in agents)
