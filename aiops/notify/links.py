"""Links put into notifications: the incident's page in the console, its pending
approvals there, its JSON in the API, its runbook and dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from aiops.model import Incident


@dataclass(frozen=True, slots=True)
class Links:
    """Builds absolute links from the API's public URL (``api.public_url``).

    >>> links = Links("http://aiops.example:8080/", "https://wiki.example/runbooks/{service}")
    >>> links.incident("inc 1")
    'http://aiops.example:8080/ui/incidents/inc%201'
    >>> links.api("inc 1")
    'http://aiops.example:8080/api/v1/incidents/inc%201'
    >>> links.runbook("cart")
    'https://wiki.example/runbooks/cart'
    """

    public_url: str = ""
    runbook_template: str = ""
    dashboard_template: str = ""

    @property
    def base(self) -> str:
        return (self.public_url or "http://127.0.0.1:8080").rstrip("/")

    def incident(self, incident_id: str) -> str:
        """The incident's page in the console, where people see it and act on it."""
        return f"{self.base}/ui/incidents/{quote(incident_id, safe='')}"

    def api(self, incident_id: str) -> str:
        """The incident as JSON, for programs that follow a webhook's link."""
        return f"{self.base}/api/v1/incidents/{quote(incident_id, safe='')}"

    def approvals(self, incident_id: str) -> str:
        return f"{self.base}/ui/incidents/{quote(incident_id, safe='')}#remediation"

    def runbook(self, service: str) -> str:
        if not self.runbook_template:
            return ""
        return self.runbook_template.replace("{service}", quote(service, safe=""))

    def dashboard(self, service: str) -> str:
        if not self.dashboard_template:
            return ""
        return self.dashboard_template.replace("{service}", quote(service, safe=""))

    def for_incident(self, incident: Incident) -> dict[str, str]:
        """Named links for one incident; the top root cause's runbook and dashboard if
        configured."""
        found = {"incident": self.incident(incident.id), "approvals": self.approvals(incident.id),
                 "api": self.api(incident.id)}
        cause = incident.root_causes[0].service if incident.root_causes else ""
        for name, link in (("runbook", self.runbook(cause)), ("dashboard", self.dashboard(cause))):
            if cause and link:
                found[name] = link
        return found
