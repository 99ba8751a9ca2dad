"""The two demos, run as a user runs them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aiops.cli import build_cli

pytestmark = pytest.mark.broker


@pytest.mark.parametrize(("fault", "named"), [("cpu", "catalog"), ("host", "host-0")])
def test_demo_names_the_injected_root_cause(fault: str, named: str) -> None:
    result = CliRunner().invoke(build_cli(), ["demo", "--fault", fault])
    assert result.exit_code == 0, result.output
    assert f"top root cause {named} (correct)" in result.output


def test_demo_remediate_closes_the_loop() -> None:
    from aiops.demo_loop import run_closed_loop

    steps = run_closed_loop(timeout=90)
    assert "notification received by the Slack sink" in steps
    assert any(name.startswith("remediation applied: restart checkout") for name in steps)
    assert steps["recovery verified"] >= steps["recovered (healthz answers 200 again)"]
    assert "incident auto-resolved" in steps
