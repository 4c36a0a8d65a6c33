"""`python -m slurmplan.effects.cli` (or `python -m slurmplan`): the `slurmplan` command
without the installed console script."""

from slurmplan.effects.cli import main

raise SystemExit(main())
