"""Notification latency: from the act stage receiving an incident change to the fake Slack
and PagerDuty servers having it, with the default rate limits (Slack 1 message/s).

Two shapes: incidents arriving one at a time (1.1 s apart: the rate limit never binds), and
a burst of 10 at once (Slack's 1/s then spaces them out). The stage runs in-process with the
outbox on a SQLite file, exactly as the act worker does; there is no grouping wait here.

    /work/venv/bin/python benchmarks/action_notify_latency.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import httpx

    from aiops.notify.build import build_notifier
    from aiops.settings import (
        NotifySettings,
        PagerDutyDestinationSettings,
        SlackDestinationSettings,
    )
    from aiops.stages.act import ActStage
    from aiops.storage import Store, create_engine
    from aiops.storage.migrate import upgrade
    from aiops.wire.shapes import encode_incident
    from remediation.dryrun import DryRunRemediator
    from streams.stage import Incoming
    from streams.topics import Topics
    from tests.aiops.notify.conftest import make_incident
    from tests.aiops.notify.fakes import PD_PATH, SLACK_PATH, start_fake

    fake, server = start_fake()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/aiops.db"
        upgrade(url)
        store = Store(create_engine(url))
        settings = NotifySettings(
            slack=[SlackDestinationSettings(webhook_url=fake.url(SLACK_PATH))],
            pagerduty=[PagerDutyDestinationSettings(routing_key="R" * 32,
                                                    url=fake.url(PD_PATH))],
        )
        notifier = build_notifier(settings, store, "http://aiops.test", httpx.Client())
        assert notifier is not None
        topics = Topics(metrics="m", logs="l", alerts="a", incidents="i", actions="x", dlq="d")
        stage = ActStage(topics, notifier, DryRunRemediator(), store)

        def deliver(ids: list[str]) -> list[float]:
            sent_at = time.time()
            start = len(fake.slack)
            changed = [make_incident(i) for i in ids]
            # what the correlate stage stores with each change; the act stage delivers it
            store.enqueue([m for inc in changed for m in notifier.messages(inc)])
            stage.handle([Incoming("i", encode_incident(inc)) for inc in changed])
            while len(fake.slack) < start + len(ids):
                time.sleep(0.01)
                stage.idle(time.time())  # the runner calls this about once a second
            return [t - sent_at for t in fake.slack_times[start:]]

        single: list[float] = []
        for n in range(10):
            single.extend(deliver([f"one-{n}"]))
            time.sleep(1.1)
        burst = deliver([f"burst-{n}" for n in range(10)])
    server.shutdown()
    print(f"one at a time: Slack p50 {statistics.median(single) * 1000:.1f} ms, "
          f"max {max(single) * 1000:.1f} ms (PagerDuty in the same pass)")
    print(f"burst of 10: Slack first {burst[0] * 1000:.1f} ms, last {burst[-1]:.2f} s "
          f"(rate limit 1/s), PagerDuty all {len(fake.pagerduty)} sent")


if __name__ == "__main__":
    main()
