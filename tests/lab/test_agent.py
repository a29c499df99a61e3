"""The responder's protocol core without a network: one datagram and a device's data in, the answer out."""

from __future__ import annotations

import math
import random
import time

import pytest

from collectors.snmp import ber
from lab.agent import NO_ACCESS, NO_SUCH_NAME, TOO_BIG, Agent
from lab.city import CityPlan
from lab.mib import Interner, Mib, parse_snmprec
from lab.ramp import Ramp, served
from lab.snmprec import render_snmprec

COMMUNITY = b"s3cret"
T0 = 1_800_000_000.0
DATA = f"""\
1.3.6.1.2.1.1.1.0|4|Test device
1.3.6.1.2.1.1.3.0|67:ramp|base=100,rate=100.000000,t0={T0:.3f}
1.3.6.1.2.1.1.5.0|4x|3c623e
1.3.6.1.2.1.2.2.1.2.1|4|eth0
1.3.6.1.2.1.2.2.1.2.2|4|eth1
1.3.6.1.2.1.2.2.1.10.1|65:ramp|base={2**32 - 6},rate=2.000000,t0={T0:.3f}
1.3.6.1.2.1.2.2.1.10.2|65|7
1.3.6.1.2.1.31.1.1.1.6.1|70:ramp|base={2**64 - 6},rate=2.000000,t0={T0:.3f}
1.3.6.1.2.1.31.1.1.1.6.2|70|9
1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16842753|2:numeric|function=sin%<time>,rate=0.1,scale=10,offset=50
"""
SYS_DESCR, SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
IF_DESCR, IF_IN, IF_HC_IN = "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.31.1.1.1.6"
HUAWEI_CPU = "1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5.16842753"
ORDER = [SYS_DESCR, SYS_UPTIME, SYS_NAME, f"{IF_DESCR}.1", f"{IF_DESCR}.2", f"{IF_IN}.1", f"{IF_IN}.2",
         f"{IF_HC_IN}.1", f"{IF_HC_IN}.2", HUAWEI_CPU]


@pytest.fixture
def mib() -> Mib:
    return parse_snmprec(DATA, Interner(T0))


def ask(mib: Mib | None, request: bytes, agent: Agent | None = None, now: float = T0 + 10,
        version: int = ber.VERSION_2C) -> ber.Response:
    answer = (agent or Agent(COMMUNITY)).answer(mib, request, now)
    assert answer is not None
    return ber.decode_response(answer, version)


def names(response: ber.Response) -> list[str]:
    return [ber.oid_to_str(oid) for oid, _, _ in response.varbinds]


def v1(pdu_type: int, oids: list[str], field2: int = 0, field3: int = 0) -> bytes:
    varbinds = ber.encode_varbind_list([ber.encode_varbind(o, ber.NULL, None) for o in oids])
    return ber.encode_message(COMMUNITY, pdu_type, 9, field2, field3, varbinds, ber.VERSION_1)


def test_get_answers_values_and_says_which_kind_of_missing(mib: Mib) -> None:
    response = ask(mib, ber.encode_get(COMMUNITY, 7, [SYS_NAME, SYS_UPTIME, "1.3.6.1.2.1.1.9.0",
                                                      f"{IF_DESCR}.3", IF_DESCR, "1.3.6.1.2.1.2.2.1.2.1.5"]))
    assert response.request_id == 7 and response.error_status == 0
    assert [(tag, value) for _, tag, value in response.varbinds] == [
        (ber.OCTET_STRING, b"<b>"), (ber.TIMETICKS, 100 + 1000),
        (ber.NO_SUCH_OBJECT, None),  # no sysORID column at all
        (ber.NO_SUCH_INSTANCE, None), (ber.NO_SUCH_INSTANCE, None), (ber.NO_SUCH_INSTANCE, None),
    ]


def test_getnext_walks_the_whole_mib_in_oid_order_then_ends(mib: Mib) -> None:
    walked, oid = [], "1.3"
    while True:
        response = ask(mib, ber.encode_getnext(COMMUNITY, 1, [oid]))
        (raw, tag, _), = response.varbinds
        if tag == ber.END_OF_MIB_VIEW:
            assert ber.oid_to_str(raw) == oid  # endOfMibView under the name asked for
            break
        oid = ber.oid_to_str(raw)
        walked.append(oid)
    assert walked == ORDER  # 2011 (a two-byte arc) sorts after 2 and 31, as OID order wants


def test_getbulk_non_repeaters_then_rows_of_repeaters(mib: Mib) -> None:
    response = ask(mib, ber.encode_getbulk(COMMUNITY, 3, 1, 3, ["1.3.6.1.2.1.1.1", IF_DESCR, IF_HC_IN]))
    assert names(response) == [
        SYS_DESCR,
        f"{IF_DESCR}.1", f"{IF_HC_IN}.1",
        f"{IF_DESCR}.2", f"{IF_HC_IN}.2",
        f"{IF_IN}.1", HUAWEI_CPU,  # a walker sees these leave its columns and stops
    ]


def test_getbulk_past_the_end_repeats_end_of_mib_view_and_stops_after_one_such_row(mib: Mib) -> None:
    response = ask(mib, ber.encode_getbulk(COMMUNITY, 3, 0, 50, [f"{IF_HC_IN}.2", "1.3.6.1.9"]))
    assert [(ber.oid_to_str(o), t) for o, t, _ in response.varbinds] == [
        (HUAWEI_CPU, ber.INTEGER), ("1.3.6.1.9", ber.END_OF_MIB_VIEW),
        (HUAWEI_CPU, ber.END_OF_MIB_VIEW), ("1.3.6.1.9", ber.END_OF_MIB_VIEW),
    ]


@pytest.mark.parametrize(("non_repeaters", "repetitions", "expected"), [
    (0, 0, []),
    (5, 10, [SYS_DESCR, f"{IF_DESCR}.1"]),  # more non-repeaters than varbinds: each is a GETNEXT
    (-3, 2, [SYS_DESCR, f"{IF_DESCR}.1", SYS_UPTIME, f"{IF_DESCR}.2"]),  # negative counts as zero
    (1, -1, [SYS_DESCR]),
])
def test_getbulk_counts_per_rfc_3416(mib: Mib, non_repeaters: int, repetitions: int, expected: list[str]) -> None:
    request = ber.encode_getbulk(COMMUNITY, 3, non_repeaters, repetitions, ["1.3.6.1.2.1.1", IF_DESCR])
    assert names(ask(mib, request)) == expected


def test_a_bulk_answer_is_cut_to_fit_the_message_size(mib: Mib) -> None:
    request = ber.encode_getbulk(COMMUNITY, 3, 0, 1000, ["1.3"])
    whole = ask(mib, request)
    agent = Agent(COMMUNITY, max_size=200)
    answer = agent.answer(mib, request, T0 + 10)
    assert answer is not None and len(answer) <= 200
    cut = ber.decode_response(answer)
    assert cut.error_status == 0 and 0 < len(cut.varbinds) < len(whole.varbinds)
    assert cut.varbinds == whole.varbinds[:len(cut.varbinds)]


def test_a_get_that_cannot_fit_is_too_big_with_no_varbinds(mib: Mib) -> None:
    agent = Agent(COMMUNITY, max_size=90)
    response = ask(mib, ber.encode_get(COMMUNITY, 4, [SYS_DESCR, SYS_NAME, f"{IF_DESCR}.1"]), agent)
    assert (response.error_status, response.error_index, response.varbinds) == (TOO_BIG, 0, [])
    assert agent.stats.too_big == 1


def test_counters_are_ramps_that_wrap_exactly(mib: Mib) -> None:
    def values(now: float) -> list[int | bytes | str | None]:
        response = ask(mib, ber.encode_get(COMMUNITY, 1, [f"{IF_IN}.1", f"{IF_HC_IN}.1"]), now=now)
        return [value for _, _, value in response.varbinds]

    assert values(T0) == [2**32 - 6, 2**64 - 6]
    assert values(T0 + 2.9) == [2**32 - 1, 2**64 - 1]  # 2.9 s at 2/s: 5 whole counts, truncated
    assert values(T0 + 3) == [0, 0]
    assert values(T0 + 4) == [2, 2]
    assert values(T0 - 100) == [2**32 - 6, 2**64 - 6]  # before t0 the counter stands still
    ramp = Ramp(2**32 - 6, 2.0, T0)
    assert values(T0 + 1234.5)[0] == served(ramp, "65", T0 + 1234.5)


def test_numeric_follows_snmpsims_formula(mib: Mib) -> None:
    # booted at T0: sin((now - T0) * 0.1) * 10 + 50, truncated
    for seconds, expected in ((0.0, 50), (5 * math.pi, 60), (15 * math.pi, 40), (1.0, 50)):
        response = ask(mib, ber.encode_get(COMMUNITY, 1, [HUAWEI_CPU]), now=T0 + seconds)
        assert response.varbinds[0][2] == expected


def test_wrong_community_gets_no_answer_and_is_counted(mib: Mib) -> None:
    agent = Agent(COMMUNITY)
    assert agent.answer(mib, ber.encode_get(b"s3cret-other", 1, [SYS_NAME]), T0) is None
    assert agent.answer(mib, ber.encode_get(b"", 1, [SYS_NAME]), T0) is None
    assert (agent.stats.bad_community, agent.stats.answered) == (2, 0)


def test_a_parked_device_is_silent(mib: Mib) -> None:
    agent = Agent(COMMUNITY)
    assert agent.answer(None, ber.encode_get(COMMUNITY, 1, [SYS_NAME]), T0) is None
    assert agent.stats.silent == 1


def test_malformed_datagrams_are_dropped_never_raised(mib: Mib) -> None:
    agent = Agent(COMMUNITY)
    good = ber.encode_getbulk(COMMUNITY, 77, 1, 5, [SYS_NAME, IF_DESCR])
    rng = random.Random(7)
    bad = [b"", b"\x30", b"\x30\x00", b"hello", good[:-1], good + b"\x00", good[:10]]
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        bad.append(bytes(data))
    for data in bad:
        answer = agent.answer(mib, data, T0)
        if answer is not None:  # a flip that still makes a valid request (e.g. in the request-id) is answered
            assert ber.decode_response(answer).pdu_type == ber.RESPONSE
    assert agent.stats.malformed >= 7
    assert ask(mib, good, agent).request_id == 77


def test_snmpv3_and_traps_are_not_answered(mib: Mib) -> None:
    agent = Agent(COMMUNITY)
    v3 = bytes.fromhex("303e020103301102040000000102030100000400040103020103")
    trap = ber.encode_message(COMMUNITY, 0xA7, 1, 0, 0, ber.encode_varbind_list([]))
    assert agent.answer(mib, v3, T0) is None and agent.answer(mib, trap, T0) is None
    assert agent.stats.unsupported == 2 and agent.stats.malformed == 0


def test_set_is_refused_as_on_a_read_only_community(mib: Mib) -> None:
    request = ber.encode_message(COMMUNITY, ber.SET_REQUEST, 5, 0, 0,
                                 ber.encode_varbind_list([ber.encode_varbind(SYS_NAME, ber.OCTET_STRING, b"x")]))
    response = ask(mib, request)
    assert (response.error_status, response.error_index) == (NO_ACCESS, 1)
    assert response.varbinds == [(ber.encode_oid(SYS_NAME), ber.OCTET_STRING, b"x")]


def test_snmpv1_has_no_such_name_and_no_counter64(mib: Mib) -> None:
    got = ask(mib, v1(ber.GET_REQUEST, [SYS_NAME, f"{IF_IN}.1"]), version=ber.VERSION_1)
    assert got.error_status == 0 and [v for _, _, v in got.varbinds] == [b"<b>", (2**32 - 6 + 20) % 2**32]
    for oids, index in (([SYS_NAME, "1.3.6.1.2.1.1.9.0"], 2), ([f"{IF_HC_IN}.1"], 1)):
        got = ask(mib, v1(ber.GET_REQUEST, oids), version=ber.VERSION_1)
        assert (got.error_status, got.error_index) == (NO_SUCH_NAME, index)
        assert names(got) == oids  # the request's varbinds, as RFC 1157 answers errors
    got = ask(mib, v1(ber.GET_NEXT_REQUEST, [f"{IF_IN}.2"]), version=ber.VERSION_1)
    assert names(got) == [HUAWEI_CPU]  # both Counter64 skipped
    got = ask(mib, v1(ber.GET_NEXT_REQUEST, [HUAWEI_CPU]), version=ber.VERSION_1)
    assert (got.error_status, got.error_index) == (NO_SUCH_NAME, 1)
    agent = Agent(COMMUNITY)
    assert agent.answer(mib, v1(ber.GET_BULK_REQUEST, [SYS_NAME], 0, 5), T0) is None
    assert agent.stats.unsupported == 1


def test_a_lab_device_walks_back_to_its_own_data(small: CityPlan) -> None:
    device = small.device("hg-huangzhou-t01-v001")  # the one with hostile strings
    text = render_snmprec(device, T0)
    mib = parse_snmprec(text, Interner(T0))
    records = [line.split("|")[0] for line in text.splitlines()]
    walked: list[str] = []
    oid = "1.3"
    while True:
        response = ask(mib, ber.encode_getbulk(COMMUNITY, 1, 0, 40, [oid]))
        batch = [(ber.oid_to_str(o), t) for o, t, _ in response.varbinds]
        walked += [o for o, t in batch if t != ber.END_OF_MIB_VIEW]
        if batch[-1][1] == ber.END_OF_MIB_VIEW:
            break
        oid = batch[-1][0]
    assert walked == records
    sys_name = ask(mib, ber.encode_get(COMMUNITY, 1, [SYS_NAME])).varbinds[0][2]
    assert sys_name == device.sys_name.encode("utf-8")


def test_devices_of_one_model_share_their_layout(small: CityPlan) -> None:
    interner = Interner(T0)
    villages = [d for d in small.devices if d.role == "village-access" and d.model == small.devices[-1].model]
    mibs = [parse_snmprec(render_snmprec(d, T0), interner) for d in villages[:5]]
    assert len({id(m.shape) for m in mibs}) < len(mibs)


@pytest.mark.parametrize(("line", "message"), [
    ("1.3.6.1.2.1.1.5.0|99|x", "unknown type"),
    ("1.3.6.1.2.1.1.5.0|4:delay|x", "not supported"),
    ("1.3.6.1.2.1.1.5.0|4:ramp|base=1,rate=1,t0=0", "needs a counter"),
    ("1.3.6.1.2.1.1.5.0|2|many", "invalid literal"),
    ("nonsense", "not enough values"),
])
def test_data_it_cannot_serve_is_refused_with_the_line(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"line 2: .*{message}"):
        parse_snmprec(f"1.3.6.1.2.1.1.1.0|4|ok\n{line}\n", Interner(T0))


def test_a_bulk_of_thousands_of_repeaters_costs_no_more_than_one_full_answer(small: CityPlan) -> None:
    mib = parse_snmprec(render_snmprec(small.device("hg-core-01"), T0), Interner(T0))
    request = ber.encode_getbulk(COMMUNITY, 1, 0, 2**31 - 1, ["1.3"] * 3000)
    started = time.perf_counter()
    answer = Agent(COMMUNITY).answer(mib, request, T0)
    assert time.perf_counter() - started < 0.5
    assert answer is not None and 60_000 < len(answer) <= 65507
    first = ber.decode_response(answer).varbinds[:3000]
    assert len({oid for oid, _, _ in first}) == 1  # row one: every repeater's successor of 1.3
