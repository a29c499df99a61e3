import json
import subprocess
import sys
from pathlib import Path

from lab.city import HOSTILE_DEVICE, HOSTILE_SYS_NAME
from tests.e2e.conftest import write_config

YIWANG = [sys.executable, "-m", "yiwang"]


def test_poll_once_json_covers_the_whole_small_lab(lab_state: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "yiwang.yaml", lab_state, database_url=f"sqlite:///{tmp_path / 'y.sqlite'}")
    done = subprocess.run([*YIWANG, "poll", "--once", "--json", "-c", str(config)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    snmp, icmp = report["snmp"], report["icmp"]
    assert snmp["devices"] > 100 and snmp["failed"] == 0, snmp["failures"][:5]
    assert icmp["devices"] == snmp["devices"] and icmp["failed"] == 0, icmp["failures"][:5]
    # only the profiles' columns: about a dozen varbinds per interface, not whole tables
    assert snmp["varbinds"] > snmp["devices"] * 20


def test_inventory_check_and_ansible_export(lab_state: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "yiwang.yaml", lab_state)
    check = subprocess.run([*YIWANG, "inventory", "check", "-c", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "village" in check.stdout and "inventory is valid" in check.stdout
    hosts = tmp_path / "hosts.yaml"
    export = subprocess.run([*YIWANG, "inventory", "ansible", "-c", str(config), "--out", str(hosts)],
                            capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    assert HOSTILE_DEVICE in hosts.read_text()
    # the hostile sysName is data from the device, never part of the inventory export
    assert HOSTILE_SYS_NAME not in hosts.read_text()


def test_poll_once_names_a_collector_or_says_which_there_are(lab_state: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "yiwang.yaml", lab_state, database_url=f"sqlite:///{tmp_path / 'y.sqlite'}")
    done = subprocess.run([*YIWANG, "poll", "--once", "--json", "--collector", "icmp", "-c", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)) == ["icmp"]
    wrong = subprocess.run([*YIWANG, "poll", "--once", "--collector", "snmpp", "-c", str(config)],
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2 and "snmp, icmp" in wrong.stderr and "'snmpp'" in wrong.stderr, wrong.stderr
