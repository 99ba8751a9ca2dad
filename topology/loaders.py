"""Loading a service graph from files: YAML/JSON documents and CSV edge lists.

The document format is the one :meth:`ServiceGraph.to_dict` writes::

    {"services": [{"name": "frontend", "kind": "service", "labels": {"team": "web"}}],
     "edges": [{"source": "frontend", "target": "cart", "kind": "calls"}]}

A CSV edge list is ``source,target[,weight[,kind]]`` with an optional header row; it is what
people export from a CMDB or a tracing UI, so it is accepted as is. Live sources (Kubernetes,
traces, Prometheus service-graph metrics) live in their own modules.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from aiops.model import ConfigError
from topology.graph import ServiceGraph


def load_topology(path: str | Path) -> ServiceGraph:
    """Load a topology from a ``.yaml``/``.yml``/``.json`` document or a ``.csv`` edge list."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("file not found", source=str(p))
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return load_csv_edges(p)
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"not valid {suffix.lstrip('.') or 'YAML'}: {exc}",
                          source=str(p)) from exc
    return ServiceGraph.from_dict(data or {}, source=str(p))


def load_csv_edges(path: str | Path, kind: str = "calls") -> ServiceGraph:
    """Read ``source,target[,weight[,kind]]`` rows; a first row naming ``source`` is a header."""
    p = Path(path)
    graph = ServiceGraph()
    with p.open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if lineno == 1 and cells[0].lower() == "source":
                continue
            if len(cells) < 2 or not cells[0] or not cells[1]:
                raise ConfigError(f"line {lineno}: need source,target", source=str(p))
            weight = 1.0
            if len(cells) > 2 and cells[2]:
                try:
                    weight = float(cells[2])
                except ValueError as exc:
                    raise ConfigError(f"line {lineno}: weight {cells[2]!r} is not a number",
                                      source=str(p)) from exc
            edge_kind = cells[3] if len(cells) > 3 and cells[3] else kind
            graph.add_edge(cells[0], cells[1], edge_kind, weight)
    return graph


def save_topology(graph: ServiceGraph, path: str | Path) -> None:
    """Write ``graph`` as JSON or YAML, chosen by the file's suffix."""
    p = Path(path)
    data = graph.to_dict()
    if p.suffix.lower() in (".yaml", ".yml"):
        p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    else:
        p.write_text(json.dumps(data, indent=1), encoding="utf-8")
