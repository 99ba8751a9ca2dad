from __future__ import annotations

from pathlib import Path

import pytest

from aiops.model import Alert, ConfigError, Incident, IncidentStatus, RootCause
from remediation.runbook import ActionKind, load_runbooks, parse_runbooks

GOOD = """
runbooks:
  - name: checkout-errors
    match:
      services: [checkout]
      alert_names: [HighErrorRate]
      labels: {team: shop}
      min_severity: warning
    actions:
      - {name: restart, kind: restart, batch: 1}
      - {name: scale-up, kind: scale, params: {delta: 2, min: 2, max: 10}}
      - {name: rollback, kind: rollback, requires_approval: true}
      - {name: flush, kind: http, params: {url: "http://cache:8080/flush/{target}"}}
      - {name: local, kind: process_restart, executor: process}
    guards: {cooldown_s: 120, max_actions_per_window: 3, window_s: 600,
             max_targets_per_incident: 1, max_replica_share: 0.34}
    success: {check: metric_within, metric: error_ratio, max: 0.01, window_s: 90}
    learning: {escalate_below: 0.3, disable_after_failures: 4}
"""


def _incident(service: str = "checkout", name: str = "HighErrorRate", team: str = "shop",
              severity: str = "critical") -> Incident:
    alert = Alert(labels={"alertname": name, "service": service, "team": team},
                  annotations={}, starts_at=0.0)
    return Incident(id="i", status=IncidentStatus.OPEN, title="t", severity=severity,
                    opened_at=0, updated_at=0, alerts=(alert,), services=(service,),
                    root_causes=(RootCause(service, 0.9),))


def test_a_full_runbook_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "runbooks.yaml"
    path.write_text(GOOD)
    [book] = load_runbooks(path)
    assert [a.kind for a in book.actions] == [ActionKind.RESTART, ActionKind.SCALE,
                                              ActionKind.ROLLBACK, ActionKind.HTTP,
                                              ActionKind.PROCESS_RESTART]
    assert [a.executor_name for a in book.actions] == ["kubernetes"] * 3 + ["http", "process"]
    assert book.actions[2].requires_approval and book.guards.max_replica_share == 0.34
    assert book.success.metric == "error_ratio" and book.learning.disable_after_failures == 4
    assert book.actions[0].target_for(_incident()) == "checkout"


def test_matching_uses_cause_alert_names_labels_and_severity() -> None:
    [book] = parse_runbooks(GOOD)
    assert book.match.matches(_incident())
    assert not book.match.matches(_incident(service="search"))
    assert not book.match.matches(_incident(name="HighLatency"))
    assert not book.match.matches(_incident(team="platform"))
    assert not book.match.matches(_incident(severity="info"))


@pytest.mark.parametrize(("text", "message"), [
    ("runbooks: [{name: a, actions: []}]", "runbooks[0].actions: Tuple should have at least 1"),
    ("runbooks: [{name: a, actions: [{name: s, kind: scale}]}]",
     "runbooks[0].actions[0]: Value error, scale needs params.delta or params.replicas"),
    ("runbooks: [{name: a, actions: [{name: h, kind: http, params: {url: ftp://x}}]}]",
     "http needs params.url"),
    ("runbooks: [{name: a, actions: [{name: r, kind: restart, colour: red}]}]",
     "runbooks[0].actions[0].colour: Extra inputs are not permitted"),
    ("runbooks: [{name: a, guards: {max_replica_share: 2}, actions: [{name: r, kind: restart}]}]",
     "runbooks[0].guards.max_replica_share: Input should be less than or equal to 1"),
    ("runbooks: [{name: a, actions: [{name: r, kind: restart}, {name: r, kind: rollback}]}]",
     "action names must be unique"),
    ("runbooks: [{name: a, success: {check: metric_within}, actions: [{name: r, kind: restart}]}]",
     "metric_within needs metric"),
    ("runbooks: [oops", "not valid YAML"),
    ("- just a list", "expected a mapping"),
])
def test_mistakes_are_reported_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_runbooks(text, source="rb.yaml")
    assert message in str(info.value) and str(info.value).startswith("rb.yaml: ")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_runbooks(tmp_path / "nope.yaml")


def test_the_shipped_example_is_valid() -> None:
    books = load_runbooks(Path(__file__).parents[2] / "remediation" / "runbooks.example.yaml")
    assert [b.name for b in books] == ["checkout-errors", "cache-flush", "local-demo"]
