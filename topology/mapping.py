"""Mapping an alert's labels to a node of the service graph through ordered rules.

Alerts name what they are about in many ways: ``service``, ``job``, ``app``, ``pod``,
``instance="10.0.0.3:9100"``, ``host``. A :class:`LabelMapper` tries its rules in order and
returns the first node the graph knows; when the graph knows none of them (or there is no
graph) it returns the first candidate any rule produced, so an alert about an unknown service
still correlates with alerts about the same name.

>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_dict({"services": [{"name": "cart"}, {"name": "node-3", "kind": "host"}]})
>>> m = LabelMapper(graph=g)
>>> m.node_for({"alertname": "HostDown", "job": "node-exporter", "instance": "node-3:9100"})
'node-3'
>>> m.node_for({"alertname": "HighLatency", "service": "cart", "pod": "cart-1"})
'cart'
>>> m.node_for({"alertname": "X", "service": "unknown-svc"})
'unknown-svc'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiops.model import ConfigError
from topology.graph import ServiceGraph


@dataclass(frozen=True, slots=True)
class MappingRule:
    """Take label ``label``; if ``pattern`` is set it must match and its first group (or the
    group named ``node``) is the node name; ``template`` may add a prefix/suffix."""

    label: str
    pattern: str | None = None
    template: str = "{value}"

    def apply(self, labels: Mapping[str, str]) -> str | None:
        value = labels.get(self.label)
        if not value:
            return None
        if self.pattern is not None:
            match = re.fullmatch(self.pattern, value)
            if match is None:
                return None
            groups = match.groupdict()
            value = groups.get("node") or (match.group(1) if match.groups() else value)
        return self.template.format(value=value)


DEFAULT_RULES: tuple[MappingRule, ...] = (
    MappingRule("pod"),
    MappingRule("service"),
    MappingRule("job"),
    MappingRule("app"),
    MappingRule("host"),
    MappingRule("node"),
    MappingRule("instance", pattern=r"(?P<node>\[?[^\]]*?\]?)(?::\d+)?"),
)


def rules_from_config(raw: Sequence[Mapping[str, str] | str]) -> tuple[MappingRule, ...]:
    """Rules from settings: ``["service", {"label": "instance", "pattern": "(.*):\\d+"}]``."""
    rules: list[MappingRule] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            rules.append(MappingRule(item))
            continue
        if "label" not in item:
            raise ConfigError(f"mapping rule {i} needs a 'label'")
        pattern = item.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"mapping rule {i}: bad pattern: {exc}") from exc
        rules.append(MappingRule(item["label"], pattern, item.get("template", "{value}")))
    return tuple(rules)


class LabelMapper:
    """Turns alert labels into a graph node name (see the module docstring)."""

    def __init__(self, rules: Sequence[MappingRule] = DEFAULT_RULES,
                 graph: ServiceGraph | None = None) -> None:
        self.rules = tuple(rules)
        self.graph = graph

    def node_for(self, labels: Mapping[str, str]) -> str:
        first: str | None = None
        graph = self.graph
        for rule in self.rules:
            candidate = rule.apply(labels)
            if candidate is None:
                continue
            if graph is None:
                return candidate
            if candidate in graph:
                return candidate
            if first is None:
                first = candidate
        return first or labels.get("alertname", "unknown")
