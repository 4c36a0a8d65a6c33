"""slurmplan's thin effects layer: runs a plan's exact argv, writes files, journals, sleeps."""

from effects.errors import ExecutionError

__all__ = ["ExecutionError"]
