"""docs/incident.schema.json describes the incidents the engine really publishes.

Incidents are produced by the engine's correlator through a whole lifecycle (open, grow,
inhibit-free merge, acknowledge, resolve, auto-resolve, reopen), encoded by the codec that
writes the incidents topic, and validated against the checked-in schema, which forbids
undocumented fields: a field added to the feed without documenting it fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiops.model import Alert, AlertStatus, CommandKind, Incident, IncidentCommand
from aiops.wire.shapes import INCIDENT_SCHEMA, decode_incident, encode_incident, incident_to_dict
from correlator.config import CorrelatorConfig
from correlator.engine import TopologyCorrelator
from topology.graph import ServiceGraph

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "incident.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _lifecycle() -> list[Incident]:
    graph = ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis")])
    corr = TopologyCorrelator(CorrelatorConfig(window=120, quiet_period=30), graph=graph)
    out: list[Incident] = []
    redis = Alert({"alertname": "RedisDown", "service": "redis", "severity": "critical"},
                  {"summary": "redis unreachable"}, starts_at=1000.0,
                  generator_url="http://prometheus/graph")
    cart = Alert({"alertname": "HighLatency", "service": "cart", "severity": "warning"},
                 {"score": "0.9999"}, starts_at=1010.0)
    out += corr.process(redis)
    out += corr.process(cart)
    incident_id = out[-1].id
    out += corr.apply(IncidentCommand(incident_id, CommandKind.ACKNOWLEDGE, 1020.0, "alice",
                                      "looking"))
    for a, at in ((redis, 1100.0), (cart, 1101.0)):
        out += corr.process(Alert(a.labels, a.annotations, starts_at=a.starts_at, ends_at=at,
                                  status=AlertStatus.RESOLVED))
    out += corr.tick(1200.0)  # quiet period passed: auto-resolved
    out += corr.process(Alert(redis.labels, redis.annotations, starts_at=1250.0))  # reopens
    out += corr.apply(IncidentCommand(incident_id, CommandKind.RESOLVE, 1300.0, "bob"))
    return out


def test_schema_value_matches_the_codec() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["properties"]["schema"]["const"] == INCIDENT_SCHEMA


def test_every_published_state_validates(validator: jsonschema.protocols.Validator) -> None:
    incidents = _lifecycle()
    assert len(incidents) >= 6
    statuses = {i.status.value for i in incidents}
    assert statuses == {"open", "acknowledged", "resolved"}
    for incident in incidents:
        document: Any = json.loads(encode_incident(incident))  # the bytes on the topic
        validator.validate(document)
        assert decode_incident(encode_incident(incident)) == incident  # round trip


@pytest.mark.parametrize(("change", "path"), [
    ({"status": "closed"}, "status"),
    ({"undocumented": 1}, ""),
    ({"opened_at": "yesterday"}, "opened_at"),
    ({"version": 0}, "version"),
])
def test_schema_refuses_what_the_feed_never_sends(
    validator: jsonschema.protocols.Validator, change: dict[str, Any], path: str
) -> None:
    document = incident_to_dict(_lifecycle()[0]) | change
    errors = list(validator.iter_errors(document))
    assert errors and (not path or any(path in list(e.path) for e in errors))
