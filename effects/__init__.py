"""slurmplan's thin effects layer: runs a plan's exact argv, writes files, journals, sleeps.

The shell core is here (execute, journal, submit, observe, cancel, ...); the
`slurmplan` command line that drives it is the sub-package effects.cli.
"""

from effects.errors import ExecutionError

__all__ = ["ExecutionError"]
