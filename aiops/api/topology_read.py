"""Reading the service graph through the API (``aiops topology show``, the console).

The graph belongs to the correlate stage; the API serves the same graph the correlate stage
starts from (the topology file with the topology topic's updates applied), through the
console's :class:`~aiops.console.deps.TopologyView`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from aiops.console.deps import ConsoleDeps, console_deps

router = APIRouter(prefix="/api/v1/topology", tags=["topology"])


@router.get("")
def get_topology(console: ConsoleDeps = Depends(console_deps)) -> dict[str, Any]:
    """The service graph: ``services`` (name, kind, labels) and ``edges`` (source, target,
    kind, weight); both empty when no topology is configured."""
    graph = console.topology.graph()
    if graph is None:
        return {"services": [], "edges": [], "version": 0}
    return graph.to_dict()
