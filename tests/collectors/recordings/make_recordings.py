"""Writes this folder's own recordings; the output is committed.

    python tests/collectors/recordings/make_recordings.py
"""

from pathlib import Path

OUT = Path(__file__).parent
IF, IFX = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"


def text(value):
    return "4", value


def nul(value):  # a DisplayString as Windows and some embedded agents send it: with the C string's NUL
    return "4x", (value.encode() + b"\x00").hex()


def ramp(tag, rate, initial=0):
    # snmpsim's numeric module: initial + rate * (seconds since the responder started), wrapping at the maximum
    return f"{tag}:numeric", f"rate={rate},initial={initial},wrap=1"


def write(name, records):
    def key(oid):
        return tuple(int(p) for p in oid.split("."))
    lines = [f"{oid}|{tag}|{value}" for oid, (tag, value) in sorted(records.items(), key=lambda r: key(r[0]))]
    (OUT / f"{name}.snmprec").write_text("\n".join(lines) + "\n")


def system(records, descr, object_id, name, uptime, name_nul=False):
    records["1.3.6.1.2.1.1.1.0"] = text(descr)
    records["1.3.6.1.2.1.1.2.0"] = ("6", object_id)
    records["1.3.6.1.2.1.1.3.0"] = ("67", str(uptime))
    records["1.3.6.1.2.1.1.5.0"] = nul(name) if name_nul else text(name)


def if_rows(records, rows):
    """rows: index -> dict(descr, speed, oper, in_rate, out_rate, in_initial, descr_nul)"""
    for index, row in rows.items():
        records[f"{IF}.1.{index}"] = ("2", str(index))
        records[f"{IF}.2.{index}"] = nul(row["descr"]) if row.get("descr_nul") else text(row["descr"])
        records[f"{IF}.3.{index}"] = ("2", str(row.get("type", 6)))
        records[f"{IF}.5.{index}"] = ("66", str(row["speed"]))
        records[f"{IF}.7.{index}"] = ("2", "1")
        records[f"{IF}.8.{index}"] = ("2", str(row.get("oper", 1)))
        in_rate, out_rate = row.get("in_rate", 0), row.get("out_rate", 0)
        records[f"{IF}.10.{index}"] = ramp(65, in_rate, row.get("in_initial", 0)) if in_rate else ("65", "0")
        records[f"{IF}.11.{index}"] = ramp(65, in_rate // 1000) if in_rate >= 1000 else ("65", "0")
        records[f"{IF}.13.{index}"] = ("65", "0")
        records[f"{IF}.14.{index}"] = ("65", "0")
        records[f"{IF}.16.{index}"] = ramp(65, out_rate) if out_rate else ("65", "0")
        records[f"{IF}.17.{index}"] = ramp(65, out_rate // 1000) if out_rate >= 1000 else ("65", "0")
        records[f"{IF}.19.{index}"] = ("65", "0")
        records[f"{IF}.20.{index}"] = ("65", "0")
    records["1.3.6.1.2.1.2.1.0"] = ("2", str(len(rows)))


WRAP_AFTER_S = 20
old = {}
system(old, "3Com SuperStack II Switch 3300, SW Version:2.69", "1.3.6.1.4.1.43.10.27.4.1.2.2", "v7-sw-old", 130010261,
       name_nul=True)
if_rows(old, {
    # wraps WRAP_AFTER_S seconds after the responder starts: 1,000,000 octets/s = 8 Mb/s
    101: {"descr": "RMON:10/100 Port 1 on Unit 1", "speed": 100000000, "in_rate": 1_000_000,
          "in_initial": 4294967295 - 1_000_000 * WRAP_AFTER_S, "out_rate": 250_000},
    102: {"descr": "RMON:10/100 Port 2 on Unit 1", "speed": 100000000, "in_rate": 12_500, "out_rate": 12_500},
    103: {"descr": "RMON:10/100 Port 3 on Unit 1", "speed": 10000000, "oper": 2},
    125: {"descr": "RMON:1000 Port 25 on Unit 1", "speed": 1000000000, "in_rate": 5_000_000, "out_rate": 2_000_000},
})
write("old-switch", old)

partial = {}
system(partial, "3Com SuperStack 3", "1.3.6.1.4.1.43.10.27.4.1.2.11", "v7-sw-4200", 130010261)
if_rows(partial, {
    101: {"descr": "RMON Port 01 on unit 1", "speed": 100000000, "in_rate": 125_000, "out_rate": 25_000},
    102: {"descr": "RMON Port 02 on unit 1", "speed": 100000000, "oper": 2},
    198: {"descr": "Console Port 192.168.101.1   on unit 1", "speed": 19200, "type": 33},
})
for index, high in ((101, 100), (102, 100), (198, 0)):
    partial[f"{IFX}.1.{index}"] = text("")  # ifName there, but empty
    partial[f"{IFX}.3.{index}"] = ("65", "0")  # ifInMulticastPkts
    partial[f"{IFX}.14.{index}"] = ("2", "1")  # ifLinkUpDownTrapEnable
    partial[f"{IFX}.15.{index}"] = ("66", str(high))
write("old-switch-partial-ifx", partial)

router = {}
system(router, "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.4(3)M2", "1.3.6.1.4.1.9.1.1044",
       "c1-rt-01", 86400000)
if_rows(router, {
    1: {"descr": "GigabitEthernet0/0", "speed": 1000000000, "in_rate": 3_000_000, "out_rate": 1_000_000},
    2: {"descr": "GigabitEthernet0/1", "speed": 1000000000},
    # no ifXTable rows for these two: named by ifDescr, counted by the 32-bit columns
    3: {"descr": "Tunnel0", "speed": 100000, "type": 131, "in_rate": 1_250, "out_rate": 2_500},
    4: {"descr": "Null0", "speed": 4294967295, "type": 1},
})
for index, name, rate, alias in ((1, "Gi0/0", 3_000_000, "uplink to c1-core"), (2, "Gi0/1", 0, "")):
    router[f"{IFX}.1.{index}"] = text(name)
    for column, per_second in ((6, rate), (7, rate // 1000), (10, rate // 3), (11, rate // 3000)):
        router[f"{IFX}.{column}.{index}"] = ramp(70, per_second, 5_000_000_000) if per_second else ("70", "0")
    router[f"{IFX}.15.{index}"] = ("66", "1000")
    router[f"{IFX}.18.{index}"] = text(alias)
write("no-ifname", router)

windows = {}
system(windows, "Hardware: Intel64 Family 6 Model 63 Stepping 2 AT/AT COMPATIBLE - Software: Windows Version 5.2 "
       "(Build 3790 Multiprocessor Free)", "1.3.6.1.4.1.311.1.1.3.1.2", "DC1-WIN-01", 8279500)
if_rows(windows, {
    1: {"descr": "MS TCP Loopback interface", "speed": 10000000, "type": 24, "descr_nul": True},
    65539: {"descr": "Intel(R) PRO/1000 MT Network Connection", "speed": 1000000000, "descr_nul": True,
            "in_rate": 625_000, "out_rate": 125_000},
    # a 10 Gb/s adapter: ifSpeed says "see ifHighSpeed", which this agent does not have
    65540: {"descr": "Intel(R) Ethernet Server Adapter X520-2", "speed": 4294967295, "descr_nul": True,
            "in_rate": 50_000, "out_rate": 50_000},
}
)
HR = "1.3.6.1.2.1.25"
for index, kind, descr, unit, size, used in ((1, 4, "C:\\ Label:  Serial Number 5c3a1b2d", 4096, 10483711, 4012032),
                                              (5, 2, "Physical Memory", 65536, 65497, 21300)):
    windows[f"{HR}.2.3.1.1.{index}"] = ("2", str(index))
    windows[f"{HR}.2.3.1.2.{index}"] = ("6", f"{HR}.2.1.{kind}")
    windows[f"{HR}.2.3.1.3.{index}"] = nul(descr)
    windows[f"{HR}.2.3.1.4.{index}"] = ("2", str(unit))
    windows[f"{HR}.2.3.1.5.{index}"] = ("2", str(size))
    windows[f"{HR}.2.3.1.6.{index}"] = ("2", str(used))
for index, load in ((2, 7), (3, 12)):
    windows[f"{HR}.3.3.1.2.{index}"] = ("2", str(load))
write("windows-host", windows)
