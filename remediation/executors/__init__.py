"""Executors apply an action to the world: Kubernetes, local processes, HTTP endpoints."""

from remediation.executors.base import ActionRequest, ExecutionResult, Executor, ExecutorError

__all__ = ["ActionRequest", "ExecutionResult", "Executor", "ExecutorError"]
