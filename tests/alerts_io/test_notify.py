from __future__ import annotations

import asyncio
import json
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from alerts.notify import AlertmanagerNotifier, SmtpNotifier, WebhookNotifier
from alerts.notify.base import Notifier, label_name
from alerts.notify.config import NotifyConfig, build_notifiers
from alerts.notify.smtp import SmtpServer
from alerts.state import Transition
from lab.peers import alertmanager, free_port, recorder
from yiwang.notify import Backoff, Dispatcher, FlushReport, decode_transition, encode_transition
from yiwang.queue import QueueLocked, SegmentQueue

HOSTILE = {"device": "{{7*7}}", "interface": "<script>alert(1)</script>", "area_name": "x\r\nBcc: evil@example.com",
           "if.alias": "a-b"}
NOW_NS = time.time_ns()


def transition(kind: str = "firing", notify: bool = True, rule: str = "cpu_high", **labels: str) -> Transition:
    merged = {"device": "core-1", **labels}
    return Transition(fingerprint=f"fp-{rule}-{merged['device']}", rule=rule, kind=kind,  # type: ignore[arg-type]
                      at_ns=NOW_NS, severity="major", labels=merged,
                      annotations={"summary": f"CPU of {merged['device']} at 97%",
                                   "description": f"CPU high in {merged.get('area_name', '?')}\r\nBcc: evil@x"},
                      value=97.0, notify=notify)


def no_backoff() -> Backoff:
    return Backoff(base_s=0.0)


async def deliver(notifiers: list[Notifier], outbox: Path, transitions: list[Transition]) -> FlushReport:
    async with Dispatcher(notifiers, outbox) as dispatcher:
        return await dispatcher.dispatch(transitions)


async def test_webhook_payload_received_and_hostile_labels_inert(tmp_path: Path) -> None:
    port = free_port()
    with recorder(port) as server:
        report = await deliver([WebhookNotifier(f"http://127.0.0.1:{port}/hook")], tmp_path,
                               [transition(**HOSTILE), transition(notify=False, device="quiet")])
    assert report.sent == {"webhook": 1} and report.pending == {"webhook": 0}
    [body] = server.bodies
    assert body["version"] == 1 and body["source"] == "yiwang" and body["kind"] == "firing"
    assert body["labels"]["device"] == "{{7*7}}"  # carried as data, never evaluated
    assert body["labels"]["interface"] == "<script>alert(1)</script>"
    assert body["labels"]["area_name"] == "x\r\nBcc: evil@example.com"
    assert body["key"] == f"{body['fingerprint']}:firing:{NOW_NS}"
    assert "49" not in json.dumps([body["labels"], body["annotations"]])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


async def test_smtp_plain_text_without_injected_headers(tmp_path: Path) -> None:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = SmtpNotifier(SmtpServer("127.0.0.1", port, password="hunter2"), "yiwang@example.org",
                                ["noc@example.org"])
        assert "hunter2" not in repr(notifier)
        report = await deliver([notifier], tmp_path, [transition(**HOSTILE)])
    finally:
        controller.stop()
    assert report.sent == {"smtp": 1}
    [(mail_from, rcpts, raw)] = inbox.messages
    assert mail_from == "yiwang@example.org" and rcpts == ["noc@example.org"]
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None and "evil@" not in str(message["Subject"])
    assert message.get_content_type() == "text/plain"
    assert "{{7*7}}" in message["Subject"]
    header_block = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in header_block
    body = message.get_content()
    assert "<script>alert(1)</script>" in body and "49" not in body


async def test_alertmanager_receives_the_alert(tmp_path: Path) -> None:
    with alertmanager(tmp_path) as url:
        notifier = AlertmanagerNotifier(url, generator_url="http://yiwang.example/")
        report = await deliver([notifier], tmp_path / "outbox", [transition(**HOSTILE)])
        assert report.sent == {"alertmanager": 1}
        async with httpx.AsyncClient() as client:
            alerts = (await client.get(f"{url}/api/v2/alerts")).json()
        [alert] = [a for a in alerts if a["labels"].get("alertname") == "cpu_high"]
        assert alert["labels"]["severity"] == "major"
        assert alert["labels"]["device"] == "{{7*7}}"
        assert alert["labels"][label_name("if.alias")] == "a-b"
        assert alert["status"]["state"] == "active"
        assert alert["generatorURL"].endswith("/alerts/fp-cpu_high-{{7*7}}")

        resolved = transition(kind="resolved", **HOSTILE)
        await deliver([notifier], tmp_path / "outbox", [resolved])
        async with httpx.AsyncClient() as client:
            active = (await client.get(f"{url}/api/v2/alerts", params={"active": "true"})).json()
        assert not [a for a in active if a["labels"].get("alertname") == "cpu_high"]


async def test_receiver_down_then_up_delivers_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    dispatcher = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{port}/", timeout=2)], tmp_path,
                            backoff=no_backoff())
    report = await dispatcher.dispatch([transition(), transition(device="core-2")])
    assert report.sent == {"webhook": 0} and "webhook" in report.errors
    assert dispatcher.pending() == {"webhook": 2}
    with recorder(port) as server:
        report = await dispatcher.flush()
        assert report.sent == {"webhook": 2}
        await dispatcher.flush()
        await dispatcher.dispatch([])
    assert [b["labels"]["device"] for b in server.bodies] == ["core-1", "core-2"]
    assert dispatcher.pending() == {"webhook": 0}
    await dispatcher.close()
    queue = SegmentQueue(tmp_path / "webhook.queue", 1 << 20)
    assert queue.open().records == 0  # delivered entries are acknowledged on disk too
    queue.close()


async def test_backoff_defers_the_next_attempt(tmp_path: Path) -> None:
    now = [0.0]
    port = free_port()
    dispatcher = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{port}/", timeout=2)], tmp_path,
                            backoff=Backoff(base_s=10, factor=2), clock=lambda: now[0])
    await dispatcher.dispatch([transition()])
    with recorder(port) as server:
        now[0] = 9.0
        assert (await dispatcher.flush()).sent == {"webhook": 0}  # still backing off
        now[0] = 10.0
        assert (await dispatcher.flush()).sent == {"webhook": 1}
    await dispatcher.close()
    assert len(server.bodies) == 1
    assert [Backoff(5, 2, 60).delay(n) for n in (1, 2, 3, 5)] == [5, 10, 20, 60]


async def test_restarted_dispatcher_resends_pending(tmp_path: Path) -> None:
    port = free_port()
    first = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{port}/", timeout=2)], tmp_path)
    await first.dispatch([transition(kind="resolved")])
    with pytest.raises(QueueLocked):
        await Dispatcher([WebhookNotifier(f"http://127.0.0.1:{port}/")], tmp_path).open()
    await first.close()
    with recorder(port) as server:
        second = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{port}/", timeout=2)], tmp_path)
        await second.open()
        assert second.pending() == {"webhook": 1}
        assert (await second.flush()).sent == {"webhook": 1}
        await second.flush()
        await second.close()
    [body] = server.bodies
    assert body["kind"] == "resolved" and body["affected"] == []


async def test_one_failing_notifier_does_not_hold_back_another(tmp_path: Path) -> None:
    up, down = free_port(), free_port()
    with recorder(up) as server:
        dispatcher = Dispatcher([WebhookNotifier(f"http://127.0.0.1:{up}/", name="a"),
                                 WebhookNotifier(f"http://127.0.0.1:{down}/", timeout=2, name="b")], tmp_path)
        report = await asyncio.wait_for(dispatcher.dispatch([transition()]), 10)
    assert report.sent == {"a": 1, "b": 0} and dispatcher.pending() == {"a": 0, "b": 1}
    await dispatcher.close()
    assert len(server.bodies) == 1


def test_notifiers_from_config() -> None:
    config = NotifyConfig.model_validate({"outbox_dir": "/tmp/x", "notifiers": [
        {"type": "webhook", "name": "ops", "url": "http://127.0.0.1:1/"},
        {"type": "smtp", "name": "mail", "host": "127.0.0.1", "sender": "a@b", "recipients": ["c@d"],
         "password": "s3cret"},
        {"type": "alertmanager", "name": "am", "url": "http://127.0.0.1:9093"},
    ]})
    built = build_notifiers(config)
    assert [n.name for n in built] == ["ops", "mail", "am"]
    assert "s3cret" not in repr(config) and "s3cret" not in repr(built)
    with pytest.raises(ValueError):
        Dispatcher([built[0], built[0]], "/tmp/never-used")
    with pytest.raises(ValueError):
        Dispatcher([WebhookNotifier("http://127.0.0.1:1/", name="a b"),
                    WebhookNotifier("http://127.0.0.1:1/", name="a_b")], "/tmp/never-used")


def test_transition_round_trips_through_the_outbox_encoding() -> None:
    original = transition(device="r1\udcff", area_name="黄州区")
    original = Transition(**{**original.to_dict(), "affected": ({"county": "黄州区"},), "counts": {"devices": 3}})
    assert decode_transition(encode_transition(original)) == original
