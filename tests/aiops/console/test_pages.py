"""The console's pages render what the store holds, on a real SQLite store."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from aiops.model import IncidentStatus
from aiops.storage.repository import Store
from tests.aiops.console.conftest import make_incident


def test_incident_list_filters_and_funnel(store: Store,
                                          make_client: Callable[..., TestClient]) -> None:
    now = time.time()
    store.save_incident(make_incident("inc-a", now - 60, alerts=4))
    store.save_incident(make_incident("inc-b", now - 30, IncidentStatus.RESOLVED, alerts=2))
    store.save_incident(make_incident("inc-old", now - 3 * 86400, alerts=1))
    client = make_client()
    page = client.get("/ui/incidents")
    assert page.status_code == 200
    assert "inc-a" in page.text and "inc-b" in page.text and "inc-old" not in page.text
    live = client.get("/ui/incidents/live", params={"status": "open", "window": "7d"}).text
    assert "inc-a" in live and "inc-old" in live and "inc-b" not in live
    # the funnel counts the alerts that began and the incidents raised in the window
    funnel = client.get("/ui/incidents/live", params={"window": "24h"}).text
    assert re.search(r'id="funnel-alerts">6<', funnel)
    assert re.search(r'id="funnel-incidents">2<', funnel)
    assert client.get("/ui/incidents/live", params={"window": "1y"}).status_code == 422
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui/incidents"


def test_incident_page_shows_causes_graph_plots_and_groups(
        store: Store, make_client: Callable[..., TestClient]) -> None:
    store.save_incident(make_incident("inc-a", time.time() - 60, alerts=5))
    page = make_client().get("/ui/incidents/inc-a")
    assert page.status_code == 200, page.text
    text = page.text
    assert "db deviated first" in text
    graph = re.search(r"data-graph='([^']*)'", text)
    assert graph is not None
    elements = graph.group(1)
    # the root cause is marked, its neighbours come from the topology file
    assert '"id": "db"' in elements and '"classes": "root affected"' in elements
    assert '"id": "web"' in elements  # a neighbour of cart
    assert "data-plot=" in text and "latency_ms on db" in text
    assert 'alertname=~"DBSlow|HighLatency"' in html.unescape(text)  # silence prefilled
    assert make_client().get("/ui/incidents/nope").status_code == 404


def test_writes_need_the_credential(store: Store,
                                    make_client: Callable[..., TestClient]) -> None:
    store.save_incident(make_incident("inc-a", time.time() - 60))
    client = make_client(bearer_token="s3cret")
    refused = client.post("/ui/incidents/inc-a/acknowledge", headers={"HX-Request": "true"})
    assert refused.status_code == 401 and "log in" in refused.text
    assert client.post("/ui/silences", data={"matchers": 'service="db"'},
                       headers={"HX-Request": "true"}).status_code == 401
    bad = client.post("/ui/login", data={"token": "wrong"}, follow_redirects=False)
    assert bad.status_code == 401
    ok = client.post("/ui/login", data={"token": "s3cret", "name": "ana"},
                     follow_redirects=False)
    assert ok.status_code == 303 and "aiops_credential" in ok.headers["set-cookie"]
    assert "samesite=strict" in ok.headers["set-cookie"].lower()
    # with the cookie but without htmx's header (a cross-site form): still refused
    forged = client.post("/ui/silences", data={"matchers": 'service="db"'})
    assert forged.status_code == 401
    # with it, the request reaches the silence code: bad matchers are a 422 with the reason
    bad_matchers = client.post("/ui/silences", data={"matchers": "service="},
                               headers={"HX-Request": "true"})
    assert bad_matchers.status_code == 422, bad_matchers.text
    # the Authorization header works as for the API
    header = client.post("/ui/silences", data={"matchers": "=="},
                         headers={"Authorization": "Bearer s3cret"})
    assert header.status_code == 422


def test_other_pages_render(store: Store, make_client: Callable[..., TestClient]) -> None:
    store.save_incident(make_incident("inc-a", time.time() - 60))
    client = make_client()
    for path in ("/ui/silences", "/ui/silences?expired=true", "/ui/silences?incident=inc-a",
                 "/ui/graph", "/ui/audit", "/ui/health", "/ui/login"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    elements = client.get("/ui/graph/elements").json()["elements"]
    db = next(e for e in elements if e["data"]["id"] == "db")
    assert "root" in db["classes"] and "sev-critical" in db["classes"]
    assert db["data"]["incident"] == "inc-a"
    mail = next(e for e in elements if e["data"]["id"] == "mail")
    assert mail["classes"] == ""


def test_docs_load_their_assets_from_the_package(make_client: Callable[..., TestClient]
                                                 ) -> None:
    client = make_client()
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        urls = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert urls, page
        for url in urls:
            assert url.startswith("/"), f"{path} loads {url} from elsewhere"
            assert client.get(url).status_code == 200, url
        assert "fonts.googleapis" not in page and "cdn.jsdelivr" not in page


def test_approve_and_reject_a_pending_action(store: Store,
                                             make_client: Callable[..., TestClient]) -> None:
    from aiops.storage.remediation import RemediationStore
    from remediation.ports import Approval

    store.save_incident(make_incident("inc-a", time.time() - 60))
    remediation = RemediationStore(store.engine)
    for ident in ("ap-1", "ap-2"):
        remediation.request(Approval(ident, "inc-a", "restart-db", "restart", "kubernetes",
                                     "db", "sig", {}, time.time()))
    client = make_client(bearer_token="s3cret")
    page = client.get("/ui/incidents/inc-a").text
    assert "/ui/approvals/ap-1/approve" in page and "/ui/approvals/ap-2/reject" in page
    auth = {"Authorization": "Bearer s3cret"}
    assert client.post("/ui/approvals/ap-1/approve").status_code == 401
    approved = client.post("/ui/approvals/ap-1/approve", headers=auth)
    assert approved.status_code == 200 and "approved" in approved.text
    assert client.post("/ui/approvals/ap-1/reject", headers=auth).status_code == 409
    assert client.post("/ui/approvals/ap-2/reject", headers=auth).status_code == 200
    assert [a.status for a in remediation.approvals(incident_id="inc-a")] in (
        ["approved", "rejected"], ["rejected", "approved"])
    audit = client.get("/ui/audit").text
    assert "approved" in audit and "rejected" in audit
