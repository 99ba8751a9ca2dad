"""Notifiers: where incident changes go to reach people."""
