"""The incidents a correlator holds, indexed the three ways folding an alert looks them up:
by id, by member alert fingerprint (dedup) and by graph node (grouping). Without a topology
every alert maps to one pseudo-node (:data:`correlator.grouping.GLOBAL`), so the node index
then has one key and grouping is a pure time window.
"""

from __future__ import annotations

from correlator.grouping import GLOBAL
from correlator.state import IncidentState


class IncidentIndex:
    """Incidents by id, alert fingerprint -> incident id, node -> incident ids."""

    def __init__(self) -> None:
        self.incidents: dict[str, IncidentState] = {}
        self.by_fp: dict[str, str] = {}
        self.by_node: dict[str, set[str]] = {}

    def add(self, state: IncidentState) -> None:
        self.incidents[state.id] = state

    def active(self, ident: str) -> bool:
        state = self.incidents.get(ident)
        return state is not None and state.active

    def link(self, fp: str, node: str, ident: str, keyed: bool) -> None:
        """Alert ``fp`` on ``node`` is a member of incident ``ident`` (``keyed``: there is a
        topology, so the node is its own key)."""
        self.by_fp[fp] = ident
        self.by_node.setdefault(node if keyed else GLOBAL, set()).add(ident)

    def unlink_node(self, node: str, ident: str, keyed: bool) -> None:
        """Incident ``ident`` holds nothing on ``node`` any more."""
        ids = self.by_node.get(node if keyed else GLOBAL)
        if ids is not None:
            ids.discard(ident)

    def drop(self, ident: str, keyed: bool) -> tuple[IncidentState, list[str]]:
        """Forget an incident for good; returns it and the fingerprints that pointed to it
        (an alert may have moved on to a later incident, which keeps it)."""
        state = self.incidents.pop(ident)
        released: list[str] = []
        for fp in state.members:
            if self.by_fp.get(fp) == ident:
                del self.by_fp[fp]
                released.append(fp)
        for node in state.nodes:
            key = node if keyed else GLOBAL
            ids = self.by_node.get(key)
            if ids is not None:
                ids.discard(ident)
                if not ids:
                    del self.by_node[key]
        return state, released
