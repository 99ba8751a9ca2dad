"""Kubernetes deployments through the official client: scale, rollout restart, rollback.

* scale: ``PATCH .../deployments/{name}/scale`` with ``spec.replicas`` (what ``kubectl scale``
  does), after reading the current scale for relative changes and the replica guard;
* restart: a strategic-merge patch of the pod template annotation
  ``kubectl.kubernetes.io/restartedAt`` (what ``kubectl rollout restart`` does), which rolls
  the pods under the deployment's own rolling-update limits;
* rollback: the pod template of the ReplicaSet with the previous
  ``deployment.kubernetes.io/revision``, written back with a JSON patch (what
  ``kubectl rollout undo`` does);
* dry run: the same requests with ``dryRun=All``, so the API server validates and admits
  them (RBAC, webhooks, quotas) without persisting anything.

Targets are ``name`` or ``namespace/name``; ``params.namespace`` overrides the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.client import AppsV1Api
from kubernetes.client.exceptions import ApiException

from remediation.executors.base import ActionRequest, ExecutionResult, ExecutorError, scaled

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubernetesExecutor:
    def __init__(
        self, apps: AppsV1Api, *, namespace: str = "default",
        now: Callable[[], str] = _now_rfc3339,
    ) -> None:
        self._apps = apps
        self._namespace = namespace
        self._now = now

    def _where(self, target: str, params: Mapping[str, Any]) -> tuple[str, str]:
        ns, _, name = target.rpartition("/")
        return str(params.get("namespace") or ns or self._namespace), name

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        ns, name = self._where(target, params)
        try:
            scale = self._apps.read_namespaced_deployment_scale(name, ns)
        except ApiException as exc:
            raise ExecutorError("read scale", target, f"{exc.status} {exc.reason}") from exc
        return int(scale.spec.replicas or 0) if scale.spec else 0

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        ns, name = self._where(request.target, request.params)
        dry = "All" if dry_run else None
        try:
            if request.kind == "scale":
                current = self.replicas(request.target, request.params) or 0
                wanted = scaled(current, request.params)
                self._apps.patch_namespaced_deployment_scale(
                    name, ns, {"spec": {"replicas": wanted}}, dry_run=dry,
                    _content_type=STRATEGIC,
                )
                return ExecutionResult(f"scaled {ns}/{name} {current} -> {wanted}",
                                       {"from": current, "to": wanted})
            if request.kind == "restart":
                stamp = self._now()
                body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
                self._apps.patch_namespaced_deployment(name, ns, body, dry_run=dry,
                                                       _content_type=STRATEGIC)
                return ExecutionResult(f"rollout restart of {ns}/{name}", {"restartedAt": stamp})
            if request.kind == "rollback":
                return self._rollback(ns, name, dry)
        except ApiException as exc:
            raise ExecutorError(request.kind, request.target,
                                f"{exc.status} {exc.reason}: {(exc.body or '')[:300]}") from exc
        raise ExecutorError(request.kind, request.target, "not a Kubernetes action")

    def _rollback(self, ns: str, name: str, dry: str | None) -> ExecutionResult:
        deployment: Any = self._apps.read_namespaced_deployment(name, ns)
        annotations = deployment.metadata.annotations or {}
        current = int(annotations.get(REVISION, "0"))
        labels = deployment.spec.selector.match_labels or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        sets: list[Any] = self._apps.list_namespaced_replica_set(ns, label_selector=selector).items
        owned = [
            rs for rs in sets
            if any(o.uid == deployment.metadata.uid for o in (rs.metadata.owner_references or []))
        ]
        older = sorted(
            ((int((rs.metadata.annotations or {}).get(REVISION, "0")), rs) for rs in owned),
            key=lambda pair: pair[0],
        )
        previous = [(rev, rs) for rev, rs in older if rev < current]
        if not previous:
            raise ExecutorError("rollback", f"{ns}/{name}",
                                f"no revision before {current} to roll back to")
        revision, rs = previous[-1]
        template = self._apps.api_client.sanitize_for_serialization(rs.spec.template)
        template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        self._apps.patch_namespaced_deployment(name, ns, patch, dry_run=dry,
                                               _content_type=JSON_PATCH)
        return ExecutionResult(f"rolled back {ns}/{name} from revision {current} to {revision}",
                               {"from_revision": current, "to_revision": revision})
