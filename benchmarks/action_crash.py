"""Crash test for notifications: kill the action worker at random points, count at the fakes.

Each run starts a worker process that consumes a fixed list of incident changes the way the
act stage does under Kafka (handle a batch, then commit its offset; a restart resumes from
the last committed offset, so uncommitted changes are redelivered), and sends its outbox to
local fake Slack (with channel history), PagerDuty and signed-webhook servers. The parent
SIGKILLs the worker at 1-3 random moments per run, restarts it each time, and lets the last
one finish. It then checks that every expected notification arrived, and how many times.

    /work/venv/bin/python benchmarks/action_crash.py --runs 50

Exit status 1 if any notification was lost or duplicated.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INCIDENTS = 12
BATCH = 3
STATES = ("open", "acknowledged", "resolved")


def changes() -> list[tuple[str, str, int]]:
    """The input stream: (incident id, status, version), interleaved across incidents."""
    out = []
    for version, status in enumerate(STATES, start=1):
        out.extend((f"inc-{i:02d}", status, version) for i in range(INCIDENTS))
    return out


def worker(db_url: str, port: int, offset_file: Path) -> int:
    import httpx

    from aiops.model import IncidentStatus
    from aiops.notify.build import build_notifier
    from aiops.settings import (
        NotifySettings,
        PagerDutyDestinationSettings,
        SlackDestinationSettings,
        WebhookDestinationSettings,
    )
    from aiops.stages.act import ActStage
    from aiops.storage import Store, create_engine
    from aiops.wire.shapes import encode_incident
    from remediation.dryrun import DryRunRemediator
    from streams.stage import Incoming
    from streams.topics import Topics
    from tests.aiops.notify.conftest import make_incident
    from tests.aiops.notify.fakes import HOOK_PATH, PD_PATH, SECRET, SLACK_PATH, TOKEN

    base = f"http://127.0.0.1:{port}"
    settings = NotifySettings(
        slack=[SlackDestinationSettings(webhook_url=base + SLACK_PATH, rate_per_s=200,
                                        history_token=TOKEN, history_channel="C1",
                                        api_url=base + "/api")],
        pagerduty=[PagerDutyDestinationSettings(routing_key="R" * 32, url=base + PD_PATH,
                                                rate_per_s=200)],
        webhooks=[WebhookDestinationSettings(url=base + HOOK_PATH, secret=SECRET,
                                             rate_per_s=200)],
        lease_s=0.5, retry_base_s=0.05,
    )
    store = Store(create_engine(db_url))
    notifier = build_notifier(settings, store, base, httpx.Client(timeout=2.0))
    assert notifier is not None
    topics = Topics(metrics="m", logs="l", alerts="a", incidents="i", actions="x", dlq="d")
    stage = ActStage(topics, notifier, DryRunRemediator(), store)
    started = time.perf_counter()
    offset_file.with_suffix(".ready").touch()  # imports done: from here on, kills count
    stage.start()
    stream = changes()
    offset = int(offset_file.read_text()) if offset_file.exists() else 0
    while offset < len(stream):
        changed = [make_incident(i, IncidentStatus(s), version=v)
                   for i, s, v in stream[offset:offset + BATCH]]
        # what the correlate stage stores with each change; the act stage delivers it
        store.enqueue([m for inc in changed for m in notifier.messages(inc)])
        stage.handle([Incoming("i", encode_incident(inc)) for inc in changed])
        offset += len(changed)
        tmp = offset_file.with_suffix(".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, offset_file)  # the consumer's offset commit
    while store.pending(now=time.time() + 3600, limit=1):
        time.sleep(0.05)
        stage.idle(time.time())
    if os.environ.get("CRASH_TIMING"):
        print(f"worker work took {time.perf_counter() - started:.3f}s", file=sys.stderr)
    return 0


def run_once(seed: int, port: int, work_s: float) -> dict[str, int]:
    """One run: kill the worker 1-3 times at uniform points of its working time."""
    from sqlalchemy import text

    from aiops.storage import create_engine
    from aiops.storage.migrate import upgrade

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/aiops.db"
        upgrade(db_url)
        offset_file = Path(tmp) / "offset"
        kills = rng.randint(1, 3)
        cmd = [sys.executable, __file__, "--worker", db_url, str(port), str(offset_file)]
        killed = 0
        while True:
            ready = offset_file.with_suffix(".ready")
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(cmd, cwd=ROOT)
            if killed < kills:
                while not ready.exists() and proc.poll() is None:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, work_s))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed += 1
                    continue
            if proc.wait(120) != 0:
                raise RuntimeError(f"worker failed with {proc.returncode}")
            break
        engine = create_engine(db_url)
        with engine.connect() as conn:
            # A row claimed more than once was in doubt after a kill (claimed, maybe sent).
            in_doubt = dict(conn.execute(text(
                "SELECT destination, count(*) FROM outbox WHERE attempts > 1 "
                "GROUP BY destination")).all())
        engine.dispose()
    return {"kills": killed, "in_doubt": sum(in_doubt.values()),
            "in_doubt_slack": in_doubt.get("notify:slack", 0)}


def calibrate(port: int) -> float:
    """The worker's uninterrupted working time (after its imports), in seconds."""
    from aiops.storage.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/aiops.db"
        upgrade(db_url)
        offset_file = Path(tmp) / "offset"
        ready = offset_file.with_suffix(".ready")
        proc = subprocess.Popen([sys.executable, __file__, "--worker", db_url, str(port),
                                 str(offset_file)], cwd=ROOT)
        while not ready.exists() and proc.poll() is None:
            time.sleep(0.01)
        t0 = time.perf_counter()
        proc.wait(120)
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--delay-ms", type=float, default=3.0,
                        help="fake server latency, widens the in-flight window")
    parser.add_argument("--worker", nargs=3, metavar=("DB", "PORT", "OFFSETS"))
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), Path(args.worker[2]))

    from tests.aiops.notify.fakes import FakeServices, start_fake

    expected_slack = {f"{i}:{s}" for i, s, _ in changes()}
    pd_action = {"open": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
    expected_pd = {f"{i}:{pd_action[s]}" for i, s, _ in changes()}
    totals: Counter[str] = Counter()
    rejected: list[tuple[str, int, str]] = []
    fake, server = start_fake(FakeServices(delay_s=args.delay_ms / 1000))
    work_s = calibrate(fake.port)
    server.shutdown()
    server.server_close()
    print(f"worker working time uninterrupted: {work_s:.2f}s; kills uniform in [0, that]")
    started = time.perf_counter()
    run, attempt = 0, 0
    while run < args.runs:
        fake, server = start_fake(FakeServices(delay_s=args.delay_ms / 1000))
        try:
            info = run_once(args.seed + attempt, fake.port, work_s)
        finally:
            server.shutdown()
            server.server_close()
        attempt += 1
        if info["kills"] == 0:
            totals.update(missed=1)  # the worker finished before the kill point: redo
            continue
        slack, pd, hook = fake.slack_keys(), fake.pd_keys(), fake.hook_keys()
        rejected.extend(fake.rejected)
        lost = (len(expected_slack - set(slack)) + len(expected_pd - set(pd))
                + len(expected_slack - set(hook)))
        slack_dup = sum(n - 1 for n in slack.values())
        pd_raw_dup = sum(n - 1 for n in pd.values())
        hook_raw_dup = sum(n - 1 for n in hook.values())
        pd_pages = sum(fake.pd_opened.values())
        totals.update(kills=info["kills"], in_doubt=info["in_doubt"],
                      in_doubt_slack=info["in_doubt_slack"], truncated=fake.truncated,
                      lost=lost,
                      slack_dup=slack_dup,
                      pd_raw_dup=pd_raw_dup, hook_raw_dup=hook_raw_dup,
                      pd_extra_pages=pd_pages - INCIDENTS, rejected=len(fake.rejected),
                      delivered=sum(slack.values()) + sum(pd.values()) + sum(hook.values()))
        run += 1
        print(f"run {run:2d}: kills={info['kills']} in_doubt={info['in_doubt']} "
              f"lost={lost} slack_dup={slack_dup} "
              f"pd_resent={pd_raw_dup} hook_resent={hook_raw_dup} pages={pd_pages}",
              flush=True)
    expected = args.runs * (len(expected_slack) * 2 + len(expected_pd))
    print(f"\n{args.runs} runs ({totals['missed']} more whose worker finished before its "
          f"kill point were not counted), {totals['kills']} kills, {totals['in_doubt']} messages "
          f"in doubt after a kill, {expected} notifications expected, "
          f"{totals['delivered']} requests accepted in {time.perf_counter() - started:.0f}s")
    print(f"lost: {totals['lost']}; duplicates at Slack: {totals['slack_dup']}; "
          f"PagerDuty incidents opened twice: {totals['pd_extra_pages']}; "
          f"resent and absorbed by key: PagerDuty {totals['pd_raw_dup']}, "
          f"webhook {totals['hook_raw_dup']}; Slack messages in doubt, settled through "
          f"channel history: {totals['in_doubt_slack']}; requests cut off by a kill: "
          f"{totals['truncated']}; "
          f"rejected requests: {totals['rejected']}")
    for path, status, reason in rejected:
        print(f"  rejected {path} {status}: {reason}")
    bad = totals["lost"] or totals["slack_dup"] or totals["pd_extra_pages"] or totals["rejected"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
