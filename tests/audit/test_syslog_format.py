"""RFC 5424 messages built from records: header, structured data, escaping, size."""

from __future__ import annotations

import json
import re

import pytest

from yiwang.audit import AuditRecord
from yiwang.audit.syslog import BOM, MAX_MESSAGE, format_rfc5424, frame, header_field, param_value


def record(**changes: object) -> AuditRecord:
    fields: dict[str, object] = {
        "seq": 7, "time": "2026-12-01T14:03:05.123456Z", "identity": "alice", "identity_kind": "user",
        "roles": ["operator", "approver"], "source": "10.1.2.3", "action": "alerts.silence", "target": "area=cn-hz",
        "parameters": {"comment": "割接 cutover"}, "outcome": "ok", "status": 201, "prev": "a" * 64, "hash": "b" * 64}
    fields.update(changes)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def parts(message: bytes) -> tuple[str, str]:
    head, _, msg = message.partition(BOM)
    return head.decode("utf-8"), msg.decode("utf-8")


def test_a_whole_message() -> None:
    message = format_rfc5424(record(), facility=13, app_name="yiwang", hostname="ops-1", procid="4242")
    head, msg = parts(message)
    assert head == ('<109>1 2026-12-01T14:03:05.123456Z ops-1 yiwang 4242 alerts.silence [yiwang@32473 seq="7" '
                    'identity="alice" role="operator,approver" src="10.1.2.3" target="area=cn-hz" outcome="ok" '
                    f'hash="{"b" * 64}"] ')
    assert json.loads(msg) == record().as_dict()
    assert b"\n" not in message


@pytest.mark.parametrize("outcome, facility, pri", [("ok", 13, 13 * 8 + 5), ("denied", 13, 13 * 8 + 4),
                                                    ("failed: timeout", 13, 13 * 8 + 4), ("ok", 4, 37),
                                                    ("denied", 0, 4), ("ok", 23, 189)])
def test_pri_from_facility_and_outcome(outcome: str, facility: int, pri: int) -> None:
    message = format_rfc5424(record(outcome=outcome), facility=facility, app_name="y", hostname="h", procid="1")
    assert message.startswith(f"<{pri}>1 ".encode())


def test_a_hostile_identity_is_escaped_and_cannot_break_framing() -> None:
    hostile = 'a"b]c\\d\n'
    message = format_rfc5424(record(identity=hostile, target='x"] [evil@1 a="b', source="1.2.3.4\r\n<13>1 fake"),
                             facility=13, app_name="yiwang", hostname="h", procid="1")
    head, msg = parts(message)
    assert 'identity="a\\"b\\]c\\\\d\\n"' in head
    assert 'target="x\\"\\] [evil@1 a=\\"b"' in head
    assert 'src="1.2.3.4\\r\\n<13>1 fake"' in head
    assert b"\n" not in message and b"\r" not in message
    # exactly one SD element: every unescaped ] is the element's end
    assert len(re.findall(r'(?<!\\)\]', head)) == 1
    assert json.loads(msg)["identity"] == hostile  # the MSG keeps the exact value


@pytest.mark.parametrize("value, expected", [('"', '\\"'), ("\\", "\\\\"), ("]", "\\]"), ("\t", "\\t"),
                                             ("\x00", "\\x00"), ("\x7f", "\\x7f"), ("村", "村"), ("[", "[")])
def test_param_values(value: str, expected: str) -> None:
    assert param_value(value) == expected


@pytest.mark.parametrize("value, limit, expected", [("alerts.ack", 32, "alerts.ack"),
                                                    ("POST /api/silences", 32, "POST_/api/silences"),
                                                    ("a" * 40, 32, "a" * 32), ("", 32, "-"), ("告警", 32, "__"),
                                                    ("x\ny", 32, "x_y")])
def test_header_fields(value: str, limit: int, expected: str) -> None:
    assert header_field(value, limit) == expected


def test_a_long_action_becomes_a_32_character_msgid() -> None:
    message = format_rfc5424(record(action="users." + "x" * 60), facility=13, app_name="yiwang", hostname="h",
                             procid="1")
    assert message.split(b" ")[5] == ("users." + "x" * 26).encode()


def test_an_oversized_record_keeps_a_valid_message_without_its_parameters() -> None:
    big = record(parameters={"comment": "x" * 20000})
    message = format_rfc5424(big, facility=13, app_name="yiwang", hostname="h", procid="1")
    assert len(message) <= MAX_MESSAGE
    body = json.loads(parts(message)[1])
    assert body["hash"] == big.hash and body["seq"] == 7
    assert "see record 7 in the audit file" in json.dumps(body["parameters"])


def test_framing() -> None:
    assert frame(b"<13>1 x", "udp") == b"<13>1 x"
    assert frame("<13>1 村".encode(), "tcp") == b"9 <13>1 \xe6\x9d\x91"  # octets, not characters
    assert frame(b"abc", "tls") == b"3 abc"
