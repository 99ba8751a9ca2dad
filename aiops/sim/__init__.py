"""Microservice simulator: topology, workload, injected faults, alerts and ground truth."""

from aiops.sim.faults import FAULT_KINDS
from aiops.sim.scenario import GroundTruth, Scenario, alert_key, generate

__all__ = ["FAULT_KINDS", "GroundTruth", "Scenario", "alert_key", "generate"]
