"""`yiwang lab history` (10 days of the small lab, pings and interface status included) into a real VictoriaMetrics,
then `yiwang capacity carriers` reading it back: the seed's carrier incident breaks its carrier's SLA in its month,
and the links it took down are listed with it."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from lab.city import generate_city
from lab.history import link_histories
from tests.sinks.servers import VictoriaMetrics
from yiwang.capacity.carriers import UTC8

from .test_cli import cli, configure
from .test_lab_history import lab_history

pytestmark = pytest.mark.integration
# The incident is drawn inside whatever history there is, within one month; ten days hold it as well as 35 (the
# capacity tests read those) and take a quarter of the time.
DAYS = 10


def test_the_lab_incident_breaks_its_carriers_sla(tmp_path: Path, victoria: VictoriaMetrics) -> None:
    config, inventory = configure(tmp_path, victoria.url)
    assert {c.sla_availability_pct for c in inventory.carriers.values()} == {99.9, 99.95}
    # An explicit end: the incident's place is drawn back from it, and the test redraws it here.
    end_at = datetime.fromtimestamp(time.time() // 60 * 60, UTC8)
    code, stdout, stderr = lab_history(config, "--days", str(DAYS), "--profile", "small", "--end",
                                       end_at.isoformat())
    end = end_at.timestamp()
    assert code == 0, stderr
    histories = link_histories(generate_city(2026, "small"), end, DAYS)
    hit = [h for h in histories if h.incident]
    assert hit and "运营商故障 carrier incident" in stdout
    carrier = hit[0].link.carrier
    incident = next(o for o in hit[0].outages if all(o in h.outages for h in hit))
    month = datetime.fromtimestamp(incident.end_s, UTC8).strftime("%Y-%m")

    code, stdout, stderr = cli(config, "carriers", "--month", month, "--json")
    assert code == 0, stderr
    found = {row["carrier"]: row for row in json.loads(stdout)["carriers"]}
    row = found[carrier]
    assert row["meets_sla"] is False and row["availability_pct"] < 99.9
    listed = {one["link"]: one for one in row["breaking"]}
    assert {str(h.link.local) for h in hit} <= set(listed)
    start = datetime.fromtimestamp(incident.start_s, UTC8).strftime("%Y-%m-%d %H:%M")
    minutes = (incident.end_s - incident.start_s) // 60
    for h in hit:
        assert {"start": start, "end": datetime.fromtimestamp(incident.end_s, UTC8).strftime("%Y-%m-%d %H:%M"),
                "minutes": minutes} in listed[str(h.link.local)]["outages"]
    # The breaking links come worst first; the private line has no incident drawn on it.
    shares = [one["availability_pct"] for one in row["breaking"]]
    assert shares == sorted(shares)
    private = found["Hubei E-Gov Private Line"]
    assert private["outages"] == 0 and private["rtt_mean_ms"] is not None

    code, stdout, stderr = cli(config, "carriers", "--month", month)
    assert code == 0, stderr
    assert "未达标 NO" in stdout and "运营商 SLA" in stdout
