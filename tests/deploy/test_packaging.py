"""The packaging a cluster and a Grafana use: the kustomize manifests render and validate
against Kubernetes' schemas, run commands the CLI has and settings the engine accepts; the
dashboard is Grafana JSON whose every query names a metric the engine exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client import CollectorRegistry

from aiops import __version__
from aiops.app import STAGES
from aiops.settings import Settings
from aiops.telemetry import Telemetry

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
DASHBOARD = ROOT / "deploy" / "grafana" / "aiops-engine.json"


def _rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:  # the resources as kustomize would list them, without its edits
        kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        return [d for name in kustomization["resources"]
                for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    out = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_manifests_validate_and_run_real_commands(tmp_path: Path) -> None:
    validate = pytest.importorskip("kubernetes_validate")
    docs = _rendered()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("Deployment") == 1 + len(STAGES)
    for doc in docs:
        validate.validate(doc, "1.30.0", strict=True)
    commands = [c["command"] for d in docs if d["kind"] in ("Deployment", "Job")
                for c in d["spec"]["template"]["spec"]["containers"]]
    expected = [["aiops", "api"], ["aiops", "db", "upgrade"],
                *(["aiops", "worker", s] for s in STAGES)]
    assert sorted(commands) == sorted(expected)
    # the settings file is one the engine accepts (unknown keys are refused)
    settings_file = tmp_path / "aiops.yaml"
    settings_file.write_text((K8S / "aiops.yaml").read_text())
    settings = Settings.load(settings_file)
    assert settings.api.host == "0.0.0.0" and settings.kafka.bootstrap_servers
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["images"][0]["newTag"] == __version__
    for literal in kustomization["secretGenerator"][0]["literals"]:
        name, _, _ = literal.partition("=")
        section, _, key = name.removeprefix("AIOPS_").lower().partition("__")
        assert key in type(getattr(settings, section)).model_fields, name


def _exported_metrics() -> set[str]:
    registry = CollectorRegistry()
    telemetry = Telemetry(registry)
    telemetry.consumed("detect", "t", 1)
    telemetry.produced("detect", "t", 1)
    telemetry.dead_lettered("detect", "t", 1)
    telemetry.batch_latency("detect", 0.1)
    telemetry.lag("detect", "t", 0, 1)
    telemetry.received.labels("alertmanager").inc()
    telemetry.rejected.labels("alertmanager", "401").inc()
    telemetry.request_latency.labels("alertmanager").observe(0.01)
    return {s.name for family in registry.collect() for s in family.samples}


def test_dashboard_is_grafana_json_over_exported_metrics() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 8
    exported = _exported_metrics()
    for panel in panels:
        assert panel["type"] in ("timeseries", "stat")
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\baiops_[a-z_]+", target["expr"]))
            assert names, target["expr"]
            missing = names - exported
            assert not missing, f"{panel['title']}: {missing} is not on /metrics"


def test_version_lives_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project.get("dynamic", []) and "version" not in project
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert project["license"] == "Apache-2.0"
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
