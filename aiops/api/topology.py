"""Runtime topology updates through the API.

The correlator owns the graph, so the API validates an update and puts it on the topology
topic (one partition: updates apply in the order they were accepted); the correlate stage
applies it and replays the topic over its topology file when it starts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_json
from aiops.wire.shapes import dumps
from streams.producer import Record
from topology.updates import OPS

router = APIRouter(prefix="/api/v1/topology", tags=["topology"])


@router.post("/updates", status_code=202, openapi_extra=schemas.TOPOLOGY_UPDATE)
async def post_update(request: Request, api: ApiDeps = Depends(deps)) -> Any:
    """Add or remove a node or an edge, or replace the whole graph (``op``: one of
    add_node, remove_node, add_edge, remove_edge, replace)."""
    update = await read_json(request, api, "topology")  # 413 above api.max_body_bytes
    if not isinstance(update, dict) or update.get("op") not in OPS:
        raise HTTPException(422, f"an update is an object whose 'op' is one of {', '.join(OPS)}")
    needs = {"add_node": ("name",), "remove_node": ("name",), "add_edge": ("source", "target"),
             "remove_edge": ("source", "target"), "replace": ("topology",)}[update["op"]]
    missing = [k for k in needs if k not in update]
    if missing:
        raise HTTPException(422, f"{update['op']} needs {', '.join(missing)}")
    await _publish(api, [Record(api.topics.topology, b"topology", dumps(update))], "topology")
    return JSONResponse(status_code=202, content={"accepted": update})
