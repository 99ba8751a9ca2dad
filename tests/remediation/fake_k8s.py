"""A local HTTP server serving the Kubernetes API endpoints the executor uses.

It answers like the API server: Scale and Deployment objects, ReplicaSet lists filtered by
``labelSelector``, ``dryRun=All`` validated but not persisted, a 415 for a patch body that
does not fit its content type (a JSON patch must be a list, a merge patch an object), 404
Status objects for unknown deployments.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MERGE_TYPES = ("application/strategic-merge-patch+json", "application/merge-patch+json")
JSON_PATCH = "application/json-patch+json"


def _template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "cart"}},
            "spec": {"containers": [{"name": "cart", "image": image}]}}


@dataclass
class FakeKube:
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_deployment(self, ns: str, name: str, replicas: int, revision: int = 3) -> None:
        uid = f"uid-{name}"
        self.deployments[(ns, name)] = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "uid": uid,
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": _template(f"{name}:v{revision}")},
        }
        for rev in range(1, revision + 1):
            tpl = _template(f"{name}:v{rev}")
            tpl["metadata"]["labels"]["pod-template-hash"] = f"h{rev}"
            self.replicasets.append({
                "metadata": {"name": f"{name}-h{rev}", "namespace": ns,
                             "labels": {"app": name, "pod-template-hash": f"h{rev}"},
                             "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                  "name": name, "uid": uid,
                                                  "controller": True}]},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                         "template": tpl},
            })
        # A ReplicaSet with the same labels owned by something else must be ignored.
        self.replicasets.append({
            "metadata": {"name": f"{name}-other", "namespace": ns, "labels": {"app": name},
                         "annotations": {"deployment.kubernetes.io/revision": "2"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": "x", "uid": "uid-other"}]},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": _template("evil")},
        })

    def scale(self, ns: str, name: str) -> dict[str, Any]:
        dep = self.deployments[(ns, name)]
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": dep["spec"]["replicas"]},
                "status": {"replicas": dep["spec"]["replicas"]}}

    def handle(self, method: str, raw_path: str, ctype: str, body: bytes
               ) -> tuple[int, dict[str, Any]]:
        url = urlparse(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parsed = json.loads(body) if body else None
        self.requests.append({"method": method, "path": url.path, "query": query,
                              "content_type": ctype, "body": parsed})
        parts = url.path.strip("/").split("/")
        # /apis/apps/v1/namespaces/{ns}/{resource}[/{name}[/scale]]
        if parts[:3] != ["apis", "apps", "v1"] or len(parts) < 6 or parts[3] != "namespaces":
            return self._status(404, "NotFound", url.path)
        ns, resource = parts[4], parts[5]
        if "dryRun" in query and query["dryRun"] != "All":
            return self._status(400, "BadRequest", "invalid dry run value")
        dry = query.get("dryRun") == "All"
        if resource == "replicasets" and len(parts) == 6 and method == "GET":
            wanted = dict(kv.split("=", 1) for kv in query.get("labelSelector", "").split(",")
                          if kv)
            items = [rs for rs in self.replicasets if rs["metadata"]["namespace"] == ns and
                     all(rs["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
            return 200, {"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {},
                         "items": items}
        if resource != "deployments" or len(parts) < 7:
            return self._status(404, "NotFound", url.path)
        name = parts[6]
        if (ns, name) not in self.deployments:
            return self._status(404, "NotFound", f'deployments.apps "{name}" not found')
        dep = self.deployments[(ns, name)]
        if method == "PATCH":
            ok_type = (isinstance(parsed, list) if ctype == JSON_PATCH
                       else isinstance(parsed, dict) and ctype in MERGE_TYPES)
            if not ok_type:
                return self._status(415, "UnsupportedMediaType", f"bad patch for {ctype}")
        target = copy.deepcopy(dep)
        if len(parts) == 8 and parts[7] == "scale":
            if method == "PATCH":
                replicas = parsed.get("spec", {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    return self._status(422, "Invalid", "spec.replicas must be >= 0")
                target["spec"]["replicas"] = replicas
                if not dry:
                    self.deployments[(ns, name)] = target
                return 200, {**self.scale(ns, name), "spec": {"replicas": replicas}}
            return 200, self.scale(ns, name)
        if method == "PATCH":
            if isinstance(parsed, list):
                for op in parsed:
                    if op.get("op") != "replace" or op.get("path") != "/spec/template":
                        return self._status(422, "Invalid", f"unsupported op {op}")
                    target["spec"]["template"] = op["value"]
            else:
                annotations = parsed["spec"]["template"]["metadata"]["annotations"]
                meta = target["spec"]["template"].setdefault("metadata", {})
                meta.setdefault("annotations", {}).update(annotations)
            if not dry:
                self.deployments[(ns, name)] = target
            return 200, target
        return 200, dep

    @staticmethod
    def _status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                      "reason": reason, "message": message, "code": code}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        status, out = self.server.fake.handle(self.command, self.path,
                                              self.headers.get("content-type", ""), body)
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeKube


def start_fake_kube() -> tuple[FakeKube, _Server]:
    fake = FakeKube()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return fake, server
