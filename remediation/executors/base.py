"""The executor contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiops.model import AiopsError


class ExecutorError(AiopsError):
    """An action could not be applied (or dry-run); ``detail`` says what the target said."""

    def __init__(self, kind: str, target: str, detail: str) -> None:
        super().__init__(f"{kind} {target}: {detail}")
        self.kind = kind
        self.target = target
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ActionRequest:
    kind: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What was (or in a dry run, would have been) done."""

    detail: str
    changes: Mapping[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        """How many replicas ``target`` runs now (None when not known)."""
        ...

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        """Apply ``request``, or validate it without applying when ``dry_run``."""
        ...


def scaled(current: int, params: Mapping[str, Any]) -> int:
    """The new replica count: ``replicas``, or ``current + delta``, clamped to [min, max].

    >>> scaled(3, {"delta": 2, "max": 4}), scaled(3, {"delta": -5, "min": 1})
    (4, 1)
    >>> scaled(3, {"replicas": 7})
    7
    """
    target = int(params["replicas"]) if "replicas" in params else current + int(params["delta"])
    return max(int(params.get("min", 0)), min(int(params.get("max", 1_000_000)), target))
