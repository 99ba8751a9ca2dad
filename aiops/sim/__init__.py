"""Microservice simulator: topology, workload, injected faults, alerts and ground truth.

How the simulator is kept independent of the correlator it evaluates:

* Alerts come from rules over the generated metrics (online z-scores with a ``for:``
  duration, ``up == 0``, rollout events), not from the fault model, so detection delays,
  missed symptoms, noise spikes, stuck alerts and harmless rollouts all reach the correlator
  just as they would from Prometheus. Onsets are quantised to the scrape step, so a root
  and its callers often alert in the same step.
* Propagation draws a random attenuation per call edge (0.45-1.05: a caller's symptom can
  be louder than the root's) and a random delay (8-40 s), and scales each fault by a random
  intensity; slow faults (memory leaks) show symptoms many minutes after their onset.
* The correlator sees only alerts and the topology: it never reads the ground truth, the
  fault kind, the per-edge parameters, or which rule produced an alert.
* The correlator was developed on seeds 0-209 and 20,000-20,209; ``aiops eval rca`` and the
  benchmarks default to seeds from 10,000 on, which were run to check results but never to
  find a rule.
* An alert is attributed to the fault whose influence on its service is largest when the
  alert began (noise if none reached it yet), so a fault is never credited with alerts that
  began before its effect arrived.

What they do share is the premise of every topology-based RCA: faults spread from a
dependency to its dependents. Where real propagation differs (retry storms overloading a
callee, shared-resource contention between siblings) the ranking will do worse than here.
"""

from aiops.sim.faults import FAULT_KINDS
from aiops.sim.scenario import GroundTruth, Scenario, alert_key, generate

__all__ = ["FAULT_KINDS", "GroundTruth", "Scenario", "alert_key", "generate"]
