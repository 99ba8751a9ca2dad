"""Same alerts, same incidents, in any process: nothing may depend on set iteration order
(string hashing is salted per process), or ``aiops replay`` would not reproduce a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIGEST = """
import hashlib
from aiops.sim.storm import build_storm
from correlator.config import CorrelatorConfig, host_down_inhibition
from correlator.engine import TopologyCorrelator
sc, events = build_storm(300, 3000, 0)
c = TopologyCorrelator(CorrelatorConfig(inhibitions=(host_down_inhibition(),)), graph=sc.graph)
h = hashlib.sha256()
for ts, alert in events:
    for inc in c.process(alert) + c.tick(ts):
        members = sorted(a.fingerprint for a in inc.alerts)
        causes = [(r.service, r.score) for r in inc.root_causes]
        h.update(repr((inc.id, inc.version, inc.status.value, members, causes)).encode())
print(h.hexdigest())
"""


def test_incidents_do_not_depend_on_the_hash_seed() -> None:
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", DIGEST], env=env, capture_output=True,
                             text=True, check=True, timeout=300)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
