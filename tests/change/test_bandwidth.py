"""The bandwidth plan on the small lab's county: each way of naming a link, both file formats, every bad row
reported with its line, the host variables of both ends, and the rates written back into a copy of the lab's own
inventory files with nothing else in them changed."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from inventory.model import Inventory, Link
from lab.city import generate_city
from lab.export import write_inventory
from tests.change.conftest import SEED, Docs, load, write_documents
from yiwang.change.bandwidth import (
    BandwidthPlanError,
    RateChange,
    devices_of,
    host_vars,
    read_bandwidth_plan,
    write_rates,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    folder = tmp_path_factory.mktemp("small")
    write_inventory(generate_city(SEED, "small"), folder, Path("/nonexistent/lab-secret"))
    result = load(folder)
    assert not result.problems
    return result.inventory


def township_with_villages(inv: Inventory, count: int = 2) -> tuple[str, list[Link]]:
    """A township router and `count` of its village links, of two different village platforms when there are."""
    for device in sorted(inv.devices.values(), key=lambda d: d.name):
        if device.role != "township-switch":
            continue
        down = [link for link in inv.links if link.remote.device == device.name]
        by_platform = {inv.devices[link.local.device].platform: link for link in down}
        picked = list(by_platform.values())[:count]
        if len(picked) == count:
            return device.name, picked
    raise AssertionError("no township router with villages of several platforms")


def plan(tmp_path: Path, text: str, suffix: str = ".csv") -> Path:
    path = tmp_path / f"plan{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, inv: Inventory) -> list[str]:
    with pytest.raises(BandwidthPlanError) as caught:
        read_bandwidth_plan(path, inv)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_each_way_of_naming_a_link_in_csv(small: Inventory, tmp_path: Path) -> None:
    _, (first, second) = township_with_villages(small)
    third = next(link for link in small.links if link not in (first, second) and link.local.device != "hg-core-01"
                 and small.devices[link.local.device].platform != "linux")
    # Both ends in the inventory's order, one end, and the lower device alone; interfaces written as an engineer
    # may write them (other case, a space).
    upper = f"{second.remote.device}:{second.remote.interface.upper()}"
    text = ("link,mbps\n"
            "# the township's villages first\n"
            f"{first.remote}--{first.local},200\n"
            f"{upper},300\n"
            "\n"
            f"{third.local.device},50\n")
    changes = read_bandwidth_plan(plan(tmp_path, text), small)
    assert changes == [RateChange(first, 200, round(first.bandwidth_mbps)),
                       RateChange(second, 300, round(second.bandwidth_mbps)),
                       RateChange(third, 50, round(third.bandwidth_mbps))]


def test_yaml_with_a_note_column(small: Inventory, tmp_path: Path) -> None:
    _, (first, second) = township_with_villages(small)
    text = (f"- link: {first.local}--{first.remote}\n  mbps: 200\n  note: contract 2027-01\n"
            f"- {{link: {second.local.device}, mbps: '300'}}\n")
    changes = read_bandwidth_plan(plan(tmp_path, text, ".yaml"), small)
    assert [(c.link, c.mbps) for c in changes] == [(first, 200), (second, 300)]


def test_every_bad_row_is_reported_with_its_line(small: Inventory, tmp_path: Path) -> None:
    township, (first, second) = township_with_villages(small)
    villages = [link for link in small.links if small.devices[link.local.device].role == "village-access"
                and link.local.device not in (first.local.device, second.local.device)]
    vrp_village = next(link for link in villages if small.devices[link.local.device].platform == "huawei_vrp")
    ios_village = next(link for link in villages if small.devices[link.local.device].platform == "cisco_ios")
    text = ("link,mbps\n"
            "no-such-router,100\n"                                          # 2
            f"{first.local.device}:GigabitEthernet9/9/9,100\n"              # 3
            f"{first.local}--{second.remote.device}:Bogus0/1,100\n"          # 4
            f"{first.local}--{vrp_village.local},100\n"                     # 5
            f"{township},100\n"                                             # 6 its uplink: fine
            f"{first.local}--{first.remote},100\n"                          # 7
            f"{first.remote}--{first.local},150\n"                          # 8 named twice
            f"{second.local.device},fast\n"                                 # 9
            f"{vrp_village.local.device},0\n"                               # 10
            f"{vrp_village.remote}--{vrp_village.local},-5\n"               # 11 (line 10 named it too)
            f"{ios_village.local.device},2500\n"                            # 12
            "hg-core-01,400001\n"                                           # 13
            "hg-core-01:,100\n"                                             # 14
            f"{second.local.device},12.5,extra\n")                          # 15
    problems = refused(plan(tmp_path, text), small)
    where = f"{tmp_path / 'plan.csv'}"
    expected = [
        f"{where}:2: unknown device 'no-such-router'",
        f"{where}:3: {first.local.device} has no link on interface 'GigabitEthernet9/9/9' (its links are on: "
        f"{first.local.interface})",
        f"{where}:4: {second.remote.device} has no link on interface 'Bogus0/1'",
        f"{where}:5: no link joins {first.local} and {vrp_village.local}",
        f"{where}:8: the link {first.local}--{first.remote} is already in the plan at line 7",
        f"{where}:9: the rate 'fast' is not a whole positive number of Mbit/s",
        f"{where}:10: the rate 0 is not a whole positive number of Mbit/s",
        f"{where}:11: the rate '-5' is not a whole positive number of Mbit/s",
        f"{where}:11: the link {vrp_village.local}--{vrp_village.remote} is already in the plan at line 10",
        f"{where}:12: {ios_village.local.device} (cisco_ios) can enforce at most 2000 Mbit/s on an interface, "
        "not 2500",
        f"{where}:13: the rate 400001 Mbit/s is more than 400000 (is it in kbit/s?)",
        f"{where}:14: 'hg-core-01:' is not device:interface",
        f"{where}:15: 3 cells; the header has 2",
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, wanted in zip(problems, expected, strict=True):
        assert problem.startswith(wanted), (problem, wanted)


def test_yaml_problems_carry_the_entry_line(small: Inventory, tmp_path: Path) -> None:
    _, (first, _) = township_with_villages(small)
    text = (f"- link: {first.local.device}\n"
            "  mbps: 100\n"
            "- link: nowhere-r01\n"           # 3
            "  mbps: 100\n"
            "- {link: hg-core-01}\n"          # 5
            "- {link: hg-core-01, mbps: 10, speed: fast}\n"  # 6
            "- just text\n"                   # 7
            f"- {{link: {first.local.device}, mbps: true}}\n")  # 8
    problems = refused(plan(tmp_path, text, ".yml"), small)
    where = str(tmp_path / "plan.yml")
    assert problems == [
        f"{where}:3: unknown device 'nowhere-r01'",
        f"{where}:5: 'mbps' is missing; an entry is {{link: ..., mbps: ...}}",
        f"{where}:6: unknown field 'speed'; an entry is {{link: ..., mbps: ...}}",
        f"{where}:7: an entry must be {{link: ..., mbps: ...}}, not str",
        f"{where}:8: the rate True is not a whole positive number of Mbit/s",
        f"{where}:8: the link {first.local}--{first.remote} is already in the plan at line 1",
    ]


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("plan.csv", "", ": the plan names no link"),
    ("plan.csv", "link,mbps\n# nothing yet\n", ": the plan names no link"),
    ("plan.yaml", "# nothing yet\n", ": the plan names no link"),
    ("plan.yaml", "[]\n", ": the plan names no link"),
    ("plan.csv", "device,rate\nhg-core-01,100\n", ":1: the header must be link,mbps"),
    ("plan.yaml", "link: hg-core-01\nmbps: 100\n", ":1: the plan must be a list"),
    ("plan.yaml", "- {link: hg-core-01, mbps: 100\n", ":2: not YAML"),
    ("plan.txt", "link,mbps\n", ": a bandwidth plan is a .csv or a .yaml file"),
], ids=["empty-csv", "header-only", "empty-yaml", "empty-list", "bad-header", "not-a-list", "broken-yaml", "suffix"])
def test_a_file_that_is_no_plan(small: Inventory, tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    (found,) = refused(path, small)
    assert found.startswith(str(path) + problem), found


def test_a_device_without_a_cli_is_refused(small_docs: Docs, tmp_path: Path) -> None:
    server = next(d for d in small_docs["devices.yaml"]["devices"] if d["platform"] == "linux")
    small_docs["links.yaml"]["links"].append({"area": server["area"], "local": f"{server['name']}:eth0",
                                              "remote": "hg-core-01:XGigabitEthernet0/0/9", "carrier": "DC",
                                              "bandwidth_mbps": 1000})
    inv = load(write_documents(tmp_path / "inv", small_docs)).inventory
    (problem,) = refused(plan(tmp_path, f"link,mbps\n{server['name']},2000\n"), inv)
    assert problem.endswith(f":2: {server['name']} is a linux device: the change has no command for it")


def test_host_vars_give_both_ends_and_the_upper_end_all_its_links(small: Inventory) -> None:
    township, (first, second) = township_with_villages(small)
    changes = [RateChange(second, 300, 100), RateChange(first, 200, 100)]
    found = host_vars(changes)
    assert set(found) == {township, first.local.device, second.local.device} == set(devices_of(changes))
    assert found[first.local.device] == {"yiwang_bandwidth": [
        {"interface": first.local.interface, "kbps": 200_000, "peer_device": township,
         "peer_interface": first.remote.interface}]}
    assert found[township]["yiwang_bandwidth"] == sorted([
        {"interface": first.remote.interface, "kbps": 200_000, "peer_device": first.local.device,
         "peer_interface": first.local.interface},
        {"interface": second.remote.interface, "kbps": 300_000, "peer_device": second.local.device,
         "peer_interface": second.local.interface}], key=lambda rate: str(rate["interface"]))
    assert devices_of(changes) == sorted(devices_of(changes))


def test_write_rates_changes_only_the_values_of_done_links(small: Inventory, tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    write_inventory(generate_city(SEED, "small"), folder, Path("/nonexistent/lab-secret"))
    links_file = folder / "links.yaml"
    # An engineer's comment (in characters that are not ASCII, before every value edited) survives the edit.
    text = links_file.read_text(encoding="utf-8").replace("links:\n", "links:  # 各村上联\n", 1)
    links_file.write_text(text, encoding="utf-8")
    before = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    inv = load(folder).inventory
    township, (first, second) = township_with_villages(inv)
    unchanged = next(link for link in inv.links if link.bandwidth_mbps == 1000 and link.local.device != township)
    changes = [RateChange(first, 222, round(first.bandwidth_mbps)), RateChange(second, 333, None),
               RateChange(unchanged, 1000, 1000)]
    # The second link's village was not done: its rate stays.
    done = {township, first.local.device, unchanged.local.device, unchanged.remote.device}
    assert write_rates(changes, done, [folder]) == [links_file]
    after = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    assert {name for name in after if after[name] != before[name]} == {"links.yaml"}
    assert sorted(after) == sorted(before)  # no temporary file left behind
    diff = [line for line in difflib.unified_diff(before["links.yaml"].splitlines(),
                                                  after["links.yaml"].splitlines(), n=0, lineterm="")
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert diff == [f"-  bandwidth_mbps: {round(first.bandwidth_mbps)}", "+  bandwidth_mbps: 222"]
    reloaded = load(folder).inventory
    assert next(link for link in reloaded.links if link.local == first.local).bandwidth_mbps == 222
    assert next(link for link in reloaded.links if link.local == second.local).bandwidth_mbps == \
        second.bandwidth_mbps
    # Again: nothing to do, nothing written.
    assert write_rates(changes, done, [folder]) == []


def test_write_rates_refuses_a_link_it_cannot_place(small: Inventory, tmp_path: Path) -> None:
    folder = tmp_path / "inventory"
    write_inventory(generate_city(SEED, "small"), folder, Path("/nonexistent/lab-secret"))
    _, (first, _) = township_with_villages(small)
    links_file = folder / "links.yaml"
    before = links_file.read_text(encoding="utf-8")
    links_file.write_text(before.replace(f"local: {first.local}\n", "local: moved-r01:GigabitEthernet0/0/1\n"),
                          encoding="utf-8")
    edited = links_file.read_text(encoding="utf-8")
    with pytest.raises(BandwidthPlanError, match="defined in 0 inventory files"):
        write_rates([RateChange(first, 222, 100)], {first.local.device, first.remote.device}, [folder])
    assert links_file.read_text(encoding="utf-8") == edited
