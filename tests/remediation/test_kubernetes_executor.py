"""The Kubernetes executor with the official client against a local fake API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient, AppsV1Api, Configuration

from remediation.executors.base import ActionRequest, ExecutorError
from remediation.executors.kubernetes import KubernetesExecutor
from tests.remediation.fake_k8s import FakeKube, start_fake_kube


@pytest.fixture
def kube() -> Iterator[tuple[FakeKube, KubernetesExecutor]]:
    fake, server = start_fake_kube()
    fake.add_deployment("shop", "cart", replicas=3, revision=3)
    config = Configuration(host=fake.host)
    with ApiClient(config) as api:
        yield fake, KubernetesExecutor(AppsV1Api(api), namespace="shop",
                                       now=lambda: "2026-11-23T10:00:00Z")
    server.shutdown()
    server.server_close()


def test_scale_patches_the_scale_subresource_within_bounds(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    fake, executor = kube
    result = executor.execute(ActionRequest("scale", "cart", {"delta": 5, "max": 6}),
                              dry_run=False)
    assert result.changes == {"from": 3, "to": 6}
    patch = fake.requests[-1]
    assert patch["method"] == "PATCH"
    assert patch["path"] == "/apis/apps/v1/namespaces/shop/deployments/cart/scale"
    assert patch["content_type"] == "application/strategic-merge-patch+json"
    assert patch["body"] == {"spec": {"replicas": 6}} and "dryRun" not in patch["query"]
    assert fake.deployments[("shop", "cart")]["spec"]["replicas"] == 6
    assert executor.replicas("shop/cart", {}) == 6


def test_dry_run_sends_dry_run_all_and_changes_nothing(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    fake, executor = kube
    before = fake.deployments[("shop", "cart")]
    executor.execute(ActionRequest("scale", "cart", {"replicas": 1}), dry_run=True)
    executor.execute(ActionRequest("restart", "cart"), dry_run=True)
    executor.execute(ActionRequest("rollback", "cart"), dry_run=True)
    patches = [r for r in fake.requests if r["method"] == "PATCH"]
    assert len(patches) == 3 and all(r["query"] == {"dryRun": "All"} for r in patches)
    assert fake.deployments[("shop", "cart")] == before


def test_restart_sets_the_restarted_at_template_annotation(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    fake, executor = kube
    executor.execute(ActionRequest("restart", "cart"), dry_run=False)
    patch = fake.requests[-1]
    assert patch["path"] == "/apis/apps/v1/namespaces/shop/deployments/cart"
    assert patch["content_type"] == "application/strategic-merge-patch+json"
    template = fake.deployments[("shop", "cart")]["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-11-23T10:00:00Z"}


def test_rollback_restores_the_previous_owned_revision_template(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    fake, executor = kube
    result = executor.execute(ActionRequest("rollback", "shop/cart"), dry_run=False)
    assert result.changes == {"from_revision": 3, "to_revision": 2}
    listing = next(r for r in fake.requests if r["path"].endswith("/replicasets"))
    assert listing["query"]["labelSelector"] == "app=cart"
    patch = fake.requests[-1]
    assert patch["content_type"] == "application/json-patch+json"
    assert patch["body"][0]["op"] == "replace" and patch["body"][0]["path"] == "/spec/template"
    template = fake.deployments[("shop", "cart")]["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "cart:v2"
    assert "pod-template-hash" not in template["metadata"]["labels"]


def test_rollback_without_an_earlier_revision_fails_clearly(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    fake, executor = kube
    fake.add_deployment("shop", "fresh", replicas=2, revision=1)
    with pytest.raises(ExecutorError, match="no revision before 1"):
        executor.execute(ActionRequest("rollback", "fresh"), dry_run=False)


def test_unknown_deployment_is_an_executor_error(
    kube: tuple[FakeKube, KubernetesExecutor]
) -> None:
    _, executor = kube
    with pytest.raises(ExecutorError, match="404"):
        executor.execute(ActionRequest("restart", "nope"), dry_run=False)
