"""One pure evaluation step: (rules, state, samples, now, topology) -> (new state, transitions).

Per alert: inactive -> pending (condition true, `for` not elapsed) -> firing -> resolved. Whether a notifier sends
anything is decided separately, by reconciling what was announced with what is true, so a notification held by a
silence, a topology roll-up or flapping goes out (or not) once the hold ends, and never twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerts.conditions import Active, conditions, index
from alerts.rules import SEVERITIES, Rule
from alerts.state import Ack, AlertRecord, EngineState, Silence, Transition, TransitionKind
from alerts.template import render
from alerts.topology import OUTAGE_RULE, Cause, Outage, Topology, outages
from collectors.model import Sample

OUTAGE_ANNOTATIONS = {
    "summary": "{area_name} ({level}) cut off: {villages} villages in {townships} townships, {devices} devices",
    "description": "{alerts} alerts beneath {area} are folded into this one until it recovers.",
}


@dataclass(frozen=True, slots=True)
class Policy:
    # Nagios-style hysteresis: flapping starts above `flap_start` changes in the window, ends at `flap_stop` or less.
    flap_window_s: float = 1800.0
    flap_start: int = 4
    flap_stop: int = 1
    outage_repeat_s: float = 4 * 3600.0


def evaluate(
    rules: Sequence[Rule],
    state: EngineState,
    samples: Sequence[Sample],
    now_ns: int,
    topology: Topology,
    *,
    silences: Iterable[Silence] = (),
    acks: Iterable[Ack] = (),
    policy: Policy = Policy(),  # noqa: B008 - frozen, so a shared default is safe
) -> tuple[EngineState, list[Transition]]:
    state, silences = state.fork(), tuple(silences)
    by_measurement = index(samples)
    active: dict[str, Active] = {}
    for rule in rules:
        active.update(conditions(rule, by_measurement, topology, state, now_ns))
    by_name = {rule.name: rule for rule in rules}
    events: dict[str, list[TransitionKind]] = {}
    for fp in sorted(set(state.alerts) | set(active)):
        record = state.alerts.get(fp)
        if record is not None and record.rule == OUTAGE_RULE:
            continue
        owner = by_name.get(record.rule if record else active[fp].rule)
        if owner is None:  # the rule was removed: forget its alerts quietly
            del state.alerts[fp]
            continue
        for_s = owner.for_s if owner.kind != "absent" else 0.0  # an absent rule's `for` is the silence itself
        events[fp] = _step(state, fp, owner.name, owner.severity, for_s, active.get(fp), now_ns, policy)
        _annotate(state.alerts[fp], owner.annotations)

    found = {o.fingerprint: o for o in _roll_up(state, by_name, topology)}
    previous = {fp for fp, record in state.alerts.items() if record.rule == OUTAGE_RULE}
    for fp in sorted(previous | set(found)):
        events[fp] = _step_outage(state, fp, found.get(fp), topology, now_ns, policy)

    acked = _acked(acks, now_ns)
    transitions: list[Transition] = []
    for fp, kinds in events.items():
        record = state.alerts[fp]
        repeat_s = by_name[record.rule].repeat_s if record.rule in by_name else policy.outage_repeat_s
        transitions.extend(_notify(record, kinds, now_ns, repeat_s, _hold(record, silences, topology, now_ns),
                                   acked.get(fp)))
        if record.status == "inactive" and not record.announced and not record.flapping and not record.changes:
            del state.alerts[fp]
    return state, sorted(transitions, key=lambda t: (t.rule, t.fingerprint, t.kind))


def _step(state: EngineState, fp: str, rule: str, severity: str, for_s: float, active: Active | None,
          now_ns: int, policy: Policy) -> list[TransitionKind]:
    record = state.alerts.get(fp)
    if record is None:
        record = state.alerts[fp] = AlertRecord(fp, rule, severity, dict(active.labels) if active else {})
    kinds: list[TransitionKind] = []
    if active is not None:
        record.labels, record.value = dict(active.labels), active.value
        if active.threshold is not None:
            record.labels["threshold"] = f"{active.threshold:g}"
        if record.status == "inactive":
            record.status, record.active_since_ns = "pending", now_ns
            record.changes.append(now_ns)
            kinds.append("pending")
        if record.status == "pending" and now_ns - (record.active_since_ns or now_ns) >= for_s * 1e9:
            record.status, record.firing_since_ns = "firing", now_ns
            kinds = ["firing"]
    elif record.status != "inactive":
        if record.status == "firing":
            kinds.append("resolved")
        record.status, record.active_since_ns, record.firing_since_ns = "inactive", None, None
        record.changes.append(now_ns)
    return kinds + _flap(record, now_ns, policy)


def _flap(record: AlertRecord, now_ns: int, policy: Policy) -> list[TransitionKind]:
    record.changes = [t for t in record.changes if t > now_ns - policy.flap_window_s * 1e9]
    if not record.flapping and len(record.changes) > policy.flap_start:
        record.flapping = True
        return ["flapping"]
    if record.flapping and len(record.changes) <= policy.flap_stop:
        record.flapping = False
        return ["stable"]
    return []


def _roll_up(state: EngineState, by_name: Mapping[str, Rule], topology: Topology) -> list[Outage]:
    live = {fp: r for fp, r in state.alerts.items() if r.status != "inactive" and r.rule != OUTAGE_RULE}
    causes = [Cause(fp, by_name[r.rule].topology, r.labels, r.status == "firing")
              for fp, r in live.items() if by_name[r.rule].topology != "none"]
    found = outages(topology, causes, {fp: r.labels for fp, r in live.items()}) if causes else []
    owner = {member: o.fingerprint for o in found for member in o.members}
    for fp, record in state.alerts.items():
        if record.rule != OUTAGE_RULE:
            record.suppressed_by = owner.get(fp)
    return found


def _step_outage(state: EngineState, fp: str, outage: Outage | None, topology: Topology, now_ns: int,
                 policy: Policy) -> list[TransitionKind]:
    firing = outage is not None and outage.firing
    if outage is not None and fp not in state.alerts:
        state.alerts[fp] = AlertRecord(fp, OUTAGE_RULE, SEVERITIES[0], topology.area_labels(outage.area))
    record = state.alerts[fp]
    if outage is not None:
        record.affected, record.counts = [dict(a) for a in outage.affected], dict(outage.counts)
    kinds = _step(state, fp, OUTAGE_RULE, SEVERITIES[0], 0.0,
                  Active(OUTAGE_RULE, {}, record.labels, float(record.counts.get("villages", 0))) if firing else None,
                  now_ns, policy)
    _annotate(record, OUTAGE_ANNOTATIONS)
    return kinds


def _annotate(record: AlertRecord, templates: Mapping[str, str]) -> None:
    values: dict[str, object] = {**record.labels, **record.counts, "rule": record.rule, "severity": record.severity}
    if record.value is not None:
        values["value"] = record.value
    if "threshold" in record.labels:
        values["threshold"] = float(record.labels["threshold"])
    record.annotations = {key: render(text, values) for key, text in templates.items()}


def _hold(record: AlertRecord, silences: Iterable[Silence], topology: Topology, now_ns: int) -> str:
    if record.suppressed_by:
        return "suppressed"
    areas = topology.areas_of(record.labels)
    for silence in silences:
        if not silence.active(now_ns):
            continue
        if silence.rule and silence.rule != record.rule:
            continue
        if silence.device and silence.device != record.labels.get("device"):
            continue
        if silence.area and not any(topology.within(area, silence.area) for area in areas):
            continue
        return "silenced"
    return "flapping" if record.flapping else ""


def _acked(acks: Iterable[Ack], now_ns: int) -> dict[str, Ack]:
    return {ack.fingerprint: ack for ack in acks if ack.at_ns <= now_ns}


def _notify(record: AlertRecord, kinds: list[TransitionKind], now_ns: int, repeat_s: float, held: str,
            ack: Ack | None) -> list[Transition]:
    """Lifecycle events as transitions, with `notify` set on the one a notifier should send, if any."""
    send: TransitionKind | None = None
    repeat = False
    if record.status == "firing" and not held:
        if not record.announced:
            send = "firing"
        elif now_ns - (record.last_notified_ns or 0) >= repeat_s * 1e9 and not _covers(ack, record):
            send, repeat = "firing", True
    elif record.status != "firing" and record.announced and not record.flapping:
        send = "resolved"
    if send == "firing":
        record.announced, record.last_notified_ns = True, now_ns
    elif send == "resolved":
        record.announced = False
    # Flapping is told once to whoever already heard of the alert; after that its changes are held.
    flap_notice = record.announced and held == "flapping"
    out = [_transition(record, kind, now_ns, kind == send or (kind == "flapping" and flap_notice), held,
                       repeat and kind == send)
           for kind in kinds]
    if send is not None and send not in kinds:
        out.append(_transition(record, send, now_ns, True, "", repeat))
    return out


def _covers(ack: Ack | None, record: AlertRecord) -> bool:
    return ack is not None and ack.at_ns >= (record.firing_since_ns or 0)


def _transition(record: AlertRecord, kind: TransitionKind, now_ns: int, notify: bool, held: str,
                repeat: bool) -> Transition:
    return Transition(
        record.fingerprint, record.rule, kind, now_ns, record.severity, dict(record.labels),
        dict(record.annotations), record.value, notify, "" if notify else held, repeat,
        tuple(dict(a) for a in record.affected), dict(record.counts),
    )
