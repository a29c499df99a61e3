"""The pure multi-column walk state machine both sessions drive."""

from __future__ import annotations

import pytest

from collectors.snmp import ber
from collectors.snmp.session import ColumnWalk, MalformedResponse

A = "1.3.6.1.2.1.2.2.1.2"
B = "1.3.6.1.2.1.2.2.1.8"


def vb(oid: str, value: ber.Value = 1, tag: int = ber.INTEGER) -> tuple[bytes, int, ber.Value]:
    return ber.encode_oid(oid), tag, value


def test_columns_interleave_and_finish_independently() -> None:
    walk = ColumnWalk([A, B], "t:161")
    assert walk.pending() == [ber.encode_oid(A), ber.encode_oid(B)]
    walk.feed([vb(f"{A}.1", b"lo", ber.OCTET_STRING), vb(f"{B}.1", 1),
               vb(f"{A}.2", b"eth0", ber.OCTET_STRING), vb(f"{B}.2", 2)])
    assert walk.pending() == [ber.encode_oid(f"{A}.2"), ber.encode_oid(f"{B}.2")]
    # B leaves its subtree (into the next column) while A still has rows; the rest of B's repetitions are ignored
    walk.feed([vb(f"{A}.3", b"eth1", ber.OCTET_STRING), vb("1.3.6.1.2.1.2.2.1.9.1", 5),
               vb(f"{A}.16384", b"vlan", ber.OCTET_STRING), vb("1.3.6.1.2.1.2.2.1.9.2", 6)])
    assert walk.pending() == [ber.encode_oid(f"{A}.16384")]
    walk.feed([vb("1.3.6.1.2.1.2.2.1.3.1", 6)])
    assert walk.pending() == []
    assert walk.result() == {
        A: [("1", b"lo"), ("2", b"eth0"), ("3", b"eth1"), ("16384", b"vlan")],
        B: [("1", 1), ("2", 2)],
    }


def test_end_of_mib_view_finishes_a_column() -> None:
    walk = ColumnWalk(["1.3.6.1.6.3.16.1.5.2.1.6"], "t:161")
    walk.feed([vb("1.3.6.1.6.3.16.1.5.2.1.6.1.0", 1), vb("1.3.6.1.6.3.16.1.5.2.1.6.1.0", None, ber.END_OF_MIB_VIEW)])
    assert walk.pending() == []
    assert walk.result() == {"1.3.6.1.6.3.16.1.5.2.1.6": [("1.0", 1)]}


def test_multi_arc_and_large_indexes_keep_oid_order() -> None:
    walk = ColumnWalk([A], "t:161")
    walk.feed([vb(f"{A}.{i}") for i in ["1.2.3", "127", "128", "300.7.65536", "16383", "16384"]])
    assert [i for i, _ in walk.result()[A]] == ["1.2.3", "127", "128", "300.7.65536", "16383", "16384"]


@pytest.mark.parametrize("second", ["5", "4", "16383"])
def test_non_increasing_oid_is_malformed(second: str) -> None:
    walk = ColumnWalk([A], "192.0.2.1:161")
    with pytest.raises(MalformedResponse) as caught:
        walk.feed([vb(f"{A}.5"), vb(f"{A}.{second}")] if second != "16383" else [vb(f"{A}.16384"), vb(f"{A}.16383")])
    assert caught.value.reason == "not-increasing"
    assert "192.0.2.1:161" in str(caught.value) and A in str(caught.value)


def test_agent_repeating_the_request_oid_is_caught_across_responses() -> None:
    walk = ColumnWalk([A], "t:161")
    walk.feed([vb(f"{A}.7")])
    with pytest.raises(MalformedResponse, match="not increasing"):
        walk.feed([vb(f"{A}.7")])


def test_short_response_keeps_unanswered_columns_pending() -> None:
    walk = ColumnWalk([A, B], "t:161")
    walk.feed([vb(f"{A}.1")])  # agents may truncate a GETBULK answer at any varbind
    assert walk.pending() == [ber.encode_oid(f"{A}.1"), ber.encode_oid(B)]


def test_empty_response_is_malformed_not_an_endless_loop() -> None:
    walk = ColumnWalk([A], "t:161")
    with pytest.raises(MalformedResponse, match="no varbinds"):
        walk.feed([])


def test_varbind_budget_bounds_an_agent_that_never_ends() -> None:
    walk = ColumnWalk([A], "t:161", max_varbinds=10)
    walk.feed([vb(f"{A}.{i}") for i in range(1, 9)])
    with pytest.raises(MalformedResponse) as caught:
        walk.feed([vb(f"{A}.{i}") for i in range(9, 15)])
    assert caught.value.reason == "too-many-rows"


def test_duplicate_columns_are_walked_once_and_the_column_itself_is_not_a_row() -> None:
    walk = ColumnWalk([A, A], "t:161")
    assert len(walk.pending()) == 1
    walk.feed([vb(A), vb(f"{A}.1")])  # an OID equal to the column is not inside it: the column ends
    assert walk.result() == {A: []}
