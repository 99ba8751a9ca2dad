"""Schemathesis over the whole OpenAPI spec of a real ``aiops api`` process: 0 responses of 500.

For each store (a SQLite file, a fresh schema of the PostgreSQL server) and each credential
mode (none configured; write and read tokens configured and sent; configured but not sent), it
starts the local broker and ``aiops api`` as a subprocess, runs ``st run`` with the
``not_a_server_error`` check for a time budget, and prints the number of test cases and of
server errors per run. Run by hand; the test suite runs a small-example version in-process
(``tests/aiops/api/test_fuzz.py``).

    python benchmarks/api_fuzz.py [--max-time 120] [--stores sqlite,postgresql] [--modes open]

With ``PYTHONPATH`` pointing at another checkout, the same sweep runs that build's API (the
hooks module is taken from this one), which is how the previous build is compared.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

from streams.broker import LocalBroker

PG = os.environ.get("AIOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WRITE, READ = "fuzz-write-token", "fuzz-read-token"
MODES = {"open": ({}, None), "with-credentials": ({"AIOPS_API__BEARER_TOKEN": WRITE,
                                                   "AIOPS_API__READ_TOKEN": READ}, WRITE),
         "without-credentials": ({"AIOPS_API__BEARER_TOKEN": WRITE,
                                  "AIOPS_API__READ_TOKEN": READ}, None)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(store_url: str, mode: str, bootstrap: str, max_time: int, tmp: Path) -> str:
    env_extra, token = MODES[mode]
    port = _free_port()
    env = {**os.environ, "AIOPS_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
           "AIOPS_STORE__URL": store_url, "AIOPS_API__PORT": str(port),
           "AIOPS_KAFKA__GROUP_PREFIX": f"fuzz{uuid.uuid4().hex[:6]}", **env_extra}
    hooks = {"SCHEMATHESIS_HOOKS": "benchmarks.api_fuzz_hooks",
             "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                            os.environ.get("PYTHONPATH", "")])}
    api = subprocess.Popen([sys.executable, "-m", "aiops", "api"], env=env,
                           stdout=(tmp / f"api-{mode}.log").open("wb"),
                           stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        cmd = [str(Path(sys.executable).with_name("st")), "run", base + "/openapi.json",
               "-c", "not_a_server_error", "--max-time", str(max_time), "-w", "1",
               "--suppress-health-check", "all", "--continue-on-failure",
               "--wait-for-schema", "30"]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, **hooks})
        if "generated" not in done.stdout:
            log = (tmp / f"api-{mode}.log").read_text(errors="replace")
            return done.stdout + "\n--- api log ---\n" + log[-3000:]
        return done.stdout
    finally:
        api.terminate()
        api.wait(20)


def _summary(output: str) -> str:
    cases = re.search(r"(\d+) generated, (.*)", output)
    errors = re.search(r"Server error: (\d+)", output)
    return (f"{cases.group(0) if cases else 'no summary'}; "
            f"server errors: {errors.group(1) if errors else 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-time", type=int, default=120)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    with LocalBroker() as broker, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for store in args.stores.split(","):
            for mode in args.modes.split(","):
                schema = f"fuzz_{uuid.uuid4().hex[:10]}"
                admin = sa.create_engine(PG.replace("+psycopg", "+psycopg"))
                if store == "postgresql":
                    with admin.begin() as conn:
                        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                    url = f"{PG}?options=-csearch_path%3D{schema}"
                else:
                    url = f"sqlite:///{tmp}/{mode}.db"
                try:
                    out = _run(url, mode, broker.bootstrap_servers, args.max_time, tmp)
                finally:
                    if store == "postgresql":
                        with admin.begin() as conn:
                            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
                (tmp.parent / f"api_fuzz-{store}-{mode}.txt").write_text(out)
                print(f"{store:10} {mode:20} {_summary(out)}", flush=True)


if __name__ == "__main__":
    main()
