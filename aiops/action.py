"""Builds the act stage from settings: notifier, executors, guards, learner, remediator."""

from __future__ import annotations

import random
import time

import httpx

from aiops.notify.build import build_notifier
from aiops.notify.log import LogNotifier
from aiops.settings import Settings
from aiops.stages.act import ActStage
from aiops.storage.remediation import RemediationStore
from aiops.storage.repository import Store
from remediation.engine import Remediator
from remediation.executors.base import Executor
from remediation.executors.http import HttpExecutor
from remediation.guards import Guards, Proposal
from remediation.learning import ThompsonLearner
from remediation.runbook import DEFAULT_RUNBOOK, load_runbooks
from streams.topics import Topics


def build_act_stage(settings: Settings, store: Store, topics: Topics) -> ActStage:
    """Notifier (outbox to Slack/PagerDuty/webhooks, else the log), executors, guards
    rebuilt from the audit trail, the Thompson-sampling learner and the remediator."""
    r = settings.remediation
    outbox = build_notifier(settings.notify, store, settings.api.public_url)
    notifier = outbox or LogNotifier()
    executors: dict[str, Executor] = {"http": HttpExecutor(httpx.Client(timeout=10.0))}
    if r.kubernetes:
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        from remediation.executors.kubernetes import KubernetesExecutor

        try:
            k8s_config.load_incluster_config()
        except k8s_config.ConfigException:
            k8s_config.load_kube_config(context=r.kube_context or None)
        executors["kubernetes"] = KubernetesExecutor(k8s.AppsV1Api(),
                                                     namespace=r.namespace)
    if r.processes:
        from remediation.executors.process import ProcessExecutor, ProcessSupervisor

        supervisor = ProcessSupervisor(r.processes)
        supervisor.ensure_running()
        executors["process"] = ProcessExecutor(supervisor)
    rstore = RemediationStore(store.engine)
    guards = Guards(kill_switch=r.kill_switch,
                    max_actions_per_window=r.max_actions_per_window, window_s=r.window_s)
    applied = rstore.applied_since(time.time() - 7 * 86400)
    guards.restore([Proposal(e.incident_id, e.runbook, e.target) for e in applied],
                   [e.ts for e in applied])
    probe = None
    if r.prometheus_url:
        from remediation.probes import PrometheusProbe

        probe = PrometheusProbe(httpx.Client(timeout=5.0), r.prometheus_url)
    remediator = Remediator(
        load_runbooks(r.runbooks_file) if r.runbooks_file else [DEFAULT_RUNBOOK],
        executors, guards, ThompsonLearner(rstore, random.Random()), rstore, rstore,
        dry_run=r.dry_run, probe=probe, kill_switch=rstore.kill_switch,
    )
    remediator.restore(rstore.unverified(time.time() - 86400))
    return ActStage(topics, notifier, remediator, store,
                    outbox_retention_s=settings.notify.outbox_retention_s,
                    incident_log=notifier.log if isinstance(notifier, LogNotifier) else None)
