"""slurmplan's thin effects layer: runs a plan's exact argv, writes files, journals, sleeps.

The shell core is here (execute, journal, submit, observe, cancel, ...); the
`slurmplan` command line that drives it is the sub-package effects.cli.
"""

# This folder is installed as slurmplan.effects (pyproject.toml); in the repo,
# slurmplan/effects links here.  Imported as a top-level `effects` it would be a second
# copy with its own classes, which isinstance and except clauses would not recognise.
if __name__ != "slurmplan.effects":
    raise ImportError(f"import slurmplan.effects, not {__name__}")

from slurmplan.effects.errors import ExecutionError

__all__ = ["ExecutionError"]
