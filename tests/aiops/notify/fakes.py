"""Local stand-ins for Slack, PagerDuty and a webhook receiver, checking requests as they do.

One threaded HTTP server on 127.0.0.1 (a free port) plays all three, so the real httpx client
code is exercised end to end. Each endpoint validates what the real service validates (Block
Kit limits, the Events API v2 schema, the HMAC signature) and answers as it does (Slack
``ok``/``invalid_blocks``, PagerDuty 202 with ``dedup_key``); ``script`` queues failures
(429 with ``Retry-After``, 5xx, 4xx) to answer before the normal behaviour.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

SLACK_PATH = "/services/T000/B000/XXXX"
PD_PATH = "/v2/enqueue"
HOOK_PATH = "/hook"
HISTORY_PATH = "/api/conversations.history"
SECRET = "s3cret"
TOKEN = "xoxb-test"
KEY_RE = re.compile(r"aiops-key `([^`]+)`")


def slack_errors(body: Any) -> list[str]:
    """What Slack would reject in an incoming-webhook body (empty when acceptable)."""
    errors: list[str] = []
    if not isinstance(body, dict):
        return ["body is not an object"]
    blocks = body.get("blocks")
    if not body.get("text") and not blocks:
        errors.append("no_text")
    if blocks is None:
        return errors
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*errors, "invalid_blocks: more than 50 blocks"]
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                errors.append(f"invalid_blocks: header {i}")
        elif kind == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and not fields:
                errors.append(f"invalid_blocks: empty section {i}")
            if text is not None and not 0 < len(text.get("text", "")) <= 3000:
                errors.append(f"invalid_blocks: section {i} text length")
            if fields is not None and (
                len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields)
            ):
                errors.append(f"invalid_blocks: section {i} fields")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                errors.append(f"invalid_blocks: actions {i}")
            for el in elements:
                if len(el.get("text", {}).get("text", "")) > 75 or len(el.get("url", "")) > 3000:
                    errors.append(f"invalid_blocks: button in {i}")
        elif kind == "context":
            if not 0 < len(block.get("elements", [])) <= 10:
                errors.append(f"invalid_blocks: context {i}")
        elif kind not in ("divider",):
            errors.append(f"invalid_blocks: unknown type {kind!r}")
    return errors


def pagerduty_errors(event: Any) -> list[str]:
    """What the Events API v2 would reject (empty when acceptable)."""
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) != 32:
        errors.append("'routing_key' must be a 32 character string")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > 255):
        errors.append("'dedup_key' is invalid")
    if action in ("acknowledge", "resolve") and not key:
        errors.append("'dedup_key' is required")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            errors.append("'payload.summary' is invalid")
        if not payload.get("source"):
            errors.append("'payload.source' is missing")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("'payload.severity' is invalid")
    return errors


@dataclass
class Scripted:
    path: str
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeServices:
    """The recorded traffic; ``url(path)`` gives an endpoint's address."""

    slack: list[dict[str, Any]] = field(default_factory=list)
    slack_times: list[float] = field(default_factory=list)
    pagerduty: list[dict[str, Any]] = field(default_factory=list)
    pd_incidents: dict[str, str] = field(default_factory=dict)  # dedup_key -> status
    pd_opened: Counter[str] = field(default_factory=Counter)
    hooks: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    delay_s: float = 0.0
    truncated: int = 0
    _script: list[Scripted] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, status: int, *, headers: dict[str, str] | None = None,
               body: bytes = b"", times: int = 1) -> None:
        with self._lock:
            self._script.extend(Scripted(path, status, headers or {}, body) for _ in range(times))

    def slack_keys(self) -> Counter[str]:
        keys: Counter[str] = Counter()
        for msg in self.slack:
            found = KEY_RE.search(json.dumps(msg))
            keys[found.group(1) if found else "?"] += 1
        return keys

    def pd_keys(self) -> Counter[str]:
        return Counter(f"{e['dedup_key']}:{e['event_action']}" for e in self.pagerduty)

    def hook_keys(self) -> Counter[str]:
        return Counter(h["idempotency-key"] for h, _ in self.hooks)

    # ---------------------------------------------------------------- handling

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict[str, str], bytes]:
        parsed = urlparse(path)
        with self._lock:
            self.requests[parsed.path] += 1
            for i, item in enumerate(self._script):
                if item.path == parsed.path:
                    del self._script[i]
                    return item.status, item.headers, item.body
        if self.delay_s:
            time.sleep(self.delay_s)
        if method == "GET" and parsed.path == HISTORY_PATH:
            return self._history(parsed.query, headers)
        if method != "POST":
            return 405, {}, b""
        if headers.get("content-type", "").split(";")[0] != "application/json":
            return self._reject(parsed.path, 400, "invalid_payload")
        try:
            data = json.loads(body)
        except ValueError:
            return self._reject(parsed.path, 400, "invalid_payload")
        if parsed.path == SLACK_PATH:
            errors = slack_errors(data)
            if errors:
                return self._reject(parsed.path, 400, errors[0])
            with self._lock:
                self.slack.append(data)
                self.slack_times.append(time.time())
            return 200, {"content-type": "text/plain"}, b"ok"
        if parsed.path == PD_PATH:
            errors = pagerduty_errors(data)
            if errors:
                return self._reject(parsed.path, 400, json.dumps(
                    {"status": "invalid event", "message": "Event object is invalid",
                     "errors": errors}))
            with self._lock:
                self.pagerduty.append(data)
                key, action = data["dedup_key"], data["event_action"]
                if action == "trigger" and self.pd_incidents.get(key) in (None, "resolved"):
                    self.pd_opened[key] += 1
                    self.pd_incidents[key] = "triggered"
                elif action in ("acknowledge", "resolve") and key in self.pd_incidents:
                    self.pd_incidents[key] = action + "d"
            answer = {"status": "success", "message": "Event processed", "dedup_key": key}
            return 202, {"content-type": "application/json"}, json.dumps(answer).encode()
        if parsed.path == HOOK_PATH:
            ts = headers.get("x-aiops-timestamp", "")
            mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256)
            if not hmac.compare_digest("sha256=" + mac.hexdigest(),
                                       headers.get("x-aiops-signature", "")):
                return self._reject(parsed.path, 401, "bad signature")
            if not headers.get("idempotency-key"):
                return self._reject(parsed.path, 400, "missing Idempotency-Key")
            with self._lock:
                self.hooks.append((headers, data))
            return 204, {}, b""
        return 404, {}, b"no_service"

    def _history(self, query: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 200, {"content-type": "application/json"}, b'{"ok":false,"error":"not_authed"}'
        params = parse_qs(query)
        oldest = float(params.get("oldest", ["0"])[0])
        with self._lock:
            messages = [dict(m, ts=f"{t:.6f}") for m, t in zip(self.slack, self.slack_times,
                                                                strict=True) if t >= oldest]
        body = json.dumps({"ok": True, "messages": messages[::-1], "has_more": False})
        return 200, {"content-type": "application/json"}, body.encode()

    def _reject(self, path: str, status: int, reason: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.rejected.append((path, status, reason))
        return status, {"content-type": "text/plain"}, reason.encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client died mid-request: nothing to answer
            with self.server.fake._lock:
                self.server.fake.truncated += 1
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out_headers, out = self.server.fake.handle(method, self.path, headers, body)
        self.send_response(status)
        for k, v in out_headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServices

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the crash test) is not a server error."""


def start_fake(fake: FakeServices | None = None) -> tuple[FakeServices, _Server]:
    fake = fake or FakeServices()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return fake, server
