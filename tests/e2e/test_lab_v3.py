"""`yiwang lab up --snmp v3`: the small lab with an SNMPv3 authPriv (SHA/AES-128) user in its inventory instead of a
community, then `yiwang poll --once` polls every device over v3 (each with its own engine ID) through the CLI."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import lab_down
from tests.e2e.conftest import write_config

pytestmark = pytest.mark.integration

YIWANG = [sys.executable, "-m", "yiwang"]


def test_lab_up_v3_then_poll_once_over_v3(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = write_config(tmp_path / "yiwang.yaml", state, database_url=f"sqlite:///{tmp_path / 'y.sqlite'}")
    port = random.randint(20000, 29999)
    try:
        up = subprocess.run([*YIWANG, "lab", "up", "--snmp", "v3", "--port", str(port), "--no-history", "-c",
                             str(config)],
                            capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr + up.stdout
        assert "SNMP v3" in up.stdout
        inventory = state / "inventory"
        credentials = yaml.safe_load((inventory / "credentials.yaml").read_text())["credentials"]
        snmp = [c for c in credentials if c["kind"].startswith("snmp")]
        assert [(c["kind"], c["auth_protocol"], c["priv_protocol"]) for c in snmp] == [("snmp_v3", "SHA", "AES")]
        assert set(snmp[0]["auth_key"]) == set(snmp[0]["priv_key"]) == {"file"}  # references, never the secret
        assert "community" not in (inventory / "credentials.yaml").read_text()

        done = subprocess.run([*YIWANG, "poll", "--once", "--json", "-c", str(config)], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)["snmp"]
        assert report["devices"] > 100 and report["failed"] == 0, report["failures"][:5]
        assert report["varbinds"] > report["devices"] * 20
    finally:
        lab_down(state)
    # What the responder answered over v3: every device, each after one discovery (its engine ID differs).
    log = (state / "lab" / "logs" / "snmp.log").read_text()
    stats = dict(re.findall(r"(\w+)=(\d+)", log.strip().splitlines()[-1]))
    assert int(stats["v3_answered"]) >= 2 * report["devices"], stats
    assert int(stats["unknown_engine_ids"]) >= report["devices"], stats
    assert stats["wrong_digests"] == stats["decryption_errors"] == stats["unknown_user_names"] == "0", stats
