"""Declarative runbooks: which incidents they match, what they may do, how to check it worked.

A runbook file is YAML validated with pydantic; a mistake is reported as a
:class:`~aiops.model.ConfigError` naming the file and the path of the bad field, e.g.
``runbooks.yaml: runbooks[0].actions[1].kind: Input should be 'scale', 'restart', ...``.

>>> books = parse_runbooks('''
... runbooks:
...   - name: checkout-errors
...     match: {services: [checkout], alert_names: [HighErrorRate]}
...     actions:
...       - {name: restart, kind: restart}
...       - {name: scale-up, kind: scale, params: {delta: 2, max: 10}}
...     success: {check: alert_resolved, window_s: 120}
... ''')
>>> [a.name for a in books[0].actions], books[0].guards.cooldown_s
(['restart', 'scale-up'], 600.0)
>>> try:
...     parse_runbooks("runbooks: [{name: x, actions: [{name: a, kind: reboot}]}]",
...                    source="rb.yaml")
... except ConfigError as exc:
...     print(str(exc)[:60])
rb.yaml: runbooks[0].actions[0].kind: Input should be 'scale
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiops.model import SEVERITY_RANK, ConfigError, Incident
from remediation.urls import UnsafeUrl, origin, static_origin


class ActionKind(StrEnum):
    SCALE = "scale"
    RESTART = "restart"
    ROLLBACK = "rollback"
    HTTP = "http"
    PROCESS_RESTART = "process_restart"
    PROCESS_SCALE = "process_scale"


DEFAULT_EXECUTOR = {
    ActionKind.SCALE: "kubernetes",
    ActionKind.RESTART: "kubernetes",
    ActionKind.ROLLBACK: "kubernetes",
    ActionKind.HTTP: "http",
    ActionKind.PROCESS_RESTART: "process",
    ActionKind.PROCESS_SCALE: "process",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """All given conditions must hold; an empty condition matches anything."""

    services: tuple[str, ...] = Field((), description="Top root-cause service is one of these.")
    alert_names: tuple[str, ...] = Field((), description="Some alert has one of these names.")
    labels: dict[str, str] = Field(default_factory=dict, description="Some alert has all.")
    metric: str = Field("", description="Some alert's 'metric' label or annotation is this.")
    min_severity: str = "info"

    def matches(self, incident: Incident) -> bool:
        cause = incident.root_causes[0].service if incident.root_causes else ""
        if self.services and cause not in self.services:
            return False
        if SEVERITY_RANK.get(incident.severity, 1) < SEVERITY_RANK.get(self.min_severity, 1):
            return False
        alerts = incident.alerts
        if self.alert_names and not any(a.name in self.alert_names for a in alerts):
            return False
        if self.labels and not any(
            all(a.labels.get(k) == v for k, v in self.labels.items()) for a in alerts
        ):
            return False
        return not self.metric or any(
            self.metric in (a.labels.get("metric"), a.annotations.get("metric")) for a in alerts
        )


class ActionSpec(_Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: ActionKind
    executor: str = Field("", description="kubernetes, process or http; default by kind.")
    target: str = Field("{service}", description="'{service}' is the top root cause.")
    params: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = False
    batch: int = Field(1, ge=1, description="Replicas taken down at once (blast radius).")

    @model_validator(mode="after")
    def _check_params(self) -> ActionSpec:
        p = self.params
        if self.kind in (ActionKind.SCALE, ActionKind.PROCESS_SCALE):
            if "replicas" not in p and "delta" not in p:
                raise ValueError("scale needs params.delta or params.replicas")
            lo, hi = int(p.get("min", 0)), int(p.get("max", 1_000_000))
            if lo < 0 or lo > hi:
                raise ValueError(f"scale bounds invalid: min={lo} max={hi}")
        if self.kind is ActionKind.HTTP and not str(p.get("url", "")).startswith(
            ("http://", "https://")
        ):
            raise ValueError("http needs params.url (http:// or https://)")
        if self.kind is ActionKind.HTTP:
            _check_http_hosts(str(p["url"]), p.get("allowed_hosts", []))
        return self

    @property
    def executor_name(self) -> str:
        return self.executor or DEFAULT_EXECUTOR[self.kind]

    def target_for(self, incident: Incident) -> str:
        cause = incident.root_causes[0].service if incident.root_causes else ""
        return self.target.replace("{service}", cause)


def _check_http_hosts(url: str, allowed: object) -> None:
    """The URL template's origin is fixed, or the runbook says which hosts it may reach."""
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise ValueError("params.allowed_hosts must be a list of origins such as "
                         "'https://cache.internal:8443'")
    try:
        for entry in allowed:
            origin(entry)
        if not allowed and static_origin(url) is None:
            raise ValueError("the URL's host holds a placeholder: list params.allowed_hosts")
    except UnsafeUrl as exc:
        raise ValueError(exc.reason) from exc


class GuardSpec(_Strict):
    cooldown_s: float = Field(600.0, ge=0, description="Per target, between two actions.")
    max_actions_per_window: int = Field(5, ge=0)
    window_s: float = Field(3600.0, gt=0)
    max_targets_per_incident: int = Field(1, ge=1)
    max_replica_share: float = Field(0.5, gt=0, le=1)


class SuccessCheck(_Strict):
    check: Literal["alert_resolved", "metric_within"] = "alert_resolved"
    window_s: float = Field(300.0, gt=0, description="How long to wait for recovery.")
    metric: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _metric(self) -> SuccessCheck:
        if self.check == "metric_within" and (not self.metric or (self.min is None
                                                                  and self.max is None)):
            raise ValueError("metric_within needs metric and min and/or max")
        return self


class LearningSpec(_Strict):
    escalate_below: float = Field(0.25, ge=0, le=1, description="Best expected success below "
                                  "this: ask a human instead of acting.")
    disable_after_failures: int = Field(3, ge=1, description="Consecutive failures.")


class Runbook(_Strict):
    name: str = Field(min_length=1, max_length=100)
    match: Match = Field(default_factory=Match)
    actions: tuple[ActionSpec, ...] = Field(min_length=1)
    guards: GuardSpec = Field(default_factory=GuardSpec)
    success: SuccessCheck = Field(default_factory=SuccessCheck)
    learning: LearningSpec = Field(default_factory=LearningSpec)

    @model_validator(mode="after")
    def _unique_actions(self) -> Runbook:
        names = [a.name for a in self.actions]
        if len(set(names)) != len(names):
            raise ValueError(f"action names must be unique, got {names}")
        return self


class RunbookFile(_Strict):
    runbooks: tuple[Runbook, ...]

    @model_validator(mode="after")
    def _unique(self) -> RunbookFile:
        names = [r.name for r in self.runbooks]
        if len(set(names)) != len(names):
            raise ValueError(f"runbook names must be unique, got {names}")
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_runbooks(raw: Mapping[str, Any] | None, *, source: str = "") -> list[Runbook]:
    try:
        return list(RunbookFile.model_validate(raw or {}).runbooks)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(first["loc"])
        raise ConfigError(f"{where}: {first['msg']}" if where else first["msg"],
                          source=source) from exc


def parse_runbooks(text: str, *, source: str = "") -> list[Runbook]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=source) from exc
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError("expected a mapping with a 'runbooks' list", source=source)
    return validate_runbooks(raw, source=source)


def load_runbooks(path: str | Path) -> list[Runbook]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(p)) from exc
    return parse_runbooks(text, source=str(p))


#: Used when no runbook file is configured: plan a restart of the top root cause.
DEFAULT_RUNBOOK = Runbook(
    name="default-restart",
    actions=(ActionSpec(name="restart", kind=ActionKind.RESTART),),
)
