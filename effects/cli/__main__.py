"""`python -m effects.cli`: the `slurmplan` command without the installed console script."""

from effects.cli import main

raise SystemExit(main())
