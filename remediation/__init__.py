"""Remediation: runbooks, guards, executors, verification and learning."""
