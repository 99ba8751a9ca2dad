"""The JSON topic shapes: each kind of record round-trips, and each limit refuses with a
reason a person can act on (the dead letter or the 4xx carries it)."""

from __future__ import annotations

import math

import orjson
import pytest

from aiops.model import (
    ActionStatus,
    Alert,
    AlertStatus,
    CommandKind,
    DecodeError,
    Incident,
    IncidentCommand,
    IncidentStatus,
    RemediationAction,
    RootCause,
    TimelineEntry,
)
from aiops.wire.alertmanager import decode_webhook
from aiops.wire.shapes import (
    MAX_ALERT_TEXT,
    command_to_dict,
    decode_action,
    decode_alert,
    decode_alert_or_command,
    decode_incident,
    decode_logs,
    decode_metric_columns,
    decode_metrics,
    dumps,
    encode_action,
    encode_alert,
    encode_incident,
)

T0 = 1_790_000_000.0


def _alert(**labels: str) -> Alert:
    return Alert(labels={"alertname": "HighLatency", "service": "cart", **labels},
                 annotations={"summary": "p95 over 1 s"}, starts_at=T0)


def test_an_alert_round_trips_with_its_fingerprint() -> None:
    alert = _alert(instance="c1")
    back = decode_alert(encode_alert(alert))
    assert back == alert
    assert back.fingerprint == alert.fingerprint and back.status is AlertStatus.FIRING


@pytest.mark.parametrize(("raw", "reason"), [
    ({"labels": {}}, "non-empty 'labels'"),
    ({"labels": {"a\x00": "b"}}, "NUL"),
    ({"labels": {"a": "b"}, "annotations": {"x": "y" * MAX_ALERT_TEXT}},
     f"more than {MAX_ALERT_TEXT}"),
    ({"labels": {"a": "b"}, "startsAt": "10000-01-01T00:00:00Z"}, "startsAt"),
    ({"labels": {"a": "b"}, "startsAt": 1e300}, "out of range"),
    ([1, 2], "JSON object"),
])
def test_a_bad_alert_is_refused_with_the_reason(raw: object, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_alert(orjson.dumps(raw))
    assert reason in err.value.reason


def test_an_incident_round_trips_with_its_evidence_and_timeline() -> None:
    incident = Incident(
        id="inc-1", status=IncidentStatus.OPEN, title="cart latency", severity="critical",
        opened_at=T0, updated_at=T0 + 60, alerts=(_alert(),), services=("cart",),
        root_causes=(RootCause("catalog", 0.9, ("p95 0.41 s vs 0.03 s expected",)),),
        timeline=(TimelineEntry(ts=T0, event="opened", status=IncidentStatus.OPEN),),
        version=3)
    back = decode_incident(encode_incident(incident))
    assert back == incident


def test_an_incident_without_its_open_time_is_refused() -> None:
    with pytest.raises(DecodeError, match="opened_at"):
        decode_incident(dumps({"schema": "aiops.incident/v1", "id": "x", "status": "open",
                               "updated_at": "2026-12-02T10:00:00Z"}))


def test_an_action_round_trips() -> None:
    action = RemediationAction(id="a1", incident_id="inc-1", runbook="restart", kind="restart",
                               target="cart", params={"replicas": 2},
                               status=ActionStatus.DRY_RUN, dry_run=True, reason="dry run",
                               ts=T0)
    assert decode_action(encode_action(action)) == action


def test_a_command_travels_beside_alerts_and_is_told_apart() -> None:
    command = IncidentCommand("inc-1", CommandKind.ACKNOWLEDGE, T0, actor="ana")
    assert decode_alert_or_command(dumps(command_to_dict(command))) == command
    assert isinstance(decode_alert_or_command(encode_alert(_alert())), Alert)


def test_metrics_in_the_adapter_shape_and_the_series_shape_decode_to_the_same_points() -> None:
    adapter = {"name": "up", "labels": {"__name__": "up", "job": "cart"},
               "timestamp": "2026-12-02T10:00:00Z", "value": "1.5"}
    [sample] = decode_metrics(orjson.dumps(adapter))
    assert (sample.name, dict(sample.labels), sample.value) == ("up", {"job": "cart"}, 1.5)
    series = {"series": [{"name": "up", "labels": {"job": "cart"},
                          "ts": [sample.ts * 1000], "values": [1.5], "type": "gauge"}]}
    cols = decode_metric_columns(orjson.dumps(series))
    assert list(cols.ts) == [sample.ts]  # milliseconds, as Prometheus tooling sends them
    assert cols.types == {sample.key: "gauge"}


@pytest.mark.parametrize(("raw", "reason"), [
    ({"name": "up", "ts": T0, "value": "high"}, "not a number"),
    ({"labels": {"job": "x"}, "ts": T0, "value": 1}, "'name'"),
    ({"series": [{"name": "up", "ts": [T0, T0 + 1], "values": [1]}]}, "equal length"),
    ({"series": [{"name": "up", "ts": [1e15 * 1e6], "values": [1]}]}, "out of range"),
    ({"series": [{"name": "up", "ts": [T0], "values": [1], "type": "meter"}]}, "metric type"),
])
def test_a_bad_metric_is_refused_with_the_reason(raw: object, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode_metric_columns(orjson.dumps(raw))
    assert reason in err.value.reason


def test_a_nan_value_travels_as_a_string_and_comes_back_as_nan() -> None:
    [sample] = decode_metrics(orjson.dumps({"name": "x", "ts": T0, "value": "NaN"}))
    assert math.isnan(sample.value)


def test_log_batches_decode_and_a_log_without_a_message_is_refused() -> None:
    records = decode_logs(orjson.dumps({"records": [
        {"ts": T0, "service": "cart", "level": "ERROR", "message": "boom"}]}))
    assert (records[0].service, records[0].level) == ("cart", "error")
    with pytest.raises(DecodeError, match="message"):
        decode_logs(orjson.dumps({"ts": T0, "service": "cart"}))


def test_a_webhook_error_names_the_alert_it_is_about() -> None:
    payload = {"version": "4", "alerts": [{"labels": {"a": "b"}, "startsAt": T0},
                                          {"labels": {"a": "c"}, "endsAt": "yesterday"}]}
    with pytest.raises(DecodeError) as err:
        decode_webhook(payload)
    assert err.value.reason.startswith("alerts[1]: ")
    with pytest.raises(DecodeError, match="truncatedAlerts"):
        decode_webhook({"version": "4", "alerts": [], "truncatedAlerts": -1})
    assert decode_webhook({"version": "4", "alerts": [], "truncatedAlerts": 7}).truncated == 7
