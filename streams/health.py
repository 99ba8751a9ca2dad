"""Readiness of stage workers: does each one own partitions of its input?

A worker that holds no partition does no work, however healthy its process looks; after a
lost rebalance that can last until someone notices. :func:`readiness` turns the runners'
``status()`` into the answer a readiness probe needs, and :class:`HealthServer` serves it over
HTTP for a worker process of its own (``aiops worker --health-port``): ``/healthz`` answers
while the process runs, ``/readyz`` answers 503 while a runner owns nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

StatusSource = Callable[[], Sequence[Mapping[str, Any]]]


def readiness(statuses: Sequence[Mapping[str, Any]]) -> tuple[bool, dict[str, str]]:
    """``(ready, problems)``: each runner that owns no partition is a problem.

    >>> readiness([{"stage": "correlate", "partitions": [], "unassigned_s": 12.0}])
    (False, {'correlate': 'owns no partition (for 12.0 s)'})
    >>> readiness([{"stage": "act", "partitions": [("aiops.incidents", 0)]}])
    (True, {})
    """
    problems = {
        str(s["stage"]): f"owns no partition (for {s.get('unassigned_s')} s)"
        for s in statuses if not s.get("partitions")
    }
    return not problems, problems


class HealthServer:
    """``/healthz`` and ``/readyz`` for one worker process, on a daemon thread."""

    def __init__(self, status: StatusSource, host: str = "0.0.0.0", port: int = 0) -> None:
        source = status

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._answer(200, {"status": "ok"})
                elif self.path == "/readyz":
                    statuses = list(source())
                    ready, problems = readiness(statuses)
                    self._answer(200 if ready else 503,
                                 {"status": "ready" if ready else "not ready",
                                  "problems": problems, "workers": statuses})
                else:
                    self._answer(404, {"detail": "not found"})

            def _answer(self, code: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="health",
                                        daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
